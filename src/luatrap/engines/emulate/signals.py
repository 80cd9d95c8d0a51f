"""Guest signals: dispositions, masks, delivery on the guest stack, rt_sigreturn.

Every host thread of luatrap blocks every signal, so the kernel leaves them pending until
the watcher thread reads them from a signalfd and routes each to a guest thread: it is
marked pending there, and the thread is interrupted (the CPU stopped if it is computing,
a KICK signal sent if it waits in the host kernel) to run its guest handler. The frame a
handler gets is the kernel's rt_sigframe, built in C (src/core/emulate_frames.c), so
glibc's __restore_rt, siglongjmp and handlers reading ucontext all work. A signal left
at SIG_DFL acts on luatrap's process itself, which is the program's process: it dies,
stops, or ignores, as natively.
"""
from __future__ import annotations

import ctypes
import os
import signal
import struct
import threading

from luatrap.engines.emulate.host import change_signal_mask, libc, restore_default_action
from luatrap.engines.emulate.memory import GuestFault, GuestMemory
from luatrap.engines.emulate.threads import GuestThread

KICK = signal.SIGRTMAX  # interrupts a host call of one guest thread (emulate_kick.c)
SIG_DFL, SIG_IGN = 0, 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2  # rt_sigprocmask's `how`
SA_SIGINFO, SA_ONSTACK, SA_RESTART = 0x4, 0x08000000, 0x10000000
SA_NODEFER, SA_RESETHAND, SA_RESTORER = 0x40000000, 0x80000000, 0x04000000
SS_ONSTACK, SS_DISABLE = 1, 2
SI_TIMER = -2
IGNORED_BY_DEFAULT = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT}
STOP_BY_DEFAULT = {signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}
UNBLOCKABLE_BITS = (1 << (signal.SIGKILL - 1)) | (1 << (signal.SIGSTOP - 1))
ALL = {s for s in range(1, signal.SIGRTMAX + 1) if s not in UNCATCHABLE}
SIGINFO_SIZE = 128
# The most an x86_64 handler's frame takes of an alternate stack (AT_MINSIGSTKSZ): struct
# rt_sigframe (pretcode, ucontext, siginfo), the FXSAVE area and their alignments
# (src/core/emulate_frames.c).
MIN_SIGNAL_STACK = (8 + 304 + SIGINFO_SIZE + 512 + 63 + 15 + 15) & ~15


def bit(sig: int) -> int:
    return 1 << (sig - 1)


class Action:
    """What the guest asked rt_sigaction for one signal."""

    __slots__ = ("handler", "flags", "restorer", "mask")

    def __init__(self, handler: int = SIG_DFL, flags: int = 0, restorer: int = 0,
                 mask: int = 0) -> None:
        self.handler, self.flags, self.restorer, self.mask = handler, flags, restorer, mask

    def pack(self) -> bytes:
        return struct.pack("<QQQQ", self.handler, self.flags, self.restorer, self.mask)


class Signals:
    """The guest's signal state for one process, shared by its threads."""

    def __init__(self, memory: GuestMemory) -> None:
        self.memory = memory
        self.lock = threading.RLock()
        self.actions = {s: Action() for s in ALL}
        self.process_pending = 0
        self.info: dict[tuple[int, int], bytes] = {}  # (tid or 0, signal) -> siginfo
        self.signalfds: dict[int, list[int]] = {}  # guest fd -> [signal set, write end]
        self.thread_timers: dict[int, int] = {}  # timer id -> the thread it signals
        self.on_post = lambda: None  # told after a signal is marked pending
        for sig in ALL:  # what luatrap inherited ignored, the program inherits ignored
            if sig not in (signal.SIGPIPE, signal.SIGXFSZ, KICK) and _ignored(sig):
                self.actions[sig].handler = SIG_IGN

    def after_fork(self) -> None:
        """A forked child starts with no pending signals."""
        self.lock = threading.RLock()
        self.process_pending = 0
        self.info.clear()
        self.thread_timers.clear()  # timers are not inherited

    # -- rt_sigaction and friends ---------------------------------------------------
    def sigaction(self, sig: int, new: int, old: int) -> int:
        if sig in UNCATCHABLE and not new:  # asking is allowed: the default, always
            if old:
                self.memory.write(old, bytes(32))
            return 0
        if sig not in ALL:
            return -22
        act = self.actions[sig]
        if new:
            handler, flags, restorer, mask = struct.unpack("<QQQQ", self.memory.read(new, 32))
        if old:
            self.memory.write(old, act.pack())
        if new:
            self.actions[sig] = Action(handler, flags, restorer, mask)
            if sig != KICK:  # (whose host handler is luatrap's, whatever the guest's)
                libc.signal(sig, ctypes.c_void_p(SIG_IGN if handler == SIG_IGN else SIG_DFL))
        return 0

    def set_mask(self, t: GuestThread, how: int, new: int, old: int) -> int:
        """rt_sigprocmask, in the kernel's order: read the new set, change, report."""
        before = t.mask
        if new:
            value = self.memory.read_u64(new)
            if how == 0:
                t.mask |= value
            elif how == 1:
                t.mask &= ~value
            elif how == 2:
                t.mask = value
            else:
                return -22
            t.mask &= ~UNBLOCKABLE_BITS
        if old:
            self.memory.write_u64(old, before)
        return 0

    def pending_for(self, t: GuestThread) -> int:
        return (t.pending | self.process_pending) & ~t.mask

    # -- routing ------------------------------------------------------------------------
    def post(self, sig: int, info: bytes, thread: GuestThread | None,
             threads: list[GuestThread]) -> GuestThread | None:
        """Mark `sig` pending (for `thread`, or the process); the thread to interrupt.
        A blocked signal that a guest signalfd reads goes to that signalfd instead."""
        if self.signalfds and self._to_signalfd(sig, info, thread, threads):
            return None
        with self.lock:
            if thread is not None:
                thread.pending |= bit(sig)
                self.info[(thread.tid, sig)] = info
            else:
                self.process_pending |= bit(sig)
                self.info[(0, sig)] = info
        self.on_post()
        if thread is not None:
            return thread
        return next((t for t in threads if not t.mask & bit(sig)), None)

    def _to_signalfd(self, sig: int, info: bytes, thread: GuestThread | None,
                     threads: list[GuestThread]) -> bool:
        wanted = bit(sig)
        reader = next((fds for fds in self.signalfds.values() if fds[0] & wanted), None)
        if reader is None:
            return False
        if not (thread.mask & wanted if thread else all(t.mask & wanted for t in threads)):
            return False  # not blocked: its handler or default action, not the signalfd
        try:
            os.write(reader[1], signalfd_record(info))
        except BlockingIOError:
            pass  # 512 unread: dropped, as a standard signal already pending would be
        return True

    def take(self, t: GuestThread, among: int | None = None,
             peek: bool = False) -> tuple[int, bytes]:
        """The next signal to act on for `t` (or the first pending one of the set
        `among`, blocked or not), removed from pending unless `peek`; (0, b"") if none."""
        with self.lock:
            ready = (t.pending | self.process_pending) & (~t.mask if among is None else among)
            if not ready or peek:
                return (ready & -ready).bit_length(), b""
            sig = (ready & -ready).bit_length()
            if t.pending & bit(sig):
                t.pending &= ~bit(sig)
                return sig, self.info.pop((t.tid, sig), b"")
            self.process_pending &= ~bit(sig)
            return sig, self.info.pop((0, sig), b"")


