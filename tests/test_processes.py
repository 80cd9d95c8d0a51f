"""Threads, children, exec'd programs, exit status, signals, and the
32-bit / x32 routes around a rule."""
from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FAKE_GETPID, PASS, PYTHON, luatrap, native_run, process_state


def test_every_thread_is_hooked(engine, rules, cprog):
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), cprog("threads_getpid"),
                engine=engine)
    assert r.returncode == 0
    assert r.stdout == "faked=8000 real=0\n"


def test_python_threads_are_hooked(engine, rules):
    code = ("import os, threading\n"
            "seen = []\n"
            "def work():\n"
            "    for _ in range(200): seen.append(os.getpid())\n"
            "ts = [threading.Thread(target=work) for _ in range(4)]\n"
            "[t.start() for t in ts]; [t.join() for t in ts]\n"
            "print(len(seen), set(seen))\n")
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), PYTHON, "-c", code,
                engine=engine)
    assert r.stdout == "800 {99999}\n"


def test_forked_vforked_and_execed_children_are_hooked(engine, rules, cprog):
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), cprog("spawn_children"),
                engine=engine)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["parent: 99999", "fork child: 99999",
                                     "exec after fork: 99999", "exec after vfork: 99999"]


@pytest.mark.x86_64_only
def test_process_calls_through_int_0x80_stay_under_luatrap(engine, rules, cprog):
    """i386 fork, execve and exit from a 64-bit program: followed and hooked as natively;
    and its calls on the process's memory and signal mask work as natively (emulated
    under the emulate engine, mmap2 placing below 4 GiB)."""
    folder = rules({"getppid": "function do_syscall() return 1, 4242 end"})
    r = luatrap("--rules", folder, cprog("int80_process", "-no-pie"), engine=engine)
    assert r.stdout.splitlines() == ["forked child sees ppid 4242", "child exit 0",
                                     "exec'd copy sees ppid 4242"]
    assert r.returncode == 7
    program = cprog("int80_process", "-no-pie")
    alone = native_run(program, "state")
    assert alone.stdout.splitlines() == ["brk ran", "rt_sigprocmask 0", "mmap2 below 4 GiB 1",
                                         "munmap of it 0", "still running"]
    assert luatrap("--rules", folder, program, "state", engine=engine).stdout == alone.stdout


def test_shell_pipeline_children_are_hooked(engine, rules):
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), "bash", "-c",
                f"{PYTHON} -c 'import os; print(os.getpid())' | cat; "
                f"({PYTHON} -c 'import os; print(os.getpid())')", engine=engine)
    assert r.stdout == "99999\n99999\n"


def test_one_rule_state_counts_every_process(rules):
    folder = rules({"getppid": "n = 0\nfunction do_syscall() n = n + 1 return 1, n end"})
    r = luatrap("--rules", folder, "bash", "-c",
                f"for i in 1 2 3; do {PYTHON} -c 'import os; print(os.getppid())'; done",
                engine="native")
    counts = [int(x) for x in r.stdout.split()]
    # the count carries on from process to process: one Lua state for the whole tree
    assert len(counts) == 3 and counts[0] < counts[1] < counts[2]
    assert counts[2] - counts[1] == counts[1] - counts[0]


@pytest.mark.parametrize("how,status", [("0", 0), ("3", 3), ("kill", 128 + 9),
                                        ("segv", 128 + 11), ("abort", 128 + 6)])
def test_exit_status_is_the_programs(engine, rules, cprog, how, status):
    r = luatrap("--rules", rules({"getppid": FAKE_GETPID}), cprog("exit_with"), how,
                engine=engine)
    assert r.returncode == status
    assert r.stdout == f"ending with {how}\n"
    assert "Traceback" not in r.stderr


def test_exit_status_without_rules(engine, cprog):
    assert luatrap(cprog("exit_with"), "7", engine=engine).returncode == 7


@pytest.mark.x86_64_only
def test_every_route_to_a_socket_meets_the_rule(engine, rules, cprog):
    folder = rules({"socket": "function do_syscall(num, domain, type, proto)\n"
                              "  c_log(string.format('socket(%d, %d, %d)', domain, type, proto))\n"
                              "  return 1, -EACCES\nend\n"})
    r = luatrap("--rules", folder, cprog("socket_routes", "-no-pie"), engine=engine)
    assert r.stdout.splitlines() == ["libc socket: -1", "syscall socket: -1",
                                     "int80 socket: -13", "int80 socketcall: -13",
                                     "x32 socket: -1 errno=13"]
    assert r.lua_logs == ["[Lua Log] socket(2, 1, 0)"] * 5


