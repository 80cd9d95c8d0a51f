-- The seed's quick-test rule: every getpid() returns a fake process id.
function do_syscall(num, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8)
    c_log("getpid() intercepted - returning fake PID 99999")
    return 1, 99999
end

c_log("Loaded getpid.lua")