def _ignored(sig: int) -> bool:
    try:
        return signal.getsignal(sig) == signal.SIG_IGN
    except (ValueError, OSError):
        return False


def make_info(sig: int, code: int = 0, pid: int = 0, uid: int = 0, value: int = 0,
              addr: int | None = None) -> bytes:
    """A siginfo_t for the guest."""
    if addr is not None:
        return struct.pack("<iiiiQ", sig, 0, code, 0, addr).ljust(SIGINFO_SIZE, b"\0")
    return struct.pack("<iiiiIIQ", sig, 0, code, 0, pid, uid, value).ljust(SIGINFO_SIZE, b"\0")


def timer_info(sig: int, timer: int, overrun: int, value: int) -> bytes:
    """A POSIX timer's siginfo_t: which timer, how many expirations it missed."""
    return struct.pack("<iiiiiiQ", sig, 0, SI_TIMER, 0, timer, overrun,
                       value).ljust(SIGINFO_SIZE, b"\0")


def signalfd_record(info: bytes) -> bytes:
    """A siginfo_t as the struct signalfd_siginfo that reading a signalfd gives."""
    signo, err, code, _, pid, uid, value = struct.unpack("<iiiiIIQ", info[:32].ljust(32, b"\0"))
    status = ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000  # si_status / si_int
    timer = overrun = 0
    if code == SI_TIMER:  # si_timerid and si_overrun where pid and uid are
        timer, overrun, pid, uid = pid, uid, 0, 0
    return struct.pack("<IiiIIiIIIIiiQ", signo, err, code, pid, uid, 0, timer, 0, overrun,
                       0, status, status, value).ljust(SIGINFO_SIZE, b"\0")


def enter_handler(hook, t: GuestThread, sig: int, act: Action, info: bytes,
                  return_to: int) -> None:
    """Enter the guest handler of `sig` as the kernel does: its frame on the stack
    (src/core/emulate_frames.c), the handler's mask for the thread. GuestFault (nothing
    changed) if the stack cannot take the frame: the kernel's SIGSEGV."""
    old_mask = t.mask if t.saved_mask is None else t.saved_mask
    if not hook.enter_handler(sig, act.handler, return_to, act.flags, old_mask, t.altstack,
                              info):
        raise GuestFault
    t.saved_mask = None
    t.mask |= act.mask | (0 if act.flags & SA_NODEFER else bit(sig))
    if act.flags & SA_RESETHAND:
        act.handler = SIG_DFL


def sigreturn(hook, t: GuestThread) -> int:
    """rt_sigreturn, from the system call hook: the registers and mask the handler's
    frame holds (it may have changed them); returns the x86 code selector to switch to
    (0: the CPU's already). GuestFault (nothing changed) if the frame is not readable: the kernel's
    SIGSEGV."""
    restored = hook.sigreturn(True)
    if restored is None:
        raise GuestFault
    mask, selector = restored
    t.mask = mask & ~UNBLOCKABLE_BITS
    return selector


def die_by(sig: int) -> None:
    """End luatrap's process (the program's) by signal `sig`, as its default action."""
    restore_default_action(sig)
    change_signal_mask(SIG_UNBLOCK, bit(sig))
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)


def stop_by(sig: int) -> None:
    """Stop the process by `sig` (Ctrl-Z), as its default action; returns once continued."""
    restore_default_action(sig)
    change_signal_mask(SIG_UNBLOCK, bit(sig))
    os.kill(os.getpid(), sig)
    change_signal_mask(SIG_BLOCK, bit(sig))
