"""What every engine is handed: the program to run, resolved and checked by the CLI."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Program:
    """An executable and the argv and environment it gets."""

    path: str
    argv: list[str]
    env: dict[str, str]


class EngineError(Exception):
    """The engine cannot run the program at all (e.g. seccomp or ptrace refused)."""
