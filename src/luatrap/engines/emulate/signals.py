"""Guest signals: dispositions, masks, delivery on the guest stack, rt_sigreturn.

Every host thread of luatrap blocks every signal, so the kernel leaves them pending until
the watcher thread reads them from a signalfd and routes each to a guest thread: it is
marked pending there, and the thread is interrupted (the CPU stopped if it is computing,
a KICK signal sent if it waits in the host kernel) to run its guest handler. The frame a
handler gets is the kernel's x86_64 rt_sigframe, so glibc's __restore_rt, siglongjmp and
handlers reading ucontext all work. A signal left at SIG_DFL acts on luatrap's process
itself, which is the program's process: it dies, stops, or ignores, as natively.
"""
from __future__ import annotations

import ctypes
import os
import signal
import struct
import threading

from luatrap.engines.emulate import cpu as regs
from luatrap.engines.emulate.host import libc
from luatrap.engines.emulate.memory import GuestMemory
from luatrap.engines.emulate.threads import GuestThread

KICK = signal.SIGRTMAX  # interrupts a host call of one guest thread (emulate_kick.c)
SIG_DFL, SIG_IGN = 0, 1
SA_SIGINFO, SA_ONSTACK, SA_RESTART = 0x4, 0x08000000, 0x10000000
SA_NODEFER, SA_RESETHAND, SA_RESTORER = 0x40000000, 0x80000000, 0x04000000
SS_ONSTACK, SS_DISABLE = 1, 2
SI_KERNEL = 0x80
IGNORED_BY_DEFAULT = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH, signal.SIGCONT}
STOP_BY_DEFAULT = {signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}
UNBLOCKABLE_BITS = (1 << (signal.SIGKILL - 1)) | (1 << (signal.SIGSTOP - 1))
ALL = {s for s in range(1, signal.SIGRTMAX + 1) if s not in UNCATCHABLE}
# what luatrap's threads can block (Python refuses glibc's own 32 and 33)
BLOCKABLE = {int(s) for s in signal.valid_signals()} - UNCATCHABLE
# struct rt_sigframe: pretcode, then ucontext (flags, link, stack_t, sigcontext, mask)
UC, UC_STACK, UC_MCONTEXT, UC_MASK, UC_SIZE = 8, 16, 40, 296, 304
SIGINFO_SIZE, FXSAVE_SIZE = 128, 512
# The most build_frame takes of an alternate stack (AT_MINSIGSTKSZ): the frame, the
# FXSAVE area and their alignments.
MIN_SIGNAL_STACK = (8 + UC_SIZE + SIGINFO_SIZE + FXSAVE_SIZE + 63 + 15 + 15) & ~15
FPSTATE_PTR = UC_MCONTEXT + 184  # sigcontext.fpstate


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
        self.on_post = lambda: None  # told after a signal is marked pending
        for sig in BLOCKABLE:  # what luatrap inherited ignored, the program inherits ignored
            if sig not in (signal.SIGPIPE, signal.SIGXFSZ, KICK) and _ignored(sig):
                self.actions[sig].handler = SIG_IGN

    def after_fork(self) -> None:
        """A forked child starts with no pending signals."""
        self.lock = threading.RLock()
        self.process_pending = 0
        self.info.clear()

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


def signalfd_record(info: bytes) -> bytes:
    """A siginfo_t as the struct signalfd_siginfo that reading a signalfd gives."""
    signo, err, code, _, pid, uid, value = struct.unpack("<iiiiIIQ", info[:32].ljust(32, b"\0"))
    status = ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000  # si_status / si_int
    return struct.pack("<IiiIIiIIIIiiQ", signo, err, code, pid, uid, 0, 0, 0, 0, 0, status,
                       status, value).ljust(SIGINFO_SIZE, b"\0")


