-- Tracing set: log openat() with a wall-clock timestamp and the path it opens.
function do_syscall(num, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8)
    local sec, nsec = c_get_timestamp()
    c_log(string.format("[%d.%09d] pid %d openat: %s", sec, nsec, c_pid(),
                        c_read_string(arg2)))
    return 0, 0
end
