"""Programs start as the kernel starts them: static or dynamic, PIE or not, scripts with
`#!`, and argv, environment and auxiliary vector as execve(2) builds them."""
from __future__ import annotations

import errno
import os

import pytest

from conftest import FAKE_GETPID, PYTHON, luatrap, native_run

SEED_LINES = ["My PID is: 99999", "PID call 1: 99999"]


@pytest.mark.parametrize("flags", [(), ("-no-pie",), ("-static",), ("-static-pie",)])
def test_every_kind_of_executable_runs(engine, rules, cprog, flags):
    program = cprog("test_program", *flags)
    r = luatrap("--rules", rules({"getpid": FAKE_GETPID}), program, engine=engine)
    assert r.returncode == 0
    assert all(line in r.stdout.splitlines() for line in SEED_LINES), r.stdout


# What the emulate engine's auxiliary vector lacks or says otherwise, and why (each is a
# known limit in docs/engines.md): the emulated CPU has no AVX, so its signal frame
# is smaller (AT_MINSIGSTKSZ).
EMULATE_AUXV_DIFFERS = {"AT_MINSIGSTKSZ"}
# An aarch64 program's reference is qemu-aarch64, whose CPU (QEMU 7.2's "max") has
# features Unicorn's (QEMU 5.0's) lacks: the HWCAP bits say what each one runs. And
# qemu-aarch64 7.2 has no vDSO, no AT_MINSIGSTKSZ and no rseq, where the kernel (and
# luatrap) give them.
AARCH64_AUXV_DIFFERS = {"AT_HWCAP", "AT_HWCAP2", "AT_SYSINFO_EHDR", "AT_MINSIGSTKSZ",
                        "AT_RSEQ_FEATURE_SIZE", "AT_RSEQ_ALIGN"}


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
    """x87 control word 037f (64-bit precision, exceptions masked) and MXCSR 1f80, and
    the user code and stack selectors, in every thread and process, as the kernel sets
    them up (Unicorn starts all four at 0)."""
    program = cprog("fpu_state")
    alone = native_run(program)
    assert ("control word 037f, mxcsr 00001f80, 1/3 = 0.3333333333333333333, cs 0x33, "
            "ss 0x2b") in alone.stdout
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


def test_the_program_has_a_vdso(engine, cprog):
    """It is in the link map as linux-vdso.so.1, its symbols are found where the kernel's
    are, and its functions answer as the kernel's do."""
    program = cprog("vdso_calls")
    kernels = ["link map names linux-vdso.so.1: yes",
               "clock_gettime(CLOCK_MONOTONIC): between two system calls",
               f"clock_gettime(bad clock): {-errno.EINVAL}", "gettimeofday: now",
               "clock_gettime's number | 0x8000 from the program: ENOSYS"]
    if engine.arch == "aarch64":  # (qemu-aarch64 7.2, the reference, has no vDSO)
        kernels.insert(1, "__kernel_rt_sigreturn: found")
    else:
        assert native_run(program).stdout.splitlines() == kernels
    r = luatrap(program, engine=engine)
    assert (r.returncode, r.stdout.splitlines()) == (0, kernels)


def test_ldd_lists_the_vdso(engine):
    alone = native_run("ldd", "/bin/true").stdout
    r = luatrap("ldd", "/bin/true", engine=engine)
    assert "linux-vdso.so.1 (0x" in alone

    def names(text: str) -> list[str]:
        return [line.split(" (0x")[0] for line in text.splitlines()]
    assert names(r.stdout) == names(alone)


def test_a_clock_gettime_rule_meets_the_call_but_not_the_vdso(engine, rules):
    """The C library reads the clock from the vDSO, which natively answers without a
    system call: no rule sees that, on any engine; a real clock_gettime call meets it."""
    folder = rules({"clock_gettime": "function do_syscall() return 1, -EPERM end"})
    code = ("import ctypes, time\n"
            "print(time.monotonic() > 0)\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "buf = ctypes.create_string_buffer(16)\n"
            "print(libc.syscall(228, 1, buf), ctypes.get_errno())\n")
    r = luatrap("--rules", folder, PYTHON, "-c", code, engine=engine)
    assert (r.returncode, r.stdout) == (0, f"True\n-1 {errno.EPERM}\n"), r.stderr


