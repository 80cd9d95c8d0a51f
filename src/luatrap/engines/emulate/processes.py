"""Threads, fork, vfork and execve for the emulate engine.

A guest thread gets a host thread of its own (see threads.py). fork is the host's fork
of luatrap's whole process, guest memory and CPU included, so the child carries on
emulating (with a copy of the rules' Lua state, as qemu-user gives). A vfork-style clone
is a fork whose parent waits until the child execs or exits, and then takes in the guest
pages the child wrote (see share_written_pages), so the parent sees the child's stores
as it would in the shared memory of a real vfork. execve re-executes luatrap on the new
program, handing over the settings and open log files.
"""
from __future__ import annotations

import errno
import json
import os
import struct
import sys
from typing import TYPE_CHECKING

from luatrap.engines.emulate import host
from luatrap.engines.emulate.calls import (
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_PARENT_SETTID,
    CLONE_SETTLS,
    CLONE_VFORK,
    CLONE_VM,
)
from luatrap.engines.emulate.memory import PROT_EXEC, PROT_WRITE, GuestFault

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread


def clone_thread(emu: Emulator, t: GuestThread, flags: int, stack: int, ptid: int,
                 ctid: int, tls: int) -> int:
    """A new guest thread: the caller's registers, returning 0 on its own stack."""
    cpu = emu.cpu
    context = cpu.new_context()
    cpu.save(context)
    arch = emu.arch
    cpu.context_write(context, arch.PC, arch.after_syscall(cpu))
    cpu.context_write(context, arch.RESULT, 0)
    if stack:
        cpu.context_write(context, arch.SP, stack)
    if flags & CLONE_SETTLS:
        cpu.context_write(context, arch.TLS, tls)
    child = emu.new_thread(t, context)
    if flags & CLONE_PARENT_SETTID:
        _store_tid(emu, ptid, child.tid)
    if flags & CLONE_CHILD_SETTID:
        _store_tid(emu, ctid, child.tid)
    if flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = ctid
    return child.tid


def _store_tid(emu: Emulator, addr: int, tid: int) -> None:
    """CLONE_*_SETTID: as the kernel does, a bad address is ignored."""
    try:
        emu.memory.write(addr, tid.to_bytes(4, "little", signed=True))
    except GuestFault:
        pass


def fork(emu: Emulator, t: GuestThread, flags: int, stack: int, ptid: int, ctid: int,
         tls: int) -> int:
    """fork, or clone without CLONE_THREAD; vfork's parent waits for exec or exit,
    then takes in what the child wrote to their (in a real vfork, shared) memory."""
    vfork = flags & CLONE_VFORK
    if vfork:
        done_r, done_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except OSError as e:
        return -(e.errno or errno.EAGAIN)
    if pid == 0:
        emu.after_fork(t)
        t.robust_list = 0  # the kernel's fork gives the child none (glibc registers anew)
        if flags & CLONE_VM:
            t.rseq = None  # a vfork child shares the parent's area: the kernel drops it
        if emu.vfork_parent is not None:  # a vfork child's own child owes it nothing
            emu.reserved_fds.discard(emu.vfork_parent)
            os.close(emu.vfork_parent)
            emu.vfork_parent = None
        if vfork:
            os.close(done_r)
            emu.vfork_parent = emu.keep_fd(done_w)
        if stack:
            emu.cpu.write(emu.arch.SP, stack)
        if flags & CLONE_SETTLS:
            emu.cpu.write(emu.arch.TLS, tls)
        if flags & CLONE_CHILD_SETTID:
            _store_tid(emu, ctid, t.tid)
        if flags & CLONE_CHILD_CLEARTID:
            t.clear_child_tid = ctid
        return 0
    if flags & CLONE_PARENT_SETTID:
        _store_tid(emu, ptid, pid)
    if vfork:
        os.close(done_w)
        with open(done_r, "rb") as pages:
            _take_written_pages(emu, pages.read())
    return pid


# A page in /proc/self/pagemap: bit 56 (this process alone maps it), bit 62 (swapped
# out); both in the entry's last byte, which this table turns into 1 or 0.
_WRITTEN = bytes(1 if b & 0x41 else 0 for b in range(256))
_RECORD = struct.Struct("<QQ")  # address, size; the bytes follow


def share_written_pages(emu: Emulator) -> None:
    """In a vfork child about to exec or exit: send the parent every guest page this
    process wrote since the fork. Those are the pages it no longer shares with the
    parent (copy-on-write gave it its own), which the kernel's pagemap tells apart."""
    if emu.vfork_parent is None:
        return
    pagemap = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for start, end, prot in list(emu.memory.ranges):
            if prot & PROT_WRITE:
                _share_range(emu, pagemap, start, end)
    except OSError:
        pass  # the parent went away: nobody to tell
    finally:
        os.close(pagemap)


