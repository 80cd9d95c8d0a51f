"""What every engine is handed: the program to run, resolved and checked by the CLI."""
from __future__ import annotations

from typing import NamedTuple


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