@pytest.mark.x86_64_only
@pytest.mark.parametrize("flags", [("-pie",), ("-no-pie",), ("-static-pie",), ("-static",)])
def test_the_program_and_its_heap_lie_where_the_kernel_puts_them(engine, cprog, flags):
    """A PIE program at ELF_ET_DYN_BASE (plus random pages), its heap above it with room
    to grow by sbrk: the emulate engine once put a PIE program among the libraries,
    where sbrk failed (glibc's malloc fell back to mmap; a program's own sbrk did not)."""
    program = cprog("heap_layout", *flags)
    alone = native_run(program)
    assert alone.stdout.count("sbrk 1 MiB: ok") == 4, alone.stdout
    assert luatrap(program, engine=engine).stdout == alone.stdout


@pytest.mark.x86_64_only
def test_the_program_runs_in_user_mode(prints_as_the_kernel):
    """Privileged instructions fault in every thread and process, popf keeps the I/O
    privilege level, and the kernel's user selectors load and reach 32-bit code: the
    CPU runs the program at privilege 3 through the kernel's descriptor table."""
    fault = "  SIGSEGV, si_code 128, addr (nil)"
    privileged = [line for insn in ("hlt", "cli", "mov %cr0", "wbinvd", "sysretq")
                  for line in (insn, fault)]
    prints_as_the_kernel("user_mode", [
        "rflags: interrupts enabled 1, I/O privilege 0",
        "main thread:", *privileged, "thread:", *privileged, "fork child:", *privileged,
        "popf with I/O privilege 3", "  I/O privilege now 0", "  ran",
        "mov $0x2b, %ss", "  ran", "mov $0x2b, %ds", "  ran",
        "mov $0x18, %ds (the kernel's)", fault, "lretq to 0x33", "  ran",
        "lar 0x33", "  valid 1, access 0xa0fb00", "  ran",
        "far call through 0x23", "  32-bit code returned 42", "  ran"])


@pytest.mark.x86_64_only
def test_segments_from_a_local_descriptor_table(prints_as_the_kernel):
    """modify_ldt's four functions, its errors as the kernel returns them (an int,
    zero-extended), and %gs loaded from the table in this thread, in one started before
    the table and in a forked child; bad selectors fault as natively."""
    fault = "  SIGSEGV, si_code 128"
    prints_as_the_kernel("ldt_segments", [
        "read, no table: 0", "read default: 128, first 00, after aa", "write, old mode: 0",
        "old mode  read 65536: limit ffff, access f3, flags cf, base as written",
        "read 4 bytes: 4", "read all: 65536, after the entries 00 00", "write, new mode: 0",
        "new mode  read 65536: limit ffff, access f3, flags df, base as written",
        "gs from the table reads 0x12345678", "thread started before: reads 0x12345678",
        "forked child: reads 0x12345678",
        "beyond the table: selector 0x147", fault,
        "not present: selector 0x27", "  SIGBUS, si_code 128",
        "clear, old mode: 0",
        "cleared   read 65536: limit 0000, access 00, flags 00, base as written",
        "cleared: selector 0x1f", fault,
        "short count: 0xffffffea", "conforming, old mode: 0xffffffea",
        "entry 8192: 0xffffffea", "unknown function: 0xffffffda",
        "write from NULL: 0xfffffff2", "read into NULL: 0xfffffff2"])


@pytest.mark.x86_64_only
def test_fsgsbase_instructions_run_where_hwcap2_says_so(engine, cprog):
    program = cprog("fsgsbase")
    alone = native_run(program)
    r = luatrap(program, engine=engine)
    assert r.stdout == alone.stdout
    assert alone.stdout in ("rdgsbase after wrgsbase: same\n", "no FSGSBASE\n")
