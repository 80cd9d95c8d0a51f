"""aarch64 programs on the x86_64 host (the emulate engine as qemu-aarch64 with rules),
compared with qemu-aarch64 itself. The behaviour suite also runs its programs built for
aarch64 (conftest's `engine`); here is what is aarch64's own: the sysroot, the
architecture's names and numbers, its atomics, and real programs (Debian's arm64
busybox)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (
    AARCH64_SYSROOT,
    CROSS_CC,
    FAKE_GETPID,
    PASS,
    ROOT,
    TIMEOUT,
    luatrap,
    need,
)

# Where .ci/run unpacks Debian's busybox-static for arm64 (apt-get download).
BUSYBOX = Path(os.environ.get("LUATRAP_TEST_BUSYBOX_AARCH64",
                              "/opt/luatrap-tests/busybox-arm64/bin/busybox"))
SEED_LINES = ["Starting test program...", "My PID is: 99999", "Hello from write!",
              "PID call 1: 99999", "PID call 2: 99999", "PID call 3: 99999"]


@pytest.fixture(scope="module")
def cross(tmp_path_factory):
    """cross('name', *flags) -> tests/programs/name.c (or examples/) built for aarch64."""
    need(CROSS_CC)
    need("qemu-aarch64")
    out_dir = tmp_path_factory.mktemp("aarch64")

    def build(name: str, *flags: str) -> Path:
        src = ROOT / "tests" / "programs" / f"{name}.c"
        if not src.exists():
            src = ROOT / "examples" / f"{name}.c"
        out = out_dir / "-".join([name, *(f.strip("-") for f in flags)])
        if not out.exists():
            subprocess.run([CROSS_CC, "-O1", "-pthread", "-o", str(out), str(src), *flags],
                           check=True)
        return out
    return build


@pytest.fixture(scope="module")
def busybox() -> Path:
    if not BUSYBOX.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{BUSYBOX} is needed and CI must unpack it")
        pytest.skip(f"needs Debian's arm64 busybox-static at {BUSYBOX}")
    return BUSYBOX


def qemu(*args, **kw) -> subprocess.CompletedProcess:
    """The reference: the same command under qemu-aarch64."""
    env = {**os.environ, "QEMU_LD_PREFIX": AARCH64_SYSROOT}
    return subprocess.run(["qemu-aarch64", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, env=env, **kw)


@pytest.mark.parametrize("flags", [("-static",), ("-static-pie",), (), ("-no-pie",)])
def test_the_seed_program_runs_static_and_dynamic(cross, rules, flags):
    program = cross("test_program", *flags)
    folder = rules({"getpid": FAKE_GETPID})
    sysroot = [] if "-static" in flags or "-static-pie" in flags else ["-L", AARCH64_SYSROOT]
    r = luatrap(*sysroot, "--rules", folder, program)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(SEED_LINES)
    alone = qemu(program)  # the same lines in the same order (stdout is a pipe here)
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == \
        [line.split(":")[0] for line in alone.stdout.splitlines()]


def test_the_sysroot_comes_from_qemu_ld_prefix_or_a_clear_error(cross, rules):
    program = cross("test_program")
    env = {**os.environ, "QEMU_LD_PREFIX": AARCH64_SYSROOT}
    assert "Hello from write!" in luatrap(program, env=env).stdout
    env.pop("QEMU_LD_PREFIX")
    r = luatrap(program, env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "luatrap: /lib/ld-linux-aarch64.so.1: No such file or directory (an aarch64 "
        "program's libraries: -L SYSROOT, as -L /usr/aarch64-linux-gnu)"]
    r = luatrap("-L", "/no/such/sysroot", program)
    assert (r.returncode, r.stderr) == (2, "luatrap: sysroot not found: /no/such/sysroot\n")


def test_the_native_engine_refuses_an_aarch64_program_in_one_line(cross):
    program = cross("test_program", "-static")
    r = luatrap("--engine", "native", program)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"luatrap: {program}: an aarch64 program runs only under the " \
                       "emulate engine\n"


def test_rules_use_aarch64_names_numbers_and_registers(cross, rules, tmp_path):
    """openat is number 56 with its arguments in x0-x3; `open` names no aarch64 call (a
    folder may hold rules for both architectures: those are skipped quietly)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden\n")
    folder = rules({
        "openat": "function do_syscall(num, dirfd, path, flags)\n"
                  "  c_log(string.format('%d %s %s', num, c_syscall_name(num),"
                  " c_read_string(path)))\n"
                  "  if c_read_string(path):find('secret') then return 1, -EACCES end\n"
                  "  return 0, 0\nend\n",
        "open": "function do_syscall() return 1, -EPERM end\n"})
    program = cross("trace_sample", "-static")
    r = luatrap("--rules", folder, program, secret)
    assert f"[Lua Log] 56 openat {secret}" in r.lua_logs
    assert "[Lua Log] 56 openat /nonexistent/file" in r.lua_logs
    assert "hidden" not in r.stdout
    assert "open.lua" not in r.stderr  # x86_64's call: nothing to say at run time
    check = subprocess.run([sys.executable, "-m", "luatrap", "check", "--arch", "aarch64",
                            str(folder)], capture_output=True, text=True, timeout=TIMEOUT)
    assert check.returncode == 1
    assert "'open' is no aarch64 system call" in check.stdout
    assert "(it is an x86_64 one: luatrap check --arch x86_64)" in check.stdout


