"""The seccomp BPF program: which system calls stop, and how.

Built once, before the program starts, from the rules folder's file names. Unruled
x86_64 calls are allowed inside the kernel (they cost nothing); ruled ones go to the
supervisor by user notification (fast), or by a ptrace stop when the hook must run the
call itself and see its result. 32-bit (`int 0x80`) and x32 calls to a ruled kernel
function stop the same way as their x86_64 twin, so they cannot walk around a rule.
"""
from __future__ import annotations

import ctypes
import errno

from luatrap.engines.native import kernel as k
from luatrap.syscalls import bpf
from luatrap.syscalls.bpf import Insn

# The calls that reach into another process by pid (ptrace, pidfd_open - the way to
# pidfd_getfd -, process_vm_readv/writev) -> which argument is the pid, per ABI. Aimed at
# luatrap itself they fail with EPERM: a program could otherwise copy luatrap's seccomp
# listener and answer its own calls, or read and write luatrap's memory.
REACH_X86_64 = {101: 1, 310: 0, 311: 0, 434: 0,  # ptrace, process_vm_readv/writev, pidfd_open
                521 | k.X32_SYSCALL_BIT: 1, 539 | k.X32_SYSCALL_BIT: 0,
                540 | k.X32_SYSCALL_BIT: 0, 434 | k.X32_SYSCALL_BIT: 0}
REACH_I386 = {26: 1, 347: 0, 348: 0, 434: 0}
# prctl, per ABI: PR_SET_DUMPABLE 0 would stop an unprivileged luatrap from reading the
# program's memory (its rules would fail, and fail the calls they check): the program is
# told it succeeded, and stays dumpable.
PRCTL_X86_64, PRCTL_I386, PR_SET_DUMPABLE = (157, 157 | k.X32_SYSCALL_BIT), (172,), 4


def _guard(reach: dict[int, int], supervisor: int | None) -> list[Insn]:
    """'if nr is one of `reach` and its pid argument is `supervisor`: EPERM' (nr already
    loaded; loaded again after). The kernel reads a pid as 32 bits: so does this."""
    if supervisor is None:
        return []
    out: list[Insn] = []
    for nr, arg in sorted(reach.items()):
        out += [(bpf.JEQ_K, 0, 4, nr),
                (bpf.LD_W_ABS, 0, 0, bpf.OFF_ARGS + 8 * arg),
                (bpf.JEQ_K, 0, 1, supervisor),
                (bpf.RET_K, 0, 0, k.SECCOMP_RET_ERRNO | errno.EPERM),
                (bpf.LD_W_ABS, 0, 0, bpf.OFF_NR)]
    return out


def _stay_dumpable(prctl_numbers: tuple[int, ...]) -> list[Insn]:
    """'if nr is prctl and its call is PR_SET_DUMPABLE, 0: return 0 without running it'
    (nr already loaded; loaded again after). 0 is compared as the kernel does, all 64
    bits of it."""
    out: list[Insn] = []
    for nr in prctl_numbers:
        out += [(bpf.JEQ_K, 0, 8, nr),
                (bpf.LD_W_ABS, 0, 0, bpf.OFF_ARGS),
                (bpf.JEQ_K, 0, 5, PR_SET_DUMPABLE),
                (bpf.LD_W_ABS, 0, 0, bpf.OFF_ARGS + 8),
                (bpf.JEQ_K, 0, 3, 0),
                (bpf.LD_W_ABS, 0, 0, bpf.OFF_ARGS + 12),
                (bpf.JEQ_K, 0, 1, 0),
                (bpf.RET_K, 0, 0, k.SECCOMP_RET_ERRNO | 0),
                (bpf.LD_W_ABS, 0, 0, bpf.OFF_NR)]
    return out


def build(native: dict[int, int], i386: dict[int, int], x32: dict[int, int],
          native_default: int = k.SECCOMP_RET_ALLOW,
          supervisor: int | None = None) -> k.SockFprog:
    """A filter program: `native` maps ruled x86_64 numbers to their seccomp action, any
    other x86_64 call gets `native_default`; `i386` and `x32` do the same for foreign
    numbers (x32 without its bit), whose other calls are allowed; calls that would
    reach into the process `supervisor` (luatrap) by its pid fail with EPERM."""
    native_checks = bpf.returns(native, native_default)
    x32_checks = bpf.returns({nr | k.X32_SYSCALL_BIT: action for nr, action in x32.items()})
    x86_64_part = [(bpf.LD_W_ABS, 0, 0, bpf.OFF_NR), *_guard(REACH_X86_64, supervisor),
                   *_stay_dumpable(PRCTL_X86_64),
                   (bpf.JSET_K, 1, 0, k.X32_SYSCALL_BIT),
                   (bpf.JA, 0, 0, 1),
                   (bpf.JA, 0, 0, len(native_checks))] + native_checks + x32_checks
    i386_part = [(bpf.LD_W_ABS, 0, 0, bpf.OFF_NR), *_guard(REACH_I386, supervisor),
                 *_stay_dumpable(PRCTL_I386),
                 *bpf.returns(i386)]
    ins: list[Insn] = [(bpf.LD_W_ABS, 0, 0, bpf.OFF_ARCH),
                       (bpf.JEQ_K, 1, 0, k.AUDIT_ARCH_X86_64),
                       (bpf.JA, 0, 0, len(x86_64_part))]
    ins += x86_64_part
    ins += [(bpf.JEQ_K, 1, 0, k.AUDIT_ARCH_I386), (bpf.JA, 0, 0, len(i386_part))]
    ins += i386_part
    ins.append((bpf.RET_K, 0, 0, k.SECCOMP_RET_KILL_PROCESS))  # no other ABI on x86_64
    arr = (k.SockFilter * len(ins))(*[k.SockFilter(*i) for i in ins])
    prog = k.SockFprog(len(ins), ctypes.cast(arr, ctypes.POINTER(k.SockFilter)))
    prog._keep = arr  # the array must live as long as the program
    return prog
