"""The watcher: a host thread that receives luatrap's signals and time-slices the CPU.

Every other host thread blocks every signal, so each one the process gets waits for the
watcher's signalfd; it is routed to a guest thread by the guest's dispositions and
masks (signals.py). Every few milliseconds the watcher also stops the CPU if a guest
thread has held it for a whole slice while others wait, and re-kicks threads that have
a signal to take but still sleep in the host kernel. A timer aimed at one thread
signals the process and is handed to that thread by its id (calls.timer_create). A
signal another process sends to one guest thread (tgkill) is pending on that thread's
host thread, where the signalfd cannot read it: the looker, a thread of its own, sees it
in /proc and has that thread take it (Emulator.take_own_signals). SIGRTMAX, which guest
threads leave unblocked for luatrap's kicks, comes from another process through the
kick handler's pipe instead (src/core/emulate_kick.c).
"""
from __future__ import annotations

import ctypes
import os
import select
import signal
import struct
import threading
import time
from typing import TYPE_CHECKING

from luatrap.engines.emulate import host
from luatrap.engines.emulate import signals as sig
from luatrap.engines.emulate.host import change_signal_mask
from luatrap.syscalls import table

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator

SFD_NONBLOCK, SFD_CLOEXEC = 0o4000, 0o2000000
SIGNALFD4 = table.by_name("signalfd4").nr
SLICE_MS = 10
IDLE_MS = 100  # a look at the threads even when nothing happened, as a safety net
CLONE_FILES = 0x400
# how often the looker reads each guest thread's /proc status: every 10 ms, less often
# with many threads (a read costs ~15 us), never less than every 100 ms
LOOK_EVERY_S, LOOK_PER_THREAD_S, LOOK_AT_MOST_S = 0.010, 0.001, 0.100
# struct signalfd_siginfo: signo errno code pid uid fd tid band overrun trapno status int ptr
_INFO = struct.Struct("<IiiIIiIIIIiiQ")
_OUTSIDE = struct.Struct("<i4x128s")  # emulate_kick.c: receiving thread, siginfo
SI_TKILL = -6


