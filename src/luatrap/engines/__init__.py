"""Engines: ways of running a program and stopping it at its system calls.

Each engine module offers `NAME` and `run(program, session) -> exit status`.
"""
from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("native", "emulate")


def load(name: str) -> ModuleType:
    """The engine module called `name`."""
    if name not in NAMES:
        raise ValueError(f"unknown engine {name!r} (choose from {', '.join(NAMES)})")
    return importlib.import_module(f"luatrap.engines.{name}")
