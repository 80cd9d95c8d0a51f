"""Guest memory: host mappings at the same addresses, mirrored into the emulated CPU.

The guest owns the ranges recorded here; everything else in the address space is
luatrap's own (Python, lupa, unicorn). Memory calls are emulated so the guest can never
unmap, remap or protect luatrap's memory: a MAP_FIXED onto foreign memory becomes
MAP_FIXED_NOREPLACE, and munmap/mprotect/mremap act only on guest ranges.
"""
from __future__ import annotations

import bisect
import errno
import mmap

from luatrap.engines.emulate import host
from luatrap.engines.emulate.cpu import Cpu
from luatrap.engines.emulate.host import failed, page_down, page_up

PROT_READ, PROT_WRITE, PROT_EXEC = mmap.PROT_READ, mmap.PROT_WRITE, mmap.PROT_EXEC
MAP_FIXED, MAP_FIXED_NOREPLACE = 0x10, 0x100000
MAP_32BIT = 0x40  # below 2 GiB: what a 32-bit caller's pointers reach
MREMAP_FIXED = 2
NR_MMAP, NR_MPROTECT, NR_MUNMAP, NR_MREMAP = 9, 10, 11, 25


def host_prot(prot: int) -> int:
    """The emulator reads guest code through the host mapping: exec implies read."""
    return prot | PROT_READ if prot & PROT_EXEC else prot


class GuestFault(Exception):
    """The guest named memory it does not have: its call fails with EFAULT."""


