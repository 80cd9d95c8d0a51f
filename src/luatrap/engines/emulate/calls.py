"""The system calls the emulate engine answers itself, one function each.

Everything else is forwarded to the host kernel as it is. These are the calls that,
forwarded, would act on luatrap's own process instead of the guest's view of it: its
memory map, its thread-local storage, its signal handlers and mask, its threads, its
exit, its program image, and luatrap's own file descriptors.
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import os
import signal
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import cpu as regs
from luatrap.engines.emulate import host, ldt, loader, robust, rseq
from luatrap.engines.emulate import signals as sig
from luatrap.engines.emulate.memory import (
    MAP_32BIT,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    GuestFault,
    GuestMemory,
)
from luatrap.syscalls import table as syscall_table

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread

CLONE_VM, CLONE_VFORK, CLONE_SETTLS = 0x100, 0x4000, 0x80000
CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x100000, 0x200000, 0x1000000
CLONE_THREAD = 0x10000
ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
PR_GET_SECCOMP, PR_SET_SECCOMP = 21, 22
SFD_NONBLOCK, SFD_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
MAX_ARGS = 1 << 16
PPOLL = syscall_table.by_name("ppoll").nr
RT_SIGTIMEDWAIT = syscall_table.by_name("rt_sigtimedwait").nr
OUTSIDE = object()  # a call's answer: make it again without holding the CPU (it may block)
DONE = object()  # a call's answer: it set the registers itself, there is no result to write


def brk(emu: Emulator, t: GuestThread, addr: int, *_) -> int:
    return emu.memory.set_brk(addr)


def mmap_(emu: Emulator, t: GuestThread, addr, length, prot, flags, fd, off) -> int:
    return emu.memory.mmap(addr, length, prot, flags, fd, off)


def mmap32(emu: Emulator, t: GuestThread, addr, length, prot, flags, fd, off) -> int:
    """mmap for a 32-bit ABI's call (x32, or i386 through the two below): a new mapping
    must lie below 4 GiB, where the caller's pointers reach. The host's MAP_32BIT area
    (below 2 GiB) stands for the kernel's own 32-bit area, which ends near 4 GiB."""
    if not flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        flags |= MAP_32BIT
    return emu.memory.mmap(addr, length, prot, flags, fd, off)


def mmap2_i386(emu: Emulator, t: GuestThread, addr, length, prot, flags, fd, pages) -> int:
    """i386 mmap2: the offset in pages, the descriptor a 32-bit int."""
    return mmap32(emu, t, addr, length, prot, flags, int32(fd), pages * host.PAGE)


def old_mmap_i386(emu: Emulator, t: GuestThread, args: int, *_) -> int:
    """i386 mmap (old_mmap): its six arguments in a 32-bit array."""
    addr, length, prot, flags, fd, off = struct.unpack("<6I", emu.memory.read(args, 24))
    if off & (host.PAGE - 1):
        return -errno.EINVAL
    return mmap32(emu, t, addr, length, prot, flags, int32(fd), off)


def int32(value: int) -> int:
    return (value & 0xFFFFFFFF ^ 0x80000000) - 0x80000000


def munmap(emu: Emulator, t: GuestThread, addr: int, length: int, *_) -> int:
    return emu.memory.munmap(addr, length)


def mprotect(emu: Emulator, t: GuestThread, addr: int, length: int, prot: int, *_) -> int:
    return emu.memory.mprotect(addr, length, prot)


def pkey_mprotect(emu: Emulator, t: GuestThread, addr, length, prot, *_) -> int:
    return emu.memory.mprotect(addr, length, prot)


def mremap(emu: Emulator, t: GuestThread, old, old_len, new_len, flags, new, *_) -> int:
    return emu.memory.mremap(old, old_len, new_len, flags, new)


def madvise(emu: Emulator, t: GuestThread, addr: int, length: int, advice: int, *_) -> int:
    if not emu.memory.covers(addr, host.page_up(addr + length)):
        return -errno.ENOMEM
    return host.syscall(28, addr, length, advice, 0, 0, 0)


