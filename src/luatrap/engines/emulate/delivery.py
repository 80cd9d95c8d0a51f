"""How the emulate engine delivers a signal to a guest thread: a fault's (SIGSEGV,
SIGILL, ...), or a pending one's, with its handler's frame, SA_RESTART and the restart
of the call it interrupted, as the kernel does on the way back to user mode.
(A part of the Emulator, kept apart to read.)"""
from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from luatrap.engines.emulate import cpu as regs
from luatrap.engines.emulate import host, rseq
from luatrap.engines.emulate import signals as sig
from luatrap.engines.emulate.memory import GuestFault
from luatrap.engines.emulate.watcher import thread_pending
from luatrap.syscalls import table

if TYPE_CHECKING:
    from luatrap.engines.emulate.threads import GuestThread

SEGV_MAPERR, SEGV_ACCERR, ILL_ILLOPN, SI_KERNEL = 1, 2, 2, 0x80  # si_code values
MAX_INSTRUCTION = 15  # bytes (x86; aarch64's are 4)
# The x86_64 vsyscall page's entries (the kernel emulates a call to one): address ->
# the system call it makes.
VSYSCALLS = {0xFFFFFFFFFF600000: table.by_name("gettimeofday").nr,
             0xFFFFFFFFFF600400: table.by_name("time").nr,
             0xFFFFFFFFFF600800: table.by_name("getcpu").nr}
# Calls the kernel never restarts after a handler, SA_RESTART or not (signal(7)).
RESTARTABLE_NEVER = {table.by_name(n).nr for n in (
    "pause", "rt_sigsuspend", "nanosleep", "clock_nanosleep", "poll", "ppoll", "select",
    "pselect6", "epoll_wait", "epoll_pwait", "epoll_pwait2", "rt_sigtimedwait", "semop",
    "semtimedop", "msgrcv", "msgsnd", "io_getevents")}


