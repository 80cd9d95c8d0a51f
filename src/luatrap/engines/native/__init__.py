"""The native engine: the program runs on the host CPU; seccomp stops the ruled calls.

Ruled calls reach luatrap by seccomp user notification (with synchronous wake-up, so
the answer comes back on the caller's CPU); calls whose hook uses c_do_syscall stop
under ptrace instead, which can run them and report their result. All other calls
never leave the kernel.

luatrap stays the program's tracer only where something needs ptrace stops (see
needs_ptrace): a traced task stops at every signal it receives.
"""
from __future__ import annotations

import ctypes
import os

from luatrap.engines.base import Program
from luatrap.engines.native import kernel as k
from luatrap.engines.native import launcher, seccomp_filter
from luatrap.engines.native.signals import SignalFd
from luatrap.engines.native.supervisor import Supervisor
from luatrap.engines.process_memory import ProcessMemory
from luatrap.session import Session
from luatrap.syscalls import compat, table

NAME = "native"


def needs_ptrace(session: Session) -> bool:
    """Must the program stay traced once it runs? For tracing (every call's result), for
    hooks that run calls (c_do_syscall), and for ruled calls that never wait natively:
    a signal that comes before luatrap received such a call's notification would end it
    with EINTR, which only a signal-delivery stop can turn back into a restart."""
    hooked = session.hooked
    return (session.tracing or any(hooked.values())
            or not table.never_waits().isdisjoint(hooked))


def run(program: Program, session: Session) -> int:
    """Run `program` to completion under `session`; its exit status as a shell shows it."""
    hooked = session.hooked
    ruled = {table.name_of(nr) for nr in hooked}
    i386, x32 = compat.foreign_numbers(ruled)
    prog = None
    if session.tracing:  # every ruled or x86_64 call stops under ptrace, to see its result
        prog = seccomp_filter.build({}, dict.fromkeys(i386, k.LUATRAP_TRACE),
                                    dict.fromkeys(x32, k.LUATRAP_TRACE),
                                    k.LUATRAP_TRACE, supervisor=os.getpid())
    elif hooked:
        def action(needs_ptrace: bool) -> int:
            return k.LUATRAP_TRACE if needs_ptrace else k.SECCOMP_RET_USER_NOTIF
        socketcall_ptrace = any(hooked[target] for target, _ in map(
            compat.socketcall_target, compat.SOCKETCALL) if target in hooked)
        prog = seccomp_filter.build(
            {nr: action(needs) for nr, needs in hooked.items()},
            {nr: action(hooked[t] if t >= 0 else socketcall_ptrace) for nr, t in i386.items()},
            {nr: action(hooked[t]) for nr, t in x32.items()}, supervisor=os.getpid())
    memory = ProcessMemory()
    session.attach(memory)
    signals = SignalFd()
    # The program's orphaned descendants come back to luatrap, which waits for them all
    # (as strace -f does), traced or not.
    reaper = ctypes.c_int()
    k.prctl(k.PR_GET_CHILD_SUBREAPER, ctypes.addressof(reaper), 0, 0, 0)
    k.prctl(k.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        pid, listener = launcher.start(program.path, program.argv, program.env, prog,
                                       signals.ignored_by_parent, signals.inherited_mask)
        # Out of the program's reach: a process of the same user may not ptrace
        # luatrap, copy its descriptors or read its memory (root still may: see
        # docs/security.md). luatrap stays the program's tracer all the same.
        k.prctl(k.PR_SET_DUMPABLE, 0, 0, 0, 0)
        return Supervisor(session, memory, pid, listener, compat.foreign_calls(ruled),
                          needs_ptrace(session)).run(signals)
    finally:
        k.prctl(k.PR_SET_CHILD_SUBREAPER, reaper.value, 0, 0, 0)
        if not program.in_place:  # the Python API's caller goes on as it was
            k.prctl(k.PR_SET_DUMPABLE, 1, 0, 0, 0)
        signals.close(restore=not program.in_place)  # the CLI exits with the program
        session.close()


__all__ = ["NAME", "run", "launcher"]
