"""Threads that synchronise and signals that interrupt: what an emulator most easily
gets wrong (lost atomic increments, clobbered registers after a handler), on every engine."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from conftest import PASS, PYTHON, luatrap, native_run, need

PASS_ALL = {"getppid": PASS, "futex": PASS, "read": PASS}


@pytest.mark.x86_64_only
def test_lock_prefixed_increments_are_atomic(engine, rules, cprog):
    r = luatrap("--rules", rules(PASS_ALL), cprog("atomic_counter"), "8", "100000",
                engine=engine)
    assert r.stdout == "800000 800000\n"


def test_mutex_and_condition_variables(engine, rules, cprog):
    r = luatrap("--rules", rules(PASS_ALL), cprog("mutex_condvar"), "20000", engine=engine)
    assert r.stdout == "20000 items, sum 200010000\n"


@pytest.mark.x86_64_only
def test_interrupted_read_modify_write_instructions_run_once(engine, rules, cprog):
    """A stop from outside (a signal, a time slice) never runs an instruction twice."""
    program = cprog("interrupted_rmw")
    r = luatrap("--rules", rules(PASS_ALL), program, "signals", "3000000", engine=engine)
    assert r.stdout == "3000000 3000000 lock sound, interrupted: yes\n"
    r = luatrap("--rules", rules(PASS_ALL), program, "threads", "2000000", engine=engine)
    assert r.stdout == "4000000 4000000\n"


@pytest.mark.parametrize("mode", ["alarm", "pause", "segv", "restart"])
def test_signal_handlers_run_as_natively(engine, rules, cprog, mode):
    program = cprog("signals")
    alone = native_run(program, mode)
    r = luatrap("--rules", rules(PASS_ALL), program, mode, engine=engine)
    assert r.stdout == alone.stdout
    assert r.returncode == alone.returncode == 0


RUN_READ_NOW = "function do_syscall(num, ...) return 1, c_do_syscall(num, ...) end"


def test_a_hooks_own_call_interrupted_by_a_signal_restarts_as_natively(engine, rules, cprog):
    """A read the hook runs itself (c_do_syscall), interrupted by a handler: EINTR
    without SA_RESTART, and with it the program's read starts again (its hook too)."""
    program = cprog("signals")
    r = luatrap("--rules", rules({"read": RUN_READ_NOW}), program, "restart", engine=engine)
    assert r.stdout == native_run(program, "restart").stdout == (
        "read without SA_RESTART: -1 errno=4\nread with SA_RESTART: 1 'x' hits=2\n")