def test_strace_names_and_decodes_aarch64_calls(cross, tmp_path):
    data = tmp_path / "sample.txt"
    data.write_text("hello sample\n")
    r = luatrap("--strace", cross("trace_sample", "-static"), data)
    calls = [line.split(" ", 1)[1] for line in r.stderr.splitlines()
             if line[:1].isdigit()]
    assert f'openat(AT_FDCWD,"{data}",O_RDONLY|O_CLOEXEC) = 3' in calls
    assert any(c.startswith('newfstatat(3,"",{st_mode=S_IFREG|0644, st_size=13, ...},'
                            "AT_EMPTY_PATH) = 0") for c in calls), calls
    assert 'unlinkat(AT_FDCWD,"/nonexistent/dir",AT_REMOVEDIR) = -1 errno=2 ' \
           "(No such file or directory)" in calls
    # the same calls, in the same order, as qemu-aarch64 -strace names them
    names = [c.split("(")[0] for c in calls]
    reference = qemu("-strace", cross("trace_sample", "-static"), data).stderr
    qemu_names = [line.split(" ", 1)[1].split("(")[0] for line in reference.splitlines()
                  if line[:1].isdigit() and "(" in line]
    assert [n for n in names if n in ("openat", "read", "write", "getpid", "unlinkat")] == \
        [n for n in qemu_names if n in ("openat", "read", "write", "getpid", "unlinkat")]


@pytest.mark.parametrize("atomics", ["ldxr/stxr", "lse"])
def test_atomics_are_exact_under_preemption(cross, atomics):
    """Four threads add 2,000,000 each, with load/store-exclusive loops or LSE's LDADD,
    preempted between each other (the emulated CPU is handed over every few ms)."""
    flags = ("-mno-outline-atomics",) if atomics == "ldxr/stxr" else ("-march=armv8.1-a",)
    program = cross("atomic_adds", "-static", *flags)
    disassembly = subprocess.run(["aarch64-linux-gnu-objdump", "-d", str(program)],
                                 capture_output=True, text=True, check=True).stdout
    assert ("ldaxr\t" in disassembly or "ldxr\t" in disassembly) if atomics != "lse" \
        else "ldaddal\t" in disassembly  # the build has the instructions under test
    r = luatrap(program, "4", "2000000")
    assert r.stdout == "atomic 8000000 locked 8000000\n", r.stderr


def test_every_advertised_cpu_feature_runs(cross):
    """AT_HWCAP says what Unicorn's CPU runs: a program that trusts it (the C library's
    string functions do) never meets SIGILL. The build holds an instruction of each."""
    march = "-march=armv8.4-a+crypto+sha3+sm4+fp16+rcpc+dotprod+sve"
    r = luatrap(cross("aarch64_hwcaps", "-static", march))
    lines = r.stdout.splitlines()
    assert len(lines) == 21, r.stderr
    assert not [line for line in lines if line.endswith("dies")]
    assert {"fp advertised: runs", "asimd advertised: runs", "atomics advertised: runs",
            "crc32 advertised: runs", "aes advertised: runs"} <= set(lines)


@pytest.mark.parametrize("flags", [("-static",), ()])
def test_the_program_runs_at_el0(cross, flags):
    """EL1's registers and privileged instructions are SIGILL, what Linux lets EL0 do
    works, ID registers read as the kernel answers them, and AT_HWCAP says they can be
    read: the same lines as under qemu-aarch64 (the dynamic build's C library reads
    MIDR_EL1 at start, since HWCAP_CPUID is set)."""
    program = cross("aarch64_user_mode", *flags)
    alone = qemu(program)
    assert alone.returncode == 0 and "mrs CurrentEL: SIGILL" in alone.stdout, alone.stderr
    assert "mrs mpidr_el1: 0x80000000" in alone.stdout
    r = luatrap("-L", AARCH64_SYSROOT, program)
    assert (r.returncode, r.stdout) == (0, alone.stdout), r.stderr


def test_signals_fork_and_exec_as_under_qemu(cross, rules):
    """The signal frame (handler arguments, FP state, sigreturn, siglongjmp out of
    SIGSEGV), a timer interrupting a loop of ruled calls, fork, exec of a host program
    and of itself: the same as under qemu-aarch64, but for the last, which qemu-aarch64
    cannot do without binfmt_misc (its child exits 99) and luatrap runs, still hooked."""
    program = cross("aarch64_processes", "-static")
    folder = rules({"getppid": PASS, "getpid": "function do_syscall(num)\n"
                    "  c_log('getpid in ' .. c_pid()) return 0, 0\nend\n"})
    r = luatrap("--rules", folder, program)
    assert r.returncode == 0, r.stderr
    alone = qemu(program).stdout.splitlines()
    assert alone[-1] == "exec of itself: 99"
    lines = r.stdout.splitlines()
    assert lines[:-2] == alone[:-1]
    child = lines[-2].split()[-1]
    assert lines[-2:] == [f"exec'd child running, pid {child}", "exec of itself: 7"]
    assert f"[Lua Log] getpid in {child}" in r.lua_logs  # the exec'd program is hooked


