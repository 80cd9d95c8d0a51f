"""Classic BPF as seccomp filters use it: the instructions luatrap's filter builders
write (the native engine's own filter, the emulate engine's strict mode), the fields of
struct seccomp_data they read, and the verdicts they return."""
from __future__ import annotations

import struct

LD_W_ABS, JA, JEQ_K, JSET_K, RET_K = 0x20, 0x05, 0x15, 0x45, 0x06
OFF_NR, OFF_ARCH, OFF_ARGS = 0, 4, 16  # seccomp_data: nr, arch, args (8 bytes each)
RET_KILL_PROCESS, RET_KILL_THREAD, RET_TRAP, RET_ERRNO = 0x80000000, 0, 0x30000, 0x50000
RET_USER_NOTIF, RET_TRACE, RET_LOG, RET_ALLOW = 0x7FC00000, 0x7FF00000, 0x7FFC0000, 0x7FFF0000
AUDIT_ARCH_I386 = 0x40000003
Insn = tuple[int, int, int, int]  # code, jt, jf, k: struct sock_filter
INSN = struct.Struct("<HBBI")


def returns(numbers: dict[int, int], default: int = RET_ALLOW) -> list[Insn]:
    """'if nr == N: return action' for each entry (nr already loaded), then `default`."""
    out: list[Insn] = []
    for nr, action in sorted(numbers.items()):
        out += [(JEQ_K, 0, 1, nr), (RET_K, 0, 0, action)]
    return out + [(RET_K, 0, 0, default)]


def pack(program: list[Insn]) -> bytes:
    """The program as the kernel reads it (an array of struct sock_filter)."""
    return b"".join(INSN.pack(*insn) for insn in program)
