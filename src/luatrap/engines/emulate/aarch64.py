"""aarch64 guests on the x86_64 host: registers, start-up, signal frames, and the calls
whose numbers or structures differ from the host's.

Both are 64-bit Linux ABIs with the same errno values, signal numbers, ioctl numbers
and most structures, so a guest call is the host's call of the same name (generic
numbering: `openat`, no `open`) with the same arguments, made from the guest's
registers (number in x8, arguments x0-x5, result in x0). What differs is translated
here, as qemu-user's linux-user does: struct stat, struct epoll_event (packed on
x86_64), four O_* bits, clone's argument order, uname's machine, and the signal frame
(struct rt_sigframe with the FP/SIMD record). `-L DIR` names a sysroot whose files
stand in for the host's at the same absolute paths (the dynamic loader, libraries).
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import host
from luatrap.engines.emulate import signals as sig
from luatrap.engines.emulate.calls import OUTSIDE
from luatrap.engines.emulate.guest_arch import EM_AARCH64, GuestArch
from luatrap.engines.emulate.memory import GuestFault
from luatrap.engines.emulate.vdso import AARCH64_VDSO
from luatrap.syscalls import table
from luatrap.syscalls.compat import aarch64_open_flags_from_host, aarch64_open_flags_to_host

if TYPE_CHECKING:
    from luatrap.engines.emulate.cpu import Cpu
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread

# Unicorn's ids (include/unicorn/arm64.h; tests check them against the unicorn package).
UC_ARCH_ARM64, UC_MODE_ARM, UC_CPU_ARM64_MAX = 2, 0, 3
X = (*range(199, 228), 1, 2)  # x0..x28, x29 (frame pointer), x30 (link register)
REG_SP, REG_PC, REG_TPIDR_EL0, REG_CPACR_EL1 = 4, 260, 262, 261
CPACR_FPEN = 3 << 20  # FP/SIMD instructions do not trap

SVC_0 = 0xD4000001

# What Linux lets EL0 do (arch/arm64/include/asm/sysreg.h's SCTLR_EL1 and CNTKCTL_EL1
# settings), by system register encoding (op0, op1, CRn, CRm, op2): cache maintenance
# (UCI), CTR_EL0 (UCT), DC ZVA (DZE), WFE without trapping (nTWE); the virtual counter.
REG_PSTATE = 265
SCTLR_EL1, CNTKCTL_EL1, MIDR_EL1 = (3, 0, 1, 0, 0), (3, 0, 14, 1, 0), (3, 0, 0, 0, 0)
SCTLR_EL0_ACCESS = 1 << 26 | 1 << 18 | 1 << 15 | 1 << 14
CNTKCTL_EL0VCTEN = 1 << 1
HWCAP_CPUID = 1 << 11  # EL0 may read ID registers: the kernel answers the trap
# An ID register read, `mrs Xt, S3_0_C0_Cm_n`, which the kernel answers for EL0 (its
# emulate_mrs), with the fields it shows as (visible bits of the CPU's value, bits set);
# by (CRm, op2). Left out, as luatrap's CPU does not give them to programs: SVE, SME,
# MTE, BTI, pointer authentication. Any other register of CRm 2-7 reads as 0.
MRS_ID_SPACE, MRS_ID_MASK = 0xD5380000, 0xFFFFF000
UNDEFINED_INSTRUCTION = 1  # Unicorn's EXCP_UDEF
MPIDR_SAFE = 1 << 31
EL0_ID_FIELDS = {
    (4, 0): (0x000F_0000_00FF_0000, 0x11),  # ID_AA64PFR0: FP, AdvSIMD, DIT; EL0, EL1
    (5, 0): (0, 0x6),                        # ID_AA64DFR0: debug architecture v8
    (6, 0): (0xF0FF_FFFF_F0FF_FFF0, 0),      # ID_AA64ISAR0: crypto, atomics, DP, FHM, ...
    (6, 1): (0x00FF_F0FF_00FF_F00F, 0),      # ID_AA64ISAR1: DPB, JSCVT, FCMA, LRCPC, ...
    (7, 0): (0, 0xFF00_0000),                # ID_AA64MMFR0: as the kernel, TGran4/64 0xf
}

# struct rt_sigframe: siginfo, ucontext with its sigcontext (src/core/emulate_frames.c)
FRAME_SIZE = 4688

# HWCAP bits of what Unicorn's "max" CPU runs: fp, asimd, aes, pmull, sha1, sha2, crc32,
# atomics (LSE), fphp, asimdhp, asimdrdm, jscvt, fcma, lrcpc, dcpop, sha3, sm3, sm4,
# asimddp, sha512 (arch/arm64/include/uapi/asm/hwcap.h).
HWCAP = (1 | 2 | 8 | 16 | 32 | 64 | 128 | 256 | 512 | 1024 | 1 << 12 | 1 << 13 | 1 << 14
         | 1 << 15 | 1 << 16 | 1 << 17 | 1 << 18 | 1 << 19 | 1 << 20 | 1 << 21 | HWCAP_CPUID)

F_GETFL, F_SETFL = 3, 4

HOST_STAT = struct.Struct("<QQQIII4xQqqqqQqQqQ24x")  # x86_64 struct stat, 144 bytes
GUEST_STAT = struct.Struct("<QQIIIIQ8xqi4xqqQqQqQ8x")  # the generic struct stat, 128
HOST_EPOLL, GUEST_EPOLL = struct.Struct("<IQ"), struct.Struct("<I4xQ")
UTS_MACHINE = 4 * 65  # struct utsname's machine field


def stat_to_guest(raw: bytes) -> bytes:
    (dev, ino, nlink, mode, uid, gid, rdev, size, blksize, blocks, at, atn, mt, mtn, ct,
     ctn) = HOST_STAT.unpack(raw)
    return GUEST_STAT.pack(dev, ino, mode, nlink, uid, gid, rdev, size, blksize, blocks,
                           at, atn, mt, mtn, ct, ctn)


class Aarch64(GuestArch):
    """An aarch64 Linux program, run on Unicorn's ARMv8 "max" CPU at EL0."""

    name = "aarch64"
    elf_machine = EM_AARCH64
    uc_arch, uc_mode, cpu_model = UC_ARCH_ARM64, UC_MODE_ARM, UC_CPU_ARM64_MAX
    uc_page_size = 4096  # the host's: Unicorn's ARM default (1 kB) thrashes its TLB
    exit_check = "check_exit_request_aarch64"
    PC, SP, RESULT, TLS = REG_PC, REG_SP, X[0], REG_TPIDR_EL0
    syscalls = table.AARCH64
    platform = b"aarch64"
    hwcap, hwcap2 = HWCAP, 0
    min_signal_stack = FRAME_SIZE + 32  # and a frame record, 16-aligned, as the kernel's
    audit_arch = 0xC00000B7  # AUDIT_ARCH_AARCH64
    user_top = 1 << 48
    # arm64's ELF_ET_DYN_BASE (2/3 of 48 bits) lies beyond the x86_64 host's 47-bit user
    # space: x86_64's stands in for it, with arm64's randomness.
    program_base = GuestArch.program_base
    mmap_rnd_bits = 18
    translates = True
    vdso = AARCH64_VDSO
    handler_selector = 0
    # Unicorn's exception numbers (target/arm/cpu.h): undefined instruction, breakpoint
    FAULT_SIGNALS = {UNDEFINED_INSTRUCTION: (signal.SIGILL, 1), 7: (signal.SIGTRAP, 1),
                     4: (signal.SIGSEGV, 1), 3: (signal.SIGSEGV, 1)}

    def __init__(self) -> None:
        self.sigreturn_code = 0  # the vDSO's __kernel_rt_sigreturn
        self.sysroot: str | None = None

    def took_fault(self, cpu: Cpu) -> None:
        """ARM's CPU keeps no fault in flight."""

    def faults_without_page(self, addr: int) -> bool:
        return False  # any address misses a page: SEGV_MAPERR, with the address

    def prepare(self, cpu: Cpu) -> None:
        cpu.write(REG_CPACR_EL1, CPACR_FPEN)

    def enter_program(self, emu: Emulator, entry: int) -> None:
        """Start at `entry` at EL0, as the kernel returns to a program (Unicorn's CPU
        starts at EL1), with what Linux lets EL0 do. The system register write comes
        last: it makes Unicorn recompute the exception level that translation uses."""
        cpu = emu.cpu
        cpu.write(REG_PSTATE, 0)  # EL0t, no interrupt masked
        cpu.write_system_register(
            CNTKCTL_EL1, cpu.read_system_register(CNTKCTL_EL1) | CNTKCTL_EL0VCTEN)
        cpu.write_system_register(
            SCTLR_EL1, cpu.read_system_register(SCTLR_EL1) | SCTLR_EL0_ACCESS)
        cpu.write(self.PC, entry)

    def set_code_segment(self, emu: Emulator, selector: int) -> None:
        """aarch64 has one mode for a program."""

    def answers_trap(self, cpu: Cpu, vector: int) -> bool:
        """An ID register read traps at EL0, and the kernel answers it (emulate_mrs):
        so does this, with the fields the kernel shows, and moves on. False: the
        undefined instruction is the program's SIGILL."""
        if vector != UNDEFINED_INSTRUCTION:
            return False
        pc = cpu.read(REG_PC)
        insn = int.from_bytes(ctypes.string_at(pc, 4), "little")
        if insn & MRS_ID_MASK != MRS_ID_SPACE:
            return False
        crm, op2, rt = insn >> 8 & 0xF, insn >> 5 & 7, insn & 0x1F
        if crm == 0:
            if op2 not in (0, 5, 6):
                return False
            value = {0: cpu.read_system_register(MIDR_EL1), 5: MPIDR_SAFE, 6: 0}[op2]
        elif crm == 1:
            return False  # the AArch32 registers there are not the kernel's to answer
        else:
            visible, fixed = EL0_ID_FIELDS.get((crm, op2), (0, 0))
            value = cpu.read_system_register((3, 0, 0, crm, op2)) & visible | fixed
        if rt != 31:  # xzr
            cpu.write(X[rt], value)
        cpu.write(REG_PC, pc + 4)
        return True

    def vdso_loaded(self, symbols: dict[str, int]) -> None:
        self.sigreturn_code = symbols["__kernel_rt_sigreturn"]

    def host_numbers(self) -> dict[int, int]:
        """By name; not the calls translated here (the C hook leaves them to Python,
        the sysroot's path lookups included)."""
        translated = self.calls()
        out = {}
        for s in self.syscalls.all:
            host_call = table.X86_64.by_name(s.name)
            if host_call is not None and s.nr not in translated:
                out[s.nr] = host_call.nr
        return out

    def calls(self) -> dict[int, object]:
        return translations(bool(self.sysroot))

    def after_syscall(self, cpu: Cpu) -> int:
        return cpu.read(REG_PC)  # an `svc` has already advanced the pc

    def is_after_syscall(self, pc: int) -> bool:
        return ctypes.string_at(pc - 4, 4) == SVC_0.to_bytes(4, "little")

    def restart(self, cpu: Cpu, nr: int, first_arg: int) -> None:
        cpu.write(REG_PC, cpu.read(REG_PC) - 4)  # x8 still holds the number
        cpu.write(X[0], first_arg)  # x0, which the result overwrote

    def handler_return(self, act: sig.Action) -> int:
        """A handler returns to its restorer, if sigaction gave one, else to the
        vDSO's __kernel_rt_sigreturn (as the kernel has it)."""
        return act.restorer if act.flags & sig.SA_RESTORER else self.sigreturn_code

    # -- file names under -L -------------------------------------------------------
    def in_sysroot(self, path: bytes) -> bytes:
        """An absolute path as the guest means it: the sysroot's file if it has one."""
        if self.sysroot and path.startswith(b"/"):
            candidate = os.fsencode(self.sysroot) + path
            if os.path.lexists(candidate):
                return candidate
        return path


