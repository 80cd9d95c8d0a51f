"""The functions a rule can call, on real programs through the CLI."""
from __future__ import annotations

import pytest

from conftest import PYTHON, luatrap, native_run

MEMORY_RULE = r"""
function do_syscall(num, dirfd, path, flags, mode)
    local ok, s = pcall(c_read_string, path)
    if not ok then c_log("error: " .. s) return 1, -EFAULT end
    if s:sub(1, 1) == "/" then return 0, 0 end          -- the loader's own opens
    c_log(string.format("read %q (%d bytes)", s:sub(1, 40), #s))
    if s == "b" then
        local hex = c_read_bytes(path, 6):gsub(".", function(c)
            return string.format("%02x", c:byte()) end)
        c_log("bytes " .. hex)
        c_write_bytes(path, "\1\0\128\0")
    elseif s == "read-only-path" then
        c_write_bytes(path, "REDACTED")
    elseif s:sub(1, 1) == "x" then
        local long_ok, err = pcall(c_read_string, path, 8192)
        c_log("past the page: " .. tostring(long_ok) .. " " .. tostring(err))
    end
    return 1, -ENOENT
end
"""


def test_memory_functions(engine, rules, cprog):
    r = luatrap("--rules", rules({"openat": MEMORY_RULE}), cprog("memory_access"),
                engine=engine)
    assert r.returncode == 0
    assert r.lua_logs == [
        '[Lua Log] read "across/the/page" (15 bytes)',  # across a page boundary
        '[Lua Log] read "' + "x" * 40 + '" (4096 bytes)',  # capped at max=4096
        "[Lua Log] past the page: false c_read_string: cannot read address "
        + r.lua_logs[2].split("address ")[1],
        '[Lua Log] read "b" (1 bytes)',
        "[Lua Log] bytes 6200fffe7a00",  # binary-safe: NUL and non-UTF-8 bytes
        "[Lua Log] error: c_read_string: cannot read address 0x8: Bad address",
        '[Lua Log] read "read-only-path" (14 bytes)',
    ]
    assert "Bad address" in r.lua_logs[2]
    assert r.stdout.splitlines() == [
        "page: -1", "unterminated: -1", "binary: -1", "bin now: 01 00 80 00",
        "bad address: -1", "read-only: -1", "ro now: REDACTEDy-path"]
    assert r.lua_errors == []


def test_unprotected_memory_error_is_reported_and_fails_the_call(engine, rules, cprog):
    folder = rules({"openat": "function do_syscall(num, dirfd, path)\n"
                              "  if path == 8 then c_read_string(path) end\n"
                              "  return 0, 0\nend\n"})
    r = luatrap("--rules", folder, cprog("memory_access"), engine=engine)
    assert r.returncode == 0
    assert r.lua_errors == ["[Lua Error] " + str(folder / "openat.lua") +
                            ": line 2: c_read_string: cannot read address 0x8: Bad address"]
    assert "bad address: -1" in r.stdout


def test_bad_arguments_to_host_functions(engine, rules, cprog):
    folder = rules({"getpid": """
function do_syscall()
    for _, f in ipairs({
        function() return c_read_string("x") end,
        function() return c_read_bytes(0, -1) end,
        function() return c_write_bytes(0, 5) end,
        function() return c_read_string(0, 0) end,
    }) do
        local ok, err = pcall(f)
        c_log(tostring(ok) .. " " .. err)
    end
    return 1, 1
end"""})
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.lua_logs[:4] == [  # each names the line that made the bad call
        "[Lua Log] false getpid.lua:4: c_read_string: bad argument: address must be an "
        "integer, got string",
        "[Lua Log] false getpid.lua:5: c_read_bytes: negative size",
        "[Lua Log] false getpid.lua:6: c_write_bytes: data must be a string",
        "[Lua Log] false getpid.lua:7: c_read_string: max must be positive",
    ]


