"""Look-ups over the generated system call tables, and argument normalisation driven
by them.

Every system call is described once per architecture, in x86_64_table.py and
aarch64_table.py (number, name, argument kinds); everything here is derived from that
data when the module is imported. The module-level functions answer for the host
(x86_64); `for_arch` gives a guest architecture's table.
"""
import errno
from typing import NamedTuple

from luatrap.syscalls import aarch64_table, x86_64_table

ARCH_X86_64 = "x86_64"
ARCH_I386 = "i386"
ARCH_X32 = "x32"
ARCH_AARCH64 = "aarch64"


class Arg(NamedTuple):
    """One argument: how to read it (kind), and its C type and name for display."""

    kind: str
    ctype: str
    name: str


class Syscall(NamedTuple):
    """One entry of the table."""

    nr: int
    name: str
    args: tuple[Arg, ...]


# Kinds held in 32 bits whose upper register half is garbage: int-like ones are
# sign-extended (so AT_FDCWD arrives as -100, not 4294967196), unsigned ones masked.
_SIGN_EXTEND_32 = frozenset({"int", "fd", "dirfd"})
_ZERO_EXTEND_32 = frozenset({"uint"})


# Calls that return without waiting: the kernel never puts the caller to sleep, so no
# signal interrupts them (no EINTR) and no other thread need wait while they run. (Not
# ioctl, fcntl or close: F_SETLKW, TCSETSW and a close on NFS wait, and EINTR them.)
_NEVER_WAIT = (
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "lseek",
    "fstat", "newfstatat", "statx", "getrandom", "clock_gettime", "gettimeofday", "time",
    "uname", "getcwd", "prlimit64", "getrlimit", "dup", "pipe2", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents64", "umask", "sched_getaffinity",
    "sched_yield", "getrusage", "sysinfo", "times", "kill", "getpgrp", "getpgid", "getsid",
    "setpgid", "prctl", "madvise", "getcpu", "alarm", "setitimer", "timer_create",
    "timer_settime", "socket", "bind", "listen", "getsockname", "setsockopt", "getsockopt",
    "eventfd2", "epoll_create1", "epoll_ctl", "pipe")


class SyscallTable:
    """One architecture's system calls, with the look-ups derived from its rows."""

    def __init__(self, arch: str, rows: tuple) -> None:
        self.arch = arch
        self.all = tuple(Syscall(nr, name, tuple(Arg(*a) for a in args))
                         for nr, name, args in rows)
        self._by_number = {s.nr: s for s in self.all}
        self._by_name = {s.name: s for s in self.all}
        self._normalise = _build_normalisers(self.all)

    def by_number(self, nr: int) -> Syscall | None:
        """The system call with this number, or None."""
        return self._by_number.get(nr)

    def by_name(self, name: str) -> Syscall | None:
        """The system call with this name, or None."""
        return self._by_name.get(name)

    def names(self) -> list[str]:
        """Every system call name."""
        return list(self._by_name)

    def names_by_number(self) -> list[str | None]:
        """System call names indexed by number (None where a number has none)."""
        out: list[str | None] = [None] * (max(self._by_number) + 1)
        for s in self.all:
            out[s.nr] = s.name
        return out

    def name_of(self, nr: int) -> str | None:
        entry = self._by_number.get(nr)
        return entry.name if entry else None

    def never_waits(self) -> frozenset[int]:
        """Numbers of the calls that return without waiting (see _NEVER_WAIT)."""
        return frozenset(self._by_name[n].nr for n in _NEVER_WAIT if n in self._by_name)

    def signed_args(self, nr: int, args: list[int]) -> list[int]:
        """Give 32-bit arguments of call `nr` the value a rule sees, in place; return
        `args`.

        `args` are the six registers as signed 64-bit integers (a pointer is its
        address, -1 stays -1). `int`-kind arguments are sign-extended from their low 32
        bits and unsigned 32-bit ones masked, as the table says.
        """
        fix = self._normalise.get(nr)
        if fix:
            for i, signed in fix:
                args[i] = _sign32(args[i]) if signed else args[i] & 0xFFFFFFFF
        return args

    def narrowed_args(self, nr: int) -> tuple[int, int]:
        """(sign-extended, zero-extended): bit masks of call `nr`'s 32-bit argument
        positions, for the C side's copy of `signed_args`."""
        sign = zero = 0
        for i, signed in self._normalise.get(nr, ()):
            if signed:
                sign |= 1 << i
            else:
                zero |= 1 << i
        return sign, zero


def _sign32(v: int) -> int:
    return ((v & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def _build_normalisers(calls: tuple[Syscall, ...]) -> dict[int, tuple[tuple[int, bool], ...]]:
    """Per call number, the argument positions that need 32-bit treatment."""
    out = {}
    for s in calls:
        fix = tuple((i, a.kind in _SIGN_EXTEND_32) for i, a in enumerate(s.args)
                    if a.kind in _SIGN_EXTEND_32 or a.kind in _ZERO_EXTEND_32)
        if fix:
            out[s.nr] = fix
    return out


X86_64 = SyscallTable(ARCH_X86_64, x86_64_table.SYSCALLS)
AARCH64 = SyscallTable(ARCH_AARCH64, aarch64_table.SYSCALLS)
TABLES = {t.arch: t for t in (X86_64, AARCH64)}

# The host's table (x86_64), for the code that only ever deals with host calls.
by_number = X86_64.by_number
by_name = X86_64.by_name
names = X86_64.names
names_by_number = X86_64.names_by_number
never_waits = X86_64.never_waits
signed_args = X86_64.signed_args
narrowed_args = X86_64.narrowed_args


def for_arch(arch: str) -> SyscallTable:
    """The table of `arch` ("x86_64" or "aarch64")."""
    return TABLES[arch]


def name_of(nr: int, arch: str = ARCH_X86_64) -> str | None:
    """The name of system call `nr` of `arch` (x86_64, aarch64, i386 or x32)."""
    if arch == ARCH_I386:
        return x86_64_table.I386_NAMES.get(nr)
    if arch == ARCH_X32 and nr in x86_64_table.X32_NAMES:
        return x86_64_table.X32_NAMES[nr]
    if arch == ARCH_AARCH64:
        return AARCH64.name_of(nr)
    return X86_64.name_of(nr)


def x32_numbers(name: str) -> list[int]:
    """The x32 numbers (without the x32 bit) that reach the call named `name`."""
    out = [nr for nr, n in x86_64_table.X32_NAMES.items() if n == name]
    entry = X86_64.by_name(name)
    if entry and entry.nr < 512:
        out.append(entry.nr)
    return out


def errno_values() -> dict[str, int]:
    """Every errno name of the C library and its number (EPERM -> 1, ...)."""
    return {name: getattr(errno, name) for name in dir(errno) if name.startswith("E")}
