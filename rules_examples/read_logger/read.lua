-- Read logger: run each read() now, then log what it returned (up to 60 bytes, with
-- control and non-ASCII bytes shown as \xNN so every log entry stays on one line).
local function printable(s)
    return (s:gsub("[%c\\\128-\255]", function(c) return string.format("\\x%02x", c:byte()) end))
end

function do_syscall(num, fd, buf, count, arg4, arg5, arg6, arg7, arg8)
    local got = c_do_syscall(num, fd, buf, count)
    if got > 0 then
        c_log(string.format("read(fd=%d) = %d: %s", fd, got,
                            printable(c_read_bytes(buf, math.min(got, 60)))))
    else
        c_log(string.format("read(fd=%d) = %d", fd, got))
    end
    return 1, got
end