def build_frame(cpu: regs.Cpu, memory: GuestMemory, t: GuestThread, sig: int, act: Action,
                info: bytes) -> None:
    """Enter the guest handler of `sig` as the kernel does: a rt_sigframe on the stack.
    GuestFault (nothing changed) if the stack cannot take it: the kernel's SIGSEGV."""
    rsp = cpu.read(regs.RSP)
    sp_base, size, flags = t.altstack
    on_alt = sp_base <= rsp < sp_base + size
    if act.flags & SA_ONSTACK and not flags & SS_DISABLE and not on_alt:
        sp = sp_base + size
    else:
        sp = rsp - 128  # the red zone
    fx = (sp - FXSAVE_SIZE) & ~63
    fxsave = bytearray(FXSAVE_SIZE)
    struct.pack_into("<I", fxsave, 24, cpu.read(regs.MXCSR) & 0xFFFFFFFF)
    xmm = cpu.cached_batch(regs.XMM_REGS, 16)
    xmm.load()
    fxsave[160:416] = xmm.raw
    frame = ((fx - (8 + UC_SIZE + SIGINFO_SIZE)) & ~15) - 8
    uc = frame + UC
    context = struct.pack("<18q", *cpu.cached_batch(regs.SIGCONTEXT_REGS).load())
    context += struct.pack("<HHHH", 0x33, 0, 0, 0x2b)
    old_mask = t.mask if t.saved_mask is None else t.saved_mask
    context += struct.pack("<QQQQQ", 0, 0, old_mask, 0, fx)
    stack_flags = (SS_ONSTACK if on_alt else 0) | (flags & SS_DISABLE)
    ucontext = struct.pack("<QQQiiQ", 0, 0, sp_base, stack_flags, 0, size)
    ucontext += context.ljust(256, b"\0") + struct.pack("<Q", old_mask)
    data = struct.pack("<Q", act.restorer) + ucontext + info
    memory.write(frame, data.ljust(fx - frame, b"\0") + fxsave)  # one write: one call
    t.saved_mask = None
    t.mask |= act.mask | (0 if act.flags & SA_NODEFER else bit(sig))
    if act.flags & SA_RESETHAND:
        act.handler = SIG_DFL
    for reg, value in ((regs.RSP, frame), (regs.RIP, act.handler), (regs.RDI, sig),
                       (regs.RSI, frame + 8 + UC_SIZE), (regs.RDX, uc), (regs.RAX, 0)):
        cpu.write(reg, value)
    cpu.write(regs.EFLAGS, cpu.read(regs.EFLAGS) & ~0x500)  # clear DF and TF


def sigreturn(cpu: regs.Cpu, memory: GuestMemory, t: GuestThread) -> None:
    """rt_sigreturn: restore what build_frame saved (the handler may have changed it).
    GuestFault (nothing changed) if the frame is not readable: the kernel's SIGSEGV."""
    uc = cpu.read(regs.RSP)  # the handler's `ret` popped pretcode
    ucontext = memory.read(uc, UC_SIZE)
    gregs = struct.unpack_from("<18Q", ucontext, UC_MCONTEXT)
    fx, = struct.unpack_from("<Q", ucontext, FPSTATE_PTR)
    mask, = struct.unpack_from("<Q", ucontext, UC_MASK)
    fxsave = memory.read(fx, FXSAVE_SIZE) if fx else None
    general = cpu.cached_batch(regs.SIGCONTEXT_REGS)
    general.raw = struct.pack("<18Q", *gregs)
    general.store()
    if fxsave:
        cpu.write(regs.MXCSR, struct.unpack_from("<I", fxsave, 24)[0])
        xmm = cpu.cached_batch(regs.XMM_REGS, 16)
        xmm.raw = fxsave[160:416]
        xmm.store()
    t.mask = mask & ~UNBLOCKABLE_BITS


def die_by(sig: int) -> None:
    """End luatrap's process (the program's) by signal `sig`, as its default action."""
    libc.signal(sig, ctypes.c_void_p(SIG_DFL))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    libc.raise_(sig) if hasattr(libc, "raise_") else os.kill(os.getpid(), sig)
    os._exit(128 + sig)


def stop_by(sig: int) -> None:
    """Stop the process by `sig` (Ctrl-Z), as its default action; returns once continued."""
    libc.signal(sig, ctypes.c_void_p(SIG_DFL))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
