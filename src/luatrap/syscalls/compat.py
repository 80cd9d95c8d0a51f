"""The other ways into the x86_64 kernel: `int 0x80` (i386 numbers) and the x32 ABI;
and the O_* bits an aarch64 program's calls carry differently.

A rule is written against the x86_64 name; a 32-bit or x32 call to the same kernel
function must reach it too, or a sandbox rule could be walked around. These tables say
which foreign numbers stand for which x86_64 call, all derived from the generated table.
"""
from __future__ import annotations

from luatrap import _core
from luatrap.syscalls import table
from luatrap.syscalls.x86_64_table import I386_NAMES, X32_NAMES

I386_SOCKETCALL = 102
# socketcall(2) sub-call numbers (<linux/net.h>) -> x86_64 name and argument count.
SOCKETCALL = {
    1: ("socket", 3), 2: ("bind", 3), 3: ("connect", 3), 4: ("listen", 2),
    5: ("accept", 3), 6: ("getsockname", 3), 7: ("getpeername", 3),
    8: ("socketpair", 4), 9: ("sendto", 4), 10: ("recvfrom", 4), 11: ("sendto", 6),
    12: ("recvfrom", 6), 13: ("shutdown", 2), 14: ("setsockopt", 5),
    15: ("getsockopt", 5), 16: ("sendmsg", 3), 17: ("recvmsg", 3), 18: ("accept4", 4),
    19: ("recvmmsg", 5), 20: ("sendmmsg", 4),
}
# i386 names whose x86_64 call has another name.
_I386_ALIASES = {"_llseek": "lseek", "mmap2": "mmap", "fstat64": "fstat", "stat64": "stat",
                 "lstat64": "lstat", "fcntl64": "fcntl", "sendfile64": "sendfile",
                 "ugetrlimit": "getrlimit", "fstatat64": "newfstatat",
                 "statfs64": "statfs", "fstatfs64": "fstatfs", "truncate64": "truncate",
                 "ftruncate64": "ftruncate",
                 "chown32": "chown", "lchown32": "lchown", "fchown32": "fchown",
                 "getuid32": "getuid", "getgid32": "getgid", "geteuid32": "geteuid",
                 "getegid32": "getegid", "setuid32": "setuid", "setgid32": "setgid",
                 "setreuid32": "setreuid", "setregid32": "setregid",
                 "setresuid32": "setresuid", "setresgid32": "setresgid",
                 "getresuid32": "getresuid", "getresgid32": "getresgid",
                 "getgroups32": "getgroups", "setgroups32": "setgroups",
                 "setfsuid32": "setfsuid", "setfsgid32": "setfsgid"}


def x86_64_name_of_i386(name: str) -> str:
    """The x86_64 name of the kernel function an i386 call name reaches."""
    return _I386_ALIASES.get(name, name)


def i386_names() -> dict[int, str]:
    """i386 number -> the x86_64 name of the kernel function it reaches."""
    return {nr: x86_64_name_of_i386(name) for nr, name in I386_NAMES.items()}


def x32_names() -> dict[int, str]:
    """x32 number (without the x32 bit) -> the x86_64 name of the call it reaches."""
    return {nr: name for nr in range(512) if (name := table.name_of(nr))} | X32_NAMES


def foreign_numbers(ruled: set[str]) -> tuple[dict[int, int], dict[int, int]]:
    """For the ruled x86_64 names: i386 number -> x86_64 number, x32 number -> x86_64
    number (x32 numbers without the x32 bit). socketcall is routed when any of its
    sub-calls is ruled."""
    i386 = {}
    for nr, name in I386_NAMES.items():
        target = x86_64_name_of_i386(name)
        if target in ruled:
            i386[nr] = table.by_name(target).nr
    if any(name in ruled for name, _ in SOCKETCALL.values()):
        i386[I386_SOCKETCALL] = -1
    x32 = {}
    for name in ruled:
        for nr in table.x32_numbers(name):
            x32[nr] = table.by_name(name).nr
    return i386, x32


# When a hook runs a call (c_do_syscall) for an i386 caller, the i386 call to use for an
# x86_64 call with more than one i386 twin: the one whose arguments match x86_64's.
_I386_PREFERRED = {"mmap": "mmap2", "getrlimit": "ugetrlimit", "sendfile": "sendfile64",
                   "accept": "accept4"}  # accept: only through socketcall; accept4(.., 0)


def i386_of() -> dict[int, int]:
    """x86_64 number -> the i386 call that runs it for an i386 caller (the 32-bit-id
    variants, _I386_PREFERRED, else the same name)."""
    numbers = {name: nr for nr, name in I386_NAMES.items()}
    out = {}
    for name in table.names():
        nr = table.by_name(name).nr
        for candidate in (f"{name}32", _I386_PREFERRED.get(name), name):
            if candidate in numbers:
                out[nr] = numbers[candidate]
                break
    return out


def x32_of() -> dict[int, int]:
    """x86_64 number -> the x32 number (without the x32 bit) that runs it."""
    return {table.by_name(name).nr: found[0] for name in table.names()
            if (found := table.x32_numbers(name))}


def socketcall_target(call: int) -> tuple[int, int] | None:
    """socketcall sub-call -> (x86_64 number, argument count), or None if unknown."""
    entry = SOCKETCALL.get(call)
    if entry is None:
        return None
    return table.by_name(entry[0]).nr, entry[1]


def foreign_calls(ruled: set[str]) -> _core.ForeignCalls:
    """The C core's table of the i386 and x32 calls that reach the ruled x86_64 calls,
    and of the calls a hook may run for such a caller."""
    i386, x32 = foreign_numbers(ruled)
    return _core.ForeignCalls(
        {nr: target for nr, target in i386.items() if target >= 0}, x32,
        {call: socketcall_target(call) for call in SOCKETCALL}, i386_of(), x32_of())


# O_* bits whose values differ between aarch64 and x86_64 (asm/fcntl.h): aarch64's ->
# x86_64's (O_DIRECTORY, O_NOFOLLOW, O_DIRECT, O_LARGEFILE); every other bit is the same.
AARCH64_OPEN_BITS = {0o40000: 0o200000, 0o100000: 0o400000, 0o200000: 0o40000,
                     0o400000: 0o100000}


def _translate_bits(flags: int, pairs) -> int:
    """`flags` with each (from, to) bit of `pairs` moved; the other bits as they are."""
    out = flags & ~sum(AARCH64_OPEN_BITS)
    for source, target in pairs:
        if flags & source:
            out |= target
    return out


def aarch64_open_flags_to_host(flags: int) -> int:
    """An aarch64 program's O_* flags in x86_64's bits."""
    return _translate_bits(flags, AARCH64_OPEN_BITS.items())


def aarch64_open_flags_from_host(flags: int) -> int:
    """x86_64 O_* flags (fcntl's F_GETFL) in an aarch64 program's bits."""
    return _translate_bits(flags, ((host, guest) for guest, host in AARCH64_OPEN_BITS.items()))


__all__ = ["AARCH64_OPEN_BITS", "I386_SOCKETCALL", "aarch64_open_flags_from_host",
           "aarch64_open_flags_to_host", "foreign_numbers", "i386_names", "i386_of",
           "socketcall_target", "x32_names", "x32_of", "X32_NAMES"]
