"""Programs start as the kernel starts them: static or dynamic, PIE or not, scripts with
`#!`, and argv, environment and auxiliary vector as execve(2) builds them."""
from __future__ import annotations

import os

import pytest

from conftest import FAKE_GETPID, luatrap, native_run

SEED_LINES = ["My PID is: 99999", "PID call 1: 99999"]


@pytest.mark.parametrize("flags", [(), ("-no-pie",), ("-static",), ("-static-pie",)])
def test_every_kind_of_executable_runs(engine, rules, cprog, flags):
    program = cprog("test_program", *flags)
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), program, engine=engine)
    assert r.returncode == 0
    assert all(line in r.stdout.splitlines() for line in SEED_LINES), r.stdout


def test_argv_environment_and_auxv_are_the_kernels(engine, cprog):
    program = cprog("startup_view")
    env = {**os.environ, "LUATRAP_T": "set"}
    alone = native_run(program, "one", "two words", env=env)
    r = luatrap(program, "one", "two words", engine=engine, env=env)
    assert r.stdout == alone.stdout
    assert "syscall(1000) = -1 errno=38" in r.stdout  # ENOSYS, never a made-up success


def test_scripts_run_through_their_interpreter(engine, tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh -e\necho \"script got $1, argv0 $0\"\n")
    script.chmod(0o755)
    direct = luatrap(script, "arg", engine=engine)
    nested = luatrap("bash", "-c", f"{script} nested; echo status $?", engine=engine)
    assert direct.stdout == f"script got arg, argv0 {script}\n"
    assert nested.stdout == f"script got nested, argv0 {script}\nstatus 0\n"
