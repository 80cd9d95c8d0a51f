"""luatrap's Linux layer for one emulated process: system calls, threads, faults, signals.

Every `syscall` instruction of the guest lands in `on_syscall`. A call with a rule (or
every call, when tracing) goes to the session first; then it is either emulated (the
calls in `calls.EMULATED`: memory maps, signals, threads, processes, exit) or forwarded
to the host kernel as it is, on the guest thread's own host thread. A call that may
block, made while other guest threads exist, is made outside the CPU (see threads.py).
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import signal
import threading

from luatrap import _core
from luatrap.engines.base import EngineError, Program
from luatrap.engines.emulate import calls, guest_pointers, host, loader, proc_self, processes, rseq
from luatrap.engines.emulate import cpu as regs
from luatrap.engines.emulate import signals as sig
from luatrap.engines.emulate.calls import DONE, OUTSIDE
from luatrap.engines.emulate.cpu import Cpu
from luatrap.engines.emulate.delivery import SignalDelivery
from luatrap.engines.emulate.descriptors import ReservedFds, fd_base, keep_log_fds
from luatrap.engines.emulate.foreign import OPEN_CALLS, X32_BIT, ForeignCalls
from luatrap.engines.emulate.guest_arch import X86_64, GuestArch
from luatrap.engines.emulate.ldt import DescriptorTables
from luatrap.engines.emulate.memory import GuestFault, GuestMemory
from luatrap.engines.emulate.robust import release_robust_futexes
from luatrap.engines.emulate.seccomp import GuestSeccomp
from luatrap.engines.emulate.threads import CpuLock, GuestThread
from luatrap.engines.emulate.watcher import Watcher, block_signals
from luatrap.engines.process_memory import ProcessMemory
from luatrap.session import RunNow, Session
from luatrap.syscalls import table

host_syscall = host.syscall
NEVER_BLOCK = table.never_waits()
PSELECT6 = table.by_name("pselect6").nr
WAITS_WITH_MASK = {PSELECT6: 5, table.by_name("ppoll").nr: 3,  # where the mask pointer is
                   table.by_name("epoll_pwait").nr: 4, table.by_name("epoll_pwait2").nr: 4}
EPIPE_SIGNALS = {-errno.EPIPE: signal.SIGPIPE, -errno.EFBIG: signal.SIGXFSZ}
# The C hook's routes (src/core/emulate_hook.c): Python, the host (may block), the host
# (never blocks, so also while other guest threads wait for the CPU).
ROUTE_PYTHON, ROUTE_HOST, ROUTE_HOST_NEVER_BLOCKS = 0, 1, 2
MAX_ROUTED = 1024


class Emulator(ForeignCalls, SignalDelivery):
    """One guest process: its CPU, memory, threads and signal state."""

    def __init__(self, session: Session, arch: GuestArch = X86_64) -> None:
        self.session = session
        self.arch = arch
        self.cpu = Cpu(arch)
        self.memory = GuestMemory(self.cpu)
        self.signals = sig.Signals(self.memory)
        self.cpu_lock = CpuLock(self.cpu)
        self.threads: list[GuestThread] = []
        self.current: GuestThread | None = None
        self.proc: proc_self.ProcSelf | None = None  # set once the program is loaded
        self.reserved_fds = ReservedFds(self)
        self.fd_base = fd_base(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        self.exec_state: dict = {}
        self.shm_sizes: dict[int, int] = {}
        self.descriptor_tables: DescriptorTables | None = None  # x86_64's (ldt.py)
        self.kick_signal = sig.KICK
        self.watcher: Watcher | None = None
        self.top_level = True  # the process the user started (not a guest's child)
        self.vfork_parent: int | None = None  # a vfork child's pipe to its waiting parent
        self._i386_args = self.cpu.batch(regs.I386_REGS)
        self.stops = set(session.hooked)
        self.tracing = session.tracing
        self.emulated = calls.table()
        self.host_nr = arch.host_numbers()  # guest call number -> the host's
        self.translated = arch.calls() if arch.translates else {}
        self.init_foreign(session)
        self.signals.on_post = self.note_signals
        self.seccomp = GuestSeccomp(self)
        self.guarded_seccomp_verdict = self._guarded(self.on_seccomp_verdict)
        self.hook = _core.EmulateHook(regs.LIBRARY, self.cpu.uc, self._guarded(self.on_syscall),
                                      self._guarded(self.after_host_call),
                                      self._guarded(self.on_interrupt),
                                      session.rules.core if session.rules else None,
                                      arch.name)
        self._set_routes(session)
        self.hook.set_pointer_checks(guest_pointers.table())
        self.hook.install()
        self.cpu.guest_map = self.hook

    # -- the per-call path ---------------------------------------------------------
    def _set_routes(self, session: Session) -> None:
        """Tell the C hook which calls it may answer itself (the rest come to
        on_syscall): not the emulated ones, the waits with a signal mask, or the ones
        whose rule uses c_do_syscall (Python steps those hooks)."""
        self.hook.slow = session.tracing
        for nr in range(MAX_ROUTED):
            host_nr = self.host_nr.get(nr, -1)
            if (host_nr < 0 or host_nr in self.emulated or host_nr in WAITS_WITH_MASK
                    or session.hooked.get(nr)):
                route = ROUTE_PYTHON
            else:
                route = ROUTE_HOST_NEVER_BLOCKS if host_nr in NEVER_BLOCK else ROUTE_HOST
            self.hook.set_route(nr, route)
            self.hook.set_host_nr(nr, host_nr)
            if host_nr in proc_self.PATH_CALLS:  # a path under /proc/ comes to Python
                self.hook.set_path_arg(nr, proc_self.PATH_CALLS[host_nr][0])

    def route_through_python(self, numbers, yes: bool) -> None:
        """Send these (forwarded) calls to Python for a while, or back to the C hook
        (host numbers: the guest's calls that are these)."""
        numbers = set(numbers)
        for nr, host_nr in self.host_nr.items():
            if host_nr in numbers and nr < MAX_ROUTED:
                self.hook.set_route(nr, ROUTE_PYTHON if yes else ROUTE_HOST)

    def _guarded(self, fn):
        """An entry from the C hook: what it raises is kept for run() to re-raise (the
        thread then ends luatrap with one line), and the CPU stops."""
        def call(*args):
            try:
                return fn(*args)
            except BaseException as e:  # noqa: BLE001
                self.cpu.error = e
                self.cpu.stop()
                return None
        return call

    def on_syscall(self, nr: int, *args: int) -> int | None:
        """A call the C hook did not answer (src/core/emulate_hook.c): the call's result,
        or None when there is none to write. `nr` is the guest kernel's number (x86_64:
        the kernel's 32 bits of rax)."""
        t = self.current
        t.first_arg = args[0]  # x0 on aarch64, which the result overwrites (restarts)
        if nr & X32_BIT and not self.arch.translates:
            result = self.x32_call(t, nr, args)
        elif self.tracing or nr in self.stops:
            result = self.decide(t, nr, args, self.session.on_syscall(t.tid, nr, args))
        else:
            result = self.perform(t, nr, args)
        if result is OUTSIDE:
            self.cpu.stop()
            return None
        if result is DONE:
            return None
        if t.pending or self.signals.process_pending or self.cpu_lock.waiters:
            # deliver at once, not at the next time slice; and a call the Linux layer
            # answered is a moment to hand the CPU to a thread that waits for it (as a
            # call into the kernel lets another thread run on a real machine)
            self.cpu.stop()
        return result

    def after_host_call(self, nr: int, *args_and_result: int) -> int:
        """A call the C hook forwarded came back interrupted (EINTR) or with a signal
        to send (EPIPE, EFBIG): finish it as host_call would."""
        *args, result = args_and_result
        t = self.current
        t.first_arg = args[0]
        nr = self.host_nr[nr]
        if result == -errno.EINTR:
            if (t.pending | self.signals.process_pending) & ~t.mask:
                t.interrupted = nr  # for SA_RESTART, when the handler runs
                return result
            return self.host_call(t, nr, args)  # nobody's signal (a stray kick): again
        self.take_host_signal(t, EPIPE_SIGNALS[result])
        return result

    def note_signals(self) -> None:
        """Tell the C hook whether a guest signal may be pending: then every call goes
        through Python, which delivers it."""
        signals = self.signals
        self.hook.signal_pending = bool(signals.process_pending) or any(
            t.pending for t in self.threads)

    def decide(self, t: GuestThread, nr: int, args: list[int], decision) -> object:
        """Carry out a session decision for call `nr`: its result, OUTSIDE or DONE."""
        while True:
            if decision.__class__ is int:
                return decision
            if decision is None:
                result = self.perform(t, nr, args)
                if self.tracing and result is not OUTSIDE and result is not DONE:
                    self.session.on_result(t.tid, result)
                return result
            result = self.perform(t, decision.nr, decision.args, request=decision)
            if result is OUTSIDE or result is DONE:
                return result
            last = result
            decision = self.session.resume(t.tid, decision, result)
            if decision is None:
                if self.tracing:
                    self.session.on_result(t.tid, last)
                return last

    def perform(self, t: GuestThread, nr: int, args, request: RunNow | None = None) -> object:
        """Run the guest's call `nr` for thread `t`: translated for the host where the
        guest's architecture differs (guest_arch.py), then as perform_host."""
        if self.arch.translates:
            translation = self.translated.get(nr)
            if translation is not None:
                try:
                    return translation(self, t, *args)
                except GuestFault:
                    return -errno.EFAULT
            nr = self.host_nr.get(nr, -1)
            if nr < 0:
                return -errno.ENOSYS
        return self.perform_host(t, nr, args, request)

    def refused(self, name: str, args) -> int:
        """0 if host call `name` may have these arguments, else -EFAULT or -EBADF (they
        reach luatrap's own memory or descriptors)."""
        return self.hook.check_pointers(table.by_name(name).nr, tuple(args))

    def perform_host(self, t: GuestThread, nr: int, args, request: RunNow | None = None,
                     internal: bool = False) -> object:
        """Run host call `nr` for thread `t`: emulated, forwarded, or left for outside.
        `internal`: made by an emulated call for itself (its pointers may be luatrap's,
        and a pending signal ends it with EINTR, for that call to handle)."""
        if nr in proc_self.PATH_CALLS:  # the guest's own /proc entries, not luatrap's
            result = proc_self.handle(self, t, self.proc, nr, args)
            if result is not None:
                return result
        elif nr in proc_self.GETDENTS and self.proc and args[0] in self.proc.fd_dirs:
            try:
                return self.proc.listing(t, nr, args[0], args[1], args[2])
            except GuestFault:
                return -errno.EFAULT
        handler = self.emulated.get(nr)
        try:
            if handler is not None:
                return handler(self, t, *args)
            if nr in WAITS_WITH_MASK:
                args = self.take_wait_mask(t, nr, args)
        except GuestFault:
            return -errno.EFAULT
        if not internal:
            refused = self.hook.check_pointers(nr, tuple(args))
            if refused:
                return refused  # it would reach luatrap's own memory or descriptors
            if (nr not in WAITS_WITH_MASK
                    and (t.pending | self.signals.process_pending) & ~t.mask):
                # A signal came before the call began: it is taken first, and the call
                # made afresh after (as if the signal had come just before `syscall`).
                t.interrupted, t.restart_always = nr, True
                return -errno.EINTR
        if len(self.threads) > 1 and nr not in NEVER_BLOCK:
            t.call = (nr, list(args), request)
            return OUTSIDE
        return self.host_call(t, nr, args)

    def host_call(self, t: GuestThread, nr: int, args) -> int:
        """Forward a call to the host kernel on this host thread."""
        t.interrupted = None
        signals = self.signals
        while True:
            t.in_host_call = True
            if t.own_signals:
                self.take_own_signals(t)
            if (t.pending | signals.process_pending) & ~t.mask:
                result = -errno.EINTR  # a signal to take first
            else:
                result = host_syscall(nr, *args)
            t.in_host_call = False
            if result != -errno.EINTR:
                break
            if (t.pending | signals.process_pending) & ~t.mask:
                t.interrupted = nr  # a wait's own mask stays until the signal is taken
                return result
            # an EINTR for nobody's signal (a stray kick): make the call again
        if t.saved_mask is not None:  # a wait with its own mask ended without a signal
            t.mask, t.saved_mask = t.saved_mask, None
        if result >= 0 and nr & ~X32_BIT in OPEN_CALLS:
            result = self.hook.keep_opened(result)  # not a /proc/PID/mem
        if result in EPIPE_SIGNALS:
            self.take_host_signal(t, EPIPE_SIGNALS[result])
        return result

    def take_wait_mask(self, t: GuestThread, nr: int, args) -> list[int]:
        """pselect6/ppoll/epoll_pwait(2) with a signal mask: the mask becomes the guest
        thread's for the call, as for rt_sigsuspend, and the host call gets none (the host
        thread keeps every signal blocked but KICK, which ends the wait)."""
        args = list(args)
        where = WAITS_WITH_MASK[nr]
        addr, args[where] = args[where], 0
        if addr and nr == PSELECT6:  # a {const sigset_t *, size_t} pair
            addr = self.memory.read_u64(addr)
        if addr:
            new_mask = self.memory.read_u64(addr) & ~sig.UNBLOCKABLE_BITS
            t.saved_mask, t.mask = t.mask, new_mask
        return args

    def take_host_signal(self, t: GuestThread, signo: int) -> None:
        """A write failed with EPIPE/EFBIG: the kernel also sent this thread a signal."""
        info = host.take_signal(signo)
        if info is not None:
            self.signals.post(signo, info, t, self.threads)

    # -- interrupts and faults -------------------------------------------------------
    def on_interrupt(self, vector: int) -> None:
        """An interrupt or exception that is no system call (the C hook serves those):
        x86's `int 0x80`, or a fault, which becomes the kernel's signal."""
        t = self.current
        if vector == 0x80 and not self.arch.translates:
            values = self._i386_args.load()
            nr, args = values[0] & 0xFFFFFFFF, [v & 0xFFFFFFFF for v in values[1:7]]
            result = self.seccomp.i386_verdict(t, nr, args) if t.seccomp else None
            if t.fault or t.exit_code is not None:
                return  # a filter's trap or kill
            if result is None:
                result = self.i386_call(t, nr, args)
            if result is not DONE:  # (exit)
                values[0] = result
                self._i386_args.store()
            return
        if not self.arch.answers_trap(self.cpu, vector):
            t.fault = self.arch.FAULT_SIGNALS.get(vector, (signal.SIGSEGV, 0x80)) + (None,)
            self.arch.took_fault(self.cpu)
        self.cpu.stop()

    def on_seccomp_verdict(self, nr: int, *args_and_verdict: int) -> None:
        """The guest's seccomp filters trap or kill this call (the C hook's report)."""
        t = self.current
        self.seccomp.verdict(t, nr, self.arch.audit_arch, self.arch.after_syscall(self.cpu),
                             args_and_verdict[-1])

    def take_cpu(self, t: GuestThread) -> None:
        """Guest thread `t` runs on the CPU from now on (it waits until it may)."""
        self.cpu_lock.acquire(t)
        self.current = t
        self.seccomp.enter(t)

    # -- running a thread ----------------------------------------------------------
    def run_thread(self, t: GuestThread) -> None:
        """Run guest thread `t` on the calling host thread until it exits; a failure of
        luatrap itself ends the process with one line and status 2, never a hang."""
        try:
            self._run_thread(t)
        except BaseException as e:  # noqa: BLE001
            self.session.log(f"luatrap: internal error in the emulate engine: "
                             f"{type(e).__name__}: {e}")
            if os.environ.get("LUATRAP_DEBUG"):
                import traceback

                self.session.log(traceback.format_exc())
            os._exit(2)

    def _run_thread(self, t: GuestThread) -> None:
        lock, cpu = self.cpu_lock, self.cpu
        self.take_cpu(t)
        while True:
            if t.own_signals:
                self.take_own_signals(t)
            if t.code_selector is not None:
                self.switch_code_segment(t)
            if t.pending or self.signals.process_pending:
                self.deliver_signals(t)
            err = cpu.run()
            if t.exit_code is not None:
                break
            if t.fault or err:
                self.fault(t, err)
            elif t.call is not None:
                self.call_outside(t)
            elif lock.contended():
                lock.release(t)
                self.take_cpu(t)
                rseq.interrupted(self, t, preempted=True)
        self.thread_exit(t)

    def call_outside(self, t: GuestThread) -> None:
        """Make `t`'s pending call without holding the CPU, then finish its decision."""
        nr, args, request = t.call
        t.call = None
        self.cpu_lock.release(t)
        result = self.host_call(t, nr, args)
        self.take_cpu(t)
        if t.then is not None:
            then, t.then = t.then, None
            result = then(result)
        if request is not None:
            decision = self.session.resume(t.tid, request, result)
            if decision is None:
                if self.tracing:
                    self.session.on_result(t.tid, result)
            else:
                result = self.decide(t, request.hooked_nr, args, decision)
                if result is OUTSIDE:
                    return
        elif self.tracing:  # also the wait of an emulated call (rt_sigsuspend)
            self.session.on_result(t.tid, result)
        if result is not DONE:
            self.cpu.write(self.arch.RESULT, result)

    def thread_exit(self, t: GuestThread) -> None:
        """Thread `t` ended: wake its joiner (CLONE_CHILD_CLEARTID), end the process
        with the last thread."""
        if len(self.threads) <= 1:
            self.exit_process(t.exit_code)
        release_robust_futexes(self, t)  # before its joiner wakes, as natively
        if t.clear_child_tid:
            try:
                self.memory.write(t.clear_child_tid, bytes(4))
                host.syscall(202, t.clear_child_tid, 1, 1, 0, 0, 0)  # FUTEX_WAKE one
            except GuestFault:
                pass  # as the kernel does: nothing to clear, nobody to wake
        self.threads.remove(t)
        self.hook.multi_threaded = len(self.threads) > 1
        self.session.thread_gone(t.tid)
        self.cpu_lock.loaded = None
        self.cpu_lock.release(t)
        self.cpu.free_context(t.context)

    def exit_process(self, code: int | None, signo: int = 0) -> None:
        """The program ends with exit status `code` or by signal `signo`. The process
        the user started exits 128+N for a signal, as luatrap does on every engine;
        the guest's own children die by the signal, for their guest parent to see."""
        try:
            processes.share_written_pages(self)
            self.gather_summary()
            self.session.close()
        finally:
            if signo and not self.top_level:
                sig.die_by(signo)
            os._exit(128 + signo if signo else code & 0xFF)

    def new_thread(self, t: GuestThread, context) -> GuestThread:
        """Start a host thread for a guest thread whose registers are in `context`."""
        child = GuestThread(context=context, mask=t.mask, seccomp=t.seccomp,
                            seccomp_mode=t.seccomp_mode)
        ready = threading.Event()

        def main() -> None:
            child.tid = threading.get_native_id()
            block_signals()  # everything but KICK, glibc's 32 too
            ready.set()
            self.run_thread(child)

        threading.Thread(target=main, daemon=True, name="guest").start()
        ready.wait()
        self.threads.append(child)
        self.hook.multi_threaded = True
        self.watcher.wake()  # time slices from now on
        return child

    # -- starting, forking, executing ----------------------------------------------
    def start(self, program: Program) -> None:
        """Load the program and run its first thread here; never returns."""
        settings = program.settings
        self.top_level = program.in_place and settings.get("top_level", True)
        inherited = block_signals()
        for signo in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
            if self.signals.actions[signo].handler == sig.SIG_DFL:
                host.restore_default_action(signo)
        for signo in settings.get("ignored", ()):
            self.signals.actions[signo].handler = sig.SIG_IGN
            if signo != sig.KICK:
                host.libc.signal(signo, ctypes.c_void_p(sig.SIG_IGN))
        t = GuestThread(tid=threading.get_native_id(), context=self.cpu.new_context(),
                        mask=settings.get("mask", sum(sig.bit(s) for s in inherited)))
        self.threads.append(t)
        self.signals.process_pending = settings.get("pending", 0)  # kept by execve
        self.note_signals()
        self.seccomp.restore(t, settings)
        env = settings.get("raw_env") or [f"{k}={v}".encode(errors="surrogateescape")
                                          for k, v in program.env.items()]
        try:
            entry, sp = loader.load_program(self.memory, program.path, program.argv, env,
                                            self.arch)
        except loader.ExecError as e:
            raise EngineError(str(e)) from None
        self.proc = proc_self.ProcSelf(self, os.path.realpath(
            loader.script_argv(program.path, program.argv)[0]), sp)
        self.proc.show_to_others(program.path)
        if settings.get("close_after_load") is not None:  # execveat's descriptor copy
            os.close(settings["close_after_load"])
        self.exec_state = {k: v for k, v in settings.items()
                           if k not in ("raw_env", "close_after_load")}
        self.exec_state.update(keep_log_fds(self))
        for fd, (wanted, write_end) in settings.get("signalfds", {}).items():  # kept by exec
            self.signals.signalfds[int(fd)] = [wanted, self.keep_fd(write_end)]
        self.hook.set_vdso(*self.memory.vdso, self.arch.vdso.calls)
        self.cpu.write(self.arch.SP, sp)
        self.arch.enter_program(self, entry)
        self.cpu.save(t.context)
        self.session.attach(GuestAccess())
        if self.session.rules:  # a rule writes guest memory only, never luatrap's
            self.session.rules.core.write_guard = self.is_guest_range
        self.watcher = Watcher(self)
        self.watcher.start()
        self.run_thread(t)
        threading.Event().wait()  # the first thread ended; the last one ends the process

    def gather_summary(self, leaving: bool = False) -> None:
        """--summary covers the whole program, as on the native engine: every process
        but the first (and any process image about to execve) appends its counts to a
        file all of them share; the first one adds them all up before printing."""
        tracer = self.session.tracer
        fd = self.exec_state.get("summary_fd")
        if tracer is None or not tracer.summary or fd is None:
            return
        if leaving or not self.top_level:
            for tid in list(tracer.open):
                tracer.result(tid, None)
            os.write(fd, json.dumps(tracer.export_stats()).encode() + b"\n")
            tracer.stats.clear()
            tracer.summary = leaving  # a process that ends prints nothing itself
            return
        size = os.fstat(fd).st_size
        for line in os.pread(fd, size, 0).splitlines():
            tracer.merge_stats(json.loads(line))

    def keep_fd(self, fd: int, close: bool = True) -> int:
        """Move one of luatrap's own descriptors up, out of the guest's way (the guest
        expects its first open to give 3), and refuse the guest closing it."""
        if fd < self.fd_base:
            new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, self.fd_base)
            if close:
                os.close(fd)
            fd = new
        else:
            os.set_inheritable(fd, False)
        self.reserved_fds.add(fd)
        return fd

    def after_fork(self, t: GuestThread) -> None:
        """In a forked child: `t` is the only thread; a new watcher for the new process."""
        t.tid = threading.get_native_id()
        self.top_level = False
        self.exec_state["top_level"] = False
        self.threads = [t]
        self.hook.multi_threaded = False
        if self.session.rules:
            self.session.rules.core.after_fork()
        self.cpu_lock.after_fork(t)
        self.signals.after_fork()
        t.pending = 0
        self.note_signals()
        for fd, reader in self.signals.signalfds.items():  # the child's signals are its own
            self.reserved_fds.discard(reader[1])
            os.close(reader[1])
            read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
            blocking, inheritable = os.get_blocking(fd), os.get_inheritable(fd)
            os.dup2(read_end, fd, inheritable=inheritable)
            os.close(read_end)
            os.set_blocking(fd, blocking)
            reader[1] = self.keep_fd(write_end)
        tracer = self.session.tracer
        if tracer is not None:  # the parent counts and reports what came before the fork
            tracer.stats.clear()
            tracer.open.clear()
        self.watcher.after_fork()
        self.watcher.start()

    def is_guest_range(self, addr: int, size: int) -> bool:
        """Is [addr, addr+size) guest memory (not luatrap's own)?"""
        return self.memory.covers(host.page_down(addr), host.page_up(addr + size))

    def kick(self, t: GuestThread) -> None:
        processes.kick(self, t)

    def fork(self, t: GuestThread, *args: int) -> int:
        return processes.fork(self, t, *args)

    def clone_thread(self, t: GuestThread, *args: int) -> int:
        return processes.clone_thread(self, t, *args)

    def exec_program(self, t: GuestThread, path: str, argv: list[str], env: list[bytes],
                     keep: int | None = None) -> int:
        return processes.exec_program(self, t, path, argv, env, keep)


class GuestAccess(ProcessMemory):
    """The tracer's way into guest memory: it is this process's memory, read safely."""

    @staticmethod
    def pid_of(tid: int) -> int:
        return os.getpid()