def _share_range(emu: Emulator, pagemap: int, start: int, end: int) -> None:
    entries = os.pread(pagemap, (end - start) // host.PAGE * 8, start // host.PAGE * 8)
    written = entries[7::8].translate(_WRITTEN)
    first = written.find(1)
    while first >= 0:
        last = written.find(0, first)
        last = len(written) if last < 0 else last
        addr, size = start + first * host.PAGE, (last - first) * host.PAGE
        try:
            data = emu.memory.read(addr, size)
        except GuestFault:
            data = b""
        record = memoryview(_RECORD.pack(addr, len(data)) + data)
        while record:
            record = record[os.write(emu.vfork_parent, record):]
        first = written.find(1, last)


def _take_written_pages(emu: Emulator, records: bytes) -> None:
    """The vfork parent's side: store the child's pages (the last copy of a page wins:
    a child whose execve failed sends again when it exits)."""
    at = 0
    while at + _RECORD.size <= len(records):
        addr, size = _RECORD.unpack_from(records, at)
        at += _RECORD.size
        data = records[at:at + size]
        at += size
        try:
            emu.memory.write(addr, data)
        except GuestFault:
            continue  # unmapped or made read-only in the meantime: as if never shared
        if (emu.memory.prot_at(addr) or 0) & PROT_EXEC:
            emu.cpu.forget_code(addr, addr + size)


def _package_roots() -> list[str]:
    """The folders this luatrap and its unicorn were imported from."""
    import importlib.util

    import luatrap

    roots = [os.path.dirname(os.path.dirname(os.path.abspath(luatrap.__file__)))]
    spec = importlib.util.find_spec("unicorn")
    if spec is not None and spec.submodule_search_locations:
        roots.append(os.path.dirname(list(spec.submodule_search_locations)[0]))
    return roots


# The new luatrap is isolated from the program's PYTHON* variables (-I), and finds
# luatrap and unicorn where this one found them, even if only PYTHONPATH said where.
_EXEC_MAIN = (f"import sys; sys.path[:0] = {_package_roots()!r}; "
              "from luatrap.cli import main; sys.exit(main())")


def exec_program(emu: Emulator, t: GuestThread, path: str, argv: list[str],
                 env: list[bytes], keep: int | None = None) -> int:
    """execve: luatrap runs `path` afresh, on the emulate engine, in this process
    (`keep`: a descriptor the new luatrap closes once it has loaded the program)."""
    # Held until the execve: the watcher then reads no signal it could not hand on, so
    # every signal that comes from now on stays pending in the kernel for the new image.
    with emu.signals.lock:
        return _exec_luatrap(emu, t, path, argv, env, keep)


def _exec_luatrap(emu: Emulator, t: GuestThread, path: str, argv: list[str],
                  env: list[bytes], keep: int | None) -> int:
    """Hand this process to a new luatrap for `path`; an error if execve failed."""
    state = dict(emu.exec_state, path=path, argv=argv, close_after_load=keep,
                 env=[e.decode("latin-1") for e in env],
                 mask=t.mask, pending=t.pending | emu.signals.process_pending,
                 **emu.seccomp.exec_state(t),
                 ignored=[s for s, a in emu.signals.actions.items() if a.handler == 1])
    state["signalfds"] = kept = {}
    for guest_fd, (wanted, write_end) in emu.signals.signalfds.items():
        try:
            if os.get_inheritable(guest_fd):  # not SFD_CLOEXEC: it outlives the execve
                kept[guest_fd] = (wanted, write_end)
                os.set_inheritable(write_end, True)
        except OSError:
            pass  # the guest closed it some way close() did not see
    fd = os.memfd_create("luatrap-exec", 0)
    os.write(fd, json.dumps(state).encode())
    os.lseek(fd, 0, os.SEEK_SET)
    emu.gather_summary(leaving=True)
    for keep in (state.get("log_fd"), state.get("json_fd"), state.get("summary_fd")):
        if keep is not None:
            os.set_inheritable(keep, True)
    command = [sys.executable, "-I", "-c", _EXEC_MAIN, "--exec-state", str(fd)]
    if emu.tracing:  # a successful execve does not return: its line is written now
        emu.session.on_result(t.tid, 0)
    share_written_pages(emu)
    try:
        os.execve(sys.executable, command, state["host_env"])
    except OSError as e:
        os.close(fd)
        return -(e.errno or errno.ENOEXEC)
    return -errno.ENOEXEC  # not reached


def kick(emu: Emulator, t: GuestThread) -> None:
    """Make guest thread `t` notice a pending signal: stop the CPU if it runs guest
    code, interrupt its host call if it waits in the kernel."""
    owner = emu.cpu_lock.owner is t
    if owner:
        emu.cpu.interrupt()
    if t.in_host_call or (owner and emu.hook.in_host_call):
        host.syscall(234, os.getpid(), t.tid, emu.kick_signal, 0, 0, 0)  # tgkill