def shmat(emu: Emulator, t: GuestThread, shmid: int, addr: int, flags: int, *_) -> int:
    if addr and not emu.memory.covers(addr, addr + 1):
        return -errno.EINVAL
    result = host.syscall(30, shmid, addr, flags, 0, 0, 0)
    if not host.failed(result):
        buf = ctypes.create_string_buffer(112)  # struct shmid_ds; shm_segsz at 48
        host.syscall(31, shmid, 2, ctypes.addressof(buf), 0, 0, 0)  # IPC_STAT
        size = struct.unpack_from("<Q", buf.raw, 48)[0]
        prot = mmap.PROT_READ | (0 if flags & 0o10000 else mmap.PROT_WRITE)  # SHM_RDONLY
        emu.memory.record(result, result + size, prot)
        emu.shm_sizes[result] = size
    return result


def shmdt(emu: Emulator, t: GuestThread, addr: int, *_) -> int:
    size = emu.shm_sizes.pop(addr, None)
    if size is None:
        return -errno.EINVAL
    result = host.syscall(67, addr, 0, 0, 0, 0, 0)
    emu.memory.forget(addr, host.page_up(addr + size))
    return result


def arch_prctl(emu: Emulator, t: GuestThread, code: int, addr: int, *_) -> int:
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        emu.cpu.write(regs.FS_BASE if code == ARCH_SET_FS else regs.GS_BASE, addr)
        return 0
    if code in (ARCH_GET_FS, ARCH_GET_GS):
        emu.memory.write_u64(addr, emu.cpu.read(regs.FS_BASE if code == ARCH_GET_FS
                                                 else regs.GS_BASE))
        return 0
    return -errno.EINVAL


def set_tid_address(emu: Emulator, t: GuestThread, addr: int, *_) -> int:
    t.clear_child_tid = addr
    return t.tid


def enosys(emu: Emulator, t: GuestThread, *_) -> int:
    return -errno.ENOSYS


def exit_(emu: Emulator, t: GuestThread, code: int, *_) -> object:
    t.exit_code = code & 0xFF
    emu.cpu.stop()
    return DONE


def exit_group(emu: Emulator, t: GuestThread, code: int, *_) -> object:
    emu.exit_process(code & 0xFF)


def prctl(emu: Emulator, t: GuestThread, option: int, *args) -> int:
    if option in (PR_GET_SECCOMP, PR_SET_SECCOMP):  # the guest's own (seccomp.py)
        return emu.seccomp.prctl(t, option & 0xFFFFFFFF, args[0], args[1])
    return host.syscall(157, option, *args)


def seccomp(emu: Emulator, t: GuestThread, op: int, flags: int, uargs: int, *_) -> int:
    return emu.seccomp.seccomp(t, op, flags, uargs)


# -- signals -------------------------------------------------------------------------
def rt_sigaction(emu: Emulator, t: GuestThread, signo: int, new: int, old: int, size, *_) -> int:
    return emu.signals.sigaction(signo, new, old) if size == 8 else -errno.EINVAL


def rt_sigprocmask(emu: Emulator, t: GuestThread, how: int, new: int, old: int, size, *_) -> int:
    result = emu.signals.set_mask(t, how, new, old) if size == 8 else -errno.EINVAL
    if emu.signals.pending_for(t):
        emu.cpu.stop()
    return result


def rt_sigpending(emu: Emulator, t: GuestThread, out: int, size: int, *_) -> int:
    emu.memory.write_u64(out, (t.pending | emu.signals.process_pending) & t.mask)
    return 0


def rt_sigreturn(emu: Emulator, t: GuestThread, *_) -> object:
    emu.sigreturn(t)  # every register is the frame's, the result register too
    if emu.tracing:  # what the kernel returns: that register, as the frame restored it
        result = emu.cpu.read(emu.arch.RESULT)
        emu.session.on_result(t.tid, result - (1 << 64) if result >> 63 else result)
    return DONE


def rt_sigsuspend(emu: Emulator, t: GuestThread, mask: int, size: int, *_) -> object:
    """Wait under `mask` for a signal; its handler's frame keeps the mask from before
    (as the kernel does), so the old mask is back once the handler returns."""
    new_mask = emu.memory.read_u64(mask) & ~sig.UNBLOCKABLE_BITS
    t.saved_mask, t.mask = t.mask, new_mask
    return emu.perform_host(t, 34, [0] * 6, internal=True)  # pause(2), which a kick interrupts


