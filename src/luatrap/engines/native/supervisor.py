"""The native engine's event loop: serve seccomp notifications, follow ptrace stops.

Two threads. A C thread answers seccomp user notifications: a ruled call waits for its
verdict (the fast path, src/core/notify_loop.c). This one waits for the program's tasks
(src/core/traced_calls.c serves their ptrace stops) and for signals sent to luatrap,
which it passes on. While the program is traced, every task is a tracee, so new threads,
forks and execs are followed and PTRACE_O_EXITKILL takes the whole program down if
luatrap dies; when nothing needs ptrace (see engines/native/__init__.py), luatrap lets
go of the program at its execve and only waits for it (a child subreaper: orphans too).
"""
from __future__ import annotations

import os
import signal

from luatrap import _core
from luatrap.engines.native import kernel as k
from luatrap.engines.native.signals import FORWARDED, SignalFd, from_terminal_or_kernel
from luatrap.engines.process_memory import ProcessMemory
from luatrap.rules import RunNow
from luatrap.session import Session
from luatrap.syscalls import table

_STOPPING = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
# A thread resumed from a ptrace stop often stops again within microseconds (the exit of
# a call run for its hook, its next traced call). Sleeping in poll() then costs two
# cross-CPU wake-ups, measured at several times the stop itself, so after a stop we keep
# asking waitpid for SPIN_SECONDS, but never longer than SPIN_TOTAL in a row.
SPIN_SECONDS = 50e-6 if len(os.sched_getaffinity(0)) > 1 else 0.0  # alone on 1 CPU: never
SPIN_TOTAL = 2e-3


class Supervisor:
    """Runs one program to completion under a session's rules."""

    def __init__(self, session: Session, memory: ProcessMemory, main_pid: int,
                 listener: int, foreign: _core.ForeignCalls, stay_attached: bool) -> None:
        self.session = session
        self.stay_attached = stay_attached  # else: no ptrace once the program runs
        self.memory = memory
        self.main_pid = main_pid
        self.starting = True  # the main task has not reached its execve yet
        self.exit_status: int | None = None
        self.listener = listener
        self.notifications = None
        if listener >= 0:  # ruled calls: answered in C (src/core/notify_loop.c)
            self.notifications = _core.NotifyLoop(
                listener, main_pid, session.rules.core if session.rules else None, foreign)
        # Calls that stop under ptrace (c_do_syscall rules; every call when tracing),
        # decided in C (src/core/traced_calls.c); when tracing, by the session.
        tracing = ((self._traced_decide, self._traced_resume, session.on_result)
                   if session.tracing else (None, None, None))
        self.traced = _core.TracedCalls(session.rules.core if session.rules else None,
                                        foreign, self.notifications, *tracing)
        self.traced.own_tid = main_pid  # until its execve of the program
        self.traced.set_restartable(table.never_waits() & {
            nr for nr, needs_ptrace in session.hooked.items() if not needs_ptrace})

    # ------------------------------------------------------------------ the loop

    def run(self, signals: SignalFd) -> int:
        """Serve until every traced task is gone; the main process's exit status as a
        shell shows it (128+N for death by signal N)."""
        if self.notifications is not None:
            self.notifications.start()
        try:
            alive = True
            while alive:  # the stops themselves are served in C (TracedCalls.reap)
                events, received, alive = self.traced.reap(SPIN_SECONDS, SPIN_TOTAL,
                                                            signals.fd)
                for signo, code in received:
                    self._forward(signo, code)
                for tid, status in events:
                    self._on_wait(tid, status)
        finally:
            if self.notifications is not None:
                self.notifications.stop()
            if self.listener >= 0:
                os.close(self.listener)
        return self.exit_status if self.exit_status is not None else 0

    def _forward(self, signo: int, code: int) -> None:
        """A signal sent to luatrap by a process goes on to the program."""
        if signo in FORWARDED and not from_terminal_or_kernel(code):
            try:
                os.kill(self.main_pid, signo)
            except ProcessLookupError:
                pass

    def _traced_decide(self, tid: int, nr: int, args: tuple[int, ...]) -> object:
        """Tracing: a call stopped under ptrace, decided by the session (which writes
        its trace line); a RunNow as (nr, args, coroutine) for the C side."""
        decision = self.session.on_syscall(tid, nr, list(args))
        return decision[:3] if decision.__class__ is RunNow else decision

    def _traced_resume(self, tid: int, hooked_nr: int, coroutine: int,
                       request: tuple[int, tuple[int, ...]], result: int) -> object:
        """Tracing: the hook's own call returned `result`; the session goes on."""
        pending = RunNow(request[0], list(request[1]), coroutine, hooked_nr)
        decision = self.session.resume(tid, pending, result)
        return decision[:3] if decision.__class__ is RunNow else decision

    # ------------------------------------------------------------------ ptrace stops

    def _on_wait(self, tid: int, s: int) -> None:
        if (s & 0x7F) == 0 or (s & 0xFF) != 0x7F:  # exited or killed
            if tid == self.main_pid:
                self.exit_status = (s >> 8) & 0xFF if (s & 0x7F) == 0 else 128 + (s & 0x7F)
            self.memory.forget(tid)
            self.traced.forget(tid)
            self.session.thread_gone(tid)
            return
        sig, event = (s >> 8) & 0xFF, s >> 16
        if event == k.PTRACE_EVENT_STOP:
            if sig in _STOPPING:  # group-stop: stay stopped, but wake on SIGCONT
                self._ptrace(k.PTRACE_LISTEN, tid)
                if tid == self.main_pid:
                    _stop_with_the_job()
            else:
                self._ptrace(k.PTRACE_CONT, tid)
        elif event:
            if event == k.PTRACE_EVENT_EXEC and tid == self.main_pid and self.starting:
                self.starting = False
                self.traced.own_tid = 0
                if self.notifications is not None:
                    self.notifications.starting = False
                if not self.stay_attached:  # nothing needs a stop: signals cost none
                    self._ptrace(k.PTRACE_DETACH, tid)
                    return
            self._ptrace(self.traced.restart_request(tid), tid)
        else:  # (signal-delivery stops are served in C, by reap)
            self._ptrace(self.traced.restart_request(tid), tid, sig)

    @staticmethod
    def _ptrace(request: int, tid: int, data: int = 0) -> None:
        k.ptrace(request, tid, None, data)  # ESRCH: the task died meanwhile; its exit follows


def _stop_with_the_job() -> None:
    """The program was stopped (Ctrl-Z): if we are the terminal's foreground job, stop
    too, so the shell sees the job stopped; `fg` continues both."""
    try:
        fg = os.tcgetpgrp(0)
    except OSError:
        return
    if fg == os.getpgrp():
        os.kill(os.getpid(), signal.SIGSTOP)
