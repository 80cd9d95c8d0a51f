-- Sandbox: no outgoing connections, even on a socket that exists already.
function do_syscall(num, fd, addr, addrlen, arg4, arg5, arg6, arg7, arg8)
    c_log(string.format("Connect blocked! (fd=%d)", fd))
    return 1, -ECONNREFUSED
end
