"""Hostile programs: each tries a route around the rules or into luatrap itself, on
every engine, as root and as user nobody, with a control showing what it reaches
without luatrap. (More routes: test_processes.py for 32-bit and x32 calls,
test_reliability.py for the native supervisor, test_rule_api.py for rules that fail.)"""
from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time

import pytest

from conftest import ROOT, as_nobody, luatrap, native_run

LUATRAP_MEMORY_ROUTES = {
    "read": "Bad address", "readv": "Bad address", "recvfrom": "Bad address",
    "process_vm_writev": "Function not implemented", "clock_gettime": "Bad address",
    "open /proc/self/mem": "Permission denied", "survived": ""}


def _outcome(stdout: str) -> dict[str, str]:
    return dict((line.split(": ", 1) + [""])[:2] for line in stdout.splitlines())


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_the_program_cannot_write_into_luatrap(engine, cprog, user, open_tmp, request):
    """Under the emulate engine luatrap shares the program's address space: a pointer
    to luatrap's memory, handed to a forwarded call, gets EFAULT; /proc/self/mem and
    the debugging calls are refused. Natively there is nothing of luatrap's to aim at."""
    program = open_tmp / "reach_luatrap_memory"
    program.write_bytes(cprog("reach_luatrap_memory").read_bytes())
    program.chmod(0o755)
    assert native_run(program).stdout == "nothing to aim at\n"  # the program's own view
    if user == "root":
        r = luatrap(program, engine=engine)
    else:
        request.getfixturevalue("nobody_can_run_luatrap")
        r = as_nobody("-m", "luatrap", "--engine", engine, str(program), cwd=open_tmp)
    assert r.returncode == 0, r.stderr
    if engine == "native":
        assert r.stdout == "nothing to aim at\n"
    else:  # luatrap's Python, Unicorn and C core are there to aim at ...
        assert _outcome(r.stdout) == LUATRAP_MEMORY_ROUTES  # ... and out of reach


@pytest.mark.x86_64_only
def test_the_program_cannot_write_the_cpus_descriptor_tables(prints_as_the_kernel):
    """The emulated CPU's descriptor tables are luatrap's memory, and sgdt tells the
    program where (Unicorn has no UMIP): writes there are SIGSEGV, as at the kernel's
    own table natively, and the kernel's selectors still load."""
    prints_as_the_kernel("write_descriptor_tables", [
        "write to the global descriptor table: SIGSEGV", "write to the page after it: SIGSEGV",
        "selector 0x2b still loads"])


READ_THE_PATH = 'function do_syscall(num, dirfd, path) c_log("open " .. c_read_string(path))' \
                " return 0, 0 end"


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_program_cannot_make_its_memory_unreadable_to_the_rules(engine, cprog, user,
                                                                    open_tmp, request):
    """prctl(PR_SET_DUMPABLE, 0) would stop an unprivileged luatrap from reading the
    program's memory, and every rule that reads a path would fail: the program is told
    it succeeded, and luatrap goes on reading."""
    program = open_tmp / "make_undumpable"
    program.write_bytes(cprog("make_undumpable").read_bytes())
    program.chmod(0o755)
    folder = open_tmp / "rules"
    folder.mkdir()
    (folder / "openat.lua").write_text(READ_THE_PATH)
    folder.chmod(0o755)
    (folder / "openat.lua").chmod(0o644)
    assert native_run(program, "/etc/hostname").stdout == "prctl 0, open ok\n"
    args = ["--engine", engine, "--rules", str(folder), str(program), "/etc/hostname"]
    if user == "root":
        r = luatrap(*args)
    else:
        request.getfixturevalue("nobody_can_run_luatrap")
        r = as_nobody("-m", "luatrap", *args, cwd=open_tmp)
    assert r.stdout == "prctl 0, open ok\n", r.stderr
    assert "[Lua Log] open /etc/hostname" in r.stderr.splitlines()
    assert "[Lua Error]" not in r.stderr


NETWORK_ROUTES = ["libc", "syscall", "high-bits", "int80", "socketcall", "thread", "fork",
                  "vfork", "clone3", "exec"]


@contextlib.contextmanager
def loopback_listener():
    """A TCP listener on 127.0.0.1: (its port, the list of what reached it)."""
    received: list[str] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while chunk := conn.recv(100):
                    data += chunk
                received.append(data.decode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], received
    finally:
        time.sleep(0.3)  # a late connection still lands before the list is read
        done.set()
        thread.join()
        server.close()


@pytest.mark.x86_64_only
@pytest.mark.parametrize("user", ["root", "nobody"])
def test_no_route_reaches_the_network_under_no_network(engine, cprog, user, open_tmp,
                                                       request):
    """rules_examples/no_network/ against a program that tries every way to a listener
    on 127.0.0.1: without luatrap each route delivers its name (the control); under it,
    none does."""
    program = open_tmp / "exfiltrate"
    program.write_bytes(cprog("exfiltrate", "-static", "-no-pie").read_bytes())
    program.chmod(0o755)
    folder = open_tmp / "no_network"
    shutil.copytree(ROOT / "rules_examples" / "no_network", folder)
    for path in [folder, *folder.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    expected = [("exec-child" if route == "exec" else route) for route in NETWORK_ROUTES]
    with loopback_listener() as (port, received):
        for route in NETWORK_ROUTES:
            native_run(program, str(port), route)
    assert sorted(received) == sorted(expected)
    reexec = True
    if user == "nobody":
        reexec = request.getfixturevalue("nobody_can_run_luatrap")
    with loopback_listener() as (port, received):
        for route, name in zip(NETWORK_ROUTES, expected, strict=True):
            if route == "exec" and engine == "emulate" and not reexec:
                continue  # nobody cannot start this machine's Python again (conftest)
            args = ["--engine", engine, "--rules", str(folder), str(program), str(port), route]
            r = (luatrap(*args) if user == "root"
                 else as_nobody("-m", "luatrap", *args, cwd=open_tmp))
            assert r.stdout == f"{name}: blocked (Permission denied)\n", (route, r.stderr)
    assert received == []


def test_a_call_right_after_a_hooks_own_call_meets_its_rule(engine, rules, cprog):
    """While a hook runs its call (c_do_syscall) the thread's other calls skip the rules;
    that must end before the thread runs on: a call it makes at once meets its rule."""
    folder = rules({"getppid": "function do_syscall(num) return 1, c_do_syscall(num) end",
                    "getuid": "function do_syscall() return 1, 4242 end"})
    r = luatrap("--rules", folder, cprog("alternate_paths"), "20000", engine=engine)
    assert r.stdout == "missed 0 of 20000\n", r.stderr
