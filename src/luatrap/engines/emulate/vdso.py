"""The guest's vDSO: the shared object the kernel maps into every program.

Its functions (clock_gettime, gettimeofday, time, getcpu, clock_getres, and aarch64's
signal return trampoline) are the kernel's names with bodies that make the system call,
as qemu-user's own vDSO does, and the program finds a vDSO where it looks for one
(AT_SYSINFO_EHDR, `linux-vdso.so.1` in its link map, `[vdso]` in its maps). Their call
numbers carry VDSO_CALL: the C hook answers such a call from the host directly, when it
comes from the vDSO's own code, and no rule, trace or seccomp filter sees it, as none
sees the kernel's vDSO answer natively.

The image is a minimal ELF shared object built here: one PT_LOAD, a dynamic section
with a SysV hash table, the symbols, and section headers for tools that read them.
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass

from luatrap.engines.emulate import host
from luatrap.engines.emulate.host import failed
from luatrap.engines.emulate.memory import GuestMemory

SONAME = b"linux-vdso.so.1"
AT_SYSINFO_EHDR = 33
ET_DYN, PT_LOAD, PT_DYNAMIC, PF_R, PF_X = 3, 1, 2, 4, 1
DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME = 0, 4, 5, 6, 10, 11, 14
SHT_PROGBITS, SHT_STRTAB, SHT_HASH, SHT_DYNAMIC, SHT_DYNSYM = 1, 3, 5, 6, 11
SHF_ALLOC, SHF_EXECINSTR = 2, 4
STB_GLOBAL, STT_FUNC = 1, 2
SYSRETQ = b"\x48\x0f\x07"  # the kernel's way back to user mode (x86_64)
VDSO_CALL = 0x8000  # emulate_hook.h's LT_VDSO_CALL
EHDR, PHDR, SHDR, SYM, DYN = (struct.Struct(f) for f in (
    "<16sHHIQQQIHHHHHH", "<IIQQQQQQ", "<IIQQQQIIQQ", "<IBBHQQ", "<qQ"))


def x86_64_call(nr: int) -> bytes:
    """mov eax, nr; syscall; ret"""
    return b"\xb8" + struct.pack("<I", nr) + b"\x0f\x05\xc3"


def aarch64_call(nr: int) -> bytes:
    """mov x8, #nr; svc #0; ret"""
    return struct.pack("<III", 0xD2800008 | nr << 5, 0xD4000001, 0xD65F03C0)


@dataclass(frozen=True)
class VdsoLayout:
    """What one architecture's vDSO holds: functions that make one call each, marked as
    the vDSO's own (VDSO_CALL), code of the program's own (a signal trampoline), and
    code luatrap runs that the program has no name for (the way into user mode)."""

    machine: int
    encode: Callable[[int], bytes]  # the machine code of a function making call nr
    marked: tuple[tuple[tuple[str, ...], int], ...]  # (names, call number)
    plain: tuple[tuple[tuple[str, ...], bytes], ...] = ()  # (names, machine code)
    unnamed: tuple[tuple[str, bytes], ...] = ()  # (luatrap's name, code): no symbol

    @property
    def functions(self) -> tuple[tuple[tuple[str, ...], bytes], ...]:
        """(names, machine code) of every function."""
        return self.plain + tuple((names, self.encode(nr | VDSO_CALL))
                                  for names, nr in self.marked)

    @property
    def calls(self) -> tuple[int, ...]:
        """The call numbers the vDSO makes as its own."""
        return tuple(nr for _, nr in self.marked)


# The kernel's exports (arch/x86/entry/vdso/vdso.lds.S, arch/arm64/kernel/vdso/vdso.lds.S)
X86_64_VDSO = VdsoLayout(62, x86_64_call, (
    (("__vdso_clock_gettime", "clock_gettime"), 228),
    (("__vdso_gettimeofday", "gettimeofday"), 96),
    (("__vdso_time", "time"), 201),
    (("__vdso_getcpu", "getcpu"), 309),
    (("__vdso_clock_getres", "clock_getres"), 229),
), unnamed=(("enter_user_mode", SYSRETQ),))  # GuestArch.enter_program
# __kernel_rt_sigreturn is exactly `mov x8, #139; svc #0` (a call of the program's):
# unwinders recognise a signal frame by those two instructions at the return address.
AARCH64_VDSO = VdsoLayout(183, aarch64_call, (
    (("__kernel_clock_gettime",), 113),
    (("__kernel_gettimeofday",), 169),
    (("__kernel_clock_getres",), 114),
), plain=((("__kernel_rt_sigreturn",), aarch64_call(139)[:8]),))


def _sysv_hash(name: bytes) -> int:
    h = 0
    for c in name:
        h = (h << 4) + c
        g = h & 0xF0000000
        h = (h ^ (g >> 24)) & ~g & 0xFFFFFFFF
    return h


