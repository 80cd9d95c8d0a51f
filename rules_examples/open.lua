-- Monitor: log every open() with its path and flags. (glibc on x86_64 calls openat;
-- open is reached by programs that make the raw system call.)
function do_syscall(num, pathname, flags, mode, arg4, arg5, arg6, arg7, arg8)
    c_log(string.format("open(%s, flags=0x%x, mode=0%o)",
                        c_read_string(pathname), flags, mode))
    return 0, 0
end
