"""An emulated CPU (x86_64 or aarch64): libunicorn (QEMU's TCG as a library) through raw
ctypes calls.

The unicorn package's own Python API costs 20-35 us per system call; the per-call path
is C (src/core/emulate_hook.c), and this module drives the rest of the CPU through raw
ctypes calls. Only the library file is taken from the package, so importing luatrap
does not import unicorn's bindings.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util
import os

UC_ARCH_X86, UC_MODE_64 = 4, 8
UC_HOOK_MEM_INVALID = 1008  # every *_UNMAPPED and *_PROT event
UC_PROT_READ, UC_PROT_WRITE, UC_PROT_EXEC = 1, 2, 4
UC_ERR_OK, UC_ERR_INSN_INVALID, UC_ERR_EXCEPTION = 0, 10, 21
UC_ERR_EXCEPTION = 21  # the TLB fill refused an access (hook.take_fault says which)

# Unicorn's register ids (unicorn/x86_const.py).
RAX, RBP, RBX, RCX, RDI, RDX, RIP, RSI, RSP = 35, 36, 37, 38, 39, 40, 41, 43, 44
R8, R9, R10, R11, R12, R13, R14, R15 = range(106, 114)
EFLAGS, FS_BASE, GS_BASE, MXCSR, FPCW = 25, 250, 251, 249, 246
CS, SS, GDTR, LDTR, MSR = 11, 49, 243, 244, 248
ARM64_SYSTEM_REGISTER = 290  # UC_ARM64_REG_CP_REG
I386_REGS = (RAX, RBX, RCX, RDX, RSI, RDI, RBP)

HOOK_MEM_INVALID = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_int,
                                    ctypes.c_uint64, ctypes.c_int, ctypes.c_int64,
                                    ctypes.c_void_p)


class SegmentRegister(ctypes.Structure):
    """Unicorn's uc_x86_mmr: a descriptor table register's selector, base and limit."""

    _fields_ = [("selector", ctypes.c_uint16), ("base", ctypes.c_uint64),
                ("limit", ctypes.c_uint32), ("flags", ctypes.c_uint32)]


class ModelSpecificRegister(ctypes.Structure):
    """Unicorn's uc_x86_msr: an MSR's number and value."""

    _fields_ = [("rid", ctypes.c_uint32), ("value", ctypes.c_uint64)]


class SystemRegister(ctypes.Structure):
    """Unicorn's uc_arm64_cp_reg: an aarch64 system register by its encoding."""

    _fields_ = [("crn", ctypes.c_uint32), ("crm", ctypes.c_uint32), ("op0", ctypes.c_uint32),
                ("op1", ctypes.c_uint32), ("op2", ctypes.c_uint32), ("value", ctypes.c_uint64)]


class UnicornError(Exception):
    """libunicorn refused an operation."""