def test_c_do_syscall_acts_before_and_after(engine, rules):
    folder = rules({"write": """
function do_syscall(num, fd, buf, n)
    if fd ~= 1 then return 0, 0 end
    local r = c_do_syscall(num, fd, buf, n)
    c_log("wrote " .. r)
    return 1, r
end"""})
    r = luatrap("--rules", folder, "bash", "-c", "echo one; echo three three", engine=engine)
    assert r.stdout == "one\nthree three\n"  # each write ran exactly once
    assert r.lua_logs == ["[Lua Log] wrote 4", "[Lua Log] wrote 12"]


def test_c_do_syscall_with_other_arguments_and_calls(engine, rules, cprog):
    getppid = {"x86_64": 110, "aarch64": 173}[engine.arch]  # the program's numbering
    folder = rules({"getpid": """
function do_syscall(num)
    local real = c_do_syscall(num)
    local parent = c_do_syscall(GETPPID)        -- getppid, another call entirely
    c_log(string.format("%s: real %s, parent %s", c_syscall_name(num),
                        tostring(real == c_pid()), tostring(parent > 1)))
    return 1, real + 1000000
end""", "write": """
function do_syscall(num, fd, buf, n)
    if fd == 1 then
        return 1, c_do_syscall(num, 2, buf, n)  -- stdout's bytes go to stderr
    end
    return 0, 0
end"""})
    getpid_rule = folder / "getpid.lua"
    getpid_rule.write_text(getpid_rule.read_text().replace("GETPPID", str(getppid)))
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.stdout == ""
    assert "Hello from write!" in r.stderr
    assert "[Lua Log] getpid: real true, parent true" in r.lua_logs
    pid_line = next(line for line in r.stderr.splitlines() if line.startswith("My PID"))
    assert int(pid_line.split()[-1]) > 1000000


def test_c_do_syscall_blocking_in_one_thread_does_not_stop_others(engine, rules, cprog):
    folder = rules({
        "read": "function do_syscall(num, fd, buf, n)\n"
                "  local r = c_do_syscall(num, fd, buf, n)\n"
                "  if r > 0 and fd > 2 then c_log(string.format('read %q', c_read_bytes(buf, r)))"
                " end\n  return 1, r\nend\n",
        "getpid": "function do_syscall(num)\n"
                  "  return 1, c_do_syscall(num) > 0 and 99999 or -1\nend\n",
    })
    r = luatrap("--rules", folder, cprog("pipe_threads"), engine=engine)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["writer saw 5 faked getpid calls",
                                     "reader got 16: through the pipe"]
    assert '[Lua Log] read "through the pipe"' in r.lua_logs


def test_c_do_syscall_outside_a_hook_is_an_error(engine, rules, cprog):
    folder = rules({"getpid": "c_do_syscall(39)\nfunction do_syscall() return 1, 5 end"})
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.lua_errors == [f"[Lua Error] {folder / 'getpid.lua'}: line 1: "
                            "c_do_syscall is only available inside do_syscall"]


def test_identity_and_names(engine, rules, cprog):
    openat = {"x86_64": 257, "aarch64": 56}[engine.arch]  # names are the program's table's
    folder = rules({"getpid": """
function do_syscall(num)
    if not done then
        c_log(string.format("%s %s %s %s %d %d %d", c_syscall_name(num),
            c_syscall_name(OPENAT), tostring(c_syscall_name(100000)),
            tostring(c_pid() == c_tid()), EPERM, ENOENT, EACCES))
        done = true
    end
    return 0, 0
end""".replace("OPENAT", str(openat))})
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.lua_logs == ["[Lua Log] getpid openat nil true 1 2 13"]


def test_c_tid_and_c_pid_in_threads(engine, rules, cprog):
    folder = rules({"getpid": """
tids = {}
function do_syscall(num)
    tids[c_tid()] = c_pid()
    return 1, 99999
end""", "exit_group": """
function do_syscall()
    local n, same = 0, true
    for tid, pid in pairs(tids) do n = n + 1; same = same and pid == c_pid() end
    c_log(string.format("%d threads, one process: %s", n, tostring(same)))
    return 0, 0
end"""})
    r = luatrap("--rules", folder, cprog("threads_getpid"), engine=engine)
    assert r.lua_logs == ["[Lua Log] 4 threads, one process: true"]


