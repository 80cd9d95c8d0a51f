-- Path sandbox, the shared part: a library (rules load it with require("_paths")).
-- The program may not reach anything under the directories in luatrap's environment
-- variable LUATRAP_DENY (colon-separated; default /root), by any path-taking call.
--
-- A path is judged by the object it names, resolved as the kernel would for the caller
-- (c_resolve): relative to its working directory or a directory descriptor, through
-- symbolic links, "..", /proc/self/root, /proc/self/cwd and /dev/fd/N. Both the name
-- itself and what a last symbolic link points to count. An open is judged again after
-- it ran, by what the new descriptor refers to (c_fd_path): no race changes that.
-- What remains (a file created or truncated by an open whose path was swapped between
-- the two looks, hard links made before the run): docs/security.md.

local M = {}

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

local deny = {}
for dir in (os.getenv("LUATRAP_DENY") or "/root"):gmatch("[^:]+") do
    deny[#deny + 1] = normalise(dir)
end

local function inside(path)
    for _, dir in ipairs(deny) do
        if dir == "/" or path == dir or path:sub(1, #dir + 1) == dir .. "/" then
            return true
        end
    end
    return false
end

-- The denied object the path at `pointer` (relative to `dirfd`) names, or nil.
local function denied(dirfd, pointer)
    if pointer == 0 then
        return nil -- NULL: the kernel's own EFAULT
    end
    local path = c_read_string(pointer)
    for _, follow in ipairs({false, true}) do
        local object = c_resolve(path, dirfd, follow)
        if inside(object) then
            return object
        end
    end
    return nil
end

local function refuse(call, object, errno)
    c_log(string.format("denied %s(%s)", call, object))
    return 1, -(errno or EACCES)
end

-- A call that takes paths: check(call, dirfd1, path1, dirfd2, path2, ...).
function M.check(call, ...)
    local args = {...}
    for i = 1, #args, 2 do
        local object = denied(args[i], args[i + 1])
        if object then
            return refuse(call, object)
        end
    end
    return 0, 0
end

-- An open: by name first (a denied O_CREAT or O_TRUNC must not even start), then run
-- here with its own arguments and judged by what the descriptor refers to.
function M.open(run, call, num, dirfd, pointer, args)
    local object = denied(dirfd, pointer)
    if object then
        return refuse(call, object)
    end
    local fd = run(num, args[1], args[2], args[3], args[4], args[5], args[6])
    if fd >= 0 then
        local opened = c_fd_path(fd)
        if inside(opened) then
            run(3, fd) -- close
            return refuse(call, opened)
        end
    end
    return 1, fd
end

-- Calls that change what paths mean (mounts, roots) or reach files without a path
-- (file handles): refused outright, for they would walk around every check above.
function M.refuse(call)
    return refuse(call, "...", EPERM)
end

return M
