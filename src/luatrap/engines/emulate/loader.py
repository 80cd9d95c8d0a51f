"""Loading a program as Linux's execve does: ELF segments, PT_INTERP, the initial stack.

The program's segments are mapped from its file at their addresses (plus a load bias
for PIE), the dynamic loader named in PT_INTERP next to it, and the stack gets argc,
argv, envp and the auxiliary vector in the kernel's layout (the System V ABI, the same
for x86_64 and aarch64), and a vDSO (vdso.py; an aarch64 program's signal handlers
return through its trampoline, as the kernel's).
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import os
import secrets
import struct
from dataclasses import dataclass

from luatrap.engines.base import MACHINES
from luatrap.engines.emulate import host, rseq, vdso
from luatrap.engines.emulate.host import failed, page_down, page_up
from luatrap.engines.emulate.memory import MAP_FIXED, MAP_FIXED_NOREPLACE, GuestMemory, host_prot

PT_LOAD, PT_INTERP, PT_PHDR = 1, 3, 6
PROT_NONE = 0
ET_EXEC, ET_DYN = 2, 3
STACK_SIZE = 8 << 20
ADDR_NO_RANDOMIZE = 0x0040000  # personality(2): `setarch -R`
BRK_RANDOM_RANGE = 1 << 30  # arch_randomize_brk, 64-bit x86_64 and arm64
PROGRAM_BASE_TRIES = 8
MAX_SCRIPT_DEPTH = 4
AT = {"PHDR": 3, "PHENT": 4, "PHNUM": 5, "PAGESZ": 6, "BASE": 7, "FLAGS": 8, "ENTRY": 9,
      "UID": 11, "EUID": 12, "GID": 13, "EGID": 14, "PLATFORM": 15, "HWCAP": 16,
      "CLKTCK": 17, "SECURE": 23, "RANDOM": 25, "HWCAP2": 26, "EXECFN": 31,
      "MINSIGSTKSZ": 51, "RSEQ_FEATURE_SIZE": 27, "RSEQ_ALIGN": 28}


class ExecError(Exception):
    """The file cannot be executed; `errno` says why, as execve(2) would."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.errno = code


@dataclass
class Image:
    """One ELF file mapped into guest memory."""

    entry: int
    bias: int
    phdr: int
    phnum: int
    phent: int
    end: int
    interp: str | None


