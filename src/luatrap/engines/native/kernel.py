"""ctypes bindings to the kernel interfaces the native engine's Python side uses:
ptrace(2), seccomp(2), pidfd_open(2)/pidfd_getfd(2). (Notifications, seccomp_unotify(2),
are served in C: src/core/notify_loop.c.)

Constants are checked against the man pages and <linux/*.h>.
"""
from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)

# ptrace requests and options (<sys/ptrace.h>, <linux/ptrace.h>)
PTRACE_CONT, PTRACE_SYSCALL = 7, 24
PTRACE_DETACH = 17
PTRACE_GETEVENTMSG, PTRACE_GETSIGINFO = 0x4201, 0x4202
PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_LISTEN = 0x4206, 0x4207, 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E
PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK, PTRACE_O_TRACEVFORK, PTRACE_O_TRACECLONE = 0x02, 0x04, 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000
PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE = 1, 2, 3
PTRACE_EVENT_EXEC, PTRACE_EVENT_SECCOMP, PTRACE_EVENT_STOP = 4, 7, 128
PTRACE_SYSCALL_INFO_ENTRY, PTRACE_SYSCALL_INFO_EXIT = 1, 2
WALL = 0x40000000  # __WALL
WNOHANG = 1

# seccomp (<linux/seccomp.h>, <linux/audit.h>)
PR_SET_NO_NEW_PRIVS = 38
SYS_SECCOMP, SYS_PIDFD_OPEN, SYS_PIDFD_GETFD = 317, 434, 438
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5  # Linux 5.19
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_TRACE = 0x7FF00000
# luatrap's own TRACE verdicts carry this SECCOMP_RET_DATA (traced_calls.h's
# LT_TRACE_MARK), to tell them from the program's own filter's.
LUATRAP_TRACE = SECCOMP_RET_TRACE | 0x4C54
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000  # | errno
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_SYSCALL_BIT = 0x40000000


class SockFilter(ctypes.Structure):
    """struct sock_filter: one classic BPF instruction."""

    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    """struct sock_fprog: a BPF program."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


ptrace = libc.ptrace
ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
ptrace.restype = ctypes.c_long
waitpid = libc.waitpid
waitpid.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
waitpid.restype = ctypes.c_int
prctl = libc.prctl
prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
prctl.restype = ctypes.c_int
syscall = libc.syscall
syscall.restype = ctypes.c_long


def check(result: int, what: str) -> int:
    """Raise OSError with errno if a libc call returned -1."""
    if result == -1:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return result


def pidfd_getfd(pid: int, fd: int) -> int:
    """A copy, in this process, of file descriptor `fd` of process `pid`."""
    pidfd = check(syscall(SYS_PIDFD_OPEN, ctypes.c_int(pid), ctypes.c_uint(0)), "pidfd_open")
    try:
        return check(syscall(SYS_PIDFD_GETFD, ctypes.c_int(pidfd), ctypes.c_int(fd),
                             ctypes.c_uint(0)), "pidfd_getfd")
    finally:
        os.close(pidfd)
