"""What a call forwarded to the host kernel may point at: the guest's memory only (and
which descriptors it may name: not luatrap's own).

Guest memory is host memory at the same addresses, next to luatrap's own. Before the C
hook (or the Linux layer) forwards a call, every pointer it carries is checked against
the guest map (src/core/guest_pointers.c); one that reaches outside gets EFAULT, as
qemu-user's lock_user gives. This module derives those checks from the system call
table: each pointer argument, the size it points to (a C type's size, or a count
argument times an element's), and whether the kernel reads or writes it.
"""
from __future__ import annotations

from luatrap import _core
from luatrap.syscalls import x86_64_table

_KIND = _core.POINTER_KINDS  # the C side's own numbers (src/core/guest_pointers.h)
READ, WRITE, ANY, STRING = _KIND["READ"], _KIND["WRITE"], _KIND["ANY"], _KIND["STRING"]
IOVEC_READ, IOVEC_WRITE = _KIND["IOVEC_READ"], _KIND["IOVEC_WRITE"]
MSGHDR_READ, MSGHDR_WRITE = _KIND["MSGHDR_READ"], _KIND["MSGHDR_WRITE"]
MMSGHDR_READ, MMSGHDR_WRITE = _KIND["MMSGHDR_READ"], _KIND["MMSGHDR_WRITE"]
FUTEX_SECOND, FD = _KIND["FUTEX_SECOND"], _KIND["FD"]

# x86_64 sizes of what pointer arguments point to (unlisted types: their first byte).
SIZES = {
    "struct __kernel_timespec": 16, "struct __kernel_old_timeval": 16, "struct timezone": 8,
    "struct stat": 144, "struct statx": 256, "struct rusage": 144, "struct rlimit": 16,
    "struct rlimit64": 16, "struct new_utsname": 390, "struct sysinfo": 112,
    "struct tms": 32, "struct __kernel_itimerspec": 32, "struct __kernel_old_itimerval": 32,
    "siginfo_t": 128, "struct siginfo": 128, "sigset_t": 8, "stack_t": 24,
    "struct sigaction": 32, "struct sched_param": 4, "struct utimbuf": 16,
    "struct mq_attr": 64, "struct sigevent": 64, "struct epoll_event": 12,
    "struct pollfd": 8, "struct sembuf": 6, "struct open_how": 24, "struct clone_args": 64,
    "int": 4, "unsigned": 4, "unsigned int": 4, "u32": 4, "uid_t": 4, "gid_t": 4,
    "timer_t": 4, "loff_t": 8, "u64": 8, "aio_context_t": 8, "__kernel_old_time_t": 8,
    "size_t": 8, "struct file_handle": 8,
}
# (call, pointer argument) -> (its count argument, or None; the size of one element;
# how the kernel uses it) where the type alone does not say.
SIZED = {
    ("read", "buf"): ("count", 1, WRITE), ("write", "buf"): ("count", 1, READ),
    ("pread64", "buf"): ("count", 1, WRITE), ("pwrite64", "buf"): ("count", 1, READ),
    ("sendto", "buff"): ("len", 1, READ), ("sendto", "addr"): ("addr_len", 1, READ),
    ("recvfrom", "ubuf"): ("size", 1, WRITE), ("getcwd", "buf"): ("size", 1, WRITE),
    ("readlink", "buf"): ("bufsiz", 1, WRITE), ("readlinkat", "buf"): ("bufsiz", 1, WRITE),
    ("getrandom", "ubuf"): ("len", 1, WRITE), ("syslog", "buf"): ("len", 1, WRITE),
    ("getdents", "dirent"): ("count", 1, WRITE), ("getdents64", "dirent"): ("count", 1, WRITE),
    ("connect", "uservaddr"): ("addrlen", 1, READ), ("bind", "umyaddr"): ("addrlen", 1, READ),
    ("setsockopt", "optval"): ("optlen", 1, READ),
    ("poll", "ufds"): ("nfds", 8, ANY), ("ppoll", "ufds"): ("nfds", 8, ANY),
    ("epoll_wait", "events"): ("maxevents", 12, WRITE),
    ("epoll_pwait", "events"): ("maxevents", 12, WRITE),
    ("epoll_pwait2", "events"): ("maxevents", 12, WRITE),
    ("getgroups", "grouplist"): ("gidsetsize", 4, WRITE),
    ("setgroups", "grouplist"): ("gidsetsize", 4, READ),
    ("getxattr", "value"): ("size", 1, WRITE), ("lgetxattr", "value"): ("size", 1, WRITE),
    ("fgetxattr", "value"): ("size", 1, WRITE), ("setxattr", "value"): ("size", 1, READ),
    ("lsetxattr", "value"): ("size", 1, READ), ("fsetxattr", "value"): ("size", 1, READ),
    ("listxattr", "list"): ("size", 1, WRITE), ("llistxattr", "list"): ("size", 1, WRITE),
    ("flistxattr", "list"): ("size", 1, WRITE),
    ("sched_getaffinity", "user_mask_ptr"): ("len", 1, WRITE),
    ("sched_setaffinity", "user_mask_ptr"): ("len", 1, READ),
    ("mq_timedsend", "u_msg_ptr"): ("msg_len", 1, READ),
    ("mq_timedreceive", "u_msg_ptr"): ("msg_len", 1, WRITE),
    ("semop", "tsops"): ("nsops", 6, READ), ("semtimedop", "tsops"): ("nsops", 6, READ),
    ("statmount", "buf"): ("bufsize", 1, WRITE),
    ("msgsnd", "msgp"): ("msgsz", 1, READ), ("msgrcv", "msgp"): ("msgsz", 1, WRITE),
}
# The memory ranges some calls act on: (call, start argument, length argument).
RANGES = [("msync", "start", "len"), ("mlock", "start", "len"), ("mlock2", "start", "len"),
          ("munlock", "start", "len"), ("mincore", "start", "len"), ("mbind", "start", "len"),
          ("mseal", "start", "len")]