def thread_pending(tid: int) -> int:
    """The signals pending on host thread `tid` itself (not the process's), KICK aside."""
    try:
        with open(f"/proc/self/task/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"SigPnd:"):
                    return int(line.split()[1], 16) & ~sig.bit(sig.KICK)
    except (OSError, ValueError):
        pass
    return 0


def block_signals(but: frozenset[int] = frozenset({sig.KICK})) -> set[int]:
    """Block every catchable signal but those in `but` in the calling thread (glibc
    unblocks its own 32 in every new thread); the old mask."""
    old = change_signal_mask(sig.SIG_SETMASK, sum(sig.bit(s) for s in sig.ALL - but))
    return {s for s in sig.ALL if old & sig.bit(s)}


class Watcher:
    """Reads the process's signals and hands them to the guest."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        mask = ctypes.c_uint64(sum(sig.bit(s) for s in sig.ALL - {sig.KICK}))
        fd = host.syscall(SIGNALFD4, -1, ctypes.addressof(mask), 8,
                          SFD_NONBLOCK | SFD_CLOEXEC, 0, 0)
        if fd < 0:
            raise OSError(-fd, "signalfd")
        self.fd = emu.keep_fd(fd)
        # wake(): a new guest thread makes the watcher time-slice, which it does not
        # do (it sleeps until a signal comes) while the program has one thread
        self.wake_fd = emu.keep_fd(os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC))
        self.outside_fd = self.outside_write = -1
        self._take_kicks()

    def _take_kicks(self) -> None:
        """Install the kick handler, with a pipe of this process's own."""
        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.outside_fd = self.emu.keep_fd(read_end)
        self.outside_write = self.emu.keep_fd(write_end)
        self.emu.hook.install_kick(sig.KICK, self.outside_write)

    def after_fork(self) -> None:
        """A forked child's own wake-up descriptor and kick pipe (fork shares both)."""
        for fd in (self.wake_fd, self.outside_fd, self.outside_write):
            self.emu.reserved_fds.discard(fd)
            os.close(fd)
        self.wake_fd = self.emu.keep_fd(os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC))
        self._take_kicks()

    def wake(self) -> None:
        """Look at the threads again now (one was created)."""
        os.eventfd_write(self.wake_fd, 1)

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="luatrap-watcher").start()
        threading.Thread(target=self._look, daemon=True, name="luatrap-looker").start()
        # glibc unblocks its own 32 and 33 in the thread that starts the first other
        # thread: the caller, a guest thread, blocks them again. Every new thread starts
        # with 32 unblocked too, until it blocks it: one that arrives then goes through
        # the kick handler's pipe, as SIGRTMAX from outside does, and not to glibc
        # (which has no handler for it: the default would end the process).
        block_signals()
        for signo in (32, 33):
            self.emu.hook.install_kick(signo, self.outside_write)

    def _loop(self) -> None:
        block_signals(but=frozenset())
        emu = self.emu
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        poller.register(self.wake_fd, select.POLLIN)
        poller.register(self.outside_fd, select.POLLIN)
        last_turn, busy = -1, False
        while True:
            ready = {fd for fd, _ in poller.poll(SLICE_MS if busy else IDLE_MS)}
            if self.wake_fd in ready:
                os.eventfd_read(self.wake_fd)
            if self.fd in ready:
                self._read()
            if self.outside_fd in ready:
                self._read_outside()
            lock = emu.cpu_lock
            if lock.contended() and lock.turns == last_turn:
                emu.cpu.interrupt()
            last_turn = lock.turns
            # the kicks come last: a stopped CPU waits for this thread to let go of the
            # interpreter, which it does in poll()
            busy = len(emu.threads) > 1
            for t in list(emu.threads):
                if emu.signals.pending_for(t) or t.own_signals:
                    busy = True
                    emu.kick(t)

    def _look(self) -> None:
        """Look for signals pending on guest threads' host threads themselves. The
        files are opened in a descriptor table of this thread's own (unshare
        CLONE_FILES, then every inherited descriptor closed): an open in the program's
        table, even for a moment, would take the number its next open should get."""
        block_signals(but=frozenset())
        if host.libc.unshare(CLONE_FILES) == 0:
            os.closerange(0, os.sysconf("SC_OPEN_MAX"))
        emu = self.emu
        while True:
            threads = list(emu.threads)
            time.sleep(min(max(LOOK_EVERY_S, LOOK_PER_THREAD_S * len(threads)),
                           LOOK_AT_MOST_S))
            for t in threads:  # (kicked again each time, until it has taken them)
                if t.own_signals or thread_pending(t.tid):
                    t.own_signals = True
                    emu.kick(t)

    def _read(self) -> None:
        # A signal read is the kernel's no more: it is routed under the signal lock, so
        # an execve (which takes the lock to hand pending signals on) never loses one
        # between the read and the post.
        emu = self.emu
        with emu.signals.lock:
            while True:
                try:
                    data = os.read(self.fd, 128 * 16)
                except BlockingIOError:
                    return
                for off in range(0, len(data), 128):
                    (signo, _, code, pid, uid, _, timer, _, overrun, _, status, _,
                     ptr) = _INFO.unpack_from(data, off)
                    if code == sig.SI_TIMER:
                        self.timer_expired(signo, sig.timer_info(signo, timer, overrun, ptr),
                                           timer)
                        continue
                    value = status if signo == signal.SIGCHLD else ptr
                    self.route(signo, sig.make_info(signo, code, pid, uid, value))

    def timer_expired(self, signo: int, info: bytes, timer: int) -> None:
        """A timer's signal: for the thread the timer names (calls.timer_create), if it
        names one; a timer whose thread has gone signals nobody, as natively."""
        emu = self.emu
        tid = emu.signals.thread_timers.get(timer)
        if tid is None:
            self.route(signo, info)
            return
        target = next((t for t in emu.threads if t.tid == tid), None)
        if target is not None:
            emu.signals.post(signo, info, target, emu.threads)

    def _read_outside(self) -> None:
        """The kick handler's records: SIGRTMAX from another process, or signal 32 or 33
        caught by a thread that had not blocked them yet."""
        emu = self.emu
        with emu.signals.lock:
            while True:
                try:
                    data = os.read(self.outside_fd, _OUTSIDE.size * 16)
                except BlockingIOError:
                    return
                for off in range(0, len(data) - _OUTSIDE.size + 1, _OUTSIDE.size):
                    tid, info = _OUTSIDE.unpack_from(data, off)
                    signo, _, code, _, timer = struct.unpack_from("<iiiii", info)
                    if code == sig.SI_TIMER:
                        self.timer_expired(signo, info, timer)
                        continue
                    target = next((t for t in emu.threads if t.tid == tid), None)
                    if code == SI_TKILL and target is not None:  # sent to that thread
                        emu.signals.post(signo, info, target, emu.threads)
                    else:
                        self.route(signo, info)

    def route(self, signo: int, info: bytes) -> None:
        """A signal for the process: ignore, stop, or post it to a guest thread (which
        the loop then interrupts, once its reading is done: a CPU stopped earlier would
        only wait for the watcher to let go of the interpreter)."""
        emu = self.emu
        handler = emu.signals.actions[signo].handler
        # a blocked signal is never ignored: it waits, for a handler set by then, or a
        # signalfd or sigwait to take it
        if not all(t.mask & sig.bit(signo) for t in emu.threads):
            if handler == sig.SIG_IGN:
                return
            if handler == sig.SIG_DFL:
                if signo in sig.IGNORED_BY_DEFAULT:
                    return
                if signo in sig.STOP_BY_DEFAULT:
                    sig.stop_by(signo)
                    return
        emu.signals.post(signo, info, None, emu.threads)