# -- calls translated in Python ------------------------------------------------------
def _host_nr(name: str) -> int:
    return table.X86_64.by_name(name).nr


def _finish(t: GuestThread, result: object, convert) -> object:
    """Convert a host call's result, now or (if it is made outside the CPU) after."""
    if result is OUTSIDE:
        t.then = convert
        return OUTSIDE
    return convert(result)


def _path_arg(emu: Emulator, t: GuestThread, addr: int) -> int:
    """A guest path argument for the host: its address, or (under -L, when the sysroot
    has that file) the address of the sysroot's path, kept alive by the thread until
    its next call."""
    arch = emu.arch
    if not arch.sysroot or not addr:
        return addr
    try:
        path = emu.memory.read_string(addr, 4096)
    except GuestFault:
        return addr  # the host call's own check answers EFAULT
    mapped = arch.in_sysroot(path)
    if mapped is path:
        return addr
    t.path_buffer = ctypes.create_string_buffer(mapped)
    return ctypes.addressof(t.path_buffer)


def openat(emu: Emulator, t: GuestThread, dirfd: int, path: int, flags: int, mode: int,
           *_) -> object:
    refused = emu.refused("openat", (dirfd, path, flags, mode, 0, 0))
    if refused:
        return refused
    args = [dirfd, _path_arg(emu, t, path), aarch64_open_flags_to_host(flags), mode, 0, 0]
    return emu.perform_host(t, _host_nr("openat"), args, internal=True)


