"""Threads that synchronise and signals that interrupt: what an emulator most easily
gets wrong (lost atomic increments, clobbered registers after a handler), on every engine."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from conftest import PASS, luatrap, native_run

PASS_ALL = {"getppid": PASS, "futex": PASS, "read": PASS}


def test_lock_prefixed_increments_are_atomic(engine, rules, cprog):
    r = luatrap("--rules", rules(PASS_ALL), cprog("atomic_counter"), "8", "100000",
                engine=engine)
    assert r.stdout == "800000 800000\n"


def test_mutex_and_condition_variables(engine, rules, cprog):
    r = luatrap("--rules", rules(PASS_ALL), cprog("mutex_condvar"), "20000", engine=engine)
    assert r.stdout == "20000 items, sum 200010000\n"


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
