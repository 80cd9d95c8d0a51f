"""Session: the seam between an engine (which stops calls) and the rules (which decide).

An engine hands the session each stopped call — thread id, number and six raw signed
arguments — and gets back a decision: `None` (let the real call run), an integer (skip
it; the program sees that value), or `RunNow` (run this call now and `resume` with its
result). When tracing (--strace, --trace-json, --summary) the engine stops every call
and also reports results with `on_result`. The engine knows nothing of Lua; the rule
book nothing of ptrace or Unicorn. An engine whose per-call path is C (the emulate
engine's hook) asks the rule book's C core directly, and comes here for the rest.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from luatrap.logs import Log
from luatrap.rules import RuleBook, RunNow
from luatrap.syscalls import table

if TYPE_CHECKING:
    from luatrap.trace import Tracer

__all__ = ["Session", "RunNow", "ProcessAccess"]


class ProcessAccess(Protocol):
    """What an engine lets the tracer see of the program: a thread's memory."""

    def read_memory(self, tid: int, addr: int, size: int) -> bytes:
        """Bytes at `addr`; raise OSError if any of them is unreadable."""

    def read_string(self, tid: int, addr: int, limit: int) -> bytes:
        """The NUL-terminated bytes at `addr`, at most `limit`; OSError if unreadable."""

    def pid_of(self, tid: int) -> int:
        """The process id (thread group) of thread `tid`."""


def _no_rules(tid: int, pid: int, nr: int, args: list[int]) -> None:
    return None


class Session:
    """One traced program: its rule book (if any), its log, and its tracer (if any)."""

    def __init__(self, rules: RuleBook | None, log: Log, tracer: Tracer | None = None) -> None:
        self.rules = rules
        self.log = log
        self.tracer = tracer
        self._dispatch = rules.dispatch if rules else _no_rules
        self.syscalls = rules.syscalls if rules else tracer.syscalls if tracer else table.X86_64
        self._pid_of = lambda tid: tid
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
        """The engine's way into the program's memory and process ids."""
        self._pid_of = access.pid_of
        if self.tracer:
            self.tracer.attach(access)

    def on_syscall(self, tid: int, nr: int, args: list[int]) -> int | None | RunNow:
        """Decide a stopped call `nr(args)` (the program's architecture's number) made by
        thread `tid`."""
        return self._dispatch(tid, self._pid_of(tid), nr, args)

    def _on_syscall_traced(self, tid: int, nr: int, args: list[int]) -> int | None | RunNow:
        args = self.syscalls.signed_args(nr, list(args))
        self.tracer.entry(tid, nr, args)
        decision = self._dispatch(tid, self._pid_of(tid), nr, args)
        if decision.__class__ is int:
            self.tracer.result(tid, decision, self.rules.rule_file(nr))
        return decision

    def resume(self, tid: int, pending: RunNow, result: int) -> int | None | RunNow:
        """Continue a hook that asked for `pending` to run, with the call's result."""
        decision = self.rules.resume(tid, self._pid_of(tid), pending, result)
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
