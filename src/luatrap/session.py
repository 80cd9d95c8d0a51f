"""Session: the seam between an engine (which stops calls) and the rules (which decide).

An engine hands the session each stopped call — thread id, number and six raw signed
arguments — and gets back a decision: `None` (let the real call run), an integer (skip
it; the program sees that value), or `RunNow` (run this call now and `resume` with its
result). The engine knows nothing of Lua; the rule book nothing of ptrace or Unicorn.
"""
from __future__ import annotations

from luatrap.logs import Log
from luatrap.rules import RuleBook, RunNow
from luatrap.rules.host_api import ProcessAccess
from luatrap.syscalls.table import signed_args

__all__ = ["Session", "RunNow"]


class Session:
    """One traced program: its rule book (if any) and its log."""

    def __init__(self, rules: RuleBook | None, log: Log) -> None:
        self.rules = rules
        self.log = log
        self._host = rules.host if rules else None
        self._dispatch = rules.dispatch if rules else None

    @property
    def hooked(self) -> dict[int, bool]:
        """Call numbers that must stop -> whether the engine must be able to run them
        from inside the hook (RunNow) and see their result."""
        return self.rules.numbers if self.rules else {}

    def attach(self, access: ProcessAccess) -> None:
        """The engine's way into the program's memory, for c_read_string and friends."""
        if self._host:
            self._host.access = access

    def on_syscall(self, tid: int, nr: int, args: list[int]) -> int | None | RunNow:
        """Decide a stopped x86_64 call `nr(args)` made by thread `tid`."""
        self._host.tid = tid
        return self._dispatch(nr, signed_args(nr, args))

    def resume(self, tid: int, pending: RunNow, result: int) -> int | None | RunNow:
        """Continue a hook that asked for `pending` to run, with the call's result."""
        self._host.tid = tid
        return self.rules.resume(pending, result)
