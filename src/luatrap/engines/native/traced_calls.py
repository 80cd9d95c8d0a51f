"""Ruled calls that stop under ptrace: the ones whose hook may run the real call itself.

A hook that calls c_do_syscall(num, ...) is a coroutine; each such call is carried out
in the program's own thread, which is why this path needs ptrace:

- the first one at the call's seccomp stop: set the registers, PTRACE_SYSCALL, and the
  result arrives at the syscall-exit stop;
- any further one at that exit stop: point the thread back at its `syscall`
  instruction with the new registers, PTRACE_SYSCALL through the entry stop to the exit.

Meanwhile the supervisor goes on serving every other thread. When the hook is done, the
thread's registers are put back as they were and its result is the hook's answer.
"""
from __future__ import annotations

import ctypes

from luatrap.engines.native import kernel as k
from luatrap.rules import RunNow
from luatrap.session import Session

ARG_REGS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")
_SYSCALL_INSN_LEN = 2  # 0f 05
# The kernel's "restart me" results: the call did not finish; a signal came first.
_RESTART = frozenset({-512, -513, -514, -516})


class Injection:
    """A thread running a call for its hook: what it runs, and the registers to restore."""

    __slots__ = ("request", "saved", "at_entry")

    def __init__(self, request: RunNow, saved: k.UserRegs, at_entry: bool) -> None:
        self.request, self.saved = request, saved
        self.at_entry = at_entry  # the next syscall stop is the entry (True) or the exit


class TracedCalls:
    """Decides ruled calls that stopped under ptrace, and runs calls for their hooks."""

    def __init__(self, session: Session, resume, notifications=None) -> None:
        """`notifications` (the C notification loop, if any) is told which threads run
        a call for their own hook: no rule is asked for those."""
        self.session = session
        self.injections: dict[int, Injection] = {}
        self._notifications = notifications
        self.awaiting_result: set[int] = set()  # tracing: threads whose call's exit we want
        self.tracing = session.tracing
        self._resume = resume  # resume(ptrace request, tid): restart a stopped thread
        self._regs = k.UserRegs()
        self._info = ctypes.create_string_buffer(128)

    def forget(self, tid: int) -> None:
        """The thread is gone."""
        inj = self.injections.pop(tid, None)
        if inj is not None:
            self._release(tid)
            if self.session.rules:
                self.session.rules.core.drop(inj.request.coroutine)
        self.awaiting_result.discard(tid)

    def _release(self, tid: int) -> None:
        if self._notifications is not None:
            self._notifications.release(tid)

    def restart_request(self, tid: int) -> int:
        """How to resume `tid` after an unrelated stop (an event, a signal) without losing
        the exit stop of a call it is in."""
        if tid in self.injections or tid in self.awaiting_result:
            return k.PTRACE_SYSCALL
        return k.PTRACE_CONT

    def on_seccomp_stop(self, tid: int, skip_hooks: bool) -> None:
        """A ruled call stopped at its entry."""
        regs = self._regs
        if k.ptrace(k.PTRACE_GETREGS, tid, None, ctypes.byref(regs)) != 0:
            return
        if skip_hooks or tid in self.injections:
            self._resume(k.PTRACE_SYSCALL if tid in self.injections else k.PTRACE_CONT, tid)
            return
        args = [getattr(regs, r) for r in ARG_REGS]
        decision = self.session.on_syscall(tid, regs.orig_rax, args)
        if decision is None:
            if self.tracing:
                self.awaiting_result.add(tid)
                self._resume(k.PTRACE_SYSCALL, tid)
            else:
                self._resume(k.PTRACE_CONT, tid)
        elif decision.__class__ is RunNow:
            saved = k.UserRegs.from_buffer_copy(regs)
            self._start(tid, Injection(decision, saved, at_entry=False), regs)
        else:
            regs.orig_rax = -1  # skip the call ...
            regs.rax = decision  # ... and this is its result
            k.ptrace(k.PTRACE_SETREGS, tid, None, ctypes.byref(regs))
            self._resume(k.PTRACE_CONT, tid)

    def _start(self, tid: int, inj: Injection, regs: k.UserRegs) -> None:
        """Load the requested call into the thread's registers and let it run."""
        regs.orig_rax = regs.rax = inj.request.nr
        for name, value in zip(ARG_REGS, inj.request.args, strict=True):
            setattr(regs, name, value)
        if inj.at_entry:  # stopped at an exit: run the syscall instruction again
            regs.rip = inj.saved.rip - _SYSCALL_INSN_LEN
        k.ptrace(k.PTRACE_SETREGS, tid, None, ctypes.byref(regs))
        self.injections[tid] = inj
        if self._notifications is not None:
            self._notifications.hold(tid)
        self._resume(k.PTRACE_SYSCALL, tid)

    def on_syscall_stop(self, tid: int) -> None:
        """A syscall-entry or -exit stop of a thread running a call for its hook."""
        inj = self.injections.get(tid)
        regs = self._regs
        if inj is None:
            if tid in self.awaiting_result:
                self.awaiting_result.discard(tid)
                if k.ptrace(k.PTRACE_GETREGS, tid, None, ctypes.byref(regs)) == 0:
                    self.session.on_result(tid, regs.rax)
            self._resume(k.PTRACE_CONT, tid)
            return
        if k.ptrace(k.PTRACE_GETREGS, tid, None, ctypes.byref(regs)) != 0:
            return
        if inj.at_entry:
            inj.at_entry = False
            self._resume(k.PTRACE_SYSCALL, tid)
            return
        del self.injections[tid]
        self._release(tid)
        result = regs.rax
        if result in _RESTART:  # interrupted: the kernel restarts the original call
            if self.session.rules:  # its hook runs afresh when the call stops again
                self.session.rules.core.drop(inj.request.coroutine)
            self._finish(tid, regs, inj.saved, inj.saved.orig_rax, result)
            return
        decision = self.session.resume(tid, inj.request, result)
        if decision.__class__ is RunNow:
            self._start(tid, Injection(decision, inj.saved, at_entry=True), regs)
            return
        if decision is None and self.tracing:
            self.session.on_result(tid, result)
        self._finish(tid, regs, inj.saved, inj.saved.orig_rax,
                     result if decision is None else decision)

    def _finish(self, tid: int, regs: k.UserRegs, saved: k.UserRegs, orig_rax: int,
                rax: int) -> None:
        """Put the thread back as the kernel left it, with `rax` as the call's result."""
        for name in ARG_REGS:
            setattr(regs, name, getattr(saved, name))
        regs.rip = saved.rip
        regs.orig_rax = orig_rax
        regs.rax = rax
        k.ptrace(k.PTRACE_SETREGS, tid, None, ctypes.byref(regs))
        self._resume(k.PTRACE_CONT, tid)

