"""Shared fixtures: the engines every behaviour test runs on, C programs built for the
run, rule folders written on the fly, and luatrap run through its real command line."""
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
ENGINES = ["native", "emulate"]
TIMEOUT = 120


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


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """Each behaviour test runs once per engine."""
    return request.param


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("programs")


@pytest.fixture(scope="session")
def cprog(build_dir):
    """cprog('name') -> path of tests/programs/name.c (or examples/name.c), compiled."""
    need("gcc")
    built: dict[str, Path] = {}

    def build(name: str, *flags: str) -> Path:
        key = name + " ".join(flags)
        if key not in built:
            src = PROGRAMS / f"{name}.c"
            if not src.exists():
                src = ROOT / "examples" / f"{name}.c"
            out = build_dir / (name + ("-" + "-".join(f.strip("-") for f in flags)
                                       if flags else ""))
            subprocess.run(["gcc", "-O1", "-o", str(out), str(src), "-pthread", *flags],
                           check=True)
            built[key] = out
        return built[key]

    return build


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
    """The same command without luatrap, for comparison."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          errors="replace", timeout=TIMEOUT, **kw)




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
