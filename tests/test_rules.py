"""How rules are found, loaded, called, and how their answers are used."""
from __future__ import annotations

from conftest import FAKE_GETPID, PASS, PYTHON, luatrap

GETPID_TWICE = f"{PYTHON} -c 'import os; print(os.getpid()); print(os.getpid())'"


def test_script_loads_at_first_call_and_never_for_unused_calls(engine, rules, cprog):
    folder = rules({
        "getpid": 'c_log("loading getpid")\n' + FAKE_GETPID,
        "reboot": 'c_log("loading reboot")\n' + PASS,
    })
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.lua_logs == ["[Lua Log] loading getpid"]  # once, though getpid runs 4 times
    assert r.stdout.count("99999") == 4


def test_each_script_keeps_its_own_do_syscall_and_globals_are_shared(engine, rules, cprog):
    folder = rules({
        "getpid": "calls = 0\n"
                  "function do_syscall(num) calls = calls + 1 return 1, 1000 + calls end",
        "write": 'function do_syscall(num, fd, buf, n) c_log("getpid calls so far: "'
                 ' .. tostring(calls)) return 0, 0 end',
    })
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert "My PID is: 1001" in r.stdout and "PID call 3: 1004" in r.stdout
    assert r.lua_logs[0] == "[Lua Log] getpid calls so far: 1"


def test_arguments_are_signed_64_bit_and_int_kinds_sign_extended(engine, rules, tmp_path):
    folder = rules({"openat": """
function do_syscall(num, dirfd, path, flags, mode, a5, a6, a7, a8)
    c_log(string.format("num=%d dirfd=%d path=%s flags=%d a7=%d a8=%d type=%s",
        num, dirfd, c_read_string(path), flags, a7, a8, math.type(path)))
    return 0, 0
end"""})
    target = tmp_path / "file.txt"
    target.write_text("hello\n")
    r = luatrap("--rules", folder, "/bin/cat", target, engine=engine)
    assert r.stdout == "hello\n"
    assert f"[Lua Log] num=257 dirfd=-100 path={target} flags=0 a7=0 a8=0 type=integer" \
        in r.lua_logs


def test_intercepted_value_is_the_result_and_errors_become_errno(engine, rules, tmp_path):
    folder = rules({"openat": """
function do_syscall(num, dirfd, path, flags, mode)
    if c_read_string(path):find("secret") then return 1, -ENOENT end
    return 0, 0
end"""})
    (tmp_path / "secret.txt").write_text("x")
    r = luatrap("--rules", folder, "/bin/cat", tmp_path / "secret.txt", engine=engine)
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr


def test_true_and_false_work_like_1_and_0(engine, rules):
    folder = rules({"getpid": "function do_syscall() return true, 4242 end",
                    "getppid": "function do_syscall() return false end"})
    r = luatrap("--rules", folder, PYTHON, "-c",
                "import os; print(os.getpid(), os.getppid() > 0)", engine=engine)
    assert r.stdout == "4242 True\n"
    assert r.lua_errors == []


def test_lua_is_5_4_with_64_bit_integers_and_standard_libraries(engine, rules, cprog):
    folder = rules({"getpid": """
function do_syscall()
    c_log(_VERSION .. " " .. string.format("%d", math.maxinteger) .. " "
          .. os.date("!%Y", 0) .. " " .. table.concat({1, 2}, ",") .. " " .. (3 // 2))
    local sec, nsec = c_get_timestamp()
    c_log(string.format("sane clock %s", tostring(sec > 1600000000 and nsec < 1000000000)))
    return 1, -1
end"""})
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.lua_logs[:2] == ["[Lua Log] Lua 5.4 9223372036854775807 1970 1,2 1",
                              "[Lua Log] sane clock true"]
    assert "My PID is: -1" in r.stdout


BAD_RULES = {
    "syntax error": ("function do_syscall( return 1, 5 end",
                     "getpid.lua: line 1: <name> or '...' expected near 'return'"),
    "no do_syscall": ("function something_else() end",
                      "getpid.lua: no function do_syscall defined"),
    "runtime error": ("function do_syscall() return nil + 1 end",
                      "getpid.lua: line 1: attempt to perform arithmetic on a nil value"),
    "error()": ('function do_syscall() error("rule says no") end',
                "getpid.lua: line 1: rule says no"),
    "odd intercepted": ('function do_syscall() return "yes", 5 end',
                        "getpid.lua: do_syscall returned 'yes' as intercepted"),
    "odd retval": ('function do_syscall() return 1, "five" end',
                   "getpid.lua: do_syscall returned 1 with retval 'five'"),
    "table retval": ("function do_syscall() return 1, {} end",
                     "getpid.lua: do_syscall returned 1 with retval a table"),
    "huge float": ("function do_syscall() return 1, 2^70 end",
                   "getpid.lua: do_syscall returned 1 with retval"),
    "runaway": ("function do_syscall() while true do end end",
                "getpid.lua: instruction budget exceeded"),
    "deep recursion": ("local function f(n) return 1 + f(n + 1) end\n"
                       "function do_syscall() return f(0) end",
                       "getpid.lua: line 1: stack overflow"),
    "os.exit": ("function do_syscall() os.exit(3) end",
                "getpid.lua: line 1: os.exit is not available to rules"),
}


def test_bad_rules_never_break_the_program(engine, rules, cprog):
    for label, (source, message) in BAD_RULES.items():
        folder = rules({"getpid": source}, name=label.replace(" ", "_").replace("()", ""))
        r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
        assert r.returncode == 0, label
        assert "PID call 3: 99999" not in r.stdout.splitlines(), label
        assert r.stdout.count("PID call") == 3, label  # the real getpid ran every time
        assert len(r.lua_errors) == 1, (label, r.stderr)  # once, not once per call
        assert r.lua_errors[0].startswith("[Lua Error] ") and message in r.lua_errors[0], (
            label, r.lua_errors)


def test_empty_rules_folder_and_non_syscall_files(engine, rules, cprog):
    folder = rules({"not_a_syscall": PASS})
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.returncode == 0
    assert "PID call 3: 99999" not in r.stdout.splitlines()
    assert any(line.startswith(f"luatrap: {folder}/not_a_syscall.lua: 'not_a_syscall' is no "
                               f"{engine.arch} system call") and line.endswith("; ignored")
               for line in r.stderr.splitlines())


def test_rules_share_code_through_libraries_of_the_folder(engine, rules, cprog):
    """`_name.lua` is a library: not a rule, read at start with the rules, run once at
    its first require; its errors name its own file and line."""
    folder = rules({
        "_fake": 'c_log("library loaded")\n'
                 "return {pid = function() return 1, 4242 end,\n"
                 "        broken = function() error('inside') end}",
        "getpid": 'local fake = require("_fake")\nfunction do_syscall() return fake.pid() end',
        "getppid": 'local fake = require("_fake")\n'
                   "function do_syscall() return fake.broken() end",
    })
    r = luatrap("--rules", folder, PYTHON, "-c",
                "import os; print(os.getpid(), os.getppid() != 4242)", engine=engine)
    assert r.stdout == "4242 True\n"
    assert r.lua_logs == ["[Lua Log] library loaded"]  # once, for both rules
    assert r.lua_errors == [f"[Lua Error] {folder / 'getppid.lua'}: _fake.lua:3: inside"]
    assert "no x86_64 system call" not in r.stderr  # a library is not an unknown rule
