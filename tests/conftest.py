"""Shared fixtures: the engines every behaviour test runs on, C programs built for the
run, rule folders written on the fly, and luatrap run through its real command line.

The `engine` fixture's third value, aarch64, is the emulate engine running the test's
programs built for aarch64 (with Debian's cross compiler; QEMU_LD_PREFIX names Debian's
arm64 sysroot for luatrap and qemu-aarch64 alike), compared with qemu-aarch64 where a
test compares with a native run. It applies to the tests that build programs (cprog);
the others run the host's own programs (bash, python3), which the emulate value covers.
Tests marked `x86_64_only` (i386 and x32 calls, x86 instructions, x86_64-only call
names or numbers) skip it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"
class Engine(str):
    """An engine's name (what `--engine` takes), and the architecture the test's
    programs are built for."""

    def __new__(cls, name: str, arch: str = "x86_64") -> Engine:
        engine = super().__new__(cls, name)
        engine.arch = arch
        return engine


ENGINES = [Engine("native"), Engine("emulate"), Engine("emulate", "aarch64")]
ENGINE_IDS = ["native", "emulate", "aarch64"]
TIMEOUT = 120
CROSS_CC = "aarch64-linux-gnu-gcc"
AARCH64_SYSROOT = "/usr/aarch64-linux-gnu"


@dataclass
class Result:
    """What a luatrap run left behind."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lua_logs(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("[Lua Log] ")]

    @property
    def lua_errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("[Lua Error] ")]


def luatrap(*args: str | Path, engine: str | None = None, input: str | None = None,
            env: dict[str, str] | None = None, cwd: str | Path | None = None,
            wrapper: list[str] = ()) -> Result:
    """Run `python -m luatrap [--engine E] ARGS...` as a user would and collect it all
    (`wrapper`: a command that runs it)."""
    cmd = [*wrapper, sys.executable, "-m", "luatrap"]
    if engine:
        cmd += ["--engine", engine]
    cmd += [str(a) for a in args]
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True,
                          errors="replace", timeout=TIMEOUT, env=env, cwd=cwd)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(params=ENGINES, ids=ENGINE_IDS)
def engine(request, monkeypatch) -> Engine:
    """Each behaviour test runs once per engine (and aarch64: see above)."""
    if request.param.arch == "aarch64":
        if request.node.get_closest_marker("x86_64_only"):
            pytest.skip("x86_64 only")
        if "cprog" not in request.fixturenames:
            pytest.skip("runs the host's programs only")
        need(CROSS_CC)
        need("qemu-aarch64")
        monkeypatch.setenv("QEMU_LD_PREFIX", AARCH64_SYSROOT)
    return request.param


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("programs")


@pytest.fixture(scope="session")
def build_program(build_dir):
    """build_program('name', *flags, arch=...) -> path of tests/programs/name.c (or
    examples/name.c), compiled for x86_64 or (statically) for aarch64."""
    built: dict[str, Path] = {}

    def build(name: str, *flags: str, arch: str = "x86_64") -> Path:
        key = " ".join([arch, name, *flags])
        if key not in built:
            src = PROGRAMS / f"{name}.c"
            if not src.exists():
                src = ROOT / "examples" / f"{name}.c"
            out = build_dir / "-".join([name, *(f.strip("-") for f in flags)])
            cc = ["gcc"]
            if arch == "aarch64":
                cc, out = [CROSS_CC], out.with_name(out.name + ".aarch64")
            need(cc[0])
            subprocess.run([*cc, "-O1", "-o", str(out), str(src), "-pthread", *flags],
                           check=True)
            built[key] = out
        return built[key]

    return build


@pytest.fixture
def cprog(request, build_program):
    """cprog('name', *flags) -> the program built for the test's engine's architecture."""
    arch = "x86_64"
    if "engine" in request.fixturenames:
        arch = request.getfixturevalue("engine").arch
    return lambda name, *flags: build_program(name, *flags, arch=arch)


