"""Reading a thread's memory (another process's, or this one's) safely, for the tracer.

A transfer that crosses into an unmapped page fails as a whole, so strings are read
page by page and a partial transfer counts as a fault.
"""
from __future__ import annotations

import ctypes
import errno
import os

_libc = ctypes.CDLL(None, use_errno=True)


class IoVec(ctypes.Structure):
    """struct iovec."""

    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


_vm_argtypes = [ctypes.c_int, ctypes.POINTER(IoVec), ctypes.c_ulong,
                ctypes.POINTER(IoVec), ctypes.c_ulong, ctypes.c_ulong]
process_vm_readv = _libc.process_vm_readv
process_vm_readv.argtypes = _vm_argtypes
process_vm_readv.restype = ctypes.c_ssize_t
process_vm_writev = _libc.process_vm_writev  # for the emulate engine's guest memory
process_vm_writev.argtypes = _vm_argtypes
process_vm_writev.restype = ctypes.c_ssize_t

PAGE = 4096


class ProcessMemory:
    """The engine's `ProcessAccess` (for the tracer): memory of any traced thread."""

    def __init__(self) -> None:
        self._buf = ctypes.create_string_buffer(PAGE)
        self._local = IoVec(ctypes.addressof(self._buf), 0)
        self._remote = IoVec(0, 0)
        self._tgid: dict[int, int] = {}

    def _transfer(self, fn, tid: int, local: IoVec, addr: int, size: int) -> None:
        self._remote.iov_base = addr & 0xFFFFFFFFFFFFFFFF
        self._remote.iov_len = size
        done = fn(tid, ctypes.byref(local), 1, ctypes.byref(self._remote), 1, 0)
        if done != size:
            e = ctypes.get_errno() if done < 0 else errno.EFAULT
            raise OSError(e, os.strerror(e))

    def read_memory(self, tid: int, addr: int, size: int) -> bytes:
        """`size` bytes at `addr` in thread `tid`'s address space."""
        if size == 0:
            return b""
        buf = ctypes.create_string_buffer(size)
        self._transfer(process_vm_readv, tid, IoVec(ctypes.addressof(buf), size),
                       addr, size)
        return buf.raw

    def read_string(self, tid: int, addr: int, limit: int) -> bytes:
        """The bytes at `addr` up to the first NUL (not included), at most `limit`."""
        out = b""
        while len(out) < limit:
            chunk = min(PAGE - (addr & (PAGE - 1)), limit - len(out))
            self._local.iov_len = chunk
            self._transfer(process_vm_readv, tid, self._local, addr, chunk)
            data = self._buf.raw[:chunk]
            end = data.find(b"\0")
            if end >= 0:
                return out + data[:end]
            out += data
            addr += chunk
        return out

    def pid_of(self, tid: int) -> int:
        """The thread group id of `tid`, from /proc (cached until the thread exits)."""
        pid = self._tgid.get(tid)
        if pid is None:
            try:
                with open(f"/proc/{tid}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"Tgid:"):
                            pid = int(line.split()[1])
                            break
            except OSError:
                return tid
            self._tgid[tid] = pid = pid or tid
        return pid

    def forget(self, tid: int) -> None:
        """Thread `tid` is gone: its id may be reused."""
        self._tgid.pop(tid, None)
