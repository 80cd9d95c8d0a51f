"""The native engine's event loop: serve seccomp notifications, follow ptrace stops.

One thread, one poll(2) over two descriptors: the seccomp listener (a ruled call is
waiting; the fast path) and a signalfd (SIGCHLD: some traced task stopped or died; or a
signal for the program). Every task of the program is a ptrace tracee, so new threads,
forks and execs are followed and PTRACE_O_EXITKILL takes the whole program down if
luatrap dies; but tasks stop only for the rare events, not for system calls.
"""
from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import struct
import time

from luatrap.engines.native import kernel as k
from luatrap.engines.native.signals import FORWARDED, SignalFd, from_terminal_or_kernel
from luatrap.engines.native.traced_calls import TracedCalls
from luatrap.engines.process_memory import ProcessMemory
from luatrap.rules import RunNow
from luatrap.session import Session
from luatrap.syscalls import compat

_STOPPING = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
_SYSCALL_STOP = signal.SIGTRAP | 0x80
_NOTIF = struct.Struct("<QIIiIQ6q")  # id, pid, flags, nr, arch, ip, args[6]
_RESP = struct.Struct("<QqiI")  # id, val, error, flags
_ZEROED = bytes(_NOTIF.size)
_RECV = ctypes.c_ulong(k.SECCOMP_IOCTL_NOTIF_RECV)
_SEND = ctypes.c_ulong(k.SECCOMP_IOCTL_NOTIF_SEND)
# A thread resumed from a ptrace stop often stops again within microseconds (the exit of
# a call run for its hook, its next traced call). Sleeping in poll() then costs two
# cross-CPU wake-ups, measured at several times the stop itself, so after a stop we keep
# asking waitpid for SPIN_SECONDS, but never longer than SPIN_TOTAL in a row (the seccomp
# notifications waiting meanwhile must not starve). Notifications never spin: their
# wake-up is already on the caller's CPU, where spinning would steal the program's time.
SPIN_SECONDS = 50e-6 if len(os.sched_getaffinity(0)) > 1 else 0.0  # alone on 1 CPU: never
SPIN_TOTAL = 2e-3
_CONTINUE = k.SECCOMP_USER_NOTIF_FLAG_CONTINUE


