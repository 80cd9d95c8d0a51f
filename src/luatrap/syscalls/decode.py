"""Turning a call's raw arguments and result into text, as qemu-user's -strace does.

Driven by the table: each argument's kind (str, fd, inbuf, stat, ...) picks its decoder;
a few (call, argument) pairs name a flag set instead. Flag values come from the C
library through Python's own modules, not typed in here.
"""
from __future__ import annotations

import errno
import mmap
import os
import signal
import socket
import stat
import struct
from collections.abc import Callable

from luatrap.syscalls import table
from luatrap.syscalls.compat import aarch64_open_flags_to_host

STRING_LIMIT = 32  # characters shown of a string or buffer, as strace's default -s 32
AT_FDCWD = -100


def _names(module, prefix: str, exclude: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """(name, bit) pairs of a module's single-bit constants with this prefix."""
    out = []
    for name in dir(module):
        value = getattr(module, name)
        if (name.startswith(prefix) and isinstance(value, int) and value > 0
                and value & (value - 1) == 0 and name not in exclude):
            out.append((name, value))
    return sorted(out, key=lambda nv: nv[1])


def _flags(bits: list[tuple[str, int]], value: int, zero: str = "0") -> str:
    parts = []
    for name, bit in bits:
        if value & bit:
            parts.append(name)
            value &= ~bit
    if value:
        parts.append(hex(value))
    return "|".join(parts) or zero


_OPEN_BITS = _names(os, "O_", exclude=("O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE",
                                       "O_RSYNC", "O_FSYNC", "O_NDELAY", "O_TMPFILE",
                                       "O_SYNC", "O_LARGEFILE"))
_OPEN_BITS += [("O_LARGEFILE", 0o100000)] if not any(b == 0o100000 for _, b in _OPEN_BITS) \
    else []
_ACCESS_MODES = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}


def open_flags(value: int) -> str:
    """O_RDONLY|O_CLOEXEC style."""
    mode = _ACCESS_MODES.get(value & 3, str(value & 3))
    rest = value & ~3
    if rest & os.O_SYNC == os.O_SYNC:  # O_SYNC includes O_DSYNC's bit
        mode += "|O_SYNC"
        rest &= ~os.O_SYNC
    return mode + ("|" + _flags(sorted(_OPEN_BITS, key=lambda nv: nv[0]), rest)
                   if rest else "")


_PROT = _names(mmap, "PROT_")
# <linux/mman.h> bits Python's mmap module does not export
_MAP_MORE = {"MAP_FIXED": 0x10, "MAP_GROWSDOWN": 0x100, "MAP_DENYWRITE": 0x800,
             "MAP_NORESERVE": 0x4000, "MAP_STACK": 0x20000, "MAP_FIXED_NOREPLACE": 0x100000}
_MAP = sorted({**_MAP_MORE, **dict(_names(mmap, "MAP_"))}.items(), key=lambda nv: nv[1])
_MAP = [(n, b) for n, b in _MAP if n != "MAP_ANON" and b > 3]
_MAP_TYPES = {mmap.MAP_SHARED: "MAP_SHARED", mmap.MAP_PRIVATE: "MAP_PRIVATE", 3:
              "MAP_SHARED_VALIDATE"}
_AT = [("AT_SYMLINK_NOFOLLOW", 0x100), ("AT_REMOVEDIR", 0x200), ("AT_SYMLINK_FOLLOW", 0x400),
       ("AT_NO_AUTOMOUNT", 0x800), ("AT_EMPTY_PATH", 0x1000), ("AT_EACCESS", 0x200)]
_ACCESS = [("R_OK", os.R_OK), ("W_OK", os.W_OK), ("X_OK", os.X_OK)]
_SIGNALS = {s.value: s.name for s in signal.Signals}
_SOCK_TYPES = {v: n for n, v in vars(socket).items() if n.startswith("SOCK_") and v in
               (1, 2, 3, 4, 5, 6, 10)}