def build_image(layout: VdsoLayout) -> tuple[bytes, dict[str, int]]:
    """The vDSO's bytes, and the offset in it of each symbol and unnamed piece."""
    names = [(n.encode(), i) for i, (aliases, _) in enumerate(layout.functions)
             for n in aliases]
    text, code_at = b"", []
    for _, code in layout.functions:
        code_at.append(len(text))
        text += code + b"\0" * (-len(code) % 16)
    unnamed_at = {}
    for name, code in layout.unnamed:
        unnamed_at[name] = len(text)
        text += code + b"\0" * (-len(code) % 16)
    dynstr = b"\0" + SONAME + b"\0"
    name_at = []
    for name, _ in names:
        name_at.append(len(dynstr))
        dynstr += name + b"\0"
    nsyms = len(names) + 1
    buckets, chains = [0] * nsyms, [0] * nsyms
    for sym in range(1, nsyms):  # each bucket's chain, newest first
        b = _sysv_hash(names[sym - 1][0]) % nsyms
        chains[sym], buckets[b] = buckets[b], sym
    hash_table = struct.pack(f"<{2 + 2 * nsyms}I", nsyms, nsyms, *buckets, *chains)
    shstr = b"\0.hash\0.dynsym\0.dynstr\0.text\0.dynamic\0.shstrtab\0"

    # file order: headers, .hash, .dynsym, .dynstr, .text (16-aligned), .dynamic, .shstrtab
    at_hash = EHDR.size + 2 * PHDR.size
    at_dynsym = _align(at_hash + len(hash_table), 8)
    at_dynstr = at_dynsym + nsyms * SYM.size
    at_text = _align(at_dynstr + len(dynstr), 16)
    at_dynamic = _align(at_text + len(text), 8)
    dynamic = b"".join(DYN.pack(tag, value) for tag, value in (
        (DT_HASH, at_hash), (DT_STRTAB, at_dynstr), (DT_SYMTAB, at_dynsym),
        (DT_STRSZ, len(dynstr)), (DT_SYMENT, SYM.size), (DT_SONAME, 1), (DT_NULL, 0)))
    at_shstr = at_dynamic + len(dynamic)
    at_shdrs = _align(at_shstr + len(shstr), 8)
    loaded = at_shdrs + 7 * SHDR.size  # all of it, as the kernel maps its vdso.so

    image = bytearray(loaded)
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    EHDR.pack_into(image, 0, ident, ET_DYN, layout.machine, 1, 0, EHDR.size, at_shdrs, 0,
                   EHDR.size, PHDR.size, 2, SHDR.size, 7, 6)
    PHDR.pack_into(image, EHDR.size, PT_LOAD, PF_R | PF_X, 0, 0, 0, loaded, loaded,
                   host.PAGE)
    PHDR.pack_into(image, EHDR.size + PHDR.size, PT_DYNAMIC, PF_R, at_dynamic, at_dynamic,
                   at_dynamic, len(dynamic), len(dynamic), 8)
    image[at_hash:at_hash + len(hash_table)] = hash_table
    for sym, (_, function) in enumerate(names, start=1):
        SYM.pack_into(image, at_dynsym + sym * SYM.size, name_at[sym - 1],
                      STB_GLOBAL << 4 | STT_FUNC, 0, 4, at_text + code_at[function],
                      len(layout.functions[function][1]))
    image[at_dynstr:at_dynstr + len(dynstr)] = dynstr
    image[at_text:at_text + len(text)] = text
    image[at_dynamic:at_dynamic + len(dynamic)] = dynamic
    image[at_shstr:at_shstr + len(shstr)] = shstr
    sections = [  # name, type, flags, offset, size, link, info, align, entry size
        (0, 0, 0, 0, 0, 0, 0, 0, 0),
        (1, SHT_HASH, SHF_ALLOC, at_hash, len(hash_table), 2, 0, 8, 4),
        (7, SHT_DYNSYM, SHF_ALLOC, at_dynsym, nsyms * SYM.size, 3, 1, 8, SYM.size),
        (15, SHT_STRTAB, SHF_ALLOC, at_dynstr, len(dynstr), 0, 0, 1, 0),
        (23, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, at_text, len(text), 0, 0, 16, 0),
        (29, SHT_DYNAMIC, SHF_ALLOC, at_dynamic, len(dynamic), 3, 0, 8, DYN.size),
        (38, SHT_STRTAB, 0, at_shstr, len(shstr), 0, 0, 1, 0),
    ]
    for i, (name, kind, flags, offset, size, link, info, align, entsize) in enumerate(sections):
        address = offset if flags & SHF_ALLOC else 0
        SHDR.pack_into(image, at_shdrs + i * SHDR.size, name, kind, flags, address, offset,
                       size, link, info, align, entsize)
    symbols = {n.decode(): at_text + code_at[f] for n, f in names}
    symbols.update((name, at_text + at) for name, at in unnamed_at.items())
    return bytes(image), symbols


def _align(n: int, to: int) -> int:
    return n + (-n % to)


class VdsoError(Exception):
    """The vDSO could not be mapped (no memory)."""


def map_vdso(memory: GuestMemory, layout: VdsoLayout) -> tuple[int, dict[str, int]]:
    """Map the vDSO read-only and executable in guest memory: its address, and each
    symbol's address."""
    image, offsets = build_image(layout)
    size = host.page_up(len(image))
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    base = host.syscall(9, 0, size, mmap.PROT_READ | mmap.PROT_WRITE, flags, -1, 0)
    if failed(base):
        raise VdsoError(errno.ENOMEM)
    ctypes.memmove(base, image, len(image))
    if failed(host.syscall(10, base, size, mmap.PROT_READ | mmap.PROT_EXEC, 0, 0, 0)):
        raise VdsoError(errno.ENOMEM)
    memory.record(base, base + size, mmap.PROT_READ | mmap.PROT_EXEC)
    memory.vdso = (base, base + size)
    return base, {name: base + at for name, at in offsets.items()}