def _load() -> tuple[ctypes.CDLL, str]:
    spec = importlib.util.find_spec("unicorn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("unicorn is not installed")
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "lib", "libunicorn.so.2")
        if os.path.exists(path):
            lib = ctypes.CDLL(path)
            break
    else:
        raise ImportError("libunicorn.so.2 not found in the unicorn package")
    vp, u64, i32 = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int
    protos = {
        "uc_open": (i32, [i32, i32, ctypes.POINTER(vp)]),
        "uc_strerror": (ctypes.c_char_p, [i32]),
        "uc_reg_read": (i32, [vp, i32, vp]),
        "uc_reg_write": (i32, [vp, i32, vp]),
        "uc_reg_read_batch": (i32, [vp, vp, vp, i32]),
        "uc_reg_write_batch": (i32, [vp, vp, vp, i32]),
        "uc_emu_start": (i32, [vp, u64, u64, u64, ctypes.c_size_t]),
        "uc_emu_stop": (i32, [vp]),
        "uc_hook_add": (i32, [vp, ctypes.POINTER(ctypes.c_size_t), i32, vp, vp, u64, u64]),
        "uc_hook_del": (i32, [vp, ctypes.c_size_t]),
        "uc_context_alloc": (i32, [vp, ctypes.POINTER(vp)]),
        "uc_context_save": (i32, [vp, vp]),
        "uc_context_restore": (i32, [vp, vp]),
        "uc_context_free": (i32, [vp]),
        "uc_context_reg_write": (i32, [vp, i32, vp]),
        "uc_ctl": (i32, [vp, i32, i32]),
        "uc_close": (i32, [vp]),
        "uc_mem_map": (i32, [vp, u64, ctypes.c_size_t, ctypes.c_uint32]),
        "uc_mem_write": (i32, [vp, u64, vp, ctypes.c_size_t]),
        "uc_context_size": (ctypes.c_size_t, [vp]),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib, path


lib, LIBRARY = _load()  # LIBRARY: the file, for the C hook to take its functions from


def _exit_check_switch(function: str) -> int | None:
    """Where libunicorn keeps `uc_struct.no_exit_request`, read from its own code.

    Unicorn checks for a stop request after every guest memory access, and a stop found
    there puts rip back at the start of the instruction whose store is already done: a
    `lock cmpxchg` or `add [mem], 1` stopped from another thread runs twice (a lock
    taken twice deadlocks the program). `no_exit_request` (Unicorn's switch for ARM IT
    blocks) leaves out those checks when code is translated, so a stop lands only at a
    block's start, where rip is exact. Its offset is the displacement of the first
    `cmpb $0, disp32(%rsi)` in check_exit_request_<arch>; None if that is not there."""
    try:
        code = ctypes.string_at(ctypes.cast(getattr(lib, function), ctypes.c_void_p), 32)
    except AttributeError:
        return None
    at = code.find(b"\x80\xbe")
    if at < 0 or at + 7 > len(code) or code[at + 6] != 0:
        return None
    return int.from_bytes(code[at + 2:at + 6], "little")


def _probe_context(code: bytes) -> tuple[bytes, bytes] | None:
    """A fresh x86_64 CPU's saved context before and after it runs `code` (which
    faults), as raw bytes; None if Unicorn refuses a step."""
    handle, ctx = ctypes.c_void_p(), ctypes.c_void_p()
    if lib.uc_open(UC_ARCH_X86, UC_MODE_64, ctypes.byref(handle)) != UC_ERR_OK:
        return None
    try:
        size = lib.uc_context_size(handle)
        if lib.uc_mem_map(handle, 0x1000, 0x1000, 7) or \
                lib.uc_mem_write(handle, 0x1000, code, len(code)) or \
                lib.uc_context_alloc(handle, ctypes.byref(ctx)):
            return None
        lib.uc_context_save(handle, ctx)
        before = ctypes.string_at(ctx, size)
        lib.uc_emu_start(handle, 0x1000, 0x1000 + len(code), 0, 0)
        lib.uc_context_save(handle, ctx)
        return before, ctypes.string_at(ctx, size)
    finally:
        if ctx.value:
            lib.uc_context_free(ctx)
        lib.uc_close(handle)


@functools.cache
def _exception_in_flight() -> int | None:
    """Where a saved x86 context keeps QEMU's `old_exception`, found by experiment.

    QEMU's x86 CPU remembers the fault being delivered, so that a second one during the
    delivery becomes a double fault, and a third a triple fault (a machine reset); it
    forgets it once the delivery is done. Unicorn hands faults to a hook and never
    delivers them, so it never forgets: a program's second SIGFPE came as SIGSEGV (a
    double fault), its third hung the CPU. The field is the one int that a fresh CPU
    holds as -1 and that holds the vector after a fault, for #DE (0) and #GP (13)
    alike; None unless exactly one offset says so."""
    offsets = None
    for code, vector in ((b"\x31\xc9\xf7\xf1", 0),  # xor ecx, ecx; div ecx
                         (b"\x66\xb8\x08\x00\x8e\xe8", 13)):  # mov ax, 8; mov gs, ax
        contexts = _probe_context(code)
        if contexts is None:
            return None
        before, after = contexts
        found = {at for at in range(0, len(before) - 3, 4)
                 if before[at:at + 4] == b"\xff" * 4
                 and int.from_bytes(after[at:at + 4], "little") == vector}
        offsets = found if offsets is None else offsets & found
    return offsets.pop() if offsets and len(offsets) == 1 else None


UC_CTL_CPU_MODEL_WRITE = 7 | 1 << 26 | 1 << 30  # UC_CTL_WRITE(UC_CTL_CPU_MODEL, 1)
UC_CTL_PAGE_SIZE_WRITE = 1 | 1 << 26 | 1 << 30  # UC_CTL_WRITE(UC_CTL_UC_PAGE_SIZE, 1)


def uc_perms(prot: int) -> int:
    """Unicorn permissions for mmap's PROT_* bits (they happen to be the same bits)."""
    return prot & (UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC)


class Cpu:
    """One emulated CPU whose memory is host memory at the same addresses; `arch` is
    the guest's description (guest_arch.py)."""

    def __init__(self, arch) -> None:
        self.arch = arch
        self.handle = ctypes.c_void_p()
        self._check(lib.uc_open(arch.uc_arch, arch.uc_mode, ctypes.byref(self.handle)), "open")
        self.uc = self.handle.value
        if arch.cpu_model is not None:
            self._check(lib.uc_ctl(self.uc, UC_CTL_CPU_MODEL_WRITE, arch.cpu_model), "cpu model")
        if arch.uc_page_size is not None:  # ARM's softmmu pages are 1 kB unless told
            self._check(lib.uc_ctl(self.uc, UC_CTL_PAGE_SIZE_WRITE, arch.uc_page_size),
                        "page size")
        self._word = ctypes.c_uint64()
        self._word_p = ctypes.addressof(self._word)
        self.error: BaseException | None = None  # raised in a hook, re-raised by run()
        # Maps go through the C hook, which keeps the guest map that fills Unicorn's
        # TLB (src/core/emulate_hook.c); the emulator sets it before mapping anything.
        self.guest_map = None
        self._scratch: ctypes.c_void_p | None = None  # a context for forget_fault
        self.stops_exactly = self._stop_only_at_block_starts()
        arch.prepare(self)

    def _stop_only_at_block_starts(self) -> bool:
        """Make stop() from another thread exact (see _exit_check_switch); False if
        this libunicorn does not have the switch where it is expected."""
        offset = _exit_check_switch(self.arch.exit_check)
        if offset is None:
            return False
        self.read(self.arch.PC)  # completes the lazy initialisation: init_done follows
        switch = (ctypes.c_uint8 * 2).from_address(self.uc + offset)
        if tuple(switch) != (0, 1):
            return False
        switch[0] = 1
        return True

    @staticmethod
    def _check(err: int, what: str) -> None:
        if err != UC_ERR_OK:
            raise UnicornError(f"unicorn {what}: {lib.uc_strerror(err).decode()}")

    def map(self, addr: int, size: int, prot: int) -> None:
        """Show the host pages [addr, addr+size) to the guest with PROT_* `prot`."""
        try:
            self.guest_map.map(addr, addr + size, uc_perms(prot))
        except OSError as e:
            raise UnicornError(str(e)) from None

    def unmap(self, addr: int, size: int) -> None:
        try:
            self.guest_map.unmap(addr, addr + size)
        except OSError as e:
            raise UnicornError(str(e)) from None

    def forget_code(self, start: int, end: int) -> None:
        """Drop translated blocks of [start, end): the code there changed."""
        self.guest_map.forget_code(start, end)

    def read(self, reg: int) -> int:
        lib.uc_reg_read(self.uc, reg, self._word_p)
        return self._word.value

    def write(self, reg: int, value: int) -> None:
        self._word.value = value & 0xFFFFFFFFFFFFFFFF
        lib.uc_reg_write(self.uc, reg, self._word_p)

    def set_gdtr(self, base: int, limit: int) -> None:
        """Point the GDT register at a table of limit + 1 bytes."""
        value = SegmentRegister(0, base, limit, 0)
        self._check(lib.uc_reg_write(self.uc, GDTR, ctypes.byref(value)), "gdtr")

    def read_msr(self, number: int) -> int:
        msr = ModelSpecificRegister(number, 0)
        self._check(lib.uc_reg_read(self.uc, MSR, ctypes.byref(msr)), "msr")
        return msr.value

    def write_msr(self, number: int, value: int) -> None:
        msr = ModelSpecificRegister(number, value)
        self._check(lib.uc_reg_write(self.uc, MSR, ctypes.byref(msr)), "msr")

    def read_system_register(self, encoding: tuple[int, int, int, int, int]) -> int:
        """An aarch64 system register (op0, op1, crn, crm, op2), whatever the CPU's
        exception level."""
        op0, op1, crn, crm, op2 = encoding
        reg = SystemRegister(crn, crm, op0, op1, op2, 0)
        self._check(lib.uc_reg_read(self.uc, ARM64_SYSTEM_REGISTER, ctypes.byref(reg)),
                    "system register")
        return reg.value

    def write_system_register(self, encoding: tuple[int, int, int, int, int],
                              value: int) -> None:
        """Set an aarch64 system register (op0, op1, crn, crm, op2); Unicorn then
        recomputes what translation depends on, the exception level included."""
        op0, op1, crn, crm, op2 = encoding
        reg = SystemRegister(crn, crm, op0, op1, op2, value)
        self._check(lib.uc_reg_write(self.uc, ARM64_SYSTEM_REGISTER, ctypes.byref(reg)),
                    "system register")

    def set_ldtr(self, base: int, limit: int, ctx: ctypes.c_void_p | None = None) -> None:
        """Point the LDT register (of the running CPU, or of a saved context) at a
        table of limit + 1 bytes: a present LDT descriptor, as the kernel installs."""
        value = SegmentRegister(0, base, limit, 0x8200)
        if ctx is None:
            self._check(lib.uc_reg_write(self.uc, LDTR, ctypes.byref(value)), "ldtr")
        else:
            self._check(lib.uc_context_reg_write(ctx, LDTR, ctypes.byref(value)), "ldtr")

    def forget_fault(self) -> None:
        """The guest's fault has been taken (it becomes a signal): let the x86 CPU
        forget it, as QEMU does once a fault is delivered (_exception_in_flight)."""
        at = _exception_in_flight()
        if at is None:
            return
        if self._scratch is None:
            self._scratch = self.new_context()
        lib.uc_context_save(self.uc, self._scratch)
        ctypes.c_int32.from_address(self._scratch.value + at).value = -1
        lib.uc_context_restore(self.uc, self._scratch)

    def batch(self, regs: tuple[int, ...]) -> RegisterBatch:
        return RegisterBatch(self.uc, regs)

    def fault_address(self, page: int) -> int:
        """The address in `page` that the instruction at rip could not reach (the TLB
        fill knows only the page): run it once more under Unicorn's own MMU with a hook
        on bad accesses, which is told the address. Neither is kept: under that MMU, or
        while any memory hook exists, Unicorn takes its slow path for every store."""
        seen: list[int] = []

        def on_fault(_uc, _kind, address, _size, _value, _data):
            seen.append(address)
            return False
        callback = HOOK_MEM_INVALID(on_fault)
        handle = ctypes.c_size_t()
        self.guest_map.use_own_tlb(False)
        try:
            if lib.uc_hook_add(self.uc, ctypes.byref(handle), UC_HOOK_MEM_INVALID,
                               ctypes.cast(callback, ctypes.c_void_p), None,
                               ctypes.c_uint64(1), ctypes.c_uint64(0)) == UC_ERR_OK:
                lib.uc_emu_start(self.uc, self.read(self.arch.PC), 0, 0, 1)
                lib.uc_hook_del(self.uc, handle)
        finally:
            self.guest_map.use_own_tlb(True)
        return seen[0] if seen else page

    def run(self) -> int:
        """Execute from the pc until stopped or a fault; the unicorn error code (0:
        stopped). The C hook starts Unicorn: a ctypes call costs a microsecond or two."""
        err = self.guest_map.resume()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return err

    def stop(self) -> None:
        """Make run() return at the next block boundary (from a hook of this CPU)."""
        lib.uc_emu_stop(self.uc)

    def interrupt(self) -> None:
        """stop(), from another thread: only where that is exact; elsewhere the thread
        running guest code notices at its next system call."""
        if self.stops_exactly:
            lib.uc_emu_stop(self.uc)

    def new_context(self) -> ctypes.c_void_p:
        ctx = ctypes.c_void_p()
        self._check(lib.uc_context_alloc(self.uc, ctypes.byref(ctx)), "context")
        return ctx

    def free_context(self, ctx: ctypes.c_void_p) -> None:
        lib.uc_context_free(ctx)

    def save(self, ctx: ctypes.c_void_p) -> None:
        lib.uc_context_save(self.uc, ctx)

    def restore(self, ctx: ctypes.c_void_p) -> None:
        lib.uc_context_restore(self.uc, ctx)

    def context_write(self, ctx: ctypes.c_void_p, reg: int, value: int) -> None:
        """Set a register in a saved context (not the running CPU)."""
        self._word.value = value & 0xFFFFFFFFFFFFFFFF
        lib.uc_context_reg_write(ctx, reg, self._word_p)


class RegisterBatch:
    """Reads or writes a fixed list of 64-bit registers in one library call: `values`,
    as signed integers."""

    def __init__(self, uc: int, regs: tuple[int, ...]) -> None:
        n = len(regs)
        self.uc, self.n = uc, n
        self.values = (ctypes.c_int64 * n)()
        self.ids = (ctypes.c_int * n)(*regs)
        base = ctypes.addressof(self.values)
        self.ptrs = (ctypes.c_void_p * n)(*[base + 8 * i for i in range(n)])

    def load(self) -> ctypes.Array:
        """The registers' current values as signed 64-bit integers."""
        lib.uc_reg_read_batch(self.uc, self.ids, self.ptrs, self.n)
        return self.values

    def store(self) -> None:
        """Write `values` back into the registers."""
        lib.uc_reg_write_batch(self.uc, self.ids, self.ptrs, self.n)