VECTORS = {"readv": IOVEC_WRITE, "preadv": IOVEC_WRITE, "preadv2": IOVEC_WRITE,
           "writev": IOVEC_READ, "pwritev": IOVEC_READ, "pwritev2": IOVEC_READ,
           "vmsplice": IOVEC_READ, "process_madvise": IOVEC_READ,
           "sendmsg": MSGHDR_READ, "recvmsg": MSGHDR_WRITE,
           "sendmmsg": MMSGHDR_READ, "recvmmsg": MMSGHDR_WRITE}
# Arguments the table calls pointers that are not always (futex's timeout slot holds a
# number for some operations; its second address is checked by operation, in C).
NOT_ALWAYS_POINTERS = {("futex", "utime"), ("futex", "uaddr2")}
POINTER_KINDS = {"ptr", "str", "inbuf", "outbuf", "timespec", "stat"}


def _pointee(ctype: str) -> tuple[int, int]:
    """(size, use) of what a pointer of C type `ctype` points to."""
    const = ctype.startswith("const ")
    base = ctype.removeprefix("const ").rstrip("* ").strip()
    if ctype.count("*") > 1:
        return 8, ANY
    return SIZES.get(base, 1), READ if const else ANY


def checks_of(nr: int, name: str, args: tuple) -> list[tuple[int, int, int, int, int]]:
    """The checks of one call: (nr, argument, kind, count argument or -1, size)."""
    index = {arg[2]: i for i, arg in enumerate(args)}
    out = []
    for i, (kind, ctype, arg_name) in enumerate(args):
        if kind in ("fd", "dirfd"):  # luatrap's own descriptors are not the guest's
            out.append((nr, i, FD, -1, 0))
            continue
        if kind not in POINTER_KINDS or (name, arg_name) in NOT_ALWAYS_POINTERS:
            continue
        if (name, arg_name) in SIZED:
            count, size, use = SIZED[name, arg_name]
            out.append((nr, i, use, index[count], size))
        elif name in VECTORS and i == 1:
            count = next((j for j, a in enumerate(args) if j > 1 and a[0] in
                          ("ulong", "uint")), -1)
            out.append((nr, i, VECTORS[name], count, 16))
        elif kind == "str":
            out.append((nr, i, STRING, -1, 1))
        else:
            size, use = _pointee(ctype)
            out.append((nr, i, use, -1, size))
    for call, start, length in RANGES:
        if call == name:
            out.append((nr, index[start], ANY, index[length], 1))
    if name == "futex":
        out.append((nr, index["uaddr2"], FUTEX_SECOND, -1, 4))
    return out


def table() -> list[tuple[int, int, int, int, int]]:
    """Every x86_64 call's checks, sorted by number, for EmulateHook.set_pointer_checks."""
    out = []
    for nr, name, args in sorted(x86_64_table.SYSCALLS):
        out += checks_of(nr, name, args)
    return out
