"""The seed's acceptance run, piped and on a pseudo-terminal."""
from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import ROOT, luatrap

SEED_RULES = {name: (ROOT / "test_rules" / f"{name}.lua").read_text()
              for name in ("getpid", "write")}
FAKE = "[Lua Log] getpid() intercepted - returning fake PID 99999"
PROGRAM_LINES = ["Starting test program...", "My PID is: 99999", "Hello from write!",
                 "PID call 1: 99999", "PID call 2: 99999", "PID call 3: 99999"]


def test_acceptance_run_piped(engine, rules, cprog):
    folder = rules(SEED_RULES, name="test_rules")
    r = luatrap("--rules", folder, cprog("test_program"), engine=engine)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["Hello from write!", *[
        line for line in PROGRAM_LINES if line != "Hello from write!"]]
    # A pipe flushes printf's lines at exit, in one write after the program's own.
    assert r.stderr.splitlines() == [
        f"Rules folder path: {folder}",
        "Lua environment initialized. Scripts will be loaded on demand.",
        "[Lua Log] Loaded getpid.lua", FAKE,
        "[Lua Log] Loaded write.lua", "[Lua Log] write(fd=1, count=18)",
        FAKE, FAKE, FAKE,
        "[Lua Log] write(fd=1, count=96)",
    ]


def run_on_pty(argv: list[str], cwd) -> tuple[int, list[str]]:
    """Run argv with stdin, stdout and stderr on one pseudo-terminal; its lines."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                            close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=60), out.decode().replace("\r\n", "\n").splitlines()


def test_acceptance_run_on_a_terminal(engine, rules, cprog, tmp_path):
    rules(SEED_RULES, name="test_rules")  # tmp_path/test_rules: the seed's own command
    prog = cprog("test_program")
    code, lines = run_on_pty([sys.executable, "-m", "luatrap", "--engine", engine,
                              "--rules", "test_rules", str(prog)], cwd=tmp_path)
    assert code == 0
    # On a terminal every printf line is its own write(): the seed's expected output,
    # with write.lua's line before each of them.
    assert lines == [
        "Rules folder path: test_rules",
        "Lua environment initialized. Scripts will be loaded on demand.",
        "[Lua Log] Loaded write.lua", "[Lua Log] write(fd=1, count=25)",
        "Starting test program...",
        "[Lua Log] Loaded getpid.lua", FAKE,
        "[Lua Log] write(fd=1, count=17)", "My PID is: 99999",
        "[Lua Log] write(fd=1, count=18)", "Hello from write!",
        FAKE, "[Lua Log] write(fd=1, count=18)", "PID call 1: 99999",
        FAKE, "[Lua Log] write(fd=1, count=18)", "PID call 2: 99999",
        FAKE, "[Lua Log] write(fd=1, count=18)", "PID call 3: 99999",
    ]


def test_seed_examples_folder_runs_test_program(engine, cprog):
    r = luatrap("--rules", ROOT / "rules_examples", cprog("test_program"), engine=engine)
    assert r.returncode == 0
    assert "My PID is: 99999" in r.stdout
    assert "[Lua Log] Loaded getpid.lua" in r.stderr
