"""Issue 7: luatrap is never the thing that breaks — bad rules, hostile programs,
faults, load. Each failure mode has a defined outcome."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import (
    FAKE_GETPID,
    NOBODY,
    PASS,
    ROOT,
    as_nobody,
    luatrap,
    native_run,
)

NO_NETWORK = ROOT / "rules_examples" / "no_network"


# ------------------------------------------------------------------ misbehaving rules

def test_instruction_budget_is_configurable(engine, rules, cprog):
    folder = rules({"getpid": "function do_syscall() for i = 1, 5000 do end return 1, 7 end"})
    generous = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert "My PID is: 7" in generous.stdout.splitlines() and generous.lua_errors == []
    tight = luatrap("--lua-budget", "1000", "--rules", folder, cprog("test_program"),
                    engine=engine)
    assert "My PID is: 7" not in tight.stdout.splitlines()
    assert tight.lua_errors == [f"[Lua Error] {folder / 'getpid.lua'}: instruction budget "
                                "exceeded (1000 Lua instructions per call)"]


def test_memory_cap_of_the_lua_state(engine, rules, cprog):
    folder = rules({"getpid": "hoard = {}\nfunction do_syscall()\n"
                              "  for i = 1, 1e6 do hoard[#hoard + 1] = string.rep('x', 64) .. i"
                              " end\n  return 1, 7\nend\n"})
    r = luatrap("--lua-memory", "16", "--lua-budget", "100000000", "--rules", folder,
                cprog("test_program"), engine=engine)
    assert r.returncode == 0 and r.stdout.count("PID call") == 3
    assert r.lua_errors and "out of memory" in r.lua_errors[0]


def test_huge_and_binary_c_log(engine, rules, cprog):
    folder = rules({"getpid": "function do_syscall()\n"
                              "  c_log(string.rep('y', 10000000))\n"
                              "  c_log('bytes \\xff\\xfe\\0 end')\n  return 1, 1\nend\n"})
    cmd = [sys.executable, "-m", "luatrap", "--engine", engine, "--rules", str(folder),
           str(cprog("test_program"))]
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    lines = r.stderr.split(b"\n")
    huge = [line for line in lines if line.startswith(b"[Lua Log] yyy")]
    assert len(huge) == 4 and all(len(line) < 70_000 for line in huge)
    assert huge[0].endswith(b"... (9934464 bytes cut)")
    assert b"[Lua Log] bytes \xff\xfe\x00 end" in lines
    assert r.returncode == 0


def test_distinct_errors_are_summarised_not_flooded(engine, rules, cprog):
    folder = rules({"getppid": "n = 0\nfunction do_syscall()\n"
                               "  n = n + 1\n  error('failure number ' .. n)\nend\n"})
    r = luatrap("--rules", folder, cprog("load_threads"), "1", "100", "0", engine=engine)
    assert r.stdout == "done\n"
    path = folder / "getppid.lua"
    assert len(r.lua_errors) == 12
    assert r.lua_errors[10] == (f"[Lua Error] {path}: 10 different errors; further ones are "
                                "counted, not shown")
    assert r.lua_errors[11] == f"[Lua Error] {path}: 90 more different error(s) not shown"


def test_rules_are_read_once_at_start(engine, rules):
    """The folder is a snapshot: a rule emptied or deleted before its first call, or
    before the program execs another, still applies (a program cannot unhook itself)."""
    folder = rules({"sync": "function do_syscall() c_log('sync ruled') return 1, 0 end",
                    "getppid": "function do_syscall() return 1, 4242 end"})
    script = (f"import os, subprocess, sys; open('{folder}/sync.lua', 'w').close(); "
              f"os.remove('{folder}/getppid.lua'); os.sync(); "
              "subprocess.run(['bash', '-c', 'sync; echo $PPID'])")
    r = luatrap("--rules", folder, sys.executable, "-c", script, engine=engine)
    assert r.returncode == 0, r.stderr
    assert r.lua_logs == ["[Lua Log] sync ruled"] * 2
    assert r.stdout == "4242\n"  # bash, exec'd by the program, asked getppid
    assert r.lua_errors == []


# ------------------------------------------------------------------ sandbox routes

@pytest.mark.parametrize("route", ["direct", "thread", "fork", "exec", "clone3"])
def test_no_route_opens_a_socket(engine, cprog, route):
    r = luatrap("--rules", NO_NETWORK, cprog("socket_everywhere"), route, engine=engine)
    assert r.stdout.splitlines() == [f"{'direct' if route == 'exec' else route}: -1 errno=13"]
    assert len(r.lua_logs) == 1 and "socket blocked in pid" in r.lua_logs[0]


def test_no_socket_from_a_vforked_child(engine, cprog):
    r = luatrap("--rules", NO_NETWORK, cprog("socket_everywhere"), "vfork", engine=engine)
    assert r.stdout == "vfork: blocked\n"


def test_io_uring_is_closed_by_the_no_network_set(engine, cprog, build_program):
    alone = native_run(build_program("io_uring_probe"))  # the kernel's answer
    if alone.stdout.endswith(" errno=1\n"):
        pytest.skip("this kernel refuses io_uring to everyone (io_uring_disabled)")
    assert alone.stdout.endswith(" errno=0\n")  # the control: without luatrap it opens
    r = luatrap("--rules", NO_NETWORK, cprog("io_uring_probe"), engine=engine)
    assert r.stdout == "io_uring_setup: -1 errno=1\n"


# ------------------------------------------------------------------ faults

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP, signal.SIGTERM])
def test_signals_sent_to_luatrap_reach_the_program(engine, rules, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "luatrap", "--engine", engine, "--rules",
         str(rules({"getpid": FAKE_GETPID})), sys.executable, "-c",
         "import signal, sys, time\n"
         f"signal.signal({int(sig)}, lambda *a: (print('got', {int(sig)}, flush=True),"
         " sys.exit(3)))\n"
         "print('ready', flush=True)\n"
         "for _ in range(300): time.sleep(0.1)\n"],  # see test_sigterm_to_luatrap...
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    os.kill(proc.pid, sig)
    assert proc.wait(timeout=20) == 3
    assert proc.stdout.read() == f"got {int(sig)}\n"


def test_unhandled_signal_to_luatrap_ends_program_and_luatrap_alike(engine, rules):
    proc = subprocess.Popen([sys.executable, "-m", "luatrap", "--engine", engine, "--rules",
                             str(rules({"getpid": FAKE_GETPID})), "bash", "-c",
                             "echo started; exec sleep 30"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "started\n"  # the program runs: luatrap is in place
    os.kill(proc.pid, signal.SIGHUP)
    assert proc.wait(timeout=20) == 128 + signal.SIGHUP


def test_process_ended_from_a_thread(engine, rules, cprog):
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), cprog("thread_exit"),
                engine=engine)
    assert r.returncode == 4 and r.stdout == "worker ends the process\n"


def test_exec_of_a_missing_file_is_reported_as_natively(engine, rules):
    cmd = ["bash", "-c", "exec /nonexistent/program"]
    alone = native_run(*cmd)
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), *cmd, engine=engine)
    assert r.returncode == alone.returncode == 127
    assert alone.stderr.strip() in r.stderr


@pytest.mark.x86_64_only
def test_bad_pointers_to_emulated_calls_fail_as_natively(engine, rules, cprog):
    program = cprog("bad_pointers")
    r = luatrap("--rules", rules({"getppid": PASS}), program, engine=engine)
    assert r.returncode == 0
    assert r.stdout == native_run(program).stdout
    assert r.stdout.count("EFAULT") == 15
    r = luatrap("--rules", rules({"getppid": PASS}), program, "altstack", engine=engine)
    assert r.returncode == 128 + signal.SIGSEGV
    assert native_run(program, "altstack").returncode == -signal.SIGSEGV
    assert "survived" not in r.stdout


def test_pointers_into_a_truncated_file_mapping_fail_with_efault(prints_as_the_kernel):
    """A read there is a SIGBUS; the kernel answers EFAULT, and luatrap's own reads of
    a path, an iovec array or a message header must not end it instead."""
    prints_as_the_kernel("truncated_mapping", [
        f"{name:<8} -1 EFAULT" for name in ("open", "stat", "write", "writev", "sendmsg",
                                            "recvmsg")])


# ------------------------------------------------------------------ load

def test_many_threads_and_children_every_call_seen_once(engine, rules, cprog):
    folder = rules({
        "getppid": "calls = 0\nfunction do_syscall() calls = calls + 1 return 0, 0 end",
        "exit_group": "function do_syscall() c_log('calls ' .. calls) return 0, 0 end",
    })
    # The run inside a process of its own, whose children are this run's processes only:
    # their largest resident size (RUSAGE_CHILDREN of this test's own process would be
    # the largest child pytest ever reaped).
    measure = ("import resource, subprocess, sys; "
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    r = luatrap("--rules", folder, cprog("load_threads"), "32", "10000", "50", engine=engine,
                wrapper=[sys.executable, "-c", measure])
    *output, largest_kb = r.stdout.splitlines()
    r.stdout = "\n".join(output) + "\n"
    assert r.stdout == "done\n" and r.returncode == 0
    # each of the 50 children ends with exit_group too; the parent ends last
    counts = [int(line.split()[-1]) for line in r.lua_logs]
    if engine == "native":  # one Lua state for the whole tree
        assert counts == [32 * 10000 + n for n in range(1, 51)] + [32 * 10000 + 50]
    else:  # each child counts on in its own copy of the state, taken at fork (docs/rules.md)
        assert counts == [32 * 10000 + 1] * 50 + [32 * 10000]
    assert int(largest_kb) / 1024 < 300


# ------------------------------------------------------------------ without root

def test_unreadable_rules_folder_or_rule_is_a_clean_error(open_tmp, nobody_can_run_luatrap):
    folder = open_tmp / "locked"
    folder.mkdir()
    (folder / "getpid.lua").write_text(FAKE_GETPID)
    folder.chmod(0)
    r = as_nobody("-m", "luatrap", "--rules", str(folder), "/bin/true")
    assert r.returncode == 2
    assert r.stderr == f"luatrap: cannot read rules folder {folder}: Permission denied\n"
    folder.chmod(0o755)
    (folder / "getpid.lua").chmod(0)
    r = as_nobody("-m", "luatrap", "--rules", str(folder), "/bin/true")
    assert r.returncode == 2
    assert r.stderr == f"luatrap: cannot read rule {folder}/getpid.lua: Permission denied\n"


def test_works_without_root(open_tmp, cprog, nobody_can_run_luatrap):
    work = open_tmp / "w"
    work.mkdir()
    prog = work / "test_program"
    prog.write_bytes(cprog("test_program").read_bytes())
    (work / "rules").mkdir()
    (work / "rules" / "getpid.lua").write_text(FAKE_GETPID)
    for p in (work, work / "rules"):
        p.chmod(0o755)
    prog.chmod(0o755)
    (work / "rules" / "getpid.lua").chmod(0o644)
    r = as_nobody("-m", "luatrap", "--rules", "rules", "./test_program", cwd=work)
    assert r.returncode == 0, r.stderr
    assert "PID call 3: 99999" in r.stdout


@pytest.mark.x86_64_only
def test_call_numbers_are_the_kernels_32_bits(engine, rules, cprog):
    """A number with high bits set is the same call to the kernel: it meets the same
    rule, and an execve made so stays under luatrap (its rules apply to the new image)."""
    program = cprog("high_bits")
    alone = native_run(program, "exec").stdout.splitlines()
    assert len(alone) == 2 and "99999" not in alone[0]  # the control: the real pid, twice
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), program, "exec", engine=engine)
    assert r.stdout == "getpid: 99999\ngetpid: 99999\n"


REACH = ["pidfd_open", "process_vm_readv", "open /proc/PARENT/mem", "ptrace seize"]


def test_the_supervisor_is_out_of_the_programs_reach(rules, cprog, open_tmp,
                                                     nobody_can_run_luatrap):
    """Under the native engine the program's parent is luatrap: it may not ptrace it,
    open a pidfd to it (the way to copy its seccomp listener), or read its memory —
    as root (but /proc/PID/mem, which root may open: docs/security.md) or as a user."""
    program = open_tmp / "reach"
    program.write_bytes(cprog("reach_supervisor").read_bytes())
    program.chmod(0o755)
    folder = open_tmp / "rules"
    folder.mkdir()
    (folder / "getuid.lua").write_text("function do_syscall() return 0, 0 end")
    folder.chmod(0o755)
    (folder / "getuid.lua").chmod(0o644)

    def outcome(stdout: str) -> dict[str, str]:
        return dict(line.split(": ") for line in stdout.splitlines())

    # the controls: without luatrap every route reaches the parent, of root or of a user
    assert set(outcome(native_run(program).stdout).values()) == {"reached"}
    alone = subprocess.run([*NOBODY, "bash", "-c", f"{program}; true"], capture_output=True,
                           text=True, timeout=60)
    assert outcome(alone.stdout)["pidfd_open"] == "reached"
    as_root = outcome(luatrap("--rules", folder, program).stdout)
    assert as_root == {"pidfd_open": "refused", "process_vm_readv": "refused",
                       "open /proc/PARENT/mem": "reached", "ptrace seize": "refused"}
    as_user = as_nobody("-m", "luatrap", "--rules", str(folder), str(program), cwd=open_tmp)
    assert outcome(as_user.stdout) == dict.fromkeys(REACH, "refused"), as_user.stderr
