"""What the emulate engine needs to know of a guest architecture, described once.

The Linux layer (linux.py) is the same for every guest; a GuestArch says where its
registers are, how its program is loaded and started, how a system call is restarted
and a signal handler entered, and which of its calls the host can make as they are.
x86_64 guests are the host's own ABI; aarch64 guests (aarch64.py) translate.
"""
from __future__ import annotations

import ctypes
import signal
from typing import TYPE_CHECKING

from luatrap.engines.emulate import cpu as regs
from luatrap.engines.emulate import ldt
from luatrap.engines.emulate import signals as sig
from luatrap.engines.emulate.ldt import USER_CS, USER_DS
from luatrap.engines.emulate.vdso import SYSRETQ, X86_64_VDSO
from luatrap.syscalls import table

if TYPE_CHECKING:
    from luatrap.engines.emulate.cpu import Cpu
    from luatrap.engines.emulate.linux import Emulator

EM_X86_64, EM_AARCH64 = 62, 183
MSR_EFER, EFER_SCE, MSR_STAR = 0xC0000080, 1, 0xC0000081
INITIAL_RFLAGS = 0x202  # interrupts enabled (and the bit that is always 1), as at exec


class GuestArch:
    """One guest architecture (this base is x86_64, the host's own ABI)."""

    name = "x86_64"
    elf_machine = EM_X86_64
    uc_arch, uc_mode, cpu_model = regs.UC_ARCH_X86, regs.UC_MODE_64, None
    uc_page_size: int | None = None  # the softmmu's page size, where it must be set
    exit_check = "check_exit_request_x86_64"  # Unicorn's function (cpu._exit_check_switch)
    PC, SP, RESULT, TLS = regs.RIP, regs.RSP, regs.RAX, regs.FS_BASE
    syscalls = table.X86_64
    platform = b"x86_64"
    hwcap = 0x178BFBFF
    hwcap2 = 2  # HWCAP2_FSGSBASE: Unicorn runs rdfsbase/wrfsbase (its CR4 enables them)
    min_signal_stack = sig.MIN_SIGNAL_STACK
    vdso = X86_64_VDSO  # what its vDSO holds
    audit_arch = 0xC000003E  # AUDIT_ARCH_X86_64, a seccomp filter's name for it
    user_top = 0x7FFFFFFFF000  # the kernel's TASK_SIZE: user addresses lie below
    program_base = 0x555555554000  # ELF_ET_DYN_BASE: a PIE program's place
    mmap_rnd_bits = 28  # the random pages added to it (mmap_rnd_bits' default)
    translates = False  # do its call numbers and structures differ from the host's?
    sysroot: str | None = None  # -L: where the guest's absolute paths are looked up first
    enter_user_mode = 0  # where the vDSO's sysretq is (vdso_loaded)
    handler_selector = USER_CS  # the code segment a signal handler runs in
    # Unicorn interrupt numbers -> (signal, si_code) of a fault
    FAULT_SIGNALS = {0: (signal.SIGFPE, 1), 1: (signal.SIGTRAP, 1),
                     3: (signal.SIGTRAP, 0x80), 4: (signal.SIGSEGV, 0x80),
                     5: (signal.SIGSEGV, 0x80), 6: (signal.SIGILL, 2),
                     11: (signal.SIGBUS, 0x80), 12: (signal.SIGBUS, 0x80),
                     13: (signal.SIGSEGV, 0x80), 16: (signal.SIGFPE, 0)}

    def prepare(self, cpu: Cpu) -> None:
        """Set the CPU up as the kernel leaves it for a new program: the x87 control
        word and MXCSR of `fninit` and the ABI (every exception masked, 64-bit
        precision); Unicorn starts both at 0 (single precision, exceptions unmasked)."""
        cpu.write(regs.FPCW, 0x037F)
        cpu.write(regs.MXCSR, 0x1F80)

    def enter_program(self, emu: Emulator, entry: int) -> None:
        """Start the program at `entry` in user mode, as the kernel returns to it: at
        privilege 3 (privileged instructions fault), selectors 0x33 and 0x2b, through
        the kernel's global descriptor table (ldt.py). Unicorn's CPU starts at
        privilege 0; the way down that needs no memory frame is the kernel's own,
        sysretq (to rip = rcx, rflags = r11, selectors from the STAR MSR): the vDSO
        holds one, run to the instruction after it."""
        cpu = emu.cpu
        emu.descriptor_tables = tables = ldt.DescriptorTables(emu)
        cpu.set_gdtr(tables.gdt, ldt.GDT_ENTRIES * ldt.ENTRY_SIZE - 1)
        cpu.write_msr(MSR_EFER, cpu.read_msr(MSR_EFER) | EFER_SCE)
        cpu.write_msr(MSR_STAR, (USER_CS - 16) << 48)  # sysretq loads this + 16, + 8
        after = self.enter_user_mode + len(SYSRETQ)
        cpu.write(regs.RCX, after)
        cpu.write(regs.R11, INITIAL_RFLAGS)
        err = emu.hook.run_to(self.enter_user_mode, (after,))
        if err or (cpu.read(self.PC), cpu.read(regs.CS) & 0xFFFF,
                   cpu.read(regs.SS) & 0xFFFF) != (after, USER_CS, USER_DS):
            raise regs.UnicornError("unicorn: the CPU did not enter user mode")
        cpu.write(regs.RCX, 0)
        cpu.write(regs.R11, 0)
        cpu.write(self.PC, entry)

    def set_code_segment(self, emu: Emulator, selector: int) -> None:
        """Make `selector` the code segment, the pc unchanged, as the kernel's iret does
        when it returns to 32-bit code or starts a handler from there (ldt.py's
        far_jump; a selector that cannot be loaded is the thread's fault)."""
        if emu.cpu.read(regs.CS) & 0xFFFF != selector:
            emu.descriptor_tables.far_jump(emu, selector)

    def answers_trap(self, cpu: Cpu, vector: int) -> bool:
        """Does the kernel answer this exception for the program (x86_64: never)? True:
        answered, and the program goes on."""
        return False

    def took_fault(self, cpu: Cpu) -> None:
        """A fault of the guest's becomes a signal: the CPU must not count it as still
        in flight (Cpu.forget_fault)."""
        cpu.forget_fault()

    def faults_without_page(self, addr: int) -> bool:
        """Is an access at `addr` a general protection fault (a non-canonical address,
        no page to miss), which the kernel reports as SI_KERNEL without an address?"""
        return 1 << 47 <= addr < (1 << 64) - (1 << 47)

    def host_numbers(self) -> dict[int, int]:
        """Guest call number -> the host's number for the same call."""
        return {s.nr: s.nr for s in self.syscalls.all}

    def calls(self) -> dict[int, object]:
        """Guest call number -> its translation for the host (none for x86_64)."""
        return {}

    def vdso_loaded(self, symbols: dict[str, int]) -> None:
        """The loader mapped the vDSO: where its symbols and unnamed code are."""
        self.enter_user_mode = symbols["enter_user_mode"]

    def in_sysroot(self, path: bytes) -> bytes:
        """An absolute path as the guest means it (see aarch64.py's -L)."""
        return path

    def after_syscall(self, cpu: Cpu) -> int:
        """Where execution goes on after the call the hook is serving (a clone child's
        start): x86_64's hook runs with rip still at `syscall`."""
        return cpu.read(self.PC) + 2

    def is_after_syscall(self, pc: int) -> bool:
        """Is the instruction just before `pc` a system call (is a restart possible)?"""
        return ctypes.string_at(pc - 2, 2) == b"\x0f\x05"

    def restart(self, cpu: Cpu, nr: int, first_arg: int) -> None:
        """Back over the system call instruction, to make call `nr` again."""
        cpu.write(self.PC, cpu.read(self.PC) - 2)
        cpu.write(self.RESULT, nr)

    def handler_return(self, act: sig.Action) -> int:
        """Where a signal handler returns to (the frame itself is built in C): x86_64's
        libc always gives a restorer that makes rt_sigreturn."""
        return act.restorer


X86_64 = GuestArch()
