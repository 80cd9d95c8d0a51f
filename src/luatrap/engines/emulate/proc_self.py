"""/proc/self under the emulate engine: the guest's, not luatrap's.

The guest runs inside luatrap's process, so the kernel's /proc/self (and /proc/PID with
the guest's own pid, /proc/thread-self) describes luatrap: its executable is Python, its
command line luatrap's, its memory map Python's. As qemu-user does, the files a program
reads to learn about itself are answered from the guest's side:

  exe      readlink gives the guest program's path; open, stat and access reach it
  cmdline, environ, auxv   the guest's argument, environment and auxiliary vectors
  maps     the host's lines for the guest's own ranges only ([stack] and [heap] named)
  stat     the host's, with the guest program's stack
  status   the host's, with the guest's thread count and signal state
  fd/, fdinfo/   listed without luatrap's own descriptors
  task/    listed without luatrap's own threads (the watcher's, the looker's)

A file is made once per open, in a memfd, so reads, seeks and fstat behave as on a file.

Other processes read the kernel's /proc/PID, so the kernel is told too (show_to_others):
the process's name (comm), and, through prctl(PR_SET_MM_MAP), the guest's command line,
environment and auxiliary vector (where the kernel has checkpoint/restore) and its
executable (where luatrap may: CAP_CHECKPOINT_RESTORE).
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import host
from luatrap.engines.emulate.memory import GuestFault
from luatrap.syscalls import table

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator
    from luatrap.engines.emulate.threads import GuestThread

_SELF = re.compile(rb"^/proc/+(?:self|thread-self|(\d+))(?:/+task/+(\d+))?/+"
                   rb"(exe|cmdline|environ|auxv|maps|smaps|stat|status|fd|fdinfo|task)/*$")
LISTINGS = ("fd", "fdinfo", "task")  # directories whose listing is the guest's
O_CLOEXEC = 0o2000000
MFD_CLOEXEC = 1
PR_SET_NAME = 15


class ProcSelf:
    """The guest's view of its own /proc entries."""

    def __init__(self, emu: Emulator, exe: str, sp: int) -> None:
        self.emu = emu
        self.exe = os.path.abspath(exe).encode(errors="surrogateescape")
        self._exe_name = ctypes.create_string_buffer(self.exe)  # for calls made for it
        self.stack_top = sp
        self.initial = InitialStack(emu, sp)
        self.argv, self.env, self.auxv = self.initial.argv, self.initial.env, self.initial.auxv
        self.fd_dirs: dict[int, str] = {}  # descriptors of /proc/self/fd, fdinfo, task

    def show_to_others(self, exec_path: str) -> None:
        """What other processes read in this one's /proc/PID (ps, pgrep, a parent
        reading its child's cmdline): the guest's, as far as the kernel lets luatrap
        say. `exec_path` is the path it was executed by, whose last part the kernel
        makes the process's name."""
        name = ctypes.create_string_buffer(os.path.basename(
            os.fsencode(exec_path).rstrip(b"/"))[:15])
        host.syscall(157, PR_SET_NAME, ctypes.addressof(name), 0, 0, 0, 0)
        try:
            exe_fd = os.open(self.exe, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            exe_fd = -1
        s = self.initial
        try:
            self.emu.hook.show_process(s.arg_start, s.arg_end, s.env_start, s.env_end,
                                       s.auxv_at, len(s.auxv), exe_fd)
        finally:
            if exe_fd >= 0:
                os.close(exe_fd)

    def which(self, path: bytes) -> str | None:
        """The entry `path` names if it is one of the guest's own, else None."""
        found = self._match(path)
        return None if found is None else found.group(3).decode()

    def _match(self, path: bytes) -> re.Match | None:
        found = _SELF.match(path)
        if found is None:
            return None
        pid, tid = found.group(1), found.group(2)
        if pid is not None and int(pid) != os.getpid() and not (
                tid is None and any(t.tid == int(pid) for t in self.emu.threads)):
            return None  # another process's entry: the kernel's own answer is right
        return found

    def thread_of(self, path: bytes, caller: GuestThread) -> GuestThread | None:
        """The guest thread whose entry `path` is: the caller's for thread-self, the
        named thread's (None: no thread of the guest's), or the process's (its first
        thread, while it lives)."""
        found = self._match(path)
        if found is None or path.startswith(b"/proc/thread-self"):
            return caller
        threads = self.emu.threads
        if found.group(2) is not None:
            return next((t for t in threads if t.tid == int(found.group(2))), None)
        return next((t for t in threads if t.tid == os.getpid()), caller)

    def watch_listing(self, fd: int, name: str) -> None:
        """`fd` lists the process's descriptors or threads: getdents must leave
        luatrap's out."""
        self.fd_dirs[fd] = name
        self.emu.route_through_python(GETDENTS, True)  # while such a listing is open

    def forget_listing(self, fd: int) -> None:
        """`fd` was closed."""
        self.fd_dirs.pop(fd, None)
        if not self.fd_dirs:
            self.emu.route_through_python(GETDENTS, False)

    def listing(self, t: GuestThread, nr: int, fd: int, buf: int, count: int) -> int:
        """getdents/getdents64 of a descriptor listing: the entries of luatrap's own
        descriptors taken out (the records of the others kept as the kernel wrote them)."""
        name_at = 19 if nr == GETDENTS[1] else 18
        if self.fd_dirs.get(fd) == "task":
            hidden = {str(tid).encode() for tid in _host_threads()} - {
                str(t.tid).encode() for t in self.emu.threads}
        else:
            hidden = {str(fd).encode() for fd in self.emu.reserved_fds}
        while True:
            got = self.emu.host_call(t, nr, [fd, buf, count, 0, 0, 0])
            if got <= 0:
                return got
            data = self.emu.memory.read(buf, got)
            kept, at = bytearray(), 0
            while at < got:
                size = struct.unpack_from("<H", data, at + 16)[0]
                name = data[at + name_at:data.index(b"\0", at + name_at)]
                if name not in hidden:
                    kept += data[at:at + size]
                at += size
            if kept:
                self.emu.memory.write(buf, bytes(kept))
                return len(kept)

    def exe_pointer(self) -> int:
        """The guest program's path, NUL-terminated, for a call made in its name."""
        return ctypes.addressof(self._exe_name)

    def path_of(self, path: str) -> str:
        """`path`, or the guest program's own if it names /proc/self/exe (execve)."""
        if self.which(path.encode(errors="surrogateescape")) == "exe":
            return self.exe.decode(errors="surrogateescape")
        return path

    def content(self, name: str, t: GuestThread) -> bytes:
        """What the guest reads in its entry `name` (not exe); `t`: the thread it is of."""
        if name == "cmdline":
            return b"".join(a + b"\0" for a in self.argv)
        if name == "environ":
            return b"".join(e + b"\0" for e in self.env)
        if name == "auxv":
            return self.auxv
        if name in ("maps", "smaps"):
            return self._maps(name)
        if name == "status":
            return self._status(t)
        return self._stat()

    def open(self, name: str, flags: int, t: GuestThread) -> int:
        """A descriptor for the guest's entry `name` (opened with `flags`), or -errno."""
        try:
            if name == "exe":
                return os.open(self.exe, flags & ~os.O_CREAT)
            fd = os.memfd_create(name, MFD_CLOEXEC if flags & O_CLOEXEC else 0)
            os.write(fd, self.content(name, t))
            os.lseek(fd, 0, os.SEEK_SET)
            return fd
        except OSError as e:
            return -e.errno

    def _maps(self, name: str) -> bytes:
        """The host's lines for the guest's ranges, clipped to them."""
        ranges = self.emu.memory.ranges
        heap = (self.emu.memory.brk_start, self.emu.memory.brk)
        out = []
        with open(f"/proc/self/{name}", "rb") as f:
            lines = f.read().splitlines(keepends=True)
        keep = False
        for line in lines:
            head = line.split(b" ", 1)[0]
            if b"-" not in head or not re.match(rb"^[0-9a-f]+-[0-9a-f]+$", head):
                if keep:  # smaps' detail lines belong to the range above them
                    out.append(line)
                continue
            start, end = (int(x, 16) for x in head.split(b"-"))
            keep = any(s < end and start < e for s, e, _ in ranges)
            if not keep:
                continue
            fields = line.split(None, 5)
            if len(fields) < 6 or not fields[5].strip():  # anonymous: name the guest's own
                vdso = self.emu.memory.vdso
                label = (b"[stack]" if start < self.stack_top <= end else
                         b"[vdso]" if start < vdso[1] and vdso[0] < end else
                         b"[heap]" if heap[0] < heap[1] and start < heap[1] and heap[0] < end
                         else b"")
                line = b" ".join(fields[:5]) + (b" " * 19 + label if label else b"") + b"\n"
            out.append(line)
        return b"".join(out)

    def _stat(self) -> bytes:
        """The host's stat line, with the guest program's name and stack."""
        with open("/proc/self/stat", "rb") as f:
            text = f.read()
        head, rest = text.split(b" (", 1)
        fields = rest.rsplit(b") ", 1)[1].split()
        fields[25] = str(self.stack_top).encode()  # startstack (field 28)
        comm = text[len(head) + 2:text.rindex(b") ")]  # the guest's (show_to_others)
        return head + b" (" + comm + b") " + b" ".join(fields) + b"\n"


    def _status(self, t: GuestThread) -> bytes:
        """The host's status of `t`'s host thread, with the guest's count of threads and
        the guest's signal state where the host's is luatrap's."""
        with open(f"/proc/self/task/{t.tid}/status", "rb") as f:
            lines = f.read().splitlines(keepends=True)
        signals = self.emu.signals
        ignored = handled = 0
        for signo, act in signals.actions.items():
            if act.handler == 1:  # SIG_IGN
                ignored |= 1 << (signo - 1)
            elif act.handler != 0:  # a handler, not SIG_DFL
                handled |= 1 << (signo - 1)
        queued = sum(bin(x.pending).count("1") for x in self.emu.threads)
        queued += bin(signals.process_pending).count("1")
        ours = {b"Threads:": str(len(self.emu.threads)).encode(),
                b"SigPnd:": b"%016x" % t.pending, b"ShdPnd:": b"%016x" % signals.process_pending,
                b"SigBlk:": b"%016x" % t.mask, b"SigIgn:": b"%016x" % ignored,
                b"SigCgt:": b"%016x" % handled}
        out = []
        for line in lines:
            key = line.split(b"\t", 1)[0]
            if key == b"SigQ:":  # the user's queued signals: the guest's are not the host's
                host_queued, limit = line.split(b"\t", 1)[1].split(b"/")
                ours[key] = b"%d/%s" % (int(host_queued) + queued, limit.strip())
            out.append(key + b"\t" + ours[key] + b"\n" if key in ours else line)
        return b"".join(out)


def _host_threads() -> list[int]:
    """The ids of every thread of luatrap's process, the guest's and luatrap's own."""
    return [int(name) for name in os.listdir("/proc/self/task")]


class InitialStack:
    """argv, envp and the auxiliary vector, as the loader laid them out at `sp`, and
    where their strings lie (the kernel's arg_start/arg_end and env_start/env_end)."""

    def __init__(self, emu: Emulator, sp: int) -> None:
        memory = emu.memory

        def word(at: int) -> int:
            return struct.unpack("<Q", memory.read(at, 8))[0]

        argc = word(sp)
        at = sp + 8
        pointers = [word(at + 8 * i) for i in range(argc)]
        self.argv = [memory.read_string(p) for p in pointers]
        at += 8 * (argc + 1)
        env_pointers = []
        while (ptr := word(at)) != 0:
            env_pointers.append(ptr)
            at += 8
        self.env = [memory.read_string(p) for p in env_pointers]
        at += 8
        self.auxv_at = at
        while word(at) != 0:
            at += 16
        self.auxv = memory.read(self.auxv_at, at + 16 - self.auxv_at)
        self.arg_start = pointers[0] if pointers else sp
        self.arg_end = pointers[-1] + len(self.argv[-1]) + 1 if pointers else self.arg_start
        self.env_start = env_pointers[0] if env_pointers else self.arg_end
        self.env_end = (env_pointers[-1] + len(self.env[-1]) + 1 if env_pointers
                        else self.env_start)


# -- the calls that name a path (number -> where the path is, where the flags are) ---------

def handle(emu: Emulator, t: GuestThread, proc: ProcSelf, nr: int, args) -> int | None:
    """The result of call `nr` if it names one of the guest's own /proc entries; None to
    let it go on as usual."""
    where = PATH_CALLS.get(nr)
    if where is None or proc is None:
        return None
    path_arg, kind = where
    try:
        path = emu.memory.read_string(args[path_arg], 4096)
    except GuestFault:
        return None  # a bad pointer: the kernel's own EFAULT
    name = proc.which(path)
    if name is None:
        return None
    if kind == "open" and name in LISTINGS:
        fd = emu.host_call(t, nr, args)  # the real directory: its listing is filtered
        if fd >= 0:
            proc.watch_listing(fd, name)
        return fd
    if kind == "open" and name != "task":
        flags = args[path_arg + 1]
        if nr == OPENAT2:  # struct open_how: flags first
            flags = struct.unpack("<Q", emu.memory.read(args[2], 8))[0]
        thread = proc.thread_of(path, t)
        if thread is None:
            return -errno.ENOENT  # luatrap's own thread: the guest has no such entry
        return proc.open(name, flags, thread)
    if kind == "readlink":
        buf, size = args[path_arg + 1], args[path_arg + 2]
        if name != "exe" or size <= 0:
            return -errno.EINVAL  # not a link; no room
        data = proc.exe[:size]
        try:
            emu.memory.write(buf, data)
        except GuestFault:
            return -errno.EFAULT
        return len(data)
    if name not in ("exe",) or nr == LSTAT or (nr in (NEWFSTATAT, STATX) and
                                         args[3 if nr == NEWFSTATAT else 2] & NOFOLLOW):
        return None  # the other entries, and exe as the link it is: the kernel's answer
    swapped = list(args)  # stat, access: the guest program's file instead
    swapped[path_arg] = proc.exe_pointer()
    return emu.host_call(t, nr, swapped)


def _nr(name: str) -> int:
    return table.by_name(name).nr


OPENAT2, LSTAT, NEWFSTATAT, STATX = _nr("openat2"), _nr("lstat"), _nr("newfstatat"), _nr("statx")
NOFOLLOW = 0x100  # AT_SYMLINK_NOFOLLOW
GETDENTS = (_nr("getdents"), _nr("getdents64"))  # (the order listing() expects)
# Calls that name a path -> (which argument, what they do with it).
PATH_CALLS = {_nr(name): (arg, kind) for name, arg, kind in (
    ("open", 0, "open"), ("openat", 1, "open"), ("openat2", 1, "open"),
    ("readlink", 0, "readlink"), ("readlinkat", 1, "readlink"),
    ("stat", 0, "stat"), ("lstat", 0, "stat"), ("newfstatat", 1, "stat"),
    ("statx", 1, "stat"), ("access", 0, "stat"), ("faccessat", 1, "stat"),
    ("faccessat2", 1, "stat"))}