RUN_SOCKET_NOW = """
function do_syscall(num, domain, type, protocol)
  local r = c_do_syscall(num, 9999, type, protocol)  -- no such address family
  c_log("socket ran: " .. r)
  return 1, 7000 - r
end
"""


@pytest.mark.x86_64_only
def test_a_hook_runs_its_call_on_every_route_in_the_callers_abi(engine, rules, cprog):
    """c_do_syscall from a hook of an i386 or x32 call runs that ABI's call, as the
    kernel would have run the program's own: the hook sees its real result."""
    program = cprog("socket_routes", "-no-pie")
    x32_errno = int(native_run(program).stdout.splitlines()[-1].split("errno=")[1])
    x32_ran = -x32_errno if x32_errno == errno.ENOSYS else -errno.EAFNOSUPPORT
    r = luatrap("--rules", rules({"socket": RUN_SOCKET_NOW}), program, engine=engine)
    assert r.stdout.splitlines() == [
        "libc socket: 7097", "syscall socket: 7097", "int80 socket: 7097",
        "int80 socketcall: 7097", f"x32 socket: {7000 - x32_ran} errno=0"]
    assert r.lua_logs == ["[Lua Log] socket ran: -97"] * 4 + [f"[Lua Log] socket ran: {x32_ran}"]


def test_stdin_and_environment_are_the_programs(engine, rules):
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), "-E", "LUATRAP_T=set",
                "-U", "HOME", PYTHON, "-c",
                "import os, sys; print(sys.stdin.read().upper(), os.environ.get('LUATRAP_T'),"
                " 'HOME' in os.environ)", input="piped in", engine=engine)
    assert r.stdout == "PIPED IN set False\n"


def test_killing_luatrap_kills_the_program(engine, rules):
    folder = rules({"getppid": "function do_syscall() return 1, 4242 end"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "luatrap", "--engine", engine, "--rules", str(folder),
         "bash", "-c", "echo $$; exec sleep 30"], stdout=subprocess.PIPE, text=True)
    program = int(proc.stdout.readline())  # it runs
    assert os.path.exists(f"/proc/{program}")
    proc.kill()
    proc.wait()
    for _ in range(200):  # the kernel takes the program down with luatrap (EXITKILL)
        if not os.path.exists(f"/proc/{program}") or process_state(program) == "Z":
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{program}") or process_state(program) == "Z"



def test_sigterm_to_luatrap_reaches_the_program(engine, rules):
    folder = rules({"getpid": FAKE_GETPID})
    proc = subprocess.Popen(
        [sys.executable, "-m", "luatrap", "--engine", engine, "--rules", str(folder),
         PYTHON, "-c",
         "import signal, sys, time\n"
         "signal.signal(signal.SIGTERM, lambda *a: (print('got TERM', flush=True), sys.exit(5)))\n"
         "print('ready', flush=True)\n"
         # short sleeps: a signal landing between Python's last check and the start of
         # a sleep waits for that sleep to end (CPython's own race, wider when emulated)
         "for _ in range(300): time.sleep(0.1)\n"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 5
    assert proc.stdout.read() == "got TERM\n"


def test_ignored_sigchld_from_the_parent_neither_hangs_nor_is_lost(engine, rules):
    """A parent that ignores SIGCHLD must not silence luatrap's view of its tracees,
    and the program still inherits the ignored disposition, as it would natively."""
    code = ("import signal; print(signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN)")
    cmd = [sys.executable, "-m", "luatrap", "--engine", engine, "--rules",
           str(rules({"getpid": FAKE_GETPID})), sys.executable, "-c", code]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
    assert r.returncode == 0 and r.stdout == "True\n"


def test_signal_mask_is_inherited_as_natively(engine, rules):
    code = "import signal; print(sorted(int(s) for s in signal.pthread_sigmask(0, [])))"
    cmd = [sys.executable, "-m", "luatrap", "--engine", engine, "--rules",
           str(rules({"getpid": FAKE_GETPID})), sys.executable, "-c", code]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK,
                                                                 {signal.SIGUSR1}))
    assert r.stdout == f"[{int(signal.SIGUSR1)}]\n"