def rt_sigtimedwait(emu: Emulator, t: GuestThread, wanted: int, info: int, timeout: int,
                    size: int, *_) -> object:
    """Take a signal of the set `wanted` from the guest's pending ones, waiting up to
    `timeout` for one: the signals reach luatrap's watcher, never a host thread's own
    sigtimedwait, so the wait is a ppoll(2) that the watcher's kick ends."""
    if size != 8:
        return -errno.EINVAL
    wanted = emu.memory.read_u64(wanted) & ~sig.UNBLOCKABLE_BITS
    limit = emu.memory.read(timeout, 16) if timeout else None

    def take(result: int) -> int:
        if t.saved_mask is not None:
            t.mask, t.saved_mask = t.saved_mask, None
        signo, siginfo = emu.signals.take(t, among=wanted)
        if signo:
            t.interrupted = None
            if info:
                try:
                    emu.memory.write(info, siginfo or sig.make_info(signo))
                except GuestFault:
                    return -errno.EFAULT
            return signo
        if result == -errno.EINTR:
            t.interrupted = RT_SIGTIMEDWAIT  # never restarted
            return result
        return -errno.EAGAIN  # the time ran out

    if emu.signals.take(t, among=wanted, peek=True)[0] or limit == bytes(16):
        return take(0)
    t.saved_mask = t.mask  # while waiting, the set counts as unblocked: the watcher kicks
    t.mask &= ~wanted
    t.wait_limit = ctypes.create_string_buffer(limit or bytes(16), 16)  # ppoll writes it
    args = [0, 0, ctypes.addressof(t.wait_limit) if limit else 0, 0, 8, 0]
    result = emu.perform_host(t, PPOLL, args, internal=True)
    if result is OUTSIDE:
        t.then = take
        return OUTSIDE
    return take(result)


def signalfd(emu: Emulator, t: GuestThread, fd: int, mask: int, size: int, *_) -> int:
    return signalfd4(emu, t, fd, mask, size, 0)


def signalfd4(emu: Emulator, t: GuestThread, fd: int, mask: int, size: int, flags: int,
              *_) -> int:
    """signalfd(2): luatrap reads the process's signals itself, so a real signalfd would
    never see one. The guest gets the read end of a pipe; each signal of the set that
    arrives while blocked is written there as a struct signalfd_siginfo (signals.py)."""
    if size != 8 or flags & ~(SFD_NONBLOCK | SFD_CLOEXEC):
        return -errno.EINVAL
    wanted = emu.memory.read_u64(mask) & ~sig.UNBLOCKABLE_BITS
    if fd & 0xFFFFFFFF != 0xFFFFFFFF:  # a new set for an existing one
        if fd not in emu.signals.signalfds:
            return -errno.EINVAL
        emu.signals.signalfds[fd][0] = wanted
        return fd
    read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    os.set_blocking(read_end, not flags & SFD_NONBLOCK)
    os.set_inheritable(read_end, not flags & SFD_CLOEXEC)
    emu.signals.signalfds[read_end] = [wanted, emu.keep_fd(write_end)]
    return read_end


def sigaltstack(emu: Emulator, t: GuestThread, new: int, old: int, *_) -> int:
    sp, size, flags = t.altstack
    on = sp <= emu.cpu.read(emu.arch.SP) < sp + size
    if old:
        emu.memory.write(old, struct.pack("<QiiQ", sp, (sig.SS_ONSTACK if on else 0)
                                          | (flags & 2), 0, size))
    if new:
        if on:
            return -errno.EPERM
        nsp, nflags, _, nsize = struct.unpack("<QiiQ", emu.memory.read(new, 24))
        t.altstack = (nsp, nsize, nflags)
    return 0


SIGEV_SIGNAL, SIGEV_THREAD_ID = 0, 4
TIMER_CREATE = syscall_table.by_name("timer_create").nr
TIMER_DELETE = syscall_table.by_name("timer_delete").nr


def timer_create(emu: Emulator, t: GuestThread, clock: int, event: int, created: int,
                 *_) -> int:
    """A timer that signals one thread (SIGEV_THREAD_ID, as glibc's SIGEV_THREAD
    timers do) signals the process on the host instead, and the watcher hands its
    signal to that thread: a host thread's own pending signals are out of the
    signalfd's reach. Its siginfo names the timer, so the guest sees no difference."""
    refused = emu.refused("timer_create", (clock, event, created, 0, 0, 0))
    if refused or not event:
        return refused or host.syscall(TIMER_CREATE, clock, event, created, 0, 0, 0)
    spec = bytearray(emu.memory.read(event, 64))
    notify, tid = struct.unpack_from("<ii", spec, 12)
    if notify != SIGEV_THREAD_ID:
        return host.syscall(TIMER_CREATE, clock, event, created, 0, 0, 0)
    if not any(x.tid == tid for x in emu.threads):
        return -errno.EINVAL  # the kernel's answer for a thread of another process
    struct.pack_into("<i", spec, 12, SIGEV_SIGNAL)
    copy = ctypes.create_string_buffer(bytes(spec), len(spec))
    result = host.syscall(TIMER_CREATE, clock, ctypes.addressof(copy), created, 0, 0, 0)
    if result == 0:
        timer = struct.unpack("<i", emu.memory.read(created, 4))[0]
        emu.signals.thread_timers[timer] = tid
    return result


