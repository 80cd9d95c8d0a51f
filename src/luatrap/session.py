"""Session: the seam between an engine (which stops calls) and the rules (which decide).

An engine hands the session each stopped call — thread id, number and six raw signed
arguments — and gets back a decision: `None` (let the real call run), an integer (skip
it; the program sees that value), or `RunNow` (run this call now and `resume` with its
result). When tracing (--strace, --trace-json, --summary) the engine stops every call
and also reports results with `on_result`. The engine knows nothing of Lua; the rule
book nothing of ptrace or Unicorn.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from luatrap.logs import Log
from luatrap.rules import RuleBook, RunNow
from luatrap.rules.host_api import ProcessAccess
from luatrap.syscalls.table import signed_args

if TYPE_CHECKING:
    from luatrap.trace import Tracer

__all__ = ["Session", "RunNow"]


class Session:
    """One traced program: its rule book (if any), its log, and its tracer (if any)."""

    def __init__(self, rules: RuleBook | None, log: Log, tracer: Tracer | None = None) -> None:
        self.rules = rules
        self.log = log
        self.tracer = tracer
        self._host = rules.host if rules else None
        self._dispatch = rules.dispatch if rules else (lambda nr, args: None)
        if tracer:
            self.on_syscall = self._on_syscall_traced

    @property
    def hooked(self) -> dict[int, bool]:
        """Call numbers that must stop -> whether the engine must be able to run them
        from inside the hook (RunNow) and see their result."""
        return self.rules.numbers if self.rules else {}

    @property
    def tracing(self) -> bool:
        """Must every call stop, and its result be reported?"""
        return self.tracer is not None

    def attach(self, access: ProcessAccess) -> None:
        """The engine's way into the program's memory, for c_read_string and friends."""
        if self._host:
            self._host.access = access
        if self.tracer:
            self.tracer.attach(access)

    def on_syscall(self, tid: int, nr: int, args: list[int]) -> int | None | RunNow:
        """Decide a stopped x86_64 call `nr(args)` made by thread `tid`."""
        self._host.tid = tid
        return self._dispatch(nr, signed_args(nr, args))

    def _on_syscall_traced(self, tid: int, nr: int, args: list[int]) -> int | None | RunNow:
        args = signed_args(nr, args)
        self.tracer.entry(tid, nr, args)
        if self._host:
            self._host.tid = tid
        decision = self._dispatch(nr, args)
        if decision.__class__ is int:
            self.tracer.result(tid, decision, self.rules.rule_file(nr))
        return decision

    def resume(self, tid: int, pending: RunNow, result: int) -> int | None | RunNow:
        """Continue a hook that asked for `pending` to run, with the call's result."""
        self._host.tid = tid
        decision = self.rules.resume(pending, result)
        if self.tracer and decision.__class__ is int:
            self.tracer.result(tid, decision, self.rules.rule_file(pending.hooked_nr))
        return decision

    def on_result(self, tid: int, value: int | None) -> None:
        """The call thread `tid` made, which ran for real, returned `value` (tracing);
        None when the engine cannot see the result."""
        self.tracer.result(tid, value)

    def thread_gone(self, tid: int) -> None:
        """Thread `tid` no longer exists."""
        if self.tracer:
            self.tracer.gone(tid)

    def close(self) -> None:
        """The program is done: flush traces, print the summary and held-back errors."""
        if self.tracer:
            self.tracer.close()
        if self.rules:
            self.rules.close()
