"""What every engine is handed: the program to run, resolved and checked by the CLI."""
from __future__ import annotations

import os
from typing import NamedTuple

# 64-bit little-endian ELF e_machine -> the architecture luatrap runs
MACHINES = {62: "x86_64", 183: "aarch64"}


class Program(NamedTuple):
    """An executable and the argv and environment it gets. (NamedTuple, not a
    dataclass: dataclasses cost luatrap's start-up ~10 ms of imports.)"""

    path: str
    argv: list[str]
    env: dict[str, str]
    # The options of this run, for an engine that must start luatrap again (emulate's
    # execve): rules, strace, summary, lua_budget, lua_memory_mb, ...
    settings: dict
    # May the engine turn luatrap's own process into the program's (the CLI: yes, as
    # qemu-user does; the Python API: no, it must return)?
    in_place: bool = False


class EngineError(Exception):
    """The engine cannot run the program at all (e.g. seccomp or ptrace refused)."""


def elf_arch(path: str) -> str | None:
    """The architecture of the ELF file at `path` ("x86_64", "aarch64"), or None if it
    is not one luatrap runs (a script, another format or machine)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:6] != b"\x7fELF\x02\x01":
        return None
    return MACHINES.get(int.from_bytes(head[18:20], "little"))


def program_arch(path: str) -> str | None:
    """elf_arch of the program at `path`, following one `#!` line to its interpreter."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n")[0].strip()
        return elf_arch(os.fsdecode(line.split()[0])) if line else None
    return elf_arch(path)
