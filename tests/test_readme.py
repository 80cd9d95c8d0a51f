"""The README's examples, run as a newcomer runs them after its first command (in a
terminal, from the repository's root), print what the README shows."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, need

FENCE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)


def examples() -> list[tuple[str, str]]:
    """(command, expected output) for each `$ ` line of the README's console blocks."""
    found = []
    for block in FENCE.findall((ROOT / "README.md").read_text()):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            found.append((command, output))
    return found


def matches(expected: str, actual: str) -> bool:
    """A line `...` stands for any lines; `...` within a line for any text."""
    pattern = "".join("(?:.*\n)*?" if line == "..." else
                      ".*".join(map(re.escape, line.split("..."))) + "\n"
                      for line in expected.splitlines())
    return re.fullmatch(pattern, actual) is not None


def in_a_terminal(command: str, cwd: Path) -> str:
    """What `command` prints on a terminal (a pseudo-terminal here)."""
    main, sub = pty.openpty()
    proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=sub, stderr=sub)
    os.close(sub)
    out = b""
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: every writer is gone
            break
        if not data:
            break
        out += data
    os.close(main)
    proc.wait(timeout=60)
    return out.decode(errors="replace").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory, build_program) -> Path:
    """A folder laid out as the repository is after the README's first command."""
    here = tmp_path_factory.mktemp("newcomer")
    for name in ("test_rules", "rules_examples", "examples"):
        (here / name).symlink_to(ROOT / name)
    (here / ".venv").symlink_to(Path(sys.prefix))
    (here / "test_program").symlink_to(build_program("test_program"))
    return here


def test_the_readme_has_examples():
    assert len(examples()) >= 4


@pytest.mark.parametrize("command,expected", examples(), ids=lambda v: v[:50])
def test_readme_example(newcomer, command, expected):
    if not (Path(sys.prefix) / "bin" / "luatrap").exists():
        pytest.skip("luatrap is not installed in this Python's environment")
    if command.startswith("aarch64-linux-gnu-gcc"):
        need("aarch64-linux-gnu-gcc")
    actual = in_a_terminal(command, newcomer)
    assert matches(expected, actual), f"$ {command}\n--- README\n{expected}--- ran\n{actual}"