FAULTS = """
function do_syscall(num, what, arg)
    if what == 1 then c_read_string(arg) end          -- an address the program chose
    if what == 2 then c_fd_path(arg) end              -- a descriptor it does not have
    if what == 3 then pcall(c_read_string, arg) end   -- the rule handles the fault
    return 0, 0
end
"""
FAULTS_PROGRAM = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for what, arg in ((1, 8), (2, 999), (3, 8)):
    r = libc.syscall(110, what, arg)  # getppid: natively its arguments are ignored
    print(what, "ran" if r == os.getppid() else f"errno {ctypes.get_errno()}")
"""


def test_a_fault_on_what_the_program_controls_fails_the_call(engine, rules):
    """A hook that cannot read what the program pointed at does not let the call run
    as if unruled: the call fails with the kernel's error for it (fail closed)."""
    r = luatrap("--rules", rules({"getppid": FAULTS}), PYTHON, "-c", FAULTS_PROGRAM,
                engine=engine)
    assert r.stdout.splitlines() == ["1 errno 14", "2 errno 9", "3 ran"]
    assert [e.split(": ", 2)[2] for e in r.lua_errors] == [
        "c_read_string: cannot read address 0x8: Bad address",
        "c_fd_path: Bad file descriptor"]


DEEP_CWD_PROGRAM = """
import os
for _ in range(40):  # a working directory deeper than PATH_MAX
    os.mkdir("d" * 120)
    os.chdir("d" * 120)
try:
    os.close(os.open("f", os.O_CREAT | os.O_WRONLY))
    print("opened")
except OSError as e:
    print(e.strerror)
"""


def test_a_working_directory_too_deep_to_resolve_fails_the_call(engine, rules, tmp_path):
    folder = rules({"openat": "function do_syscall(num, dirfd, path)\n"
                              "  if c_read_string(path):sub(1, 1) ~= '/' then c_cwd() end\n"
                              "  return 0, 0\nend\n"})
    (tmp_path / "n").mkdir()
    (tmp_path / "l").mkdir()
    assert native_run(PYTHON, "-c", DEEP_CWD_PROGRAM, cwd=tmp_path / "n").stdout == "opened\n"
    r = luatrap("--rules", folder, PYTHON, "-c", DEEP_CWD_PROGRAM, engine=engine,
                cwd=tmp_path / "l")
    assert r.stdout == "File name too long\n"
    assert r.lua_errors[-1].endswith("c_cwd: File name too long")


ON_ERROR = {
    "getpid": "function do_syscall() error('bug') end",
    "getppid": 'on_rule_error = "deny"\nfunction do_syscall() error("bug") end',
    "getuid": 'on_rule_error = "allow"\nfunction do_syscall() error("bug") end',
    "getgid": 'on_rule_error = "Deny"\nfunction do_syscall() return 0, 0 end',
    "getegid": "function do_syscall(",
    "geteuid": "function do_syscall() return 'yes', 5 end",
}
ON_ERROR_PROGRAM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for name, nr in (("getpid", 39), ("getppid", 110), ("getuid", 102), ("getgid", 104),
                 ("getegid", 108), ("geteuid", 107)):
    r = libc.syscall(nr)
    print(name, "ran" if r >= 0 else f"errno {ctypes.get_errno()}")
"""


@pytest.mark.parametrize("option", [None, "allow", "deny"])
def test_on_rule_error_says_whether_a_failing_rules_call_runs(engine, rules, option):
    """allow (the seed's behaviour, the default): the call runs; deny: it fails with
    EPERM. A rule file's own on_rule_error wins; a misspelt one fails closed."""
    args = ["--on-rule-error", option] if option else []
    r = luatrap(*args, "--rules", rules(ON_ERROR), PYTHON, "-c", ON_ERROR_PROGRAM,
                engine=engine)
    default = "errno 1" if option == "deny" else "ran"
    assert r.stdout.splitlines() == [
        f"getpid {default}", "getppid errno 1", "getuid ran", "getgid errno 1",
        f"getegid {default}", f"geteuid {default}"]
    assert any('on_rule_error must be "allow" or "deny"' in e for e in r.lua_errors)
