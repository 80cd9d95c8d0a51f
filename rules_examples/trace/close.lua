-- Tracing set: log close() with a wall-clock timestamp and its first three arguments.
function do_syscall(num, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8)
    local sec, nsec = c_get_timestamp()
    c_log(string.format("[%d.%09d] pid %d close: %d, %d, %d",
                        sec, nsec, c_pid(), arg1, arg2, arg3))
    return 0, 0
end