def openat2(emu: Emulator, t: GuestThread, dirfd: int, path: int, how: int, size: int,
            *_) -> object:
    """struct open_how's flags (its first field) in the host's O_* bits."""
    refused = emu.refused("openat2", (dirfd, path, how, size, 0, 0))
    if refused:
        return refused
    if 8 <= size <= host.PAGE:  # else the kernel's own EINVAL/E2BIG
        raw = bytearray(emu.memory.read(how, size))
        flags = int.from_bytes(raw[:8], "little")
        raw[:8] = aarch64_open_flags_to_host(flags).to_bytes(8, "little")
        t.scratch = ctypes.create_string_buffer(bytes(raw), size)
        how = ctypes.addressof(t.scratch)
    args = [dirfd, _path_arg(emu, t, path), how, size, 0, 0]
    return emu.perform_host(t, _host_nr("openat2"), args, internal=True)


def fcntl(emu: Emulator, t: GuestThread, fd: int, cmd: int, arg: int, *rest) -> object:
    cmd32 = cmd & 0xFFFFFFFF
    if cmd32 == F_SETFL:
        arg = aarch64_open_flags_to_host(arg)
    result = emu.perform_host(t, _host_nr("fcntl"), [fd, cmd, arg, *rest[:3]])
    if cmd32 == F_GETFL:
        return _finish(t, result, lambda r: aarch64_open_flags_from_host(r) if r >= 0 else r)
    return result