def test_a_signal_around_an_execve_is_never_lost(engine, rules):
    """SIGINT sent as the program execs another (the emulate engine re-executes itself
    then) ends it, as natively: it is neither dropped nor left for a program that runs
    on."""
    folder = rules({"getppid": "function do_syscall() return 1, 4242 end"})
    for attempt in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-m", "luatrap", "--engine", engine, "--rules", str(folder),
             "bash", "-c", "echo started; exec sleep 30"], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "started\n"
        time.sleep(0.001 * attempt)  # somewhere in the execve, or after it
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=15) == 128 + signal.SIGINT, attempt
        finally:
            proc.kill()
            proc.wait()


def test_exec_under_emulate_when_luatrap_is_found_through_pythonpath(tmp_path):
    """The emulate engine re-executes luatrap at each execve: the new one must find it
    (and unicorn) where the first one did, even through PYTHONPATH alone."""
    import unicorn

    import luatrap

    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists():
        pytest.skip("no base interpreter beside this environment")
    lib = tmp_path / "lib"
    for package in (luatrap, unicorn):
        shutil.copytree(Path(package.__file__).parent, lib / package.__name__)
    env = {**os.environ, "PYTHONPATH": str(lib)}
    r = subprocess.run([str(base), "-m", "luatrap", "--engine", "emulate", "bash", "-c",
                        "exec /bin/echo exec reached"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert (r.returncode, r.stdout) == (0, "exec reached\n"), r.stderr


def test_a_failing_execve_returns_its_error_to_the_caller(engine, rules, tmp_path):
    """A truncated ELF, a script whose interpreter is missing, an ELF whose dynamic
    loader is missing: execve fails and its caller goes on, as natively (the emulate
    engine checks before it hands its process to the new program)."""
    (tmp_path / "truncated").write_bytes(Path("/bin/true").read_bytes()[:100])
    (tmp_path / "no_interpreter").write_text("#!/nonexistent/sh\necho ran\n")
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-Wl,--dynamic-linker=/nonexistent/ld.so", "-o",
                    str(tmp_path / "no_loader"), str(tmp_path / "main.c")], check=True)
    for name in ("truncated", "no_interpreter", "no_loader"):
        (tmp_path / name).chmod(0o755)
        cmd = ["bash", "-c", f"{tmp_path / name}; echo caller goes on: $?"]
        alone = native_run(*cmd)
        assert "caller goes on: 12" in alone.stdout  # the control: 126 or 127
        r = luatrap("--rules", rules({"getppid": PASS}), *cmd, engine=engine)
        assert (r.returncode, r.stdout) == (alone.returncode, alone.stdout), name
        assert alone.stderr.strip() in r.stderr, name


def test_luatraps_own_descriptors_leave_the_programs_alone(engine, cprog, build_program):
    """The program's first open gets 3 even under a low descriptor limit (the emulate
    engine keeps its own descriptors high, under the limit). The control is the host's
    build: what the kernel gives."""
    for limit in ("1024", "29"):
        alone = native_run("bash", "-c", f"ulimit -n {limit}; exec {build_program('first_fd')}")
        assert alone.stdout == "first open: 3\n"
        cmd = ["bash", "-c", f"ulimit -n {limit}; exec {cprog('first_fd')}"]
        assert luatrap(*cmd, engine=engine).stdout == alone.stdout, limit


def test_execveat_runs_a_descriptor_or_a_name_under_one(engine, rules, cprog, build_program):
    """fexecve of a close-on-exec descriptor, and execveat of a name relative to a
    directory descriptor, run the program as natively (and it stays under luatrap).
    The control is the host's build (qemu-aarch64 cannot exec an aarch64 program)."""
    program = cprog("exec_at")
    alone = native_run(build_program("exec_at"))
    assert alone.stdout.startswith("by fexecve, descriptor 3 closed\n")
    r = luatrap("--rules", rules({"getppid": FAKE_GETPID}), program, engine=engine)
    assert r.returncode == alone.returncode == 0, r.stderr
    assert r.stdout == alone.stdout
    assert r.stderr.count("execveat of a missing name: No such file or directory") == 1


