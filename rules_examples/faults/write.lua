-- Fault injection: the Nth write() of the program fails with EIO; all others run.
-- N comes from luatrap's environment: LUATRAP_FAULT_N (default 3).
local n = tonumber(os.getenv("LUATRAP_FAULT_N") or "3")
local calls = 0

function do_syscall(num, fd, buf, count, arg4, arg5, arg6, arg7, arg8)
    calls = calls + 1
    if calls == n then
        c_log(string.format("injecting EIO into write #%d (fd=%d, %d bytes)", calls, fd, count))
        return 1, -EIO
    end
    return 0, 0
end