def _parse(path: str, expected: int | None = None) -> tuple[bytes, tuple, list[tuple]]:
    """The PT_INTERP path, the ELF header and the program headers of a file the engine
    can run (of machine `machine`, if given)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF":
                raise ExecError(errno.ENOEXEC, f"{path}: not an ELF file")
            if head[4] != 2 or head[5] != 1:
                raise ExecError(errno.ENOEXEC, f"{path}: not a 64-bit little-endian ELF")
            hdr = struct.unpack_from("<HHIQQQIHHHHHH", head, 16)
            e_type, machine, _, _, phoff, _, _, _, phentsize, phnum = hdr[:10]
            if machine not in MACHINES or e_type not in (ET_EXEC, ET_DYN):
                raise ExecError(errno.ENOEXEC, f"{path}: not an x86_64 or aarch64 executable")
            if expected is not None and machine != expected:
                raise ExecError(errno.ENOEXEC, f"{path}: not an {MACHINES[expected]} file")
            f.seek(phoff)
            raw = f.read(phentsize * phnum)
            if phentsize < 56 or len(raw) < phentsize * phnum:
                raise ExecError(errno.ENOEXEC, f"{path}: truncated program headers")
            phdrs = [struct.unpack_from("<IIQQQQQQ", raw, i * phentsize) for i in range(phnum)]
            interp = None
            for p_type, _, p_offset, _, _, p_filesz, _, _ in phdrs:
                if p_type == PT_INTERP:
                    f.seek(p_offset)
                    interp = f.read(p_filesz).split(b"\0")[0]
            return interp, hdr, phdrs
    except OSError as e:
        raise ExecError(e.errno or errno.ENOEXEC, f"{path}: {e.strerror}") from None


def _prot(flags: int) -> int:
    return ((mmap.PROT_READ if flags & 4 else 0) | (mmap.PROT_WRITE if flags & 2 else 0)
            | (mmap.PROT_EXEC if flags & 1 else 0))


def _randomizes(level: int) -> bool:
    """Does the kernel randomize this process's layout at `level` of randomize_va_space
    (1: mmap bases, 2: the brk too)? Never under ADDR_NO_RANDOMIZE (`setarch -R`)."""
    if host.libc.personality(0xFFFFFFFF) & ADDR_NO_RANDOMIZE:
        return False
    try:
        with open("/proc/sys/kernel/randomize_va_space") as f:
            return int(f.read()) >= level
    except (OSError, ValueError):
        return True


def _program_bases(arch) -> list[int]:
    """Where the kernel puts a PIE program (one with an interpreter): ELF_ET_DYN_BASE
    plus arch_mmap_rnd's random pages; then other random places, in case luatrap's own
    memory is there (Python's own image, under `setarch -R`)."""
    first = secrets.randbits(arch.mmap_rnd_bits) if _randomizes(1) else 0
    others = [secrets.randbits(arch.mmap_rnd_bits) for _ in range(PROGRAM_BASE_TRIES)]
    return [arch.program_base + (rnd << 12) for rnd in (first, *others)]


def _reserve(size: int, bases: list[int]) -> int:
    """An address range of `size` at the first of `bases` that is free, else anywhere."""
    private_anon = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    for want in bases:
        got = host.syscall(9, want, size, PROT_NONE, private_anon | MAP_FIXED_NOREPLACE,
                           -1, 0)
        if got == want:
            return got
    return host.syscall(9, 0, size, PROT_NONE, private_anon, -1, 0)


def load_elf(path: str, memory: GuestMemory, machine: int | None = None,
             bases: list[int] | None = None) -> Image:
    """Map the ELF file at `path` into guest memory, as the kernel would; a
    position-independent one at the first free of `bases`, if given, else anywhere."""
    interp, hdr, phdrs = _parse(path, machine)
    e_type, _, _, e_entry, e_phoff, _, _, _, e_phentsize, e_phnum = hdr[:10]
    loads = [p for p in phdrs if p[0] == PT_LOAD]
    if not loads:
        raise ExecError(errno.ENOEXEC, f"{path}: no loadable segment")
    lo = page_down(min(p[3] for p in loads))
    hi = page_up(max(p[3] + p[6] for p in loads))  # p_vaddr + p_memsz
    private_anon = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if e_type == ET_DYN:
        want, base = 0, _reserve(hi - lo, bases if bases and interp else [])
    else:
        want = lo
        base = host.syscall(9, want, hi - lo, PROT_NONE, private_anon | MAP_FIXED_NOREPLACE,
                            -1, 0)
    if failed(base) or (e_type == ET_EXEC and base != lo):
        raise ExecError(errno.ENOMEM, f"{path}: cannot map {hi - lo} bytes at {want:#x}")
    bias = base - lo
    memory.record(base, base + hi - lo, PROT_NONE)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for _, p_flags, p_offset, p_vaddr, _, p_filesz, p_memsz, _ in loads:
            _map_segment(fd, bias + p_vaddr, p_offset, p_filesz, p_memsz, _prot(p_flags), memory)
    finally:
        os.close(fd)
    phdr = next((bias + p[3] for p in phdrs if p[0] == PT_PHDR), None)
    if phdr is None:
        phdr = next(bias + p[3] + e_phoff - p[2] for p in loads
                    if p[2] <= e_phoff < p[2] + p[5])
    return Image(entry=bias + e_entry, bias=bias, phdr=phdr, phnum=e_phnum,
                 phent=e_phentsize, end=bias + hi, interp=interp.decode() if interp else None)


def _map_segment(fd: int, vaddr: int, offset: int, filesz: int, memsz: int, prot: int,
                 memory: GuestMemory) -> None:
    start, file_end, mem_end = page_down(vaddr), vaddr + filesz, page_up(vaddr + memsz)
    fixed = mmap.MAP_PRIVATE | MAP_FIXED
    writable = host_prot(prot) | mmap.PROT_WRITE
    if filesz:
        got = host.syscall(9, start, page_up(file_end) - start, writable, fixed, fd,
                           page_down(offset))
        if failed(got):
            raise ExecError(-got, f"cannot map a segment at {start:#x}")
        tail = page_up(file_end) - file_end
        if memsz > filesz and tail:  # the bss begins inside the file's last page
            ctypes.memset(file_end, 0, tail)
    anon_start = page_up(file_end) if filesz else start
    if mem_end > anon_start:
        got = host.syscall(9, anon_start, mem_end - anon_start, writable,
                           fixed | mmap.MAP_ANONYMOUS, -1, 0)
        if failed(got):
            raise ExecError(-got, f"cannot map a segment's bss at {anon_start:#x}")
    got = host.syscall(10, start, mem_end - start, host_prot(prot), 0, 0, 0)
    if failed(got):
        raise ExecError(-got, f"cannot protect a segment at {start:#x}")
    memory.record(start, mem_end, prot)


def script_argv(path: str, argv: list[str]) -> tuple[str, list[str]]:
    """Follow `#!` lines: the file to load and the argv it gets (as the kernel builds it)."""
    for _ in range(MAX_SCRIPT_DEPTH):
        try:
            with open(path, "rb") as f:
                head = f.read(256)
        except OSError as e:
            raise ExecError(e.errno or errno.ENOEXEC, f"{path}: {e.strerror}") from None
        if not head.startswith(b"#!"):
            return path, argv
        line = head[2:].split(b"\n")[0].strip()
        if not line:
            raise ExecError(errno.ENOEXEC, f"{path}: empty #! line")
        interp, _, arg = line.partition(b" ")
        extra = [arg.strip().decode(errors="surrogateescape")] if arg.strip() else []
        argv = [interp.decode(errors="surrogateescape"), *extra, path, *argv[1:]]
        path = argv[0]
    raise ExecError(errno.ELOOP, f"{path}: too many levels of #! interpreters")


def check_executable(path: str, sysroot: str | None = None) -> int:
    """0 if execve(path) could start it, else the errno execve would give: checked
    before luatrap gives its process to the new program, so a failing execve returns
    to its caller as it does natively (a missing `#!` or ELF interpreter, a truncated
    or foreign file). `sysroot`: where an aarch64 program's interpreter is looked up
    first (-L)."""
    failure = _runnable(path)
    if failure:
        return failure
    try:
        target, _ = script_argv(path, [path])
        if target != path and (failure := _runnable(target)):
            return failure
        interp = _parse(target)[0]
        if interp:
            if sysroot and os.path.exists(os.fsencode(sysroot) + interp):
                interp = os.fsencode(sysroot) + interp
            _parse(interp.decode(errors="surrogateescape"))
    except ExecError as e:
        return e.errno or errno.ENOEXEC
    return 0


def _runnable(path: str) -> int:
    """0 if `path` is a file this process may execute, else execve's errno."""
    try:
        st = os.stat(path)
    except OSError as e:
        return e.errno or errno.ENOENT
    if not os.path.isfile(path) or not os.access(path, os.X_OK) or not st.st_mode & 0o111:
        return errno.EACCES
    return 0


def build_stack(memory: GuestMemory, argv: list[bytes], envp: list[bytes], execfn: bytes,
                auxv: list[tuple[int, int]], arch) -> int:
    """Map the stack and lay out argc, argv, envp and auxv; the initial rsp."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    base = host.syscall(9, 0, STACK_SIZE, mmap.PROT_READ | mmap.PROT_WRITE, flags, -1, 0)
    if failed(base):
        raise ExecError(errno.ENOMEM, "cannot map the stack")
    memory.record(base, base + STACK_SIZE, mmap.PROT_READ | mmap.PROT_WRITE)
    sp = base + STACK_SIZE - 8

    def push(data: bytes) -> int:
        nonlocal sp
        sp -= len(data)
        ctypes.memmove(sp, data, len(data))
        return sp

    fn = push(execfn + b"\0")
    env_ptrs = [push(e + b"\0") for e in reversed(envp)][::-1]
    arg_ptrs = [push(a + b"\0") for a in reversed(argv)][::-1]
    platform = push(arch.platform + b"\0")
    random = push(os.urandom(16))
    sp &= ~15
    auxv = auxv + [(AT["PAGESZ"], host.PAGE), (AT["CLKTCK"], 100), (AT["FLAGS"], 0),
                   (AT["UID"], os.getuid()), (AT["EUID"], os.geteuid()),
                   (AT["GID"], os.getgid()), (AT["EGID"], os.getegid()), (AT["SECURE"], 0),
                   (AT["HWCAP"], arch.hwcap), (AT["HWCAP2"], arch.hwcap2),
                   (AT["MINSIGSTKSZ"], arch.min_signal_stack), (AT["RANDOM"], random),
                   (AT["RSEQ_FEATURE_SIZE"], rseq.FEATURE_SIZE), (AT["RSEQ_ALIGN"], rseq.ALIGN),
                   (AT["PLATFORM"], platform), (AT["EXECFN"], fn), (0, 0)]
    words = [len(argv), *arg_ptrs, 0, *env_ptrs, 0, *[x for pair in auxv for x in pair]]
    if len(words) % 2:
        sp -= 8
    return push(struct.pack(f"<{len(words)}Q", *words))


def _brk_start(exe: Image, arch) -> int:
    """Where the kernel starts the heap: after the program's data, or at ELF_ET_DYN_BASE
    for a static PIE (mapped among the libraries, with no room after it); then
    arch_randomize_brk's random pages."""
    start = page_up(exe.end)
    if not _randomizes(2):
        return start
    if exe.bias and not exe.interp:
        start = arch.program_base
    return start + secrets.randbelow(BRK_RANDOM_RANGE // host.PAGE) * host.PAGE


def load_program(memory: GuestMemory, path: str, argv: list[str], env: list[bytes],
                 arch, argv0: str | None = None) -> tuple[int, int]:
    """Load `path` (following #!) with its interpreter, for the guest architecture
    `arch`; (entry point, initial stack pointer)."""
    execfn = path.encode()
    path, argv = script_argv(path, argv)
    if argv0 is not None:
        argv = [argv0, *argv[1:]]
    exe = load_elf(path, memory, arch.elf_machine, _program_bases(arch))
    entry, interp_base = exe.entry, 0
    if exe.interp:
        interp = os.fsdecode(arch.in_sysroot(os.fsencode(exe.interp)))
        try:
            ld = load_elf(interp, memory, arch.elf_machine)
        except ExecError as e:
            if arch.translates and not arch.sysroot:
                raise ExecError(e.errno, f"{e} (an {arch.name} program's libraries: "
                                         "-L SYSROOT, as -L /usr/aarch64-linux-gnu)") from None
            raise
        entry, interp_base = ld.entry, ld.bias
    try:
        base, symbols = vdso.map_vdso(memory, arch.vdso)
    except vdso.VdsoError:
        raise ExecError(errno.ENOMEM, "cannot map the vDSO") from None
    arch.vdso_loaded(symbols)
    memory.brk_start = memory.brk = _brk_start(exe, arch)
    auxv = [(AT["PHDR"], exe.phdr), (AT["PHENT"], exe.phent), (AT["PHNUM"], exe.phnum),
            (AT["BASE"], interp_base), (AT["ENTRY"], exe.entry),
            (vdso.AT_SYSINFO_EHDR, base)]
    args = [a.encode(errors="surrogateescape") for a in argv]
    return entry, build_stack(memory, args, env, execfn, auxv, arch)

