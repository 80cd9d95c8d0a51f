"""Robust futexes: what the kernel does with a thread's robust list when it dies.

glibc registers each thread's list of held robust mutexes (set_robust_list); when the
thread dies holding one, the kernel marks it FUTEX_OWNER_DIED and wakes a waiter, whose
lock then returns EOWNERDEAD. The registration goes to the host kernel too (the guest
thread's host thread makes it), which covers a process that dies whole. A guest thread
that exits alone ends before its host thread does, and its joiner must find the list
already handled, as natively: so the list is walked here first, the kernel's way.
"""
from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import host
from luatrap.engines.emulate.memory import GuestFault

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread

HEAD_SIZE = 24  # struct robust_list_head: next, futex_offset, list_op_pending
FUTEX_WAITERS, FUTEX_OWNER_DIED, FUTEX_TID_MASK = 0x80000000, 0x40000000, 0x3FFFFFFF
LIST_LIMIT = 2048  # the kernel's ROBUST_LIST_LIMIT: a cyclic list ends here
NR_SET_ROBUST_LIST, NR_GET_ROBUST_LIST, NR_FUTEX, FUTEX_WAKE = 273, 274, 202, 1


def set_robust_list(emu: Emulator, t: GuestThread, head: int, size: int, *_) -> int:
    if size != HEAD_SIZE:
        return -errno.EINVAL
    result = host.syscall(NR_SET_ROBUST_LIST, head, size, 0, 0, 0, 0)
    if result == 0:
        t.robust_list = head
    return result


def get_robust_list(emu: Emulator, t: GuestThread, pid: int, head_ptr: int,
                    size_ptr: int, *_) -> int:
    pid = (pid + (1 << 31)) % (1 << 32) - (1 << 31)  # an int
    if pid == 0:
        target = t
    else:
        target = next((o for o in emu.threads if o.tid == pid), None)
        if target is None:
            return -errno.ESRCH  # (another process's: luatrap does not reach into it)
    try:
        emu.memory.write(head_ptr, struct.pack("<Q", target.robust_list))
        emu.memory.write(size_ptr, struct.pack("<Q", HEAD_SIZE))
    except GuestFault:
        return -errno.EFAULT
    return 0


def release_robust_futexes(emu: Emulator, t: GuestThread) -> None:
    """Guest thread `t` exits: each robust futex it still holds is marked
    FUTEX_OWNER_DIED and one waiter woken (the kernel's exit_robust_list). PI futexes
    are left to the kernel, which also knows them by this thread's id."""
    if not t.robust_list:
        return
    memory = emu.memory
    try:
        first, offset, pending = struct.unpack("<QqQ", memory.read(t.robust_list, HEAD_SIZE))
        entry = first
        for _ in range(LIST_LIMIT):
            if entry & ~1 == t.robust_list:
                break
            following = struct.unpack("<Q", memory.read(entry & ~1, 8))[0]
            if entry & ~1 != pending & ~1 and not entry & 1:
                _owner_died(emu, (entry & ~1) + offset, t.tid, pending=False)
            entry = following
        if pending and not pending & 1:
            _owner_died(emu, (pending & ~1) + offset, t.tid, pending=True)
    except GuestFault:
        pass  # a list the thread broke: the kernel stops walking it too


def _owner_died(emu: Emulator, addr: int, tid: int, pending: bool) -> None:
    """The kernel's handle_futex_death for one non-PI futex word."""
    memory = emu.memory
    word = struct.unpack("<I", memory.read(addr, 4))[0]
    if pending and word == 0:  # released, but the waiter was never woken
        host.syscall(NR_FUTEX, addr, FUTEX_WAKE, 1, 0, 0, 0)
        return
    if word & FUTEX_TID_MASK != tid:
        return
    # (the CPU is held: no guest thread of this process writes the word meanwhile)
    memory.write(addr, struct.pack("<I", (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED))
    if word & FUTEX_WAITERS:
        host.syscall(NR_FUTEX, addr, FUTEX_WAKE, 1, 0, 0, 0)