class Supervisor:
    """Runs one program to completion under a session's rules."""

    def __init__(self, session: Session, memory: ProcessMemory, main_pid: int,
                 listener: int, i386: dict[int, int], x32: dict[int, int]) -> None:
        self.session = session
        self.memory = memory
        self.main_pid = main_pid
        self.starting = True  # the main task has not reached its execve yet
        self.exit_status: int | None = None
        self.listener = listener
        self._listener_c = ctypes.c_int(listener)
        self.i386, self.x32 = i386, x32
        self.traced = TracedCalls(session, self._ptrace)
        self._injections = self.traced.injections  # threads running a hook's own call
        self._on_syscall = session.on_syscall
        self._tracing = session.tracing
        self._req = bytearray(_NOTIF.size)
        self._req_ptr = ctypes.byref((ctypes.c_char * _NOTIF.size).from_buffer(self._req))
        self._resp = bytearray(_RESP.size)
        self._resp_ptr = ctypes.byref((ctypes.c_char * _RESP.size).from_buffer(self._resp))
        self._status = ctypes.c_int()
        self._nid = ctypes.c_uint64()
        self._nid_ptr = ctypes.byref(self._nid)

    # ------------------------------------------------------------------ the loop

    def run(self, signals: SignalFd) -> int:
        """Serve until every traced task is gone; the main process's exit status as a
        shell shows it (128+N for death by signal N)."""
        poller = select.poll()
        poller.register(signals.fd, select.POLLIN)
        if self.listener >= 0:
            poller.register(self.listener, select.POLLIN)
            k.ioctl(self.listener, k.SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                    k.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)  # fails before 6.6: harmless
        listener, sigfd, serve = self.listener, signals.fd, self._serve_notification
        alive = True
        while alive:
            for fd, ev in poller.poll():
                if fd == listener:
                    if ev & select.POLLIN:
                        serve()
                    else:  # no task uses the filter any more
                        poller.unregister(listener)
                        listener = -1
                elif fd == sigfd:
                    for signo, code, _pid in signals.read():
                        if signo != signal.SIGCHLD:
                            self._forward(signo, code)
                    alive = self._reap()
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

    # ------------------------------------------------------------------ fast path

    def _serve_notification(self) -> None:
        """Answer one seccomp user notification: a ruled call waits for its verdict."""
        req = self._req
        req[:] = _ZEROED  # the kernel insists on a zeroed request
        if k.ioctl_raw(self._listener_c, _RECV, self._req_ptr) != 0:
            return  # the caller died or was interrupted meanwhile
        nid, tid, _f, nr, arch, _ip, *args = _NOTIF.unpack(req)
        if arch != k.AUDIT_ARCH_X86_64 or nr & k.X32_SYSCALL_BIT:
            nr, args = self._to_x86_64(tid, nr, arch, args)
        if self.starting and tid == self.main_pid or nr < 0 or tid in self._injections:
            decision = None  # luatrap's own execve; a hook's c_do_syscall; not mappable
        else:
            decision = self._on_syscall(tid, nr, args)
            if self.session.touched_memory and not self._still_waiting(nid):
                return  # the caller is gone: what the hook read may be another's memory
            if decision.__class__ is RunNow:
                self.session.rules.core.drop(decision.coroutine)
                self.session.rules.report(
                    nr, "c_do_syscall is not available for a 32-bit or x32 call")
                decision = None
            if self._tracing and decision is None:
                self.session.on_result(tid, None)  # runs in the kernel: result unseen
        if decision is None:
            _RESP.pack_into(self._resp, 0, nid, 0, 0, _CONTINUE)
        elif -4095 <= decision < 0:
            _RESP.pack_into(self._resp, 0, nid, 0, decision, 0)
        else:
            _RESP.pack_into(self._resp, 0, nid, decision, 0, 0)
        k.ioctl_raw(self._listener_c, _SEND, self._resp_ptr)

    def _still_waiting(self, nid: int) -> bool:
        """Is notification `nid` still pending (its thread alive, its call not done)?"""
        self._nid.value = nid
        return k.ioctl(self.listener, k.SECCOMP_IOCTL_NOTIF_ID_VALID, self._nid_ptr) == 0

    def _to_x86_64(self, tid: int, nr: int, arch: int, args: list[int]) -> tuple[int, list]:
        """A 32-bit or x32 call as the x86_64 call it reaches (-1 if none)."""
        if arch == k.AUDIT_ARCH_X86_64:
            return self.x32.get(nr & ~k.X32_SYSCALL_BIT, -1), args
        args = [a & 0xFFFFFFFF for a in args]
        target = self.i386.get(nr, -1)
        if nr == compat.I386_SOCKETCALL:
            found = compat.socketcall_target(args[0])
            if found is None:
                return -1, args
            target, count = found
            try:
                raw = self.memory.read_memory(tid, args[1], 4 * count)
            except OSError:
                return -1, args
            args = list(struct.unpack(f"<{count}I", raw)) + [0] * (6 - count)
        # 32-bit values as the x86_64 kinds expect them: pointers and sizes unsigned,
        # int-kind arguments are sign-extended by the session.
        return target, args

    # ------------------------------------------------------------------ ptrace stops

    def _reap(self) -> bool:
        """Handle every task state change that is waiting; False once none is left."""
        status = self._status
        now = time.perf_counter()
        spin_until, give_up = now + SPIN_SECONDS, now + SPIN_TOTAL
        while True:
            tid = k.waitpid(-1, ctypes.byref(status), k.WALL | k.WNOHANG)
            if tid == 0:
                now = time.perf_counter()
                if now < spin_until and now < give_up:
                    continue
                return True
            if tid < 0:
                return ctypes.get_errno() != errno.ECHILD
            self._on_wait(tid, status.value)
            spin_until = time.perf_counter() + SPIN_SECONDS

    def _on_wait(self, tid: int, s: int) -> None:
        if (s & 0x7F) == 0 or (s & 0xFF) != 0x7F:  # exited or killed
            if tid == self.main_pid:
                self.exit_status = (s >> 8) & 0xFF if (s & 0x7F) == 0 else 128 + (s & 0x7F)
            self.memory.forget(tid)
            self.traced.forget(tid)
            self.session.thread_gone(tid)
            return
        sig, event = (s >> 8) & 0xFF, s >> 16
        if sig == _SYSCALL_STOP:
            self.traced.on_syscall_stop(tid)
        elif event == k.PTRACE_EVENT_SECCOMP:
            self.traced.on_seccomp_stop(tid, self.starting and tid == self.main_pid)
        elif event == k.PTRACE_EVENT_STOP:
            if sig in _STOPPING:  # group-stop: stay stopped, but wake on SIGCONT
                self._ptrace(k.PTRACE_LISTEN, tid)
                if tid == self.main_pid:
                    _stop_with_the_job()
            else:
                self._ptrace(k.PTRACE_CONT, tid)
        elif event:
            if event == k.PTRACE_EVENT_EXEC and tid == self.main_pid:
                self.starting = False
            self._ptrace(self.traced.restart_request(tid), tid)
        else:  # signal-delivery-stop: deliver it as the kernel would have
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
