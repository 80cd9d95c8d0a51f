"""A guest's own seccomp: seccomp(2) and prctl(PR_SET_SECCOMP), as the kernel has them.

A filter the guest installs cannot go to the host kernel (it would filter luatrap), so
each guest thread keeps its filters here, newest first, as one bytes object the C hook
runs on every call of that thread before anything else (src/core/emulate_seccomp.c).
They pass to new threads, forked children and exec'd programs, as the kernel's do.
Strict mode is a filter too: read, write, exit and rt_sigreturn, else SIGKILL.
What the kernel would do with a filter's verdict is done here (a SIGSYS, a kill); the
errno and no-tracer verdicts the C hook answers itself.
"""
from __future__ import annotations

import errno
import signal
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import host
from luatrap.engines.emulate.memory import GuestFault
from luatrap.syscalls import bpf
from luatrap.syscalls.bpf import (
    AUDIT_ARCH_I386,
    RET_ALLOW,
    RET_ERRNO,
    RET_KILL_PROCESS,
    RET_KILL_THREAD,
    RET_LOG,
    RET_TRACE,
    RET_TRAP,
    RET_USER_NOTIF,
)

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread

SET_MODE_STRICT, SET_MODE_FILTER, GET_ACTION_AVAIL, GET_NOTIF_SIZES = 0, 1, 2, 3
FLAG_TSYNC, FLAG_LOG, FLAG_SPEC_ALLOW, FLAG_NEW_LISTENER = 1, 2, 4, 8
FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV = 16, 32
# A listener (user notification) would need a descriptor of luatrap's making: refused
# as a kernel that does not know the flag refuses it.
KNOWN_FLAGS = FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_TSYNC_ESRCH
MODE_DISABLED, MODE_STRICT, MODE_FILTER = 0, 1, 2
PR_GET_SECCOMP, PR_SET_SECCOMP, PR_GET_NO_NEW_PRIVS = 21, 22, 39
ACTIONS = {RET_KILL_PROCESS, RET_KILL_THREAD, RET_TRAP, RET_ERRNO, RET_USER_NOTIF,
           RET_TRACE, RET_LOG, RET_ALLOW}
ACTION_FULL, RET_DATA, MAX_ERRNO = 0xFFFF0000, 0xFFFF, 4095
MAX_INSNS, MAX_INSNS_PER_PATH = 4096, 32768
SYS_SECCOMP = 1  # SIGSYS's si_code
CAP_SYS_ADMIN = 21


def strict_filter(arch_id: int, allowed: tuple[int, ...]) -> bytes:
    """SECCOMP_MODE_STRICT as a filter: these four calls of the program's own
    architecture (or i386's four, for int 0x80), anything else kills."""
    own = [(bpf.LD_W_ABS, 0, 0, bpf.OFF_NR),
           *bpf.returns(dict.fromkeys(allowed, RET_ALLOW), RET_KILL_THREAD)]
    i386 = [(bpf.LD_W_ABS, 0, 0, bpf.OFF_NR),  # read, write, exit, sigreturn
            *bpf.returns(dict.fromkeys((3, 4, 1, 119), RET_ALLOW), RET_KILL_THREAD)]
    return bpf.pack([(bpf.LD_W_ABS, 0, 0, bpf.OFF_ARCH), (bpf.JEQ_K, 1, 0, arch_id),
                     (bpf.JA, 0, 0, len(own)), *own,
                     (bpf.JEQ_K, 1, 0, AUDIT_ARCH_I386), (bpf.JA, 0, 0, len(i386)), *i386,
                     (bpf.RET_K, 0, 0, RET_KILL_THREAD)])


