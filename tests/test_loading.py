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


# What the emulate engine's auxiliary vector lacks or says otherwise, and why (each is a
# known limit in docs/engines.md): no vDSO; the signal frame's and the emulated CPU's
# extended state (AT_MINSIGSTKSZ, AT_HWCAP2) are not the host's; rseq is ENOSYS.
EMULATE_AUXV_DIFFERS = {"AT_SYSINFO_EHDR", "AT_MINSIGSTKSZ", "AT_HWCAP2",
                        "AT_RSEQ_FEATURE_SIZE", "AT_RSEQ_ALIGN"}
# An aarch64 program's reference is qemu-aarch64, whose CPU (QEMU 7.2's "max") has
# features Unicorn's (QEMU 5.0's) lacks: the HWCAP bits say what each one runs.
AARCH64_AUXV_DIFFERS = {"AT_HWCAP", "AT_HWCAP2"}


def test_argv_environment_and_auxv_are_the_kernels(engine, cprog):
    program = cprog("startup_view")
    env = {**os.environ, "LUATRAP_T": "set"}
    alone = native_run(program, "one", "two words", env=env).stdout.splitlines()
    r = luatrap(program, "one", "two words", engine=engine, env=env).stdout.splitlines()
    assert "syscall(1000) = -1 errno=38" in r  # ENOSYS, never a made-up success
    differs = {line.split()[0].split("=")[0] for line in set(r) ^ set(alone)}
    if engine.arch == "aarch64":
        assert differs == AARCH64_AUXV_DIFFERS
        return
    assert "AT_SYSINFO_EHDR set" in alone and "AT_HWCAP=0" not in alone
    if engine == "native":
        assert r == alone
        return
    assert differs == EMULATE_AUXV_DIFFERS  # the documented differences, and no other


def test_scripts_run_through_their_interpreter(engine, tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh -e\necho \"script got $1, argv0 $0\"\n")
    script.chmod(0o755)
    direct = luatrap(script, "arg", engine=engine)
    nested = luatrap("bash", "-c", f"{script} nested; echo status $?", engine=engine)
    assert direct.stdout == f"script got arg, argv0 {script}\n"
    assert nested.stdout == f"script got nested, argv0 {script}\nstatus 0\n"


@pytest.mark.x86_64_only
def test_the_fpu_starts_in_the_kernels_state(engine, cprog):
    """x87 control word 037f (64-bit precision, exceptions masked) and MXCSR 1f80, in
    every thread and process, as the kernel sets them up."""
    program = cprog("fpu_state")
    alone = native_run(program)
    assert "control word 037f, mxcsr 00001f80, 1/3 = 0.3333333333333333333" in alone.stdout
    assert luatrap(program, engine=engine).stdout == alone.stdout


@pytest.mark.x86_64_only
def test_calls_through_the_vsyscall_page_work_and_meet_rules(engine, cprog, rules):
    program = cprog("vsyscall_time", "-static")
    alone = native_run(program)
    assert "close to the real time: 1 1" in alone.stdout
    assert "close to the real time: 1 1" in luatrap(program, engine=engine).stdout
    folder = rules({"time": "function do_syscall() return 1, 42 end\n"})
    r = luatrap("--rules", folder, program, engine=engine)
    assert r.stdout.splitlines()[0] == "vsyscall time: 42"