def _stat_into(emu: Emulator, nr: int, args: list[int], where: int, buf: int) -> int:
    """Make a stat call into a host buffer and write the guest's struct stat."""
    scratch = ctypes.create_string_buffer(HOST_STAT.size)
    args[where] = ctypes.addressof(scratch)
    result = host.syscall(nr, *args)
    if result == 0:
        try:
            emu.memory.write(buf, stat_to_guest(scratch.raw))
        except GuestFault:
            return -errno.EFAULT
    return result


def fstat(emu: Emulator, t: GuestThread, fd: int, buf: int, *_) -> int:
    refused = emu.refused("fstat", (fd, buf, 0, 0, 0, 0))
    return refused or _stat_into(emu, _host_nr("fstat"), [fd, 0, 0, 0, 0, 0], 1, buf)


def newfstatat(emu: Emulator, t: GuestThread, dirfd: int, path: int, buf: int, flags: int,
               *_) -> int:
    refused = emu.refused("newfstatat", (dirfd, path, buf, flags, 0, 0))
    if refused:
        return refused
    args = [dirfd, _path_arg(emu, t, path), 0, flags, 0, 0]
    return _stat_into(emu, _host_nr("newfstatat"), args, 2, buf)


def epoll_ctl(emu: Emulator, t: GuestThread, epfd: int, op: int, fd: int, event: int,
              *_) -> int:
    refused = emu.refused("epoll_ctl", (epfd, op, fd, 0, 0, 0))
    if refused:
        return refused
    scratch = None
    if event:
        try:
            events, data = GUEST_EPOLL.unpack(emu.memory.read(event, GUEST_EPOLL.size))
        except GuestFault:
            return -errno.EFAULT
        scratch = ctypes.create_string_buffer(HOST_EPOLL.pack(events, data))
    return host.syscall(_host_nr("epoll_ctl"), epfd, op, fd,
                        ctypes.addressof(scratch) if scratch else 0, 0, 0)


