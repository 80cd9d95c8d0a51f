-- No network, continued: an io_uring can create sockets and connect (IORING_OP_SOCKET,
-- IORING_OP_CONNECT) with no socket()/connect() system call at all, so a sandbox that
-- blocks those must refuse io_uring too. Programs fall back to plain system calls.
on_rule_error = "deny"  -- a sandbox fails closed: if this rule fails, the call fails (EPERM)

function do_syscall(num, entries, params, arg3, arg4, arg5, arg6, arg7, arg8)
    c_log(string.format("io_uring_setup refused in pid %d", c_pid()))
    return 1, -EPERM
end
