-- The seed's quick-test rule: log every write(), then let it run.
function do_syscall(num, fd, buf, count, arg4, arg5, arg6, arg7, arg8)
    c_log(string.format("write(fd=%d, count=%d)", fd, count))
    return 0, 0
end

c_log("Loaded write.lua")
