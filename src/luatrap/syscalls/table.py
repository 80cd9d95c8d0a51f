"""Look-ups over the generated x86_64 table, and argument normalisation driven by it.

Every system call is described once, in x86_64_table.py (number, name, argument kinds);
everything here is derived from that data when the module is imported.
"""
import errno
from typing import NamedTuple

from luatrap.syscalls.x86_64_table import I386_NAMES, SYSCALLS, X32_NAMES

ARCH_X86_64 = "x86_64"
ARCH_I386 = "i386"
ARCH_X32 = "x32"


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


_ALL = tuple(Syscall(nr, name, tuple(Arg(*a) for a in args)) for nr, name, args in SYSCALLS)
_BY_NUMBER = {s.nr: s for s in _ALL}
_BY_NAME = {s.name: s for s in _ALL}

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


def never_waits() -> frozenset[int]:
    """Numbers of the calls that return without waiting (see _NEVER_WAIT)."""
    return frozenset(_BY_NAME[n].nr for n in _NEVER_WAIT)


def by_number(nr: int) -> Syscall | None:
    """The x86_64 system call with this number, or None."""
    return _BY_NUMBER.get(nr)


def by_name(name: str) -> Syscall | None:
    """The x86_64 system call with this name, or None."""
    return _BY_NAME.get(name)


def names() -> list[str]:
    """Every x86_64 system call name."""
    return list(_BY_NAME)


def names_by_number() -> list[str | None]:
    """x86_64 system call names indexed by number (None where a number has none)."""
    out: list[str | None] = [None] * (max(_BY_NUMBER) + 1)
    for s in _ALL:
        out[s.nr] = s.name
    return out


def name_of(nr: int, arch: str = ARCH_X86_64) -> str | None:
    """The name of system call `nr` of `arch` (x86_64, i386 or x32)."""
    if arch == ARCH_I386:
        return I386_NAMES.get(nr)
    if arch == ARCH_X32 and nr in X32_NAMES:
        return X32_NAMES[nr]
    entry = _BY_NUMBER.get(nr)
    return entry.name if entry else None


def x32_numbers(name: str) -> list[int]:
    """The x32 numbers (without the x32 bit) that reach the call named `name`."""
    out = [nr for nr, n in X32_NAMES.items() if n == name]
    entry = _BY_NAME.get(name)
    if entry and entry.nr < 512:
        out.append(entry.nr)
    return out


def _sign32(v: int) -> int:
    return ((v & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def _build_normalisers() -> dict[int, tuple[tuple[int, bool], ...]]:
    """Per call number, the argument positions that need 32-bit treatment."""
    out = {}
    for s in _ALL:
        fix = tuple((i, a.kind in _SIGN_EXTEND_32) for i, a in enumerate(s.args)
                    if a.kind in _SIGN_EXTEND_32 or a.kind in _ZERO_EXTEND_32)
        if fix:
            out[s.nr] = fix
    return out


_NORMALISE = _build_normalisers()


def signed_args(nr: int, args: list[int]) -> list[int]:
    """Give 32-bit arguments of call `nr` the value a rule sees, in place; return `args`.

    `args` are the six registers as signed 64-bit integers (a pointer is its address,
    -1 stays -1). `int`-kind arguments are sign-extended from their low 32 bits and
    unsigned 32-bit ones masked, as the table says.
    """
    fix = _NORMALISE.get(nr)
    if fix:
        for i, signed in fix:
            args[i] = _sign32(args[i]) if signed else args[i] & 0xFFFFFFFF
    return args


def narrowed_args(nr: int) -> tuple[int, int]:
    """(sign-extended, zero-extended): bit masks of call `nr`'s 32-bit argument
    positions, for the C side's copy of `signed_args`."""
    sign = zero = 0
    for i, signed in _NORMALISE.get(nr, ()):
        if signed:
            sign |= 1 << i
        else:
            zero |= 1 << i
    return sign, zero


def errno_values() -> dict[str, int]:
    """Every errno name of the C library and its number (EPERM -> 1, ...)."""
    return {name: getattr(errno, name) for name in dir(errno) if name.startswith("E")}
