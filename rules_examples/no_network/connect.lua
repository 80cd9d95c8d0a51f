-- No network: connect() fails with EACCES, whichever route the program takes (libc, a raw
-- syscall, int 0x80 and socketcall, x32, any thread or child).
on_rule_error = "deny"  -- a sandbox fails closed: if this rule fails, the call fails (EPERM)

function do_syscall(num, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8)
    c_log(string.format("connect blocked in pid %d", c_pid()))
    return 1, -EACCES
end
