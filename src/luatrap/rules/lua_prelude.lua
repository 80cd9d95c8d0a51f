-- Lua helpers installed once into the rules' shared state, before any rule loads.
-- The host passes in the instruction budget and the token that marks its own yields.
local budget, run_now_token = ...
local sethook, yield, isyieldable = debug.sethook, coroutine.yield, coroutine.isyieldable

local function over_budget()
    error("instruction budget exceeded (" .. budget .. " Lua instructions per call)", 0)
end

-- Runs a hook with a fresh instruction budget; the count restarts at every call.
local function invoke(f, ...)
    sethook(over_budget, "", budget)
    local intercepted, retval = f(...)
    return intercepted, retval
end

-- Runs the real system call now and returns its result. The hook runs as a coroutine
-- when its rule uses c_do_syscall; the engine performs the call and resumes it.
function c_do_syscall(num, a1, a2, a3, a4, a5, a6)
    if not isyieldable() then
        error("c_do_syscall is only available inside do_syscall", 2)
    end
    return yield(run_now_token, num, a1 or 0, a2 or 0, a3 or 0, a4 or 0, a5 or 0, a6 or 0)
end

os.exit = function()
    error("os.exit is not available to rules: return 1, value to fail a call", 2)
end

-- Host functions answer (true, value) or (false, message); a failure becomes a Lua
-- error at the rule's line, which pcall can catch as a string.
local function checked(f)
    return function(...)
        local ok, value = f(...)
        if not ok then error(value, 2) end
        return value
    end
end

return invoke, checked
