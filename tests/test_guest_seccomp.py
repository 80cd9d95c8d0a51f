"""A program's own seccomp filters behave as the kernel's, on every engine: each verdict
(errno, trap, no tracer, no supervisor, log, kills), their precedence, per-thread
filters and TSYNC, fork, threads and exec, strict mode, and the filters the kernel
refuses (tests/programs/seccomp_filters.c)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import luatrap, native_run


@pytest.fixture
def expected(engine, build_program) -> list[str]:
    """What the kernel answers the program, for the engine's architecture."""
    r = native_run(build_program("seccomp_filters"))  # the x86_64 build
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    if engine.arch == "x86_64":
        return lines
    # (qemu-aarch64, the usual aarch64 reference, refuses seccomp.) The lines that
    # differ by architecture: the registers after a trap (aarch64's x0 keeps the first
    # argument), and the i386 call, which only x86_64 has.
    return [line.replace("returned the call number", "returned the first argument")
            for line in lines if "i386" not in line]


def test_a_programs_own_filters_act_as_the_kernels(engine, cprog, expected):
    r = luatrap(cprog("seccomp_filters"), engine=engine)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected


def test_the_programs_filter_comes_before_the_rules(engine, cprog, rules, expected):
    """A call the program's filter refuses never reaches a rule (the kernel's order); a
    call it lets through meets its rule."""
    def noting(name: str) -> str:
        return f'function do_syscall() c_log("rule of {name}") return 1, 12345 end\n'
    folder = rules({name: noting(name) for name in ("getppid", "getegid", "getgid")})
    r = luatrap("--rules", folder, cprog("seccomp_filters"), engine=engine)
    lines = r.stdout.splitlines()
    assert "getppid: -1 Operation not permitted" in lines  # the filter's errno
    assert "getegid: -1 Permission denied" in lines
    assert "getgid runs: 1" in lines  # the filter logs it; the rule answers it
    # the filter's SECCOMP_RET_TRACE finds no tracer, though luatrap may be one
    assert "getuid: -1 Function not implemented" in lines
    assert "rule of getgid" in r.stderr
    assert "rule of getppid" not in r.stderr and "rule of getegid" not in r.stderr
    if engine != "native":  # (see docs/engines.md: luatrap's own filter is seen there)
        assert lines == expected


def test_the_filter_checker_and_interpreter_agree_with_the_kernel(tmp_path):
    """src/core/guest_seccomp.c against the kernel on random filters (built with ASan
    and UBSan): the same filters accepted, the same outcome of a call they judge."""
    root = Path(__file__).resolve().parent.parent
    program = tmp_path / "bpf_differential"
    subprocess.run(["gcc", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=undefined", f"-I{root}/src/core", "-o", str(program),
                    str(root / "tests/programs/bpf_differential.c"),
                    str(root / "src/core/guest_seccomp.c")], check=True)
    for seed in (1, 2, 3):
        r = subprocess.run([str(program), str(seed), "4000"], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("4000 filters, ") and r.stdout.endswith(" all agree\n")