def timer_delete(emu: Emulator, t: GuestThread, timer: int, *_) -> int:
    result = host.syscall(TIMER_DELETE, timer, 0, 0, 0, 0, 0)
    if result == 0:
        emu.signals.thread_timers.pop(timer, None)
    return result


def kill(emu: Emulator, t: GuestThread, pid: int, signo: int, *_) -> int:
    """kill(2) of luatrap's own process goes to the guest's handlers directly."""
    if pid != os.getpid():
        return host.syscall(62, pid, signo, 0, 0, 0, 0)
    return _signal_self(emu, signo, None, 0)  # SI_USER


def tgkill(emu: Emulator, t: GuestThread, tgid: int, tid: int, signo: int, *_) -> int:
    if tgid != os.getpid():
        return host.syscall(234, tgid, tid, signo, 0, 0, 0)
    return tkill(emu, t, tid, signo)


def tkill(emu: Emulator, t: GuestThread, tid: int, signo: int, *_) -> int:
    target = next((x for x in emu.threads if x.tid == tid), None)
    if target is None:
        return host.syscall(200, tid, signo, 0, 0, 0, 0)
    return _signal_self(emu, signo, target, -6)  # SI_TKILL


def pidfd_send_signal(emu: Emulator, t: GuestThread, pidfd: int, signo: int, info: int,
                      flags: int, *_) -> int:
    """A pidfd of luatrap's own process (the program's): as kill(2) of itself, so the
    signal is taken before the call returns, as the kernel delivers it."""
    if not info and not flags and _pid_of_pidfd(pidfd) == os.getpid():
        return _signal_self(emu, signo, None, 0)  # SI_USER
    refused = emu.refused("pidfd_send_signal", (pidfd, signo, info, flags, 0, 0))
    return refused or host.syscall(424, pidfd, signo, info, flags, 0, 0)


def _pid_of_pidfd(fd: int) -> int | None:
    """The process a pidfd refers to: a pidfd's fdinfo says (its Pid line); a /proc/PID
    directory, which the call takes too, is named by its path. None if neither."""
    fd &= 0xFFFFFFFF
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
            for line in f:
                if line.startswith(b"Pid:"):
                    return int(line.split()[1])
        target = os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, ValueError, IndexError):
        return None
    parts = target.split("/")
    return int(parts[2]) if len(parts) == 3 and parts[1] == "proc" and parts[2].isdigit() \
        else None


def _signal_self(emu: Emulator, signo: int, target: GuestThread | None, code: int) -> int:
    """A signal the program sends itself (to one thread, or None: the process)."""
    if signo == 0:
        return 0
    if signo not in sig.ALL and signo not in sig.UNCATCHABLE:
        return -errno.EINVAL
    if signo == signal.SIGKILL:
        emu.exit_process(None, signo)
    if signo == signal.SIGSTOP:
        return host.syscall(62, os.getpid(), signo, 0, 0, 0, 0)
    info = sig.make_info(signo, code, os.getpid(), os.getuid())
    chosen = emu.signals.post(signo, info, target, emu.threads)
    if chosen is not None:
        emu.kick(chosen)  # the caller itself takes it before its call returns
    return 0


# -- file descriptors luatrap keeps for itself ---------------------------------------
def close(emu: Emulator, t: GuestThread, fd: int, *_) -> int:
    if fd in emu.reserved_fds:
        return -errno.EBADF
    if emu.proc is not None and fd in emu.proc.fd_dirs:
        emu.proc.forget_listing(fd)
    reader = emu.signals.signalfds.pop(fd, None)
    if reader is not None:
        emu.reserved_fds.discard(reader[1])
        os.close(reader[1])
    return host.syscall(3, fd, 0, 0, 0, 0, 0)


