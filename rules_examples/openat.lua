-- Monitor: log every openat() with its path and flags.
function do_syscall(num, dirfd, pathname, flags, mode, arg5, arg6, arg7, arg8)
    c_log(string.format("openat(%s, flags=0x%x, mode=0%o)",
                        c_read_string(pathname), flags, mode))
    return 0, 0
end
