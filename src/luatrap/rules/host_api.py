"""The `c_*` functions a rule can call, and the errno constants it sees as globals.

They act on the thread whose call is being decided (`HostAPI.tid`), through a
`ProcessAccess` the engine provides; the rules layer never touches the program itself.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol

from luatrap.syscalls import table

MAX_STRING = 4096  # default cap of c_read_string, as PATH_MAX
MAX_LOG_LINE = 64 << 10  # bytes of one c_log message; the rest is cut, and said so


class ProcessAccess(Protocol):
    """What an engine lets a rule do to the program: read and write a thread's memory."""

    def read_memory(self, tid: int, addr: int, size: int) -> bytes:
        """Bytes at `addr`; raise OSError if any of them is unreadable."""

    def read_string(self, tid: int, addr: int, limit: int) -> bytes:
        """The NUL-terminated bytes at `addr`, at most `limit`; OSError if unreadable."""

    def write_memory(self, tid: int, addr: int, data: bytes) -> None:
        """Store `data` at `addr`; raise OSError if any byte is unwritable."""

    def pid_of(self, tid: int) -> int:
        """The process id (thread group) of thread `tid`."""


class HostAPI:
    """Installs the c_* functions into a Lua globals table; `tid` is the calling thread."""

    def __init__(self, lua_globals, checked, log: Callable[[str | bytes], None],
                 access: ProcessAccess | None) -> None:
        """`checked` wraps a function answering (ok, value) into one raising Lua errors."""
        self.tid = 0
        self.access = access
        self._log = log
        g = lua_globals
        g.c_log = self.c_log
        g.c_get_timestamp = self.c_get_timestamp
        g.c_tid = self.c_tid
        for name in ("c_read_string", "c_read_bytes", "c_write_bytes", "c_syscall_name",
                     "c_pid", "c_cwd", "c_fd_path"):
            g[name.encode()] = checked(_fallible(getattr(self, name)))
        for name, value in table.errno_values().items():
            g[name.encode()] = value

    def c_log(self, *parts) -> None:
        """`[Lua Log] msg` on a line of its own."""
        text = b" ".join(_to_bytes(p) for p in parts)
        if len(text) > MAX_LOG_LINE:
            text = text[:MAX_LOG_LINE] + b"... (%d bytes cut)" % (len(text) - MAX_LOG_LINE)
        self._log(b"[Lua Log] " + text)

    @staticmethod
    def c_get_timestamp() -> tuple[int, int]:
        """sec, nsec of CLOCK_REALTIME."""
        ns = time.clock_gettime_ns(time.CLOCK_REALTIME)
        return ns // 1_000_000_000, ns % 1_000_000_000

    def c_read_string(self, addr, limit=MAX_STRING) -> bytes:
        """The NUL-terminated string at a program address (at most `limit` bytes)."""
        addr, limit = _int(addr, "address"), _int(limit, "max")
        if limit <= 0:
            raise ValueError("max must be positive")
        try:
            return self._access().read_string(self.tid, addr, limit)
        except OSError as e:
            raise _fault("cannot read address", addr, e) from None

    def c_read_bytes(self, addr, size) -> bytes:
        """`size` raw bytes at a program address."""
        addr, size = _int(addr, "address"), _int(size, "size")
        if size < 0:
            raise ValueError("negative size")
        try:
            return self._access().read_memory(self.tid, addr, size)
        except OSError as e:
            raise _fault(f"cannot read {size} bytes at", addr, e) from None

    def c_write_bytes(self, addr, data) -> int:
        """Store a Lua string's bytes at a program address; returns the count."""
        addr = _int(addr, "address")
        if not isinstance(data, bytes):
            raise TypeError("data must be a string")
        try:
            self._access().write_memory(self.tid, addr, data)
        except OSError as e:
            raise _fault(f"cannot write {len(data)} bytes at", addr, e) from None
        return len(data)

    @staticmethod
    def c_syscall_name(num) -> bytes | None:
        """'getpid' for 39; nil for a number that is no system call."""
        name = table.name_of(_int(num, "number"))
        return name.encode() if name else None

    def c_pid(self) -> int:
        """The process id of the calling program thread."""
        return self._access().pid_of(self.tid) if self.access else self.tid

    def c_cwd(self) -> bytes:
        """The calling process's working directory (to resolve relative paths)."""
        return self._link(f"/proc/{self.tid}/cwd")

    def c_fd_path(self, fd) -> bytes:
        """What file descriptor `fd` of the calling process refers to (its path)."""
        return self._link(f"/proc/{self.tid}/fd/{_int(fd, 'fd')}")

    @staticmethod
    def _link(path: str) -> bytes:
        try:
            return os.readlink(path.encode())
        except OSError as e:
            raise LookupError(e.strerror) from None

    def c_tid(self) -> int:
        """The thread id of the calling program thread."""
        return self.tid

    def _access(self) -> ProcessAccess:
        if self.access is None:
            raise RuntimeError("no program is running")
        return self.access


def _fault(what: str, addr: int, err: OSError) -> LookupError:
    """The error a rule sees for unreachable program memory (named after the function
    by `_fallible`)."""
    return LookupError(f"{what} 0x{addr & 0xFFFFFFFFFFFFFFFF:x}: {err.strerror}")


def _fallible(fn):
    """fn's value as (True, value), its error as (False, message), for `checked`."""
    def call(*args):
        try:
            return True, fn(*args)
        except (OSError, ValueError, TypeError, LookupError, RuntimeError) as e:
            message = str(e)
            if not message.startswith(fn.__name__):
                message = f"{fn.__name__}: {message}"
            return False, message.encode("utf-8", "replace")
    return call


def _int(value, what: str) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"bad argument: {what} must be an integer, got {_lua_type(value)}")


def _lua_type(value) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, (int, float)) else "table or function"


def _to_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if value is None:
        return b"nil"
    if value is True or value is False:
        return b"true" if value else b"false"
    return str(value).encode()