def test_sigint_from_outside_interrupts_a_compute_loop(engine, rules, cprog):
    proc = subprocess.Popen([sys.executable, "-m", "luatrap", "--engine", engine, "--rules",
                             str(rules(PASS_ALL)), str(cprog("signals")), "outside"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert proc.stdout.read() == "SIGINT in compute loop, registers intact: yes\n"


def test_sigsuspend_restores_the_mask_it_replaced(engine, rules, cprog):
    program = cprog("sigsuspend_mask")
    r = luatrap("--rules", rules(PASS_ALL), program, engine=engine)
    assert r.stdout == native_run(program).stdout == (
        "handler ran 1, SIGCHLD blocked again after sigsuspend: 1\n")


SIGWAIT = """
import os, signal, subprocess, threading, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGUSR2})
os.kill(os.getpid(), signal.SIGUSR1)
print("already pending:", signal.sigtimedwait({signal.SIGUSR1}, 2).si_signo)
print("time runs out:", signal.sigtimedwait({signal.SIGUSR2}, 0.2))
subprocess.Popen(["sh", "-c", f"sleep 0.3; kill -USR1 {os.getpid()}"])
print("sent from outside:", signal.sigwaitinfo({signal.SIGUSR1}).si_signo)
main = threading.main_thread().ident
threading.Thread(target=lambda: (time.sleep(0.2), signal.pthread_kill(main, 12))).start()
print("from a thread:", signal.sigwaitinfo({signal.SIGUSR2}).si_signo)
print("left pending:", sorted(signal.sigpending()))
"""


def test_sigwait_takes_blocked_signals(engine, rules):
    r = luatrap("--rules", rules(PASS_ALL), PYTHON, "-c", SIGWAIT, engine=engine)
    assert r.stdout == native_run(PYTHON, "-c", SIGWAIT).stdout == (
        "already pending: 10\ntime runs out: None\nsent from outside: 10\n"
        "from a thread: 12\nleft pending: []\n")


def test_signalfd_reads_blocked_signals(engine, rules, cprog):
    program = cprog("signalfd_reader")
    r = luatrap("--rules", rules(PASS_ALL), program, "exec", engine=engine)
    expected = ("signal 10, from this process: 1\nSIGCHLD, status 5, from the child: 1\n"
                "empty: EAGAIN\nsame fd, new mask: 1\nsignal 12, from this process: 1\n")
    assert r.stdout == expected
    if engine.arch == "x86_64":  # (qemu-aarch64 7.2 loses the signal kept across execve)
        assert native_run(program, "exec").stdout == expected


def test_pending_signal_survives_execve(engine, rules, cprog):
    r = luatrap("--rules", rules(PASS_ALL), cprog("pending_across_exec"), engine=engine)
    assert r.stdout == "after execve, SIGUSR1 pending: 1\n"


def test_ruled_calls_never_fail_with_eintr_the_kernel_would_not_give(engine, rules, cprog):
    """A signal arriving while a ruled getpid waits for luatrap must not turn it into
    -1 EINTR (getpid never fails); a ruled read waiting on an empty pipe is interrupted
    as natively."""
    program = cprog("ruled_calls_under_signals")
    folder = rules({"getpid": "function do_syscall() return 1, 99999 end", "read": PASS})
    r = luatrap("--rules", folder, program, "getpid", "20000", engine=engine)
    assert r.stdout == "0 odd results, interrupted: yes\n"
    alone = native_run(program, "read")
    assert alone.stdout == "read: -1 Interrupted system call\n"
    assert luatrap("--rules", folder, program, "read", engine=engine).stdout == alone.stdout


def test_fault_handlers_learn_what_and_where(engine, rules, cprog):
    """si_code (not mapped / not permitted) and si_addr, as the kernel reports them."""
    program = cprog("fault_info")
    alone = native_run(program)
    assert alone.stdout.count(": yes") == 3
    r = luatrap("--rules", rules(PASS_ALL), program, engine=engine)
    assert r.stdout == alone.stdout


@pytest.mark.x86_64_only
def test_signals_come_and_go_in_32bit_code(prints_as_the_kernel):
    """A handler interrupts 32-bit code (cs 0x23 in its frame), runs as 64-bit code and
    returns into the 32-bit loop; a frame's data selector makes rt_sigreturn SIGSEGV.
    The emulated CPU switches mode by far jumps, as a register write cannot."""
    prints_as_the_kernel("signals_in_32bit_code", [
        "32-bit code under a timer returned 42; handlers ran 1, saw cs 0x23 1",
        "rt_sigreturn to a data selector:", "  SIGSEGV, si_code 128, addr (nil)"])


@pytest.mark.x86_64_only
def test_the_same_fault_again_and_again_is_the_same_signal(prints_as_the_kernel):
    """Each handled fault is the kernel's signal again, with its si_code and address
    (none for a general protection fault): the emulated CPU once counted the first as
    still in flight, made the second a double fault (SIGSEGV) and hung on the third."""
    lines = []
    for what, signal_line in (
            ("divide by zero", "Floating point exception, si_code 1, an address"),
            ("non-canonical address", "Segmentation fault, si_code 128, no address"),
            ("bad selector", "Segmentation fault, si_code 128, no address"),
            ("invalid opcode", "Illegal instruction, si_code 2, an address")):
        lines += [f"{what}:"] + [f"  {signal_line}"] * 3
    prints_as_the_kernel("repeated_faults", lines)


TRACER = "print(open('/proc/self/status').read().split('TracerPid:')[1].split()[0])"


def test_the_program_is_traced_only_while_something_needs_the_stops(rules):
    """A traced task stops at every signal it gets, so the native engine lets go of the
    program once it runs unless a rule needs ptrace (c_do_syscall, a ruled call that
    never waits, tracing). Untraced, the program may use ptrace itself."""
    untraced, traced = rules({"write": PASS}), rules({"getpid": PASS}, name="traced")
    assert luatrap(PYTHON, "-c", TRACER).stdout == "0\n"
    assert luatrap("--rules", untraced, PYTHON, "-c", TRACER).stdout == "0\n"
    assert int(luatrap("--rules", traced, PYTHON, "-c", TRACER).stdout) > 0
    need("strace")
    r = luatrap("--rules", untraced, "strace", "-f", "-qq", "-o", "/dev/null",
                PYTHON, "-c", "print('under strace')")
    assert r.returncode == 0 and r.stdout == "under strace\n", r.stderr


@pytest.mark.x86_64_only
@pytest.mark.parametrize("second", ["0", "-2"], ids=["on the boundary", "straddling it"])
def test_a_fetch_fault_stops_at_the_instruction_that_cannot_be_fetched(engine, cprog,
                                                                       second):
    """Code already translated runs into a page made PROT_NONE: the signal frame shows
    the pc of the instruction that reaches the page and the registers of the ones
    before it, as natively (Unicorn translates whole blocks: luatrap runs up to it)."""
    program = cprog("fetch_fault")
    alone = native_run(program, second)
    assert alone.stdout == f"si_addr at the boundary: 1, pc offset {second}, edi 1\n" \
                           "returned after the handler\n"
    assert luatrap(program, second, engine=engine).stdout == alone.stdout


def test_a_thread_that_computes_never_starves_one_that_sleeps(engine, cprog):
    """The second thread of a program starts the emulate engine's time slices (before,
    the main thread's sleeps never got the CPU back from a thread that computes)."""
    r = luatrap(cprog("spinning_sibling"), engine=engine)
    assert (r.returncode, r.stdout) == (0, "the sleeper had its turns\n"), r.stderr


@pytest.mark.parametrize("sender", ["timer", "outside"])
def test_a_signal_for_one_thread_reaches_that_thread(engine, cprog, sender):
    """A SIGEV_THREAD_ID timer's signal, and one another process sends with tgkill to
    one thread, run the handler in that thread, as natively."""
    import ctypes

    cmd = [sys.executable, "-m", "luatrap", "--engine", engine, str(cprog("thread_signals")),
           sender]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if sender == "outside":
        pid, tid = map(int, proc.stdout.readline().split())
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(234, pid, tid, signal.SIGUSR1) == 0  # tgkill
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out.splitlines()[-1:]) == (0, ["handled by the worker: 1"]), err


def test_a_signal_the_program_sends_itself_by_pidfd_is_taken_at_once(engine, cprog):
    program = cprog("pidfd_self")
    expected = ("pidfd: 0, handled before it returned: 1\n"
                "/proc/PID: 0, handled before it returned: 1\n")
    if engine.arch == "x86_64":
        assert native_run(program).stdout == expected
    assert luatrap(program, engine=engine).stdout == expected


def test_the_signal_frame_fits_in_at_minsigstksz(engine, cprog):
    """The auxiliary vector's AT_MINSIGSTKSZ is the most a signal frame takes of an
    alternate stack (glibc's sysconf(_SC_MINSIGSTKSZ) passes it on)."""
    r = luatrap(cprog("altstack_size"), engine=engine)
    assert r.stdout == "AT_MINSIGSTKSZ given: yes\nthe signal frame within it: yes\n"


def test_a_handler_changes_the_registers_it_returns_to(prints_as_the_kernel):
    """rt_sigreturn restores what the handler left in its frame: a general register,
    the flags the kernel takes back (x86_64: never IOPL), a vector register, the pc."""
    prints_as_the_kernel("signal_context", ["register 42", "flags as the kernel restores them",
                                            "vector 7", "instruction skipped: yes"])


def test_a_signal_comes_from_where_the_kernel_says(prints_as_the_kernel):
    """SIGPIPE's siginfo names the process itself; glibc's SIGEV_THREAD timers (signal
    32, which luatrap's own C library reserves) call back; a timer aimed at one thread
    signals that thread, with the timer's id."""
    prints_as_the_kernel("signal_origins", [
        "SIGPIPE: si_code 0, from the process itself: yes",
        "SIGEV_THREAD timer: callback ran 5 times",
        "SIGEV_THREAD_ID timer: taken by the thread it names: yes, SI_TIMER: yes, its id: yes",
        "SIGEV_THREAD_ID for another process's thread: refused"])


def test_glibc_s_own_signals_are_the_programs(prints_as_the_kernel):
    """32 and 33 end a process by default, as other real-time signals do."""
    prints_as_the_kernel("reserved_signals", [
        f"signal {n}: the child was killed by {n}" for n in (32, 33, 34)])


def test_a_robust_mutex_whose_owner_died_says_so(prints_as_the_kernel):
    """EOWNERDEAD after the owner thread is joined, for a thread already waiting, and
    for a mutex shared with a process that exited holding it (not a hang)."""
    prints_as_the_kernel("robust_mutex", [
        "trylock just after the owner thread was joined: EOWNERDEAD",
        "lock waiting while its owner thread died: EOWNERDEAD",
        "lock whose owner process exited: EOWNERDEAD",
        "get_robust_list: 0, head set, size 24"])


def test_a_restartable_sequence_is_aborted_as_the_kernel_does(prints_as_the_kernel):
    """glibc registers rseq, and a critical section is left for its abort handler when
    the thread takes a signal in it or another thread of its CPU preempts it."""
    prints_as_the_kernel("rseq_abort", ["rseq registered by glibc: yes",
                                        "a signal inside the critical section: aborted",
                                        "preempted inside the critical section: aborted"])


def test_sigrtmax_is_the_programs(prints_as_the_kernel):
    """The signal the emulate engine interrupts host calls with is the program's too:
    its handler runs for it whoever sends it, and its default action kills."""
    sent = "from another process: read Interrupted system call, handler ran 1"
    prints_as_the_kernel("sigrtmax", [
        "sigaction(SIGRTMAX): 0", "raise: handler ran 1, si_code -6",
        f"kill {sent}, si_code 0, value 0, sender the child",
        f"tgkill {sent}, si_code -6, value 0, sender the child",
        f"sigqueue {sent}, si_code -1, value 42, sender the child",
        "default action: killed by 30"])  # SIGRTMIN+30
