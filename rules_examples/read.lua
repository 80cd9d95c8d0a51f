-- Statistics: count read() calls and the bytes they asked for; report every 10 calls.
local count = 0
local total_bytes = 0

function do_syscall(num, fd, buf, size, arg4, arg5, arg6, arg7, arg8)
    count = count + 1
    total_bytes = total_bytes + size

    if count % 10 == 0 then
        c_log(string.format("Read stats: %d calls, %d bytes", count, total_bytes))
    end

    return 0, 0
end