_SOCK_FLAGS = [("SOCK_NONBLOCK", socket.SOCK_NONBLOCK), ("SOCK_CLOEXEC", socket.SOCK_CLOEXEC)]
_FAMILIES = {v: n for n, v in vars(socket).items()
             if n.startswith("AF_") and isinstance(v, int)}


def pointer(value: int) -> str:
    return "NULL" if value == 0 else hex(value & 0xFFFFFFFFFFFFFFFF)


def mmap_flags(value: int) -> str:
    kind = _MAP_TYPES.get(value & 3, hex(value & 3))
    rest = value & ~3
    return kind + ("|" + _flags(_MAP, rest) if rest else "")


def prot(value: int) -> str:
    return _flags(_PROT, value, zero="PROT_NONE")


def access_mode(value: int) -> str:
    return _flags(_ACCESS, value, zero="F_OK")


def signal_name(value: int) -> str:
    return _SIGNALS.get(value, str(value))


def sock_type(value: int) -> str:
    base = _SOCK_TYPES.get(value & 0xF, str(value & 0xF))
    rest = value & ~0xF
    return base + ("|" + _flags(_SOCK_FLAGS, rest) if rest else "")


def family(value: int) -> str:
    return _FAMILIES.get(value, str(value))


def at_flags(value: int) -> str:
    return _flags(_AT, value)


def octal(value: int) -> str:
    return f"0{value:o}" if value else "000"


# (call, argument name) -> decoder of the raw value, for arguments that are flag sets.
FLAG_ARGS: dict[tuple[str, str], Callable[[int], str]] = {
    ("open", "flags"): open_flags, ("openat", "flags"): open_flags,
    ("open", "mode"): octal, ("openat", "mode"): octal, ("creat", "mode"): octal,
    ("mkdir", "mode"): octal, ("mkdirat", "mode"): octal, ("chmod", "mode"): octal,
    ("fchmod", "mode"): octal, ("fchmodat", "mode"): octal,
    ("mmap", "prot"): prot, ("mprotect", "prot"): prot, ("mmap", "flags"): mmap_flags,
    ("access", "mode"): access_mode, ("faccessat", "mode"): access_mode,
    ("faccessat2", "mode"): access_mode,
    ("newfstatat", "flag"): at_flags, ("unlinkat", "flag"): at_flags,
    ("kill", "sig"): signal_name, ("tgkill", "sig"): signal_name,
    ("tkill", "sig"): signal_name, ("rt_sigaction", "sig"): signal_name,
    ("socket", "family"): family, ("socket", "type"): sock_type,
    ("socketpair", "family"): family, ("socketpair", "type"): sock_type,
    ("mmap", "addr"): pointer, ("munmap", "addr"): pointer, ("mprotect", "start"): pointer,
    ("brk", "brk"): pointer,
}
_MODE_ONLY_WITH_CREATE = frozenset({"open", "openat"})
_CREATES = os.O_CREAT | getattr(os, "O_TMPFILE", 0o20200000)
# Calls whose result is an address.
ADDRESS_RESULTS = frozenset({"mmap", "brk", "mremap", "shmat"})


def quote(data: bytes, limit: int = STRING_LIMIT) -> str:
    """A C-style quoted string, cut after `limit` bytes with '...' as strace does."""
    out = []
    for b in data[:limit]:
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:o}")
    return '"' + "".join(out) + '"' + ("..." if len(data) > limit else "")


_STAT = struct.Struct("<QQQIII4xQqqq")  # dev ino nlink mode uid gid rdev size blksize blocks
_STAT_AARCH64 = struct.Struct("<QQIIIIQ8xqi4xq")  # dev ino mode nlink uid gid rdev size ...
def stat_struct(raw: bytes, layout: struct.Struct = _STAT) -> str:
    """{st_mode=S_IFREG|0644, st_size=N, ...} from a struct stat."""
    fields = layout.unpack_from(raw)
    if layout is _STAT:
        mode, rdev, size = fields[3], fields[6], fields[7]
    else:
        mode, rdev, size = fields[2], fields[6], fields[7]
    kind = {stat.S_IFREG: "S_IFREG", stat.S_IFDIR: "S_IFDIR", stat.S_IFCHR: "S_IFCHR",
            stat.S_IFBLK: "S_IFBLK", stat.S_IFIFO: "S_IFIFO", stat.S_IFLNK: "S_IFLNK",
            stat.S_IFSOCK: "S_IFSOCK"}.get(stat.S_IFMT(mode), "0")
    perms = f"{kind}|0{stat.S_IMODE(mode):o}"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return f"{{st_mode={perms}, st_rdev=makedev({os.major(rdev):#x}, " \
               f"{os.minor(rdev):#x}), ...}}"
    return f"{{st_mode={perms}, st_size={size}, ...}}"