BUSYBOX_PIPELINES = [
    ("sort", "printf 'pear\\napple\\nfig\\n'", ["sort"]),
    ("md5sum", "printf 'abc'", ["md5sum"]),
    ("tr and wc", "printf 'one two\\nthree\\n'", ["tr", "a-z", "A-Z"], ["wc", "-w"]),
    ("ls", None, ["ls", "-la", "{dir}"]),
    ("tar", None, ["tar", "-cf", "-", "-C", "{dir}", "."], ["tar", "-tvf", "-"]),
    ("awk", "seq 1 100", ["awk", "{{s += $1}} END {{print s}}"]),
]


@pytest.mark.parametrize("case", BUSYBOX_PIPELINES, ids=[c[0] for c in BUSYBOX_PIPELINES])
def test_busybox_pipelines_match_qemu(busybox, tmp_path, case):
    """Each stage is Debian's arm64 busybox: once each under luatrap, once under
    qemu-aarch64; the pipelines' outputs are the same."""
    _, feed, *stages = case
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha\n")
    (folder / "b").mkdir()
    os.utime(folder / "a.txt", (1_600_000_000, 1_600_000_000))

    def pipeline(runner: str) -> str:
        parts = ([feed] if feed else []) + [
            f"{runner} {busybox} " + " ".join(f"'{w.format(dir=folder)}'" for w in stage)
            for stage in stages]
        done = subprocess.run(["bash", "-c", " | ".join(parts)], capture_output=True,
                              text=True, timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr
        return done.stdout

    under_luatrap = pipeline(f"{sys.executable} -m luatrap")
    assert under_luatrap == pipeline("qemu-aarch64") != ""


def test_busybox_shell_runs_its_own_applets_and_host_programs(busybox, rules):
    """busybox sh execs busybox again (an aarch64 program stays under luatrap, hooked
    by aarch64 names) and /bin/echo (x86_64: it runs under the emulate engine as an
    x86_64 program, its rules by x86_64 names)."""
    folder = rules({"getpid": FAKE_GETPID, "uname": "function do_syscall() "
                    "c_log('uname from ' .. c_syscall_name(63) .. '/' .. "
                    "tostring(c_syscall_name(0))) return 0, 0 end"})
    script = (f"{busybox} echo sh pid $$; {busybox} uname -m; /bin/echo from the host; "
              f"{busybox} sh -c 'echo nested pid $$'")
    r = luatrap("--rules", folder, busybox, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["sh pid 99999", "aarch64", "from the host",
                                     "nested pid 99999"]
    assert "[Lua Log] uname from read/io_setup" in r.lua_logs  # aarch64's numbers


def test_a_sysroot_stands_in_for_the_hosts_files(busybox, tmp_path):
    """Under -L, the sysroot's file is the one an absolute path names, whichever call
    looks (open, access, stat), as under qemu-user; without it, the host's."""
    sysroot = tmp_path / "sysroot"
    (sysroot / "etc").mkdir(parents=True)
    (sysroot / "etc" / "luatrap-marker").write_text("from the sysroot\n")
    script = ("[ -e /etc/luatrap-marker ] && echo access; [ -f /etc/luatrap-marker ] && "
              "echo stat; cat /etc/luatrap-marker 2>/dev/null || echo none")
    r = luatrap("-L", sysroot, busybox, "sh", "-c", script)
    assert r.stdout.splitlines() == ["access", "stat", "from the sysroot"], r.stderr
    r = luatrap(busybox, "sh", "-c", script)
    assert r.stdout.splitlines() == ["none"], r.stderr


def test_path_sandbox_holds_for_aarch64_programs(busybox, tmp_path):
    """rules_examples/sandbox_paths names x86_64 and generic calls; an aarch64 program's
    openat, newfstatat, unlinkat, linkat, renameat... meet the same rules."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("topsecret\n")
    env = {**os.environ, "LUATRAP_DENY": str(secret)}
    bb = busybox
    for script in (f"{bb} cat {secret}/key", f"{bb} ls {secret}",
                   f"{bb} cp {secret}/key {tmp_path}/copy",
                   f"{bb} ln -s {secret}/key {tmp_path}/soft && {bb} cat {tmp_path}/soft",
                   f"cd {secret}/.. && {bb} cat ./secret/../secret/key",
                   f"{bb} mv {secret}/key {tmp_path}/moved"):
        command = ["sh", "-c", script]
        r = luatrap("--rules", ROOT / "rules_examples" / "sandbox_paths", busybox, *command,
                    env=env)
        assert r.returncode != 0, command
        assert "topsecret" not in r.stdout and "key" not in r.stdout, command
        assert r.lua_logs and all(line.startswith("[Lua Log] denied ")
                                  for line in r.lua_logs), r.stderr
    assert (secret / "key").read_text() == "topsecret\n"
    assert not (tmp_path / "copy").exists() and not (tmp_path / "moved").exists()