@pytest.fixture
def prints_as_the_kernel(engine, cprog, build_program):
    """check(name, lines): tests/programs/name.c prints `lines` natively (its x86_64
    build on this host: where qemu-aarch64 answers otherwise, the kernel's answer is the
    one that stands) and under luatrap, built for the test's engine."""
    def check(name: str, lines: list[str]) -> None:
        alone = native_run(build_program(name))
        assert alone.stdout.splitlines() == lines, alone.stderr
        r = luatrap(cprog(name), engine=engine)
        assert (r.returncode, r.stdout.splitlines()) == (0, lines), r.stderr
    return check


@pytest.fixture
def rules(tmp_path):
    """rules({'getpid': 'lua source', ...}) -> a rules folder holding those files."""
    def make(files: dict[str, str], name: str = "rules") -> Path:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        for syscall, source in files.items():
            (folder / f"{syscall}.lua").write_text(source)
        return folder
    return make


# The Python under test, not whatever `python3` PATH finds first (on the CI image that is
# pyenv's shim, a chain of bash scripts that exec each other, which is not what these
# tests are about).
PYTHON = sys.executable

FAKE_GETPID = "function do_syscall(num, ...) return 1, 99999 end\n"
PASS = "function do_syscall(num, ...) return 0, 0 end\n"


def native_run(*args: str | Path, **kw) -> subprocess.CompletedProcess:
    """The same command without luatrap, for comparison (an aarch64 program under
    qemu-aarch64, the reference for what it does on this host)."""
    cmd = [str(a) for a in args]
    if cmd and is_aarch64(cmd[0]):
        cmd = ["qemu-aarch64", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                          timeout=TIMEOUT, **kw)




def is_aarch64(path: str) -> bool:
    """Is `path` an aarch64 ELF file?"""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and head[18:20] == (183).to_bytes(2, "little")


def process_state(pid: int) -> str:
    """A process's state letter (R, S, T, Z, ...) from /proc, or '' if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def need(tool: str) -> None:
    """Skip a test that needs `tool` where it is missing; in CI (CI set), a missing tool
    is a failure: CI installs every tool the suite uses, and a green run that skipped
    half the suite would prove nothing."""
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is needed and CI must install it")
        pytest.skip(f"needs {tool}")


# ------------------------------------------------------------------ as user nobody

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
_NOBODY_ENV: dict[str, str] = {}


def as_nobody(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*NOBODY, os.path.realpath(sys.executable), *args],
                          capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **_NOBODY_ENV})


@pytest.fixture
def open_tmp():
    """A temporary folder nobody can walk into (pytest's own is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="luatrap-nobody-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def nobody_can_run_luatrap(open_tmp):
    """Make luatrap importable by user nobody: where this checkout or its venv is private
    (a clone in a 0700 folder), a copy of the package goes to an open folder."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to user nobody")
    need("setpriv")
    _NOBODY_ENV.clear()
    if as_nobody("-c", "import luatrap._core, unicorn").returncode != 0:
        import unicorn  # the emulate engine's CPU: its package, library included

        import luatrap

        lib = open_tmp / "lib"
        for package in (luatrap, unicorn):
            shutil.copytree(Path(package.__file__).parent, lib / package.__name__)
        for p in [lib, *lib.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        _NOBODY_ENV["PYTHONPATH"] = str(lib)
    probe = as_nobody("-c", "import luatrap._core, unicorn")
    if probe.returncode != 0:
        pytest.skip(f"luatrap cannot be imported as nobody here: {probe.stderr[-200:]}")
    return nobody_can_exec(os.path.realpath(sys.executable))


def nobody_can_exec(path: str) -> bool:
    """Can a process of user nobody execve `path`? (setpriv itself may start a program
    in a folder nobody may not search, e.g. Python in /root/.pyenv; the emulate engine's
    execve, which starts luatrap's Python again, then cannot.)"""
    return subprocess.run([*NOBODY, "/bin/sh", "-c", f"exec '{path}' -c pass"],
                          capture_output=True, timeout=60).returncode == 0
