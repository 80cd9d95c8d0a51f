"""The program's descriptor tables, kept as the kernel keeps them: the global one (the
kernel's user segments) and the local one modify_ldt(2) fills.

A 64-bit program fills a local table to load a segment register with a base of its own
(%gs, the i386 way to thread-local data) or to reach 32-bit code through a far call; it
loads the global table's user selectors (0x23, 0x2b, 0x33) for a far transfer or a
segment register. Both tables are in luatrap's memory, which the emulated CPU reads
(read-only) when the program loads a selector, through its GDT and LDT registers; the
program's calls cannot reach them, as natively, where the kernel keeps them.
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import cpu as regs
from luatrap.engines.emulate import host
from luatrap.engines.emulate.memory import MAP_32BIT, GuestFault

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread

ENTRIES, ENTRY_SIZE = 8192, 8  # the kernel's LDT_ENTRIES, LDT_ENTRY_SIZE
TABLE_SIZE = ENTRIES * ENTRY_SIZE
DEFAULT_SIZE = 128  # read_default_ldt on x86_64: this many zero bytes
USER_DESC = struct.Struct("<IIII")  # struct user_desc: entry, base, limit, flag bits
READ, WRITE_OLD, READ_DEFAULT, WRITE = 0, 1, 2, 0x11
NR_MMAP = 9
# The kernel's x86_64 GDT (arch/x86/include/asm/segment.h): entry -> access byte and
# flag nibble of a flat 4 GiB segment. 4, 5, 6 are __USER32_CS, __USER_DS, __USER_CS.
GDT_ENTRIES = 16
GDT_SEGMENTS = {1: (0x9B, 0xC), 2: (0x9B, 0xA), 3: (0x93, 0xC),  # the kernel's own
                4: (0xFB, 0xC), 5: (0xF3, 0xC), 6: (0xFB, 0xA)}
USER_CS, USER_DS = 0x33, 0x2B  # the kernel's __USER_CS (64-bit code), __USER_DS
# A far jump through a pointer (offset, selector) at start + POINTER, to start + LANDING
# (where the CPU stops): `jmp far [abs32]` as 32-bit code encodes it, and as 64-bit code.
JUMP_FROM_32BIT, JUMP_FROM_64BIT = b"\xff\x2d", b"\xff\x2c\x25"
POINTER, LANDING, FROM_64BIT = 8, 16, 32


class DescriptorTables:
    """The process's tables in one mapping of luatrap's: the global table at `gdt`
    (GDT_ENTRIES descriptors, one page), then room for the local table's ENTRIES at
    `ldt`, of which `entries` are in use."""

    def __init__(self, emu: Emulator) -> None:
        size = host.PAGE + TABLE_SIZE
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        self.gdt = host.syscall(NR_MMAP, 0, size, mmap.PROT_READ | mmap.PROT_WRITE,
                                flags, -1, 0)
        if host.failed(self.gdt):
            raise MemoryError
        self.ldt = self.gdt + host.PAGE
        for number, (access, flag_bits) in GDT_SEGMENTS.items():
            flat = struct.pack("<HHBBBB", 0xFFFF, 0, 0, access, flag_bits << 4 | 0xF, 0)
            ctypes.memmove(self.gdt + number * ENTRY_SIZE, flat, ENTRY_SIZE)
        emu.hook.map_cpu_only(self.gdt, self.gdt + size, mmap.PROT_READ)
        self.entries = 0
        self.jumps = 0  # the far jumps' page, once one is needed (far_jump)

    def store(self, emu: Emulator, number: int, descriptor: bytes) -> None:
        """Set one local entry; a table that grows is shown to every thread's CPU
        state, as the kernel installs the new table on every CPU."""
        ctypes.memmove(self.ldt + number * ENTRY_SIZE, descriptor, ENTRY_SIZE)
        if number < self.entries:
            return
        self.entries = number + 1
        limit = self.entries * ENTRY_SIZE - 1
        emu.cpu.set_ldtr(self.ldt, limit)  # the calling thread's, loaded in the CPU
        for t in emu.threads:
            if t.context is not None and t is not emu.cpu_lock.loaded:
                emu.cpu.set_ldtr(self.ldt, limit, t.context)

    def far_jump(self, emu: Emulator, selector: int) -> None:
        """Make `selector` the CPU's code segment, the pc unchanged: a far jump, the one
        way to change the mode that goes with it (a Unicorn register write sets the
        selector only). The jump runs from a page of luatrap's below 4 GiB, where 32-bit
        code can reach it, made on first use. A selector that cannot be loaded faults
        (the thread's fault is set), as the kernel's iret does; GuestFault if the page
        cannot be had."""
        if not self.jumps:
            self.jumps = self._far_jump_page(emu)
        cpu = emu.cpu
        start = self.jumps + (FROM_64BIT if cpu.read(regs.CS) & 0xFFFF == USER_CS else 0)
        ctypes.memmove(start + POINTER, struct.pack("<IH", start + LANDING, selector), 6)
        pc = cpu.read(emu.arch.PC)
        while True:  # a stop another thread asks for (a signal) may come first: again
            err = emu.hook.run_to(start, (start + LANDING,))
            if cpu.read(emu.arch.PC) == start + LANDING or emu.current.fault:
                break
            if err:
                raise regs.UnicornError(f"unicorn: the far jump to {selector:#x} failed")
        cpu.write(emu.arch.PC, pc)

    @staticmethod
    def _far_jump_page(emu: Emulator) -> int:
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_32BIT
        page = host.syscall(NR_MMAP, 0, host.PAGE, mmap.PROT_READ | mmap.PROT_WRITE, flags,
                            -1, 0)
        if host.failed(page):
            raise GuestFault
        for start, jump in ((page, JUMP_FROM_32BIT), (page + FROM_64BIT, JUMP_FROM_64BIT)):
            code = jump + struct.pack("<I", start + POINTER)
            ctypes.memmove(start, code, len(code))
        emu.hook.map_cpu_only(page, page + host.PAGE, mmap.PROT_READ | mmap.PROT_EXEC)
        return page

    def contents(self) -> bytes:
        """The local table's entries in use."""
        return ctypes.string_at(self.ldt, self.entries * ENTRY_SIZE)


def descriptor(base: int, limit: int, bits: int, old_mode: bool) -> bytes:
    """The kernel's fill_ldt: a user segment of privilege 3, accessed (so the CPU never
    writes the table), never a 64-bit one."""
    seg_32bit, contents, read_exec_only = bits & 1, bits >> 1 & 3, bits >> 3 & 1
    limit_in_pages, not_present, useable = bits >> 4 & 1, bits >> 5 & 1, bits >> 6 & 1
    access = 1 | (read_exec_only ^ 1) << 1 | contents << 2 | 1 << 4 | 3 << 5 \
        | (not_present ^ 1) << 7
    flags = limit >> 16 & 0xF | (0 if old_mode else useable) << 4 | seg_32bit << 6 \
        | limit_in_pages << 7
    return struct.pack("<HHBBBB", limit & 0xFFFF, base & 0xFFFF, base >> 16 & 0xFF,
                       access, flags, base >> 24 & 0xFF)


def _is_empty(base: int, limit: int, bits: int) -> bool:
    """The kernel's LDT_empty: the one description that clears an entry in either mode
    (read_exec_only and seg_not_present set, everything else 0)."""
    return base == 0 and limit == 0 and bits & 0xFF == 0x28


def _write(emu: Emulator, ptr: int, bytecount: int, old_mode: bool) -> int:
    if bytecount != USER_DESC.size:
        return -errno.EINVAL
    number, base, limit, bits = USER_DESC.unpack(emu.memory.read(ptr, USER_DESC.size))
    contents, not_present = bits >> 1 & 3, bits >> 5 & 1
    if number >= ENTRIES or contents == 3 and (old_mode or not not_present):
        return -errno.EINVAL
    if old_mode and not base and not limit or _is_empty(base, limit, bits):
        entry = bytes(ENTRY_SIZE)
    else:
        entry = descriptor(base, limit, bits, old_mode)
    emu.descriptor_tables.store(emu, number, entry)
    return 0


def _read(emu: Emulator, ptr: int, bytecount: int) -> int:
    table = emu.descriptor_tables
    if not table.entries:  # no table yet
        return 0
    bytecount = min(bytecount, TABLE_SIZE)
    entries = table.contents()[:bytecount]
    emu.memory.write(ptr, entries + bytes(bytecount - len(entries)))
    return bytecount


def modify_ldt(emu: Emulator, t: GuestThread, func: int, ptr: int, bytecount: int,
               *_) -> int:
    """The kernel returns an int in rax, zero-extended: an error is not negative there."""
    func = (func + (1 << 31)) % (1 << 32) - (1 << 31)  # an int
    try:
        if func == READ:
            result = _read(emu, ptr, bytecount)
        elif func == READ_DEFAULT:
            bytecount = min(bytecount, DEFAULT_SIZE)
            emu.memory.write(ptr, bytes(bytecount))
            result = bytecount
        elif func in (WRITE_OLD, WRITE):
            result = _write(emu, ptr, bytecount, func == WRITE_OLD)
        else:
            result = -errno.ENOSYS
    except GuestFault:
        result = -errno.EFAULT
    return result & 0xFFFFFFFF