class SignalDelivery:
    """The Emulator's signal delivery."""

    def fault(self, t: GuestThread, err: int) -> None:
        """The guest touched bad memory or ran a bad instruction: the kernel's signal."""
        refused = self.hook.take_fault()
        if refused is not None and self.vsyscall(refused[0]):
            return
        if refused is not None and refused[2]:
            refused = self.reach_fetch_fault(refused)
        info = None
        if t.fault:
            signo, code, addr, *given = t.fault
            info = given[0] if given else None
        elif refused is not None and err == regs.UC_ERR_EXCEPTION:
            page, mapped, _ = refused
            if self.arch.faults_without_page(page):
                signo, code, addr = signal.SIGSEGV, SI_KERNEL, 0
            else:
                addr = self.cpu.fault_address(page)
                self.hook.take_fault()  # what the second try refused again
                signo, code = signal.SIGSEGV, SEGV_ACCERR if mapped else SEGV_MAPERR
        else:
            signo, code, addr = (signal.SIGILL, ILL_ILLOPN, None) \
                if err == regs.UC_ERR_INSN_INVALID else (signal.SIGSEGV, SEGV_MAPERR, None)
        t.fault = 0
        if addr is None:  # the faulting instruction's address, as the kernel gives,
            addr = 0 if code == SI_KERNEL else self.cpu.read(self.arch.PC)  # or none
        act = self.signals.actions[signo]
        if act.handler in (sig.SIG_DFL, sig.SIG_IGN) or t.mask & sig.bit(signo):
            self.exit_process(None, signo)
        self.enter_handler(t, signo, act, info or sig.make_info(signo, code, addr=addr))

    def reach_fetch_fault(self, refused: tuple) -> tuple:
        """An instruction fetch was refused while Unicorn translated a block that runs
        into a page the guest may not execute: the pc is still at the block's start,
        and the instructions before the refused one have not run. Run them, a block
        ending at each address an instruction reaching into the page could begin at,
        until the next instruction is the one that cannot be fetched: the fault then
        comes where the kernel's does, with the registers its signal frame shows."""
        page = refused[0] & ~0xFFF
        window = range(page - MAX_INSTRUCTION, page + 1)
        for _ in range(len(window) + 1):
            pc = self.cpu.read(self.arch.PC)
            if pc == page or not page - 4096 < pc < page:
                break
            err = self.hook.run_to(pc, tuple(a for a in window if a != pc))
            fault = self.hook.take_fault()
            moved_to = self.cpu.read(self.arch.PC)
            if moved_to == pc:  # the instruction at pc is the one that cannot be fetched
                break
            if moved_to not in window or (err and fault is not None and not fault[2]):
                return fault or refused  # it went elsewhere: that fault is the one
        return refused

    def vsyscall(self, page: int) -> bool:
        """A call into the x86_64 vsyscall page (old static programs): as the kernel
        does, make its system call (rules see it) and return to the caller."""
        pc = self.cpu.read(self.arch.PC)
        nr = VSYSCALLS.get(pc) if not self.arch.translates and page == pc & ~0xFFF else None
        if nr is None:
            return False
        sp = self.cpu.read(regs.RSP)
        try:
            return_to = self.memory.read_u64(sp)
        except GuestFault:
            return False  # the kernel's SIGSEGV
        args = [self.cpu.read(r) for r in (regs.RDI, regs.RSI, regs.RDX)] + [0, 0, 0]
        result = self.on_syscall(nr, *args)
        if result is not None:
            self.cpu.write(regs.RAX, result)
        self.cpu.write(regs.RIP, return_to)
        self.cpu.write(regs.RSP, sp + 8)
        return True

    def take_own_signals(self, t: GuestThread) -> None:
        """Take the signals sent to `t`'s host thread itself (only that thread can), and
        make them guest signals for `t`."""
        t.own_signals = False
        pending = thread_pending(t.tid)
        for signo in range(1, 65):
            if not pending & sig.bit(signo) or signo not in sig.ALL:
                continue
            info = host.take_signal(signo)
            if info is not None:
                self.signals.post(signo, info, t, self.threads)
        self.note_signals()

    def deliver_signals(self, t: GuestThread) -> None:
        """Run the guest handler of each deliverable pending signal (or its default)."""
        interrupted, t.interrupted = t.interrupted, None
        always, t.restart_always = t.restart_always, False
        if interrupted is not None:  # only if the pc is still right after that call
            pc = self.cpu.read(self.arch.PC)
            if (not self.memory.covers(host.page_down(pc - 4), pc)
                    or not self.arch.is_after_syscall(pc)):
                interrupted = None
        while True:
            signo, info = self.signals.take(t)
            if not signo:
                if t.saved_mask is not None:  # rt_sigsuspend ended without a handler
                    t.mask, t.saved_mask = t.saved_mask, None
                if interrupted is not None:  # no handler ran: the kernel restarts it
                    self.restart_call(interrupted)
                self.note_signals()
                return
            act = self.signals.actions[signo]
            if act.handler == sig.SIG_IGN:
                continue
            if act.handler == sig.SIG_DFL:
                if signo in sig.IGNORED_BY_DEFAULT:
                    continue
                if signo in sig.STOP_BY_DEFAULT:
                    sig.stop_by(signo)
                    continue
                self.exit_process(None, signo)
            if interrupted is not None and (always or (
                    act.flags & sig.SA_RESTART and interrupted not in RESTARTABLE_NEVER)):
                self.restart_call(interrupted)
            interrupted = None  # a second handler nests on the first one's frame
            self.enter_handler(t, signo, act, info)

    def restart_call(self, nr: int) -> None:
        """Back over the system call instruction, to make call `nr` again."""
        self.arch.restart(self.cpu, nr, self.current.first_arg)

    def enter_handler(self, t: GuestThread, signo: int, act: sig.Action, info: bytes) -> None:
        """Run `signo`'s guest handler; a stack that cannot take its frame is the
        kernel's forced SIGSEGV."""
        rseq.interrupted(self, t, preempted=False)  # a critical section is left
        try:
            sig.enter_handler(self.hook, t, signo, act, info, self.arch.handler_return(act))
            self.arch.set_code_segment(self, self.arch.handler_selector)  # from 32-bit code
        except GuestFault:
            self.exit_process(None, signal.SIGSEGV)

    def sigreturn(self, t: GuestThread) -> None:
        """rt_sigreturn, made in the system call hook. A frame whose code selector is
        not the CPU's (back to 32-bit code) needs a far jump, which cannot run inside
        the hook: the CPU stops, and the run loop makes it (switch_code_segment)."""
        try:
            selector = sig.sigreturn(self.hook, t)
        except GuestFault:
            self.exit_process(None, signal.SIGSEGV)
        if selector:
            t.code_selector = selector
            self.cpu.stop()

    def switch_code_segment(self, t: GuestThread) -> None:
        """The code segment rt_sigreturn restored (see sigreturn); one that cannot be
        loaded is the kernel's SIGSEGV, at the frame's pc."""
        selector, t.code_selector = t.code_selector, None
        try:
            self.arch.set_code_segment(self, selector)
        except GuestFault:
            self.exit_process(None, signal.SIGSEGV)
        if t.fault:
            self.fault(t, 0)