class GuestMemory:
    """Sorted, non-overlapping guest ranges [start, end) with their PROT_* bits."""

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu
        self.starts: list[int] = []
        self.ranges: list[tuple[int, int, int]] = []
        self.brk_start = self.brk = 0
        self.vdso = (0, 0)  # where the loader put the vDSO (vdso.py)

    # -- bookkeeping -----------------------------------------------------------------
    def covers(self, start: int, end: int) -> bool:
        """Is all of [start, end) guest memory?"""
        i = bisect.bisect_right(self.starts, start) - 1
        at = start
        while 0 <= i < len(self.ranges) and at < end:
            s, e, _ = self.ranges[i]
            if s > at or e <= at:
                return False
            at, i = e, i + 1
        return at >= end

    # -- what emulated calls read and write -------------------------------------------
    def read(self, addr: int, size: int) -> bytes:
        """`size` bytes at `addr`; GuestFault unless all of it is readable guest memory
        (the kernel's copy_from_user: a bad pointer is an error, never luatrap's crash).
        The C hook copies, with the guest map it keeps in step with this one."""
        data = self.cpu.guest_map.read(addr, size)
        if data is None:
            raise GuestFault
        return data

    def write(self, addr: int, data: bytes) -> None:
        """Store `data` at `addr`; GuestFault unless all of it is writable guest memory."""
        if not self.cpu.guest_map.write(addr, data):
            raise GuestFault

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def write_u64(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"))

    def read_string(self, addr: int, limit: int = 1 << 17) -> bytes:
        """The NUL-terminated string at `addr` (without its NUL), read page by page."""
        out = b""
        while len(out) < limit:
            chunk = self.read(addr, min(host.PAGE - (addr & (host.PAGE - 1)), limit - len(out)))
            end = chunk.find(b"\0")
            if end >= 0:
                return out + chunk[:end]
            out += chunk
            addr += len(chunk)
        raise GuestFault  # the kernel's E2BIG/EFAULT: no string this long

    def prot_at(self, addr: int) -> int | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and self.ranges[i][0] <= addr < self.ranges[i][1]:
            return self.ranges[i][2]
        return None

    def forget(self, start: int, end: int) -> None:
        """[start, end) is no longer guest memory (the host mapping is the caller's)."""
        i = max(bisect.bisect_right(self.starts, start) - 1, 0)
        kept, code = [], False
        while i < len(self.ranges) and self.ranges[i][0] < end:
            s, e, p = self.ranges[i]
            if e <= start:
                i += 1
                continue
            del self.ranges[i], self.starts[i]
            self.cpu.unmap(s, e - s)
            code = code or bool(p & PROT_EXEC)
            if s < start:
                kept.append((s, start, p))
            if e > end:
                kept.append((end, e, p))
        for s, e, p in kept:
            self._insert(s, e, p)
        if code:
            self.cpu.forget_code(start, end)

    def record(self, start: int, end: int, prot: int) -> None:
        """[start, end), already mapped in the host, is guest memory with `prot`."""
        start, end = page_down(start), page_up(end)
        self.forget(start, end)
        self._insert(start, end, prot)
        if prot & PROT_EXEC:
            self.cpu.forget_code(start, end)

    def _insert(self, start: int, end: int, prot: int) -> None:
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ranges.insert(i, (start, end, prot))
        self.cpu.map(start, end - start, prot)

    # -- the memory system calls -------------------------------------------------------
    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int, off: int) -> int:
        if length == 0:
            return -errno.EINVAL
        if length < 0:  # above 2^63 as the kernel's size_t: no room for it
            return -errno.ENOMEM
        if flags & MAP_FIXED and not self.covers(page_down(addr), page_up(addr + length)):
            flags = (flags & ~MAP_FIXED) | MAP_FIXED_NOREPLACE
        result = host.syscall(NR_MMAP, addr, length, host_prot(prot), flags, fd, off)
        if not failed(result):
            self.record(result, result + length, prot)
        return result

    def munmap(self, addr: int, length: int) -> int:
        if addr & (host.PAGE - 1) or length <= 0:
            return -errno.EINVAL
        start, end = addr, page_up(addr + length)
        for s, e, _ in list(self.ranges):
            lo, hi = max(s, start), min(e, end)
            if lo < hi:
                host.syscall(NR_MUNMAP, lo, hi - lo, 0, 0, 0, 0)
        self.forget(start, end)
        return 0

    def mprotect(self, addr: int, length: int, prot: int) -> int:
        start, end = addr, page_up(addr + length)
        if addr & (host.PAGE - 1):
            return -errno.EINVAL
        if not self.covers(start, end):
            return -errno.ENOMEM
        result = host.syscall(NR_MPROTECT, start, end - start, host_prot(prot), 0, 0, 0)
        if result == 0:
            self.record(start, end, prot)
        return result

    def mremap(self, old: int, old_len: int, new_len: int, flags: int, new: int) -> int:
        if not self.covers(page_down(old), page_up(old + old_len)):
            return -errno.EFAULT
        if flags & MREMAP_FIXED and not self.covers(page_down(new), page_up(new + new_len)):
            return -errno.EINVAL  # would replace memory that is not the guest's
        prot = self.prot_at(old)
        result = host.syscall(NR_MREMAP, old, old_len, new_len, flags, new, 0)
        if not failed(result):
            self.forget(page_down(old), page_up(old + old_len))
            self.record(result, result + new_len, prot)
        return result

    def set_brk(self, new: int) -> int:
        """brk(2): grow or shrink the heap after the program's data; the break it ends at."""
        if new < self.brk_start:
            return self.brk
        old_top, new_top = page_up(self.brk), page_up(new)
        if new_top > old_top:
            flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_FIXED_NOREPLACE
            got = host.syscall(NR_MMAP, old_top, new_top - old_top, PROT_READ | PROT_WRITE,
                               flags, -1, 0)
            if got != old_top:
                if not failed(got):
                    host.syscall(NR_MUNMAP, got, new_top - old_top, 0, 0, 0, 0)
                return self.brk  # glibc's malloc then falls back to mmap
            self.record(old_top, new_top, PROT_READ | PROT_WRITE)
        elif new_top < old_top:
            host.syscall(NR_MUNMAP, new_top, old_top - new_top, 0, 0, 0, 0)
            self.forget(new_top, old_top)
        self.brk = new
        return new
