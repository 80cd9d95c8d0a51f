"""Starting the program: fork, attach with ptrace, install the seccomp filter, exec.

The listener fd of the filter exists only in the child, and any system call the child
makes after installing the filter may already be a ruled one — so the child cannot
send it. Instead the supervisor follows the child's few remaining system calls
(PTRACE_SYSCALL) until seccomp(2) returns, and copies the fd with pidfd_getfd(2).
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import struct

from luatrap.engines.base import EngineError
from luatrap.engines.native import kernel as k

TRACE_OPTIONS = (k.PTRACE_O_TRACESECCOMP | k.PTRACE_O_TRACESYSGOOD | k.PTRACE_O_EXITKILL
                 | k.PTRACE_O_TRACEFORK | k.PTRACE_O_TRACEVFORK | k.PTRACE_O_TRACECLONE
                 | k.PTRACE_O_TRACEEXEC)
# Dispositions Python changes for itself that a program must not inherit.
_PYTHON_IGNORED = (signal.SIGPIPE, signal.SIGXFSZ)


class LaunchError(EngineError):
    """The program could not be started."""


def _child(path: str, argv: list[str], env: dict[str, str], ready_fd: int,
           prog: k.SockFprog | None, ignored: tuple[int, ...], mask: set) -> None:
    """Runs in the forked child; never returns."""
    try:
        for sig in _PYTHON_IGNORED:
            signal.signal(sig, signal.SIG_DFL)
        for sig in ignored:
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.read(ready_fd, 1)  # wait until the supervisor has attached
        os.close(ready_fd)
        # luatrap's death is the program's, also once it is no longer traced
        k.check(k.prctl(k.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
        if os.getppid() == 1:
            os._exit(2)  # luatrap is already gone
        if prog is not None:
            if os.geteuid() != 0:
                k.check(k.prctl(k.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
            _install_filter(prog)
        os.execve(path, argv, env)
    except OSError as e:
        msg = f"luatrap: cannot run {path}: {e.strerror}\n"
        os.write(2, msg.encode(errors="replace"))
    except BaseException:  # noqa: BLE001 - the child must never unwind into the parent
        os.write(2, b"luatrap: cannot run the program\n")
    os._exit(2)


def _install_filter(prog: k.SockFprog) -> None:
    """seccomp(2) with a listener. Once luatrap has received a call's notification, its
    wait is killable only (Linux 5.19): a signal cannot turn a ruled call into an EINTR
    the kernel would never give; older kernels refuse the flag, and go without."""
    flags = k.SECCOMP_FILTER_FLAG_NEW_LISTENER | k.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    while True:
        done = k.syscall(k.SYS_SECCOMP, ctypes.c_uint(k.SECCOMP_SET_MODE_FILTER),
                         ctypes.c_uint(flags), ctypes.byref(prog))
        if done != -1 or ctypes.get_errno() != errno.EINVAL or \
                flags == k.SECCOMP_FILTER_FLAG_NEW_LISTENER:
            k.check(done, "seccomp")
            return
        flags = k.SECCOMP_FILTER_FLAG_NEW_LISTENER


def start(path: str, argv: list[str], env: dict[str, str], prog: k.SockFprog | None,
          ignored: tuple[int, ...] = (), mask: set | None = None) -> tuple[int, int]:
    """Start the program traced; returns (pid, listener fd or -1). The child is left
    running (PTRACE_CONT) just before its execve, with `ignored` signals ignored and the
    signal `mask` it would have had if started directly."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_w)
        _child(path, argv, env, ready_r, prog, ignored, mask or set())
    os.close(ready_r)
    try:
        k.check(k.ptrace(k.PTRACE_SEIZE, pid, None, TRACE_OPTIONS), "ptrace(SEIZE)")
        if prog is None:
            os.write(ready_w, b"x")
            return pid, -1
        k.check(k.ptrace(k.PTRACE_INTERRUPT, pid, None, None), "ptrace(INTERRUPT)")
        return pid, _follow_to_listener(pid, ready_w)
    except OSError as e:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise LaunchError(f"cannot start the program under seccomp and ptrace: "
                          f"{e.strerror or e}") from None
    finally:
        os.close(ready_w)


_INFO = ctypes.create_string_buffer(128)


def _follow_to_listener(pid: int, ready_w: int) -> int:
    """Step the child from syscall to syscall until seccomp(2) hands it the listener."""
    status = ctypes.c_int()
    k.check(k.waitpid(pid, ctypes.byref(status), k.WALL), "waitpid")
    os.write(ready_w, b"x")  # the child is stopped: let it past the pipe when resumed
    last_nr = -1
    while True:
        s = status.value
        if (s & 0xFF) != 0x7F:
            raise OSError(0, "the program exited before it started")
        sig = (s >> 8) & 0xFF
        deliver = 0
        if sig == (signal.SIGTRAP | 0x80):
            k.ptrace(k.PTRACE_GET_SYSCALL_INFO, pid, ctypes.c_void_p(128), _INFO)
            op = _INFO.raw[0]
            if op == k.PTRACE_SYSCALL_INFO_ENTRY:
                last_nr = struct.unpack_from("<Q", _INFO, 24)[0]
            elif op == k.PTRACE_SYSCALL_INFO_EXIT and last_nr == k.SYS_SECCOMP:
                rval = struct.unpack_from("<q", _INFO, 24)[0]
                if rval < 0:
                    raise OSError(-rval, f"seccomp: {os.strerror(-rval)}")
                fd = k.pidfd_getfd(pid, rval)
                k.check(k.ptrace(k.PTRACE_CONT, pid, None, None), "ptrace(CONT)")
                return fd
        elif not s >> 16:
            deliver = sig  # a real signal: deliver it
        k.check(k.ptrace(k.PTRACE_SYSCALL, pid, None, deliver), "ptrace(SYSCALL)")
        k.check(k.waitpid(pid, ctypes.byref(status), k.WALL), "waitpid")
