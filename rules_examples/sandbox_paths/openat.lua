-- Path sandbox: the program may not open anything under a directory.
-- The directory comes from luatrap's environment: LUATRAP_DENY=/some/dir (default /root).
-- Relative paths are resolved against the working directory or dirfd, and "." / ".."
-- are folded, so `cd /root && cat x` and `/tmp/../root/x` are caught too. (Symbolic
-- links are not followed: pair this rule with symlinkat/linkat rules for a jail.)

on_rule_error = "deny"  -- a sandbox fails closed: if this rule fails, the call fails (EPERM)

local function normalise(path)
    local parts = {}
    for part in path:gmatch("[^/]+") do
        if part == ".." then
            parts[#parts] = nil
        elseif part ~= "." then
            parts[#parts + 1] = part
        end
    end
    return "/" .. table.concat(parts, "/")
end

local deny = normalise(os.getenv("LUATRAP_DENY") or "/root")

local function inside(path)
    return path == deny or path:sub(1, #deny + 1) == deny .. "/"
end

function do_syscall(num, dirfd, pathname, flags, mode, arg5, arg6, arg7, arg8)
    local path = c_read_string(pathname)
    if path:sub(1, 1) ~= "/" then
        local base = (dirfd == -100) and c_cwd() or c_fd_path(dirfd)  -- -100: AT_FDCWD
        path = base .. "/" .. path
    end
    path = normalise(path)
    if inside(path) then
        c_log(string.format("denied openat(%s)", path))
        return 1, -EACCES
    end
    return 0, 0
end
