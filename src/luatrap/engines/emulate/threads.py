"""Guest threads: each runs on a host thread of its own, one at a time on the one CPU.

Lock-prefixed instructions are only atomic if no two guest threads execute at once, so
the emulated CPU is held like a GIL: a guest thread runs guest code only while it holds
the CPU, hands it on when its time slice ends (the watcher stops the CPU every few ms
when others wait), and lets go of it while it waits in the host kernel (a read on a
pipe, a futex wait), so one blocked thread never stops the others. Host threads give
each guest thread its own real thread id, and per-thread kernel state (futex waits,
signal interruption) works as it does natively.
"""
from __future__ import annotations

import ctypes
import threading
from collections import deque
from dataclasses import dataclass, field

from luatrap.engines.emulate.cpu import Cpu


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class GuestThread:
    """One thread of the guest program."""

    tid: int = 0
    context: ctypes.c_void_p | None = None
    mask: int = 0  # blocked guest signals, bit (sig - 1)
    pending: int = 0  # signals sent to this thread, not yet delivered
    clear_child_tid: int = 0
    altstack: tuple[int, int, int] = (0, 0, 2)  # sp, size, flags (SS_DISABLE)
    in_host_call: bool = False  # blocked in the host kernel: kick it to interrupt
    call: tuple | None = None  # a call to make outside the CPU: (nr, args, request)
    saved_mask: int | None = None  # the mask to restore after rt_sigsuspend's handler
    interrupted: int | None = None  # the call a signal interrupted (for SA_RESTART)
    restart_always: bool = False  # ... before it began: restarted whatever the handler
    then: object = None  # finishes a call made outside the CPU: result -> result
    wait_limit: object = None  # rt_sigtimedwait's copy of its timeout, which ppoll updates
    own_signals: bool = False  # signals pending on its host thread (watcher.py) to take
    first_arg: int = 0  # the first argument of its last call (aarch64's x0, for restarts)
    scratch: object = None  # a buffer a translated call hands the host (aarch64.py)
    path_buffer: object = None  # ... and the sysroot's path it names (-L)
    exit_code: int | None = None
    fault: int | tuple = 0  # (signal, si_code, address[, siginfo]) of a fault to take
    code_selector: int | None = None  # x86: the code segment rt_sigreturn goes back to
    seccomp: bytes | None = None  # its seccomp filters (seccomp.py), newest first
    seccomp_mode: int = 0  # PR_GET_SECCOMP's answer
    robust_list: int = 0  # its set_robust_list head (robust.py)
    rseq: tuple[int, int, int] | None = None  # its rseq area: address, size, signature
    rseq_cpu: int = -1  # the CPU number last written there
    wake: threading.Lock = field(default_factory=_held_lock)


class CpuLock:
    """Fair hand-over of the CPU between guest threads (first come, first served)."""

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu
        self._mutex = threading.Lock()
        self.owner: GuestThread | None = None
        self.loaded: GuestThread | None = None  # whose registers the CPU holds
        self.waiters: deque[GuestThread] = deque()
        self.turns = 0  # counts hand-overs, so the watcher sees a thread overstay

    def acquire(self, t: GuestThread) -> None:
        """Wait for the CPU and load `t`'s registers into it."""
        with self._mutex:
            must_wait = self.owner is not None or bool(self.waiters)
            if must_wait:
                self.waiters.append(t)
            else:
                self.owner = t
        if must_wait:
            t.wake.acquire()  # released by the thread that hands the CPU over
        self.turns += 1
        if self.loaded is not t:
            self.cpu.restore(t.context)
            self.loaded = t

    def release(self, t: GuestThread) -> None:
        """Save `t`'s registers and give the CPU to the next waiting thread."""
        self.cpu.save(t.context)
        with self._mutex:
            if self.waiters:
                nxt = self.waiters.popleft()
                self.owner = nxt
                nxt.wake.release()
            else:
                self.owner = None

    def contended(self) -> bool:
        return bool(self.waiters)

    def after_fork(self, t: GuestThread) -> None:
        """In a forked child only `t` survives, holding the CPU."""
        self._mutex = threading.Lock()
        self.waiters.clear()
        self.owner = self.loaded = t