class GuestSeccomp:
    """The guest's seccomp calls and the kernel's answer to a trap or kill verdict."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.used = False  # has any thread ever had a filter (the hook needs telling)?

    # -- the per-thread state --------------------------------------------------------
    def enter(self, t: GuestThread) -> None:
        """Guest thread `t` takes the CPU: its filters are the hook's."""
        if self.used:
            self.emu.hook.set_seccomp(t.seccomp, self.emu.guarded_seccomp_verdict)

    def restore(self, t: GuestThread, state: dict) -> None:
        """After execve: the filters the program had (they survive exec)."""
        if state.get("seccomp"):
            t.seccomp = bytes.fromhex(state["seccomp"])
            t.seccomp_mode = state.get("seccomp_mode", MODE_FILTER)
            self.used = True
            self.enter(t)

    def exec_state(self, t: GuestThread) -> dict:
        if not t.seccomp:
            return {}
        return {"seccomp": t.seccomp.hex(), "seccomp_mode": t.seccomp_mode}

    # -- the calls -------------------------------------------------------------------
    def seccomp(self, t: GuestThread, op: int, flags: int, uargs: int) -> int:
        op, flags = op & 0xFFFFFFFF, flags & 0xFFFFFFFF
        if op == SET_MODE_STRICT:
            return self.set_strict(t) if flags == 0 and uargs == 0 else -errno.EINVAL
        if op == SET_MODE_FILTER:
            return self.set_filter(t, flags, uargs)
        if op == GET_ACTION_AVAIL:
            if flags:
                return -errno.EINVAL
            try:
                action = int.from_bytes(self.emu.memory.read(uargs, 4), "little")
            except GuestFault:
                return -errno.EFAULT
            return 0 if action in ACTIONS else -errno.EOPNOTSUPP
        if op == GET_NOTIF_SIZES:
            if flags:
                return -errno.EINVAL
            try:  # struct seccomp_notif, seccomp_notif_resp, seccomp_data
                self.emu.memory.write(uargs, struct.pack("<HHH", 80, 24, 64))
            except GuestFault:
                return -errno.EFAULT
            return 0
        return -errno.EINVAL

    def prctl(self, t: GuestThread, option: int, mode: int, prog: int) -> int:
        if option == PR_GET_SECCOMP:
            return t.seccomp_mode
        if mode == MODE_STRICT:
            return self.set_strict(t)
        if mode == MODE_FILTER:
            return self.set_filter(t, 0, prog)
        return -errno.EINVAL

    def set_strict(self, t: GuestThread) -> int:
        if t.seccomp_mode not in (MODE_DISABLED, MODE_STRICT):
            return -errno.EINVAL
        arch = self.emu.arch
        numbers = tuple(arch.syscalls.by_name(n).nr
                        for n in ("read", "write", "exit", "rt_sigreturn"))
        program = strict_filter(arch.audit_arch, numbers)
        t.seccomp = struct.pack("<I", len(program) // bpf.INSN.size) + program
        t.seccomp_mode = MODE_STRICT
        self.used = True
        self.enter(t)
        return 0

    def set_filter(self, t: GuestThread, flags: int, uprog: int) -> int:
        if flags & ~KNOWN_FLAGS or t.seccomp_mode == MODE_STRICT:
            return -errno.EINVAL
        if not (self._no_new_privs() or _has_sys_admin()):
            return -errno.EACCES
        try:
            length, address = struct.unpack("<H6xQ", self.emu.memory.read(uprog, 16))
            if length == 0 or length > MAX_INSNS:
                return -errno.EINVAL
            program = self.emu.memory.read(address, length * bpf.INSN.size)
        except GuestFault:
            return -errno.EFAULT
        if not self.emu.hook.check_filter(program):
            return -errno.EINVAL
        if _path_length(t.seccomp) + length > MAX_INSNS_PER_PATH:
            return -errno.ENOMEM
        chain = struct.pack("<I", length) + program + (t.seccomp or b"")
        if flags & FLAG_TSYNC:
            others = [o for o in self.emu.threads if o is not t]
            for other in others:  # each must have no filter the caller lacks
                if other.seccomp_mode == MODE_STRICT or not (t.seccomp or b"").endswith(
                        other.seccomp or b""):
                    return -errno.ESRCH if flags & FLAG_TSYNC_ESRCH else other.tid
            for other in others:
                other.seccomp, other.seccomp_mode = chain, MODE_FILTER
        t.seccomp, t.seccomp_mode = chain, MODE_FILTER
        self.used = True
        self.enter(t)
        return 0

    def _no_new_privs(self) -> bool:
        return host.syscall(157, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0, 0) == 1

    # -- verdicts ----------------------------------------------------------------------
    def i386_verdict(self, t: GuestThread, nr: int, args: list[int]) -> int | None:
        """An `int 0x80` call, which filters see as an i386 one: its result if they
        answer it, None if it runs (see verdict)."""
        ip = self.emu.cpu.read(self.emu.arch.PC)  # (already past the instruction)
        verdict = self.emu.hook.seccomp_decide(nr, AUDIT_ARCH_I386, ip, args)
        return self.verdict(t, nr, AUDIT_ARCH_I386, ip, verdict)

    def verdict(self, t: GuestThread, nr: int, arch: int, ip: int, verdict: int) -> int | None:
        """Carry out a verdict the C hook left to Python (or any, for int 0x80's calls):
        the call's result, or None if it runs (or never returns)."""
        action = verdict & ACTION_FULL
        if action in (RET_ALLOW, RET_LOG):
            return None
        if action == RET_ERRNO:
            return -min(verdict & RET_DATA, MAX_ERRNO)
        if action in (RET_TRACE, RET_USER_NOTIF):
            return -errno.ENOSYS
        emu = self.emu
        if t.seccomp_mode == MODE_STRICT:
            signo = signal.SIGKILL
        elif action == RET_TRAP:
            info = struct.pack("<iiiiQiI", signal.SIGSYS, verdict & RET_DATA, SYS_SECCOMP, 0,
                               ip, nr, arch).ljust(128, b"\0")
            t.fault = (signal.SIGSYS, SYS_SECCOMP, ip, info)
            emu.cpu.stop()
            return None  # the registers stay as they were (the kernel's rollback)
        else:
            signo = signal.SIGSYS
        if action == RET_KILL_THREAD and len(emu.threads) > 1:
            t.exit_code = 0  # this thread alone ends (the kernel's do_exit)
            emu.cpu.stop()
            return None
        emu.exit_process(None, signo)
        return None


def _path_length(chain: bytes | None) -> int:
    """The instructions a call runs through: each filter's, plus 4 (the kernel's count)."""
    total, at = 0, 0
    while chain and at < len(chain):
        length = int.from_bytes(chain[at:at + 4], "little")
        total += length + 4
        at += 4 + length * bpf.INSN.size
    return total


def _has_sys_admin() -> bool:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    except OSError:
        pass
    return False
