"""Real system programs under pass-through rules print exactly what they print alone."""
from __future__ import annotations

import pytest

from conftest import PASS, PYTHON, luatrap, native_run

PASS_THROUGH = ["openat", "read", "write", "close", "mmap", "newfstatat", "getpid",
                "clone", "clone3", "execve", "wait4", "pipe2", "dup2", "rt_sigaction",
                "brk", "fcntl", "ioctl", "lseek", "getdents64"]

COMMANDS = {
    "ls": ["/bin/ls", "-la", "/usr/share/doc/bash", "/etc/hostname"],
    "bash pipeline": ["bash", "-c", "seq 1 2000 | sort -rn | head -5 | tr 0-9 a-j; "
                                    "echo $(echo nested | rev) done"],
    "python3": [PYTHON, "-c", "import json, hashlib; print(json.dumps(sorted("
                                 "{'b': 1, 'a': [1, 2]}.items())), "
                                 "hashlib.sha256(b'luatrap').hexdigest())"],
    "sha256sum": ["sha256sum", "/bin/ls"],
    "sort": ["sort", "-r", "/etc/services"],
    "tar pipeline": ["bash", "-c", "tar czf - -C /usr/share/doc bash | gzip -dc | tar tf - "
                                   "| sort"],
    "python3 threads and subprocess": [
        PYTHON, "-c", "import threading, subprocess\n"
                         "out = []\n"
                         "ts = [threading.Thread(target=lambda i=i: out.append(i * i))"
                         " for i in range(8)]\n"
                         "[t.start() for t in ts]; [t.join() for t in ts]\n"
                         "print(sorted(out), subprocess.run(['echo', 'child'],"
                         " capture_output=True, text=True).stdout.strip())"],
    "perl": ["perl", "-e", 'print join(",", map { $_ * 2 } 1..5), "\n"; '
                           'printf("%.3f\n", atan2(1, 1) * 4)'],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_pass_through_rules_change_nothing(engine, rules, name):
    folder = rules({call: PASS for call in PASS_THROUGH})
    alone = native_run(*COMMANDS[name])
    traced = luatrap("--rules", folder, *COMMANDS[name], engine=engine)
    assert traced.returncode == alone.returncode
    assert traced.stdout == alone.stdout
    assert traced.lua_errors == []