Reader = Callable[[int, int], bytes]  # (addr, size) -> bytes; raises OSError


class Decoder:
    """Formats the calls of one program, reading its memory through `read`/`read_string`."""

    def __init__(self, read: Reader, read_string: Reader,
                 syscalls: table.SyscallTable = table.X86_64) -> None:
        self.read = read
        self.read_string = read_string
        self.syscalls = syscalls
        self.aarch64 = syscalls.arch == table.ARCH_AARCH64

    def arguments(self, nr: int, args: list[int], result: int | None) -> list[str]:
        """Each argument as text; output buffers and structs only once `result` is known."""
        sc = self.syscalls.by_number(nr)
        if sc is None:
            return [hex(a & 0xFFFFFFFFFFFFFFFF) for a in args]
        out = [self._one(sc.name, arg, args, i, result) for i, arg in enumerate(sc.args)]
        if sc.name in _MODE_ONLY_WITH_CREATE and not args[len(sc.args) - 2] & _CREATES:
            out.pop()  # the mode of an open that creates nothing means nothing
        return out

    def _one(self, call: str, arg, args: list[int], i: int, result: int | None) -> str:
        value = args[i]
        special = FLAG_ARGS.get((call, arg.name))
        if special:
            if special is open_flags and self.aarch64:
                return open_flags(aarch64_open_flags_to_host(value))
            return special(value)
        kind = arg.kind
        try:
            if kind == "str":
                return quote(self.read_string(value, 4096), 4096) if value else "NULL"
            if kind == "inbuf":
                return quote(self.read(value, min(args[i + 1], STRING_LIMIT + 1)))
            if kind == "outbuf":
                if result is None or result < 0:
                    return pointer(value)
                return quote(self.read(value, min(result, STRING_LIMIT + 1)))
            if kind == "stat":
                if result is None or result < 0:
                    return pointer(value)
                if self.aarch64:
                    return stat_struct(self.read(value, _STAT_AARCH64.size), _STAT_AARCH64)
                return stat_struct(self.read(value, _STAT.size))
            if kind == "strv":
                return self._strv(value)
            if kind == "timespec" and value:
                sec, nsec = struct.unpack("<qq", self.read(value, 16))
                return f"{{tv_sec={sec}, tv_nsec={nsec}}}"
        except OSError:
            return pointer(value)
        if kind == "dirfd" and value == AT_FDCWD:
            return "AT_FDCWD"
        if kind == "ptr":
            return pointer(value)
        if kind == "ulong":
            return str(value & 0xFFFFFFFFFFFFFFFF)
        return str(value)

    def _strv(self, addr: int) -> str:
        if not addr:
            return "NULL"
        items = []
        for n in range(33):
            (ptr,) = struct.unpack("<Q", self.read(addr + 8 * n, 8))
            if not ptr:
                break
            if n == 32:
                items.append("...")
                break
            items.append(quote(self.read_string(ptr, 4096)))
        return "[" + ",".join(items) + "]"


def result_text(name: str, value: int) -> str:
    """'3', or '-1 errno=2 (No such file or directory)' as qemu-user prints errors."""
    if -4096 < value < 0:
        return f"-1 errno={-value} ({os.strerror(-value)})"
    return pointer(value) if name in ADDRESS_RESULTS else str(value)


def errno_of(value: int) -> str | None:
    """'ENOENT' for a result of -2; None for a success."""
    return errno.errorcode.get(-value, f"E{-value}") if -4096 < value < 0 else None
