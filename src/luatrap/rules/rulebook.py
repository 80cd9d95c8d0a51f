"""RuleBook: a rules folder -> `do_syscall` hooks, loaded on first use, in one Lua state.

The rule book knows Lua and nothing of how a program is stopped: it is handed a call
(number and six signed arguments) and answers with a decision, `None` (let the real call
run) or an integer (skip it; the program sees this value). A hook that calls
`c_do_syscall` runs as a coroutine and answers `RunNow` first: the engine performs that
call and hands the result back through `resume`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lupa.lua54 as lupa

from luatrap.rules.host_api import HostAPI, ProcessAccess
from luatrap.syscalls import table

DEFAULT_BUDGET = 10_000_000  # Lua VM instructions per hook call (~50 ms)
DEFAULT_MEMORY = 256 << 20  # bytes for the whole Lua state
MAX_DISTINCT_ERRORS = 10  # shown per rule file; more are counted
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_UNLOADED = object()
_RUN_NOW_TOKEN = b"\0luatrap:c_do_syscall"  # marks the yields of c_do_syscall
_USES_DO_SYSCALL = re.compile(rb"\bc_do_syscall\b")


class RulesError(Exception):
    """The rules folder cannot be used at all (missing, not a folder, unreadable)."""


@dataclass(slots=True)
class RunNow:
    """A hook asked for the real call `nr(args)` to run now; resume it with the result."""

    nr: int
    args: list[int]
    coroutine: object
    hooked_nr: int


class RuleBook:
    """The hooks of one rules folder, sharing one Lua state."""

    def __init__(self, folder: str | Path, log: Callable[[str | bytes], None],
                 access: ProcessAccess | None = None, budget: int = DEFAULT_BUDGET,
                 max_memory: int = DEFAULT_MEMORY,
                 on_error: Callable[[Path, str], None] | None = None) -> None:
        """`on_error(file, message)` replaces the `[Lua Error]` line, for `luatrap check`."""
        self.folder = Path(folder)
        self._log = log
        self._on_error = on_error
        self.rule_files = self._scan(self.folder)
        self._lua = lupa.LuaRuntime(encoding=None, max_memory=max_memory,
                                    register_eval=False, register_builtins=False,
                                    unpack_returned_tuples=True)
        g = self._lua.globals()
        g.python = None
        prelude = (Path(__file__).parent / "lua_prelude.lua").read_bytes()
        self._invoke, checked = self._lua.execute(prelude, budget, _RUN_NOW_TOKEN)
        self.host = HostAPI(g, checked, log, access)
        self._load_chunk = g.load
        self._globals = g
        self._errors_seen: set[tuple[Path, str]] = set()
        self._errors_per_file: dict[Path, int] = {}
        self._suppressed: dict[Path, int] = {}
        # number -> hook (Lua function), None (rule unusable) or _UNLOADED.
        self._hooks: dict[int, object] = {table.by_name(n).nr: _UNLOADED
                                          for n in self.rule_files}
        self._uses_run_now = {table.by_name(n).nr for n, p in self.rule_files.items()
                              if _USES_DO_SYSCALL.search(p.read_bytes())}

    @staticmethod
    def _scan(folder: Path) -> dict[str, Path]:
        """Syscall name -> rule file, for every `<name>.lua` that names a system call."""
        try:
            if not folder.is_dir():
                problem = "is not a folder" if folder.exists() else "not found"
                raise RulesError(f"rules folder {problem}: {folder}")
        except OSError as e:
            raise RulesError(f"cannot read rules folder {folder}: {e.strerror}") from None
        try:
            entries = sorted(folder / n for n in os.listdir(folder) if n.endswith(".lua"))
        except OSError as e:
            raise RulesError(f"cannot read rules folder {folder}: {e.strerror}") from None
        rules = {p.stem: p for p in entries if table.by_name(p.stem) is not None}
        for path in rules.values():
            if not os.access(path, os.R_OK):
                raise RulesError(f"cannot read rule {path}: permission denied")
        return rules

    def unknown_files(self) -> list[Path]:
        """`.lua` files in the folder whose name is no x86_64 system call."""
        return [self.folder / n for n in sorted(os.listdir(self.folder))
                if n.endswith(".lua") and n[:-4] not in self.rule_files]

    @property
    def numbers(self) -> dict[int, bool]:
        """Ruled call numbers -> whether the rule may call c_do_syscall (needs the exit)."""
        return {nr: nr in self._uses_run_now for nr in self._hooks}

    # ------------------------------------------------------------------ loading

    def load(self, name: str) -> bool:
        """Load the rule for call `name` now (as its first call would); True if usable."""
        nr = table.by_name(name).nr
        hook = self._hooks[nr]
        if hook is _UNLOADED:
            hook = self._load(nr)
        return hook is not None

    def _load(self, nr: int) -> object:
        """Compile and run a rule's file, keep its do_syscall apart; None if unusable."""
        name = table.name_of(nr)
        path = self.rule_files[name]
        hook = None
        try:
            source = path.read_bytes()
        except OSError as e:
            self.report(path, f"cannot read rule: {e.strerror}")
        else:
            hook = self._compile(path, source)
        self._hooks[nr] = hook
        return hook

    def _compile(self, path: Path, source: bytes) -> object:
        g = self._globals
        previous = g.do_syscall
        g.do_syscall = None
        try:
            chunk = self._load_chunk(source, b"=" + path.name.encode(), b"t")
            if isinstance(chunk, tuple):
                self.report(path, _message(chunk[1]))
                return None
            self._invoke(chunk)
            hook = g.do_syscall
            if lupa.lua_type(hook) != "function":
                self.report(path, "no function do_syscall defined")
                return None
            return hook
        except lupa.LuaError as e:
            self.report(path, _message(e))
            return None
        finally:
            g.do_syscall = previous

    # ------------------------------------------------------------------ calling

    def dispatch(self, nr: int, args: list[int]) -> int | None | RunNow:
        """Run the hook for call `nr`: None (run it), an int (skip, return it) or RunNow."""
        hook = self._hooks.get(nr, None)
        if hook is _UNLOADED:
            hook = self._load(nr)
        if hook is None:
            return None
        a = args
        if nr in self._uses_run_now:
            co = self._invoke.coroutine(hook, nr, a[0], a[1], a[2], a[3], a[4], a[5], 0, 0)
            return self._step(co, None, nr)
        try:
            result = self._invoke(hook, nr, a[0], a[1], a[2], a[3], a[4], a[5], 0, 0)
        except lupa.LuaError as e:
            self.report(self._path(nr), _message(e))
            return None
        except Exception as e:  # noqa: BLE001 - a rule must never take luatrap down
            self.report(self._path(nr), _python_message(e))
            return None
        return self._decide(result, nr)

    def resume(self, pending: RunNow, result: int) -> int | None | RunNow:
        """Hand a c_do_syscall result back to its hook; the next decision."""
        return self._step(pending.coroutine, result, pending.hooked_nr)

    def _step(self, co, value, nr: int) -> int | None | RunNow:
        try:
            got = co.send(value)
        except StopIteration as stop:
            return self._decide(stop.value, nr)
        except lupa.LuaError as e:
            self.report(self._path(nr), _message(e))
            return None
        except Exception as e:  # noqa: BLE001
            self.report(self._path(nr), _python_message(e))
            return None
        if got.__class__ is tuple and len(got) == 8 and got[0] == _RUN_NOW_TOKEN:
            return RunNow(got[1], list(got[2:]), co, nr)
        return self._decide(got, nr)  # lupa hands back the hook's return values here

    def _decide(self, result, nr: int) -> int | None:
        """(intercepted, retval) -> the decision, reporting anything odd."""
        intercepted, retval = result if result.__class__ is tuple else (result, None)
        number = intercepted.__class__ in (int, float)
        if intercepted is None or intercepted is False or (number and intercepted == 0):
            return None
        if intercepted is True or (number and intercepted == 1):
            if retval.__class__ is int:
                return retval
            if retval.__class__ is float and retval.is_integer() \
                    and _INT64_MIN <= retval <= _INT64_MAX:
                return int(retval)
            self.report(self._path(nr), f"do_syscall returned 1 with retval {_show(retval)}; "
                                        "expected an integer (the call runs)")
            return None
        self.report(self._path(nr), f"do_syscall returned {_show(intercepted)} as intercepted; "
                                    "expected 1/true or 0/false (the call runs)")
        return None

    def rule_file(self, nr: int) -> Path:
        """The rule file of call `nr`."""
        return self.rule_files[table.name_of(nr)]

    _path = rule_file

    def report(self, path: Path, message: str) -> None:
        """Print `[Lua Error] file: message` once per distinct error; past
        MAX_DISTINCT_ERRORS for one file, count them instead and say so at `close`."""
        key = (path, message)
        if key in self._errors_seen:
            return
        shown = self._errors_per_file.get(path, 0)
        if shown >= MAX_DISTINCT_ERRORS:
            self._suppressed[path] = self._suppressed.get(path, 0) + 1
            return
        self._errors_seen.add(key)
        self._errors_per_file[path] = shown + 1
        if self._on_error:
            self._on_error(path, message)
        else:
            self._log(f"[Lua Error] {path}: {message}")
            if shown + 1 == MAX_DISTINCT_ERRORS:
                self._log(f"[Lua Error] {path}: {MAX_DISTINCT_ERRORS} different errors; "
                          "further ones are counted, not shown")

    def close(self) -> None:
        """The run is over: say how many errors were held back."""
        for path, count in self._suppressed.items():
            self._log(f"[Lua Error] {path}: {count} more different error(s) not shown")


def _message(err) -> str:
    """The first line of a Lua error, `name.lua:3: msg` shown as `line 3: msg`."""
    if isinstance(err, lupa.LuaMemoryError):
        return "out of memory (the Lua state's memory cap was reached)"
    text = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
    first = text.split("\n", 1)[0].strip()
    m = re.match(r"^[^:\s]+\.lua:(\d+): (.*)$", first)
    if m:
        return f"line {m.group(1)}: {m.group(2)}"
    return first or "error without a message"


def _python_message(err: Exception) -> str:
    """A host function's error as the rule's author should read it."""
    text = str(err).split("\n", 1)[0]
    return text or type(err).__name__


def _show(value) -> str:
    if isinstance(value, bytes):
        return repr(value.decode("utf-8", "replace"))
    if lupa.lua_type(value) is not None:
        return f"a {lupa.lua_type(value)}"
    return "nil" if value is None else repr(value)