def close_range(emu: Emulator, t: GuestThread, first: int, last: int, flags: int, *_) -> int:
    first, last = first & 0xFFFFFFFF, last & 0xFFFFFFFF
    for fd in sorted(f for f in emu.reserved_fds if first <= f <= last):
        if fd > first:
            result = host.syscall(436, first, fd - 1, flags, 0, 0, 0)
            if result:
                return result
        first = fd + 1
    if first > last:
        return 0
    return host.syscall(436, first, last, flags, 0, 0, 0)


def dup2(emu: Emulator, t: GuestThread, old: int, new: int, *_) -> int:
    return -errno.EBADF if new in emu.reserved_fds else host.syscall(33, old, new, 0, 0, 0, 0)


def dup3(emu: Emulator, t: GuestThread, old: int, new: int, flags: int, *_) -> int:
    return -errno.EBADF if new in emu.reserved_fds else host.syscall(292, old, new, flags, 0, 0, 0)


# -- threads and processes -------------------------------------------------------------
def clone(emu: Emulator, t: GuestThread, flags, stack, ptid, ctid, tls, *_) -> int:
    if flags & CLONE_THREAD:
        if not flags & CLONE_VM:
            return -errno.EINVAL
        return emu.clone_thread(t, flags, stack, ptid, ctid, tls)
    return emu.fork(t, flags, stack, ptid, ctid, tls)


def clone3(emu: Emulator, t: GuestThread, args: int, size: int, *_) -> int:
    """clone3(2): the same as clone, its arguments in a struct clone_args."""
    if size < 64:
        return -errno.EINVAL
    flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls = \
        struct.unpack("<8Q", emu.memory.read(args, 64))
    if pidfd or exit_signal not in (0, signal.SIGCHLD) or flags & 0x1000:  # CLONE_PIDFD
        return -errno.ENOSYS  # glibc then falls back to clone
    top = stack + stack_size if stack else 0
    return clone(emu, t, flags | exit_signal, top, parent_tid, child_tid, tls)


def fork(emu: Emulator, t: GuestThread, *_) -> int:
    return emu.fork(t, 0, 0, 0, 0, 0)


def vfork(emu: Emulator, t: GuestThread, *_) -> int:
    return emu.fork(t, CLONE_VM | CLONE_VFORK, 0, 0, 0, 0)


def execve(emu: Emulator, t: GuestThread, path: int, argv: int, envp: int, *_) -> int:
    memory = emu.memory
    name = emu.proc.path_of(memory.read_string(path).decode(errors="surrogateescape"))
    args = [a.decode(errors="surrogateescape") for a in _strings(memory, argv)]
    env = _strings(memory, envp)
    failure = loader.check_executable(name, emu.exec_state.get("sysroot"))
    if failure:
        return -failure
    return emu.exec_program(t, name, args, env)


AT_FDCWD, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH = -100, 0x100, 0x1000


