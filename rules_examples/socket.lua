-- Sandbox: no sockets. The program sees socket() fail with EACCES.
function do_syscall(num, domain, type, protocol, arg4, arg5, arg6, arg7, arg8)
    c_log(string.format("Socket creation blocked! (domain=%d, type=%d)", domain, type))
    return 1, -EACCES
end
