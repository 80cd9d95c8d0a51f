"""RuleBook: a rules folder -> `do_syscall` hooks, loaded on first use, in one Lua state.

The folder is read once, when the book is made (a snapshot): changing or deleting a
file later changes nothing. Each script still compiles and runs at its call's first
use. The Lua state and the per-call path are C (`luatrap._core.Rules`); this class
reads the folder, names the calls, and turns the C answers into decisions: `None`
(let the real call run), an integer (skip it; the program sees this value), or
`RunNow` (a hook called c_do_syscall: run that call, then `resume` with its result).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from luatrap import _core
from luatrap.logs import Log
from luatrap.syscalls import table

DEFAULT_BUDGET = 10_000_000  # Lua VM instructions per hook call (~50 ms)
DEFAULT_MEMORY = 256 << 20  # bytes for the whole Lua state


class RulesError(Exception):
    """The rules folder cannot be used at all (missing, not a folder, unreadable)."""


class RunNow(NamedTuple):
    """A hook asked for the real call `nr(args)` to run now; resume it with the result."""

    nr: int
    args: list[int]
    coroutine: int
    hooked_nr: int


class RuleBook:
    """The hooks of one rules folder, sharing one Lua state."""

    def __init__(self, folder: str | Path, log: Log, budget: int = DEFAULT_BUDGET,
                 max_memory: int = DEFAULT_MEMORY,
                 on_error: Callable[[str, str], None] | None = None,
                 sources: dict[str, bytes] | None = None, deny_on_error: bool = False,
                 syscalls: table.SyscallTable = table.X86_64) -> None:
        """`on_error(path, message)` replaces the `[Lua Error]` line, for `luatrap check`;
        `sources` (name -> file contents) is a snapshot taken earlier, by the luatrap
        that ran the program before it exec'd: the folder is not read again;
        `deny_on_error`: a failing rule fails its call with EPERM (else the call runs);
        `syscalls`: the table whose names and numbers the rules use (the program's
        architecture)."""
        self.folder = Path(folder)
        self.syscalls = syscalls
        self.log = log
        if sources is None:
            self.rule_files, self.library_files = self._scan(self.folder, syscalls)
            self.sources = {name: _read(path) for name, path in
                            [*self.rule_files.items(), *self.library_files.items()]}
        else:
            self.rule_files = {name: self.folder / f"{name}.lua" for name in sources
                               if not name.startswith("_")}
            self.library_files = {name: self.folder / f"{name}.lua" for name in sources
                                  if name.startswith("_")}
            self.sources = dict(sources)
        self.core = _core.Rules(budget, max_memory, log.fd, on_error, deny_on_error)
        for nr, name in enumerate(syscalls.names_by_number()):
            if name:
                self.core.name(nr, name)
        for name, value in table.errno_values().items():
            self.core.set_integer(name, value)
        for name in self.library_files:
            self.core.library(name, self.sources[name])
        for name, path in self.rule_files.items():
            nr = syscalls.by_name(name).nr
            self.core.add(nr, name, str(path), self.sources[name], *syscalls.narrowed_args(nr))
        self.numbers = {syscalls.by_name(n).nr: self.core.uses_run_now(syscalls.by_name(n).nr)
                        for n in self.rule_files}
        """Ruled call numbers -> whether the rule may call c_do_syscall (needs the exit)."""

    @staticmethod
    def _scan(folder: Path, syscalls: table.SyscallTable
              ) -> tuple[dict[str, Path], dict[str, Path]]:
        """Syscall name -> rule file, for every `<name>.lua` that names a system call;
        and library name -> file, for every `_<name>.lua` (loaded with require)."""
        try:
            if not folder.is_dir():
                if folder.exists():
                    raise RulesError(f"rules folder is not a folder: {folder}")
                raise RulesError(f"rules folder not found: {folder}{_near_folder(folder)}")
            entries = sorted(folder / n for n in os.listdir(folder) if n.endswith(".lua"))
        except OSError as e:
            raise RulesError(f"cannot read rules folder {folder}: {e.strerror}") from None
        return ({p.stem: p for p in entries if syscalls.by_name(p.stem) is not None},
                {p.stem: p for p in entries if p.stem.startswith("_")})

    def unknown_file_message(self, path: Path) -> str:
        """Why a `.lua` file is not a rule, with the names it may have meant."""
        import difflib  # only on this rare path: start-up stays short

        near = difflib.get_close_matches(path.stem, self.syscalls.names(), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(n + '.lua' for n in near)}?)" if near else ""
        arch = self.syscalls.arch
        return f"{path}: '{path.stem}' is no {arch} system call{hint}"

    def unknown_files(self) -> list[Path]:
        """`.lua` files in the folder whose name is no system call of the table's."""
        return [self.folder / n for n in sorted(os.listdir(self.folder))
                if n.endswith(".lua") and n[:-4] not in self.rule_files
                and not n.startswith("_")]

    def load(self, name: str) -> bool:
        """Load the rule for call `name` now (as its first call would); True if usable."""
        return self.core.load(self.syscalls.by_name(name).nr)

    def dispatch(self, tid: int, pid: int, nr: int, args: list[int]) -> int | None | RunNow:
        """Run the hook for call `nr` of thread `tid` (process `pid`; 0: this thread)."""
        decision = self.core.decide(tid, pid, nr, args)
        if decision.__class__ is tuple:
            return RunNow(decision[0], decision[1], decision[2], nr)
        return decision

    def resume(self, tid: int, pid: int, pending: RunNow, result: int) -> int | None | RunNow:
        """Hand a c_do_syscall result back to its hook; the next decision."""
        decision = self.core.resume(tid, pid, pending.hooked_nr, pending.coroutine, result)
        if decision.__class__ is tuple:
            return RunNow(decision[0], decision[1], decision[2], pending.hooked_nr)
        return decision

    def rule_file(self, nr: int) -> Path:
        """The rule file of call `nr`."""
        return self.rule_files[self.syscalls.name_of(nr)]

    def report(self, nr: int, message: str) -> None:
        """An engine's `[Lua Error]` line about the rule of call `nr` (once)."""
        self.core.report(nr, message)

    def close(self) -> None:
        """The run is over: say how many errors were held back."""
        self.core.finish()


def _near_folder(folder: Path) -> str:
    """' (did you mean X?)' for a folder name that is one typo away from a real one."""
    import difflib

    try:
        parent = folder.parent if str(folder.parent) else Path(".")
        names = [e.name for e in os.scandir(parent) if e.is_dir()]
    except OSError:
        return ""
    near = difflib.get_close_matches(folder.name, names, n=1, cutoff=0.7)
    return f" (did you mean {parent / near[0] if str(folder.parent) != '.' else near[0]}?)" \
        if near else ""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise RulesError(f"cannot read rule {path}: {e.strerror}") from None