def test_proc_self_is_the_programs(engine, rules, cprog):
    """/proc/self/{exe,cmdline,environ,auxv,maps,stat} describe the program, not luatrap
    (under the emulate engine the program runs in luatrap's process)."""
    program = cprog("proc_self")
    env = {**os.environ, "PROC_SELF_TEST": "1"}
    alone = native_run(program, "argument", env=env)
    assert "no" not in alone.stdout.replace("lists no", "")  # the control: all yes
    r = luatrap("--rules", rules({"getppid": FAKE_GETPID}), program, "argument",
                engine=engine, env=env)
    assert r.stdout == alone.stdout, r.stderr


def test_another_process_sees_the_programs_proc_entries(engine, cprog, build_program):
    """A parent reading its child's /proc/PID (as ps and pgrep do) finds the child's
    name, command line (as the child rewrote it), environment and auxiliary vector."""
    def kernels(program: Path) -> list[str]:  # (qemu-aarch64 shows its own entries)
        return [f"comm: {program.name[:15]}", f"cmdline: [{program.name}] [child] [ONE] [4]",
                "environ: LUATRAP_PEER=seen", "auxv: AT_ENTRY the child's"]
    host_build = build_program("peer_proc")
    assert native_run(host_build).stdout.splitlines() == kernels(host_build)
    program = cprog("peer_proc")
    r = luatrap(program, engine=engine)
    assert r.stdout.splitlines() == kernels(program), r.stderr


LIST_FDS = """
import os
print(sorted(map(int, os.listdir('/proc/self/fd'))))
def usable(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
print([fd for fd in range(3, 1 << 16) if usable(fd)])
"""


def test_the_programs_threads_and_signals_in_proc_are_its_own(engine, cprog, build_program):
    """/proc/self/task lists the program's threads only (not luatrap's watcher and
    looker), and status says how many there are, which signals are pending, blocked,
    ignored and caught, for the process and for one thread."""
    alone = native_run(build_program("proc_threads", "-lpthread")).stdout
    assert "threads listed in /proc/self/task: 3, all of them the program's: yes" in alone
    assert "process:\tSigBlk:\t0000000000000200" in alone.replace(" ", "\t")
    r = luatrap(cprog("proc_threads", "-lpthread"), engine=engine)
    assert (r.returncode, r.stdout) == (0, alone), r.stderr


def test_luatrap_s_own_descriptors_are_not_the_programs(engine, rules):
    """The program's descriptor table lists only what it would have natively, and no
    other descriptor number works for it (under the emulate engine luatrap keeps a few
    of its own in the same table: a forwarded call naming one gets EBADF)."""
    r = luatrap("--rules", rules({"getppid": FAKE_GETPID}), PYTHON, "-c", LIST_FDS,
                engine=engine)
    assert r.stdout == native_run(PYTHON, "-c", LIST_FDS).stdout


def test_odd_arguments_get_the_kernels_answers(engine, rules, cprog):
    """sigaction's view of SIGKILL, mmap of 0 bytes and of ~2^64 bytes: each answered
    as natively (EINVAL where the kernel says EINVAL, ENOMEM where it says ENOMEM)."""
    program = cprog("odd_arguments")
    r = luatrap("--rules", rules({"getppid": FAKE_GETPID}), program, engine=engine)
    assert r.stdout == native_run(program).stdout


def test_an_open_gets_the_lowest_free_descriptor(prints_as_the_kernel):
    """luatrap's own files (the emulate engine's look at /proc for signals) never take
    a number in the program's table, even for a moment."""
    prints_as_the_kernel("lowest_fd", ["opens that did not get the lowest free descriptor: 0"])


def test_a_vfork_child_writes_its_parents_memory(prints_as_the_kernel):
    """vfork shares memory until exec or exit: the parent sees the child's stores (a
    global, its own stack, a page it never touched, heap, an mmap), and posix_spawn gets
    a child's exec error that way."""
    prints_as_the_kernel("vfork_memory", [
        "after _exit: global 11, stack 12, untouched page 13, heap child1, mmap 14, status 3",
        "before exec: global 21, stack 22, untouched page 13, heap child2, mmap 24, status 0",
        f"failed exec: global 31, stack {errno.ENOENT}, untouched page 13, heap child2, "
        "mmap 24, status 127",
        "posix_spawn of a missing program: No such file or directory",
        "posix_spawn of itself: Success"])  # (qemu-aarch64 forks instead)