def _epoll_wait(emu: Emulator, t: GuestThread, name: str, args: list[int]) -> object:
    events, maxevents = args[1], args[2]
    refused = emu.refused(name, (args[0], 0, 0, 0, 0, 0))
    if refused:
        return refused
    if not 0 < maxevents <= (1 << 31) // HOST_EPOLL.size:
        return -errno.EINVAL
    if not emu.memory.covers(events, events + maxevents * GUEST_EPOLL.size):
        return -errno.EFAULT
    scratch = ctypes.create_string_buffer(maxevents * HOST_EPOLL.size)
    t.scratch = scratch  # alive until the call (maybe made outside the CPU) ends
    args = list(args)
    args[1] = ctypes.addressof(scratch)

    def convert(result: int) -> int:
        if result > 0:
            raw = scratch.raw
            out = b"".join(GUEST_EPOLL.pack(*HOST_EPOLL.unpack_from(raw, i * HOST_EPOLL.size))
                           for i in range(result))
            try:
                emu.memory.write(events, out)
            except GuestFault:
                return -errno.EFAULT
        return result
    return _finish(t, emu.perform_host(t, _host_nr(name), args, internal=True), convert)


def epoll_pwait(emu: Emulator, t: GuestThread, *args: int) -> object:
    return _epoll_wait(emu, t, "epoll_pwait", list(args))


def epoll_pwait2(emu: Emulator, t: GuestThread, *args: int) -> object:
    return _epoll_wait(emu, t, "epoll_pwait2", list(args))


def clone(emu: Emulator, t: GuestThread, flags: int, stack: int, ptid: int, tls: int,
          ctid: int, *_) -> object:
    """arm64's clone takes tls before child_tidptr (x86_64's order is the reverse)."""
    return emu.perform_host(t, _host_nr("clone"), [flags, stack, ptid, ctid, tls, 0])


def uname(emu: Emulator, t: GuestThread, buf: int, *_) -> int:
    result = emu.perform_host(t, _host_nr("uname"), [buf, 0, 0, 0, 0, 0])
    if result == 0:
        emu.memory.write(buf + UTS_MACHINE, b"aarch64".ljust(65, b"\0"))
    return result


def _with_path(name: str, where: int):
    """A call naming a path, looked up in the sysroot first (as qemu-user's -L)."""
    def call(emu: Emulator, t: GuestThread, *args: int) -> object:
        refused = emu.refused(name, args)
        if refused:
            return refused
        args = list(args)
        args[where] = _path_arg(emu, t, args[where])
        return emu.perform_host(t, _host_nr(name), args, internal=True)
    return call


TRANSLATED = {
    "openat": openat, "openat2": openat2, "fcntl": fcntl, "fstat": fstat, "newfstatat": newfstatat,
    "epoll_ctl": epoll_ctl, "epoll_pwait": epoll_pwait, "epoll_pwait2": epoll_pwait2,
    "clone": clone, "uname": uname,
}
# With a sysroot (-L), these look there first as well.
SYSROOT_PATHS = {"faccessat": 1, "faccessat2": 1, "readlinkat": 1, "statx": 1}


def translations(sysroot: bool) -> dict[int, object]:
    """Guest call number -> its translation, for the calls that need one."""
    found = dict(TRANSLATED)
    if sysroot:
        found |= {name: _with_path(name, where) for name, where in SYSROOT_PATHS.items()}
    return {table.AARCH64.by_name(name).nr: fn for name, fn in found.items()}
