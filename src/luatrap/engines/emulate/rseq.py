"""Restartable sequences (rseq(2)), as the kernel keeps them, on the one emulated CPU.

glibc registers every thread's `struct rseq` and reads the CPU number from it
(sched_getcpu); libraries with per-CPU data (tcmalloc, liburcu) run short critical
sections that the kernel aborts, sending the thread to the section's abort handler, if
the thread is preempted or takes a signal inside. Guest threads share one emulated CPU,
so the moments another guest thread may run are luatrap's own time-slice switches: at
those, and before a signal handler is entered, a thread inside a critical section is
moved to its abort address, with the kernel's checks, and its CPU number is brought up
to date (the host CPU its host thread is on, as getcpu(2) says).
"""
from __future__ import annotations

import ctypes
import errno
import signal
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import host
from luatrap.engines.emulate.memory import GuestFault

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread

ORIG_SIZE, FEATURE_SIZE, ALIGN = 32, 28, 32  # AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN
FLAG_UNREGISTER = 1
CPU_ID_UNINITIALIZED = 0xFFFFFFFF  # (u32) -1
RSEQ_CS = struct.Struct("<IIQQQ")  # version, flags, start_ip, post_commit_offset, abort_ip
NR_GETCPU = 309
_cpu = ctypes.c_uint()


def _host_cpu() -> int:
    host.syscall(NR_GETCPU, ctypes.addressof(_cpu), 0, 0, 0, 0, 0)
    return _cpu.value


def _write_ids(emu: Emulator, addr: int, cpu: int) -> None:
    """cpu_id_start and cpu_id, then node_id and mm_cid (the kernel's update)."""
    emu.memory.write(addr, struct.pack("<II", 0 if cpu == CPU_ID_UNINITIALIZED else cpu, cpu))
    emu.memory.write(addr + 20, struct.pack("<II", 0, 0))


def rseq(emu: Emulator, t: GuestThread, addr: int, length: int, flags: int, sig: int,
         *_) -> int:
    """rseq(2): register or unregister the calling thread's area."""
    length, flags, sig = length & 0xFFFFFFFF, flags & 0xFFFFFFFF, sig & 0xFFFFFFFF
    if flags & FLAG_UNREGISTER:
        if flags & ~FLAG_UNREGISTER or t.rseq is None or t.rseq[:2] != (addr, length):
            return -errno.EINVAL
        if t.rseq[2] != sig:
            return -errno.EPERM
        try:
            _write_ids(emu, addr, CPU_ID_UNINITIALIZED)
        except GuestFault:
            return -errno.EFAULT
        t.rseq = None
        return 0
    if flags:
        return -errno.EINVAL
    if t.rseq is not None:
        if t.rseq[:2] != (addr, length):
            return -errno.EINVAL
        return -errno.EPERM if t.rseq[2] != sig else -errno.EBUSY
    if (length < ORIG_SIZE or (length == ORIG_SIZE and addr % ORIG_SIZE)
            or (length != ORIG_SIZE and (addr % ALIGN or length < FEATURE_SIZE))):
        return -errno.EINVAL
    if not emu.memory.covers(addr, addr + length):
        return -errno.EFAULT
    t.rseq_cpu = _host_cpu()
    try:
        _write_ids(emu, addr, t.rseq_cpu)
    except GuestFault:
        return -errno.EFAULT
    t.rseq = (addr, length, sig)
    return 0


def interrupted(emu: Emulator, t: GuestThread, preempted: bool) -> None:
    """`t` was preempted, or is about to take a signal: if its pc is inside the critical
    section its area names, it goes on at the abort address instead (the kernel's
    rseq_ip_fixup); a malformed section ends the program by SIGSEGV, as the kernel's
    forced signal does. (On every signal: kept short.)"""
    if t.rseq is None:
        return
    addr, _, sig = t.rseq
    memory, arch = emu.memory, emu.arch
    try:
        cpu = _host_cpu() if preempted else t.rseq_cpu
        if cpu != t.rseq_cpu:
            _write_ids(emu, addr, cpu)
            t.rseq_cpu = cpu
        cs_ptr = struct.unpack("<Q", memory.read(addr + 8, 8))[0]
        if not cs_ptr:
            return
        version, _, start, length, abort = RSEQ_CS.unpack(memory.read(cs_ptr, RSEQ_CS.size))
        top = arch.user_top
        if (cs_ptr >= top or start >= top or start + length >= top or abort >= top
                or version > 0 or (abort - start) % (1 << 64) < length
                or struct.unpack("<I", memory.read(abort - 4, 4))[0] != sig):
            raise GuestFault
        pc = emu.cpu.read(arch.PC)
        memory.write(addr + 8, bytes(8))  # the kernel clears rseq_cs either way
        if (pc - start) % (1 << 64) < length:
            emu.cpu.write(arch.PC, abort)
    except GuestFault:
        emu.exit_process(None, signal.SIGSEGV)