def execveat(emu: Emulator, t: GuestThread, dirfd, path, argv, envp, flags, *_) -> int:
    """execveat (fexecve's call): the program named relative to a descriptor, or the
    descriptor itself. luatrap replaces itself before it loads the program, and a
    close-on-exec descriptor would be gone by then: the new luatrap gets a copy, which
    it closes once the program is loaded."""
    memory = emu.memory
    dirfd = ((dirfd & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000  # an int
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    name = emu.proc.path_of(memory.read_string(path).decode(errors="surrogateescape"))
    if not name and not flags & AT_EMPTY_PATH:
        return -errno.ENOENT
    if name.startswith("/") or dirfd == AT_FDCWD:
        target, copy = name or ".", None
    else:
        try:
            copy = os.dup(dirfd)
            os.set_inheritable(copy, True)  # unlike what fexecve's caller opened
        except OSError as e:
            return -e.errno
        target = f"/proc/self/fd/{copy}" + (f"/{name}" if name else "")
    if flags & AT_SYMLINK_NOFOLLOW and os.path.islink(target):
        failure = errno.ELOOP
    else:
        failure = loader.check_executable(target, emu.exec_state.get("sysroot"))
    if not failure:
        args = [a.decode(errors="surrogateescape") for a in _strings(memory, argv)]
        failure = -emu.exec_program(t, target, args, _strings(memory, envp), keep=copy)
    if copy is not None:
        os.close(copy)
    return -failure


def execve32(emu: Emulator, t: GuestThread, path: int, argv: int, envp: int, *_) -> int:
    """execve through `int 0x80` or x32: the same, with arrays of 32-bit pointers."""
    memory = emu.memory
    name = memory.read_string(path).decode(errors="surrogateescape")
    args = [a.decode(errors="surrogateescape") for a in _strings(memory, argv, 4)]
    failure = loader.check_executable(name)
    if failure:
        return -failure
    return emu.exec_program(t, name, args, _strings(memory, envp, 4))


def _strings(memory: GuestMemory, array: int, width: int = 8) -> list[bytes]:
    """The strings of a NULL-terminated array of pointers (argv, envp)."""
    out = []
    while array and len(out) < MAX_ARGS:
        ptr = int.from_bytes(memory.read(array, width), "little")
        if not ptr:
            break
        out.append(memory.read_string(ptr))
        array += width
    return out


EMULATED = {
    "brk": brk, "mmap": mmap_, "munmap": munmap, "mprotect": mprotect, "mremap": mremap,
    "pkey_mprotect": pkey_mprotect, "madvise": madvise, "shmat": shmat, "shmdt": shmdt,
    "arch_prctl": arch_prctl, "set_tid_address": set_tid_address,
    "set_robust_list": robust.set_robust_list, "get_robust_list": robust.get_robust_list,
    "rseq": rseq.rseq,
    "remap_file_pages": enosys,
    # The kernel would read and write wherever the submitted entries point, long after
    # any check: luatrap's own memory included. Programs fall back to plain calls.
    "io_uring_setup": enosys, "io_setup": enosys,
    # Another process's memory may be another luatrap's (a guest's parent or child), and
    # this process's is luatrap's: as qemu-user, no debugging calls (ENOSYS).
    "ptrace": enosys, "process_vm_readv": enosys, "process_vm_writev": enosys,
    "modify_ldt": ldt.modify_ldt, "seccomp": seccomp, "prctl": prctl,
    "exit": exit_, "exit_group": exit_group,
    "rt_sigaction": rt_sigaction, "rt_sigprocmask": rt_sigprocmask,
    "rt_sigpending": rt_sigpending, "rt_sigreturn": rt_sigreturn,
    "rt_sigsuspend": rt_sigsuspend, "rt_sigtimedwait": rt_sigtimedwait,
    "sigaltstack": sigaltstack, "signalfd": signalfd, "signalfd4": signalfd4,
    "kill": kill, "tgkill": tgkill, "tkill": tkill, "pidfd_send_signal": pidfd_send_signal,
    "timer_create": timer_create, "timer_delete": timer_delete,
    "clone3": clone3,
    "close": close, "close_range": close_range, "dup2": dup2, "dup3": dup3,
    "clone": clone, "fork": fork, "vfork": vfork, "execve": execve, "execveat": execveat,
}


# -- the other ways in: `int 0x80` (i386) and x32 ----------------------------------------
# A 32-bit or x32 call that would act on luatrap's own process (memory maps, signal
# handling, threads, processes, luatrap's fds) must not reach the host kernel. These
# take plain integers (or the same structures), as their x86_64 twin does, and get its
# emulation; execve reads 32-bit pointer arrays, mmap places below 4 GiB; every other
# emulated call (signal handlers, threads: their structures differ), and the i386-only
# ones, are ENOSYS.
FOREIGN_EMULATED = {name: EMULATED[name] for name in (
    "exit", "exit_group", "kill", "tkill", "tgkill", "close", "close_range", "dup2", "dup3",
    "fork", "vfork", "brk", "munmap", "mprotect", "madvise", "rt_sigprocmask",
    "rt_sigpending")} | {"execve": execve32, "mmap": mmap32}
# i386 calls of one x86_64 name but their own arguments, by i386 number.
I386_BY_NUMBER = {90: old_mmap_i386, 192: mmap2_i386}
I386_ONLY = {"ipc", "signal", "sigaction", "sgetmask", "ssetmask", "sigsuspend",
             "sigpending", "sigprocmask", "sigreturn", "set_thread_area", "get_thread_area",
             "vm86", "vm86old"}


def foreign_table(names: dict[int, str]) -> dict[int, object]:
    """For foreign call numbers (number -> x86_64 name): the handler of each one that the
    host kernel must not run."""
    return {nr: FOREIGN_EMULATED.get(name, enosys) for nr, name in names.items()
            if name in EMULATED or name in I386_ONLY}


def table() -> dict[int, object]:
    """System call number -> the function that emulates it."""
    return {syscall_table.by_name(name).nr: fn for name, fn in EMULATED.items()}


