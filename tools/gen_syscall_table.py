#!/usr/bin/env python3
"""Generate src/luatrap/syscalls/x86_64_table.py: the x86_64 system call table as data.

Sources, all read from the machine that runs this script:
- numbers: the kernel UAPI header asm/unistd_64.h (Debian: linux-libc-dev), plus the
  entries of the kernel's syscall_64.tbl newer than that header (NEWER below);
- i386 numbers (for `int 0x80`): asm/unistd_32.h;
- argument names and C types: the kernel's syscall tracepoints
  (/sys/kernel/tracing/events/syscalls/sys_enter_*/format), which are generated from
  SYSCALL_DEFINE and so are the kernel's own prototypes. MANUAL covers calls whose
  tracepoint this kernel does not build (module, kexec, legacy entries).

Run as root on x86_64 Linux (tracefs is mounted if needed):
    python3 tools/gen_syscall_table.py > src/luatrap/syscalls/x86_64_table.py
"""
import os
import re
import subprocess
import sys

UNISTD_64 = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
UNISTD_32 = "/usr/include/x86_64-linux-gnu/asm/unistd_32.h"
TRACEFS = "/sys/kernel/tracing"

# syscall_64.tbl entries newer than Debian 12's linux-libc-dev (Linux 6.1 headers).
NEWER = {
    335: "uretprobe", 336: "uprobe", 451: "cachestat", 452: "fchmodat2",
    453: "map_shadow_stack", 454: "futex_wake", 455: "futex_wait", 456: "futex_requeue",
    457: "statmount", 458: "listmount", 459: "lsm_get_self_attr", 460: "lsm_set_self_attr",
    461: "lsm_list_modules", 462: "mseal", 463: "setxattrat", 464: "getxattrat",
    465: "listxattrat", 466: "removexattrat", 467: "open_tree_attr", 468: "file_getattr",
    469: "file_setattr", 470: "listns",
}

# x32-only numbers 512..547 of syscall_64.tbl (used with __X32_SYSCALL_BIT set).
X32_SPECIAL = (
    "rt_sigaction rt_sigreturn ioctl readv writev recvfrom sendmsg recvmsg execve ptrace "
    "rt_sigpending rt_sigtimedwait rt_sigqueueinfo sigaltstack timer_create mq_notify "
    "kexec_load waitid set_robust_list get_robust_list vmsplice move_pages preadv pwritev "
    "rt_tgsigqueueinfo recvmmsg sendmmsg process_vm_readv process_vm_writev setsockopt "
    "getsockopt io_setup io_submit execveat preadv2 pwritev2"
).split()

# The tracepoint is named after the kernel function, not the table entry.
TRACEPOINT_ALIAS = {
    "stat": "newstat", "fstat": "newfstat", "lstat": "newlstat", "uname": "newuname",
    "sendfile": "sendfile64", "umount2": "umount",
}

# Prototypes from the man pages, for calls without a tracepoint on the generating kernel.
MANUAL = {
    "uselib": [("const char *", "library")],
    "init_module": [("void *", "umod"), ("unsigned long", "len"), ("const char *", "uargs")],
    "delete_module": [("const char *", "name_user"), ("unsigned int", "flags")],
    "finit_module": [("int", "fd"), ("const char *", "uargs"), ("int", "flags")],
    "kexec_load": [("unsigned long", "entry"), ("unsigned long", "nr_segments"),
                   ("struct kexec_segment *", "segments"), ("unsigned long", "flags")],
    "kexec_file_load": [("int", "kernel_fd"), ("int", "initrd_fd"),
                        ("unsigned long", "cmdline_len"), ("const char *", "cmdline_ptr"),
                        ("unsigned long", "flags")],
    "set_thread_area": [("struct user_desc *", "u_info")],
    "get_thread_area": [("struct user_desc *", "u_info")],
    "lookup_dcookie": [("u64", "cookie64"), ("char *", "buf"), ("size_t", "len")],
    "epoll_ctl_old": [("int", "epfd"), ("int", "op"), ("int", "fd"),
                      ("struct epoll_event *", "event")],
    "epoll_wait_old": [("int", "epfd"), ("struct epoll_event *", "events"),
                       ("int", "maxevents"), ("int", "timeout")],
    "_sysctl": [("struct __sysctl_args *", "args")],
    "map_shadow_stack": [("unsigned long", "addr"), ("unsigned long", "size"),
                         ("unsigned int", "flags")],
    "listns": [("const struct ns_id_req *", "req"), ("u64 *", "ns_ids"),
               ("size_t", "nr_ns_ids"), ("unsigned int", "flags")],
}

FD_NAMES = {"fd", "oldfd", "newfd", "epfd", "fd_in", "fd_out", "out_fd", "in_fd", "pidfd",
            "fdin", "fdout", "kernel_fd", "initrd_fd", "mqdes", "ufd", "tfd", "fd1",
            "fd2", "from_dfd", "to_dfd", "olddfd", "newdfd", "dfd", "dirfd", "target_fd",
            "ns_fd", "ruleset_fd"}
SIGNED_32 = {"int", "pid_t", "clockid_t", "const clockid_t", "timer_t", "mqd_t", "key_t",
             "key_serial_t", "rwf_t", "uid_t", "gid_t", "qid_t", "old_uid_t", "old_gid_t"}
UNSIGNED_32 = {"unsigned int", "unsigned", "u32", "const __u32", "__u32", "umode_t",
               "unsigned short", "u16"}


BUFFER_NAMES = {"buf", "ubuf", "buff"}
DIRFD_NAMES = {"dfd", "dirfd", "olddfd", "newdfd", "from_dfd", "to_dfd"}
INPUT_BUFFER_CALLS = {"sendto"}  # whose buffer is read by the kernel though not const


def kind_of(ctype: str, name: str, syscall: str) -> str:
    """The argument kind that tells how to present and decode a raw register.

    inbuf/outbuf: a byte buffer whose length is the next argument (the kernel reads an
    inbuf, fills an outbuf); stat: a struct stat the kernel fills; timespec: a struct
    timespec the kernel reads."""
    if name in DIRFD_NAMES and "*" not in ctype:
        return "dirfd"
    if name in FD_NAMES and "*" not in ctype:
        return "fd"
    if name in BUFFER_NAMES and "*" in ctype:
        return "inbuf" if "const" in ctype or syscall in INPUT_BUFFER_CALLS else "outbuf"
    if ctype == "struct stat *":
        return "stat"
    if ctype == "const struct __kernel_timespec *" or (name == "rqtp" and "timespec" in ctype):
        return "timespec"
    if ctype == "const char *":
        return "str"
    if ctype in ("const char *const *", "const char __user *const __user *"):
        return "strv"
    if "*" in ctype:
        return "ptr"
    if ctype in SIGNED_32:
        return "int"
    if ctype in UNSIGNED_32:
        return "uint"
    if ctype.startswith("unsigned") or ctype in ("size_t", "u64", "aio_context_t", "__u64"):
        return "ulong"
    return "long"


def read_numbers(path: str) -> dict[int, str]:
    """number -> name from a kernel UAPI unistd header."""
    text = open(path).read()
    return {int(n): name for name, n in re.findall(r"#define __NR_(\w+)\s+(\d+)", text)}


def tracepoint_args(name: str) -> list[tuple[str, str]] | None:
    """(C type, argument name) pairs of a system call, from its tracepoint."""
    path = f"{TRACEFS}/events/syscalls/sys_enter_{TRACEPOINT_ALIAS.get(name, name)}/format"
    if not os.path.exists(path):
        return MANUAL.get(name)
    args = []
    for line in open(path):
        m = re.match(r"\s*field:(.+?)\s*(\w+);\s*offset:(\d+)", line)
        if m and int(m.group(3)) >= 16:
            args.append((m.group(1).strip(), m.group(2)))
    return args


def main() -> None:
    if not os.path.exists(f"{TRACEFS}/events/syscalls"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=True)
    numbers = read_numbers(UNISTD_64) | NEWER
    out = [
        '"""x86_64 system calls: number, name, arguments (kind, C type, name).',
        "",
        "Generated by tools/gen_syscall_table.py from the kernel headers and tracepoints;",
        'do not edit by hand."""',
        "",
        "SYSCALLS = (",
    ]
    missing = []
    for nr in sorted(numbers):
        name = numbers[nr]
        args = tracepoint_args(name)
        if args is None:
            missing.append(name)
            args = []
        row = tuple((kind_of(t, n, name), t, n) for t, n in args)
        out.append(f"    ({nr}, {name!r}, {row!r}),")
    out.append(")")
    out.append("")
    out.append("# i386 numbers (int 0x80) -> name, for mapping 32-bit calls onto rules.")
    out.append("I386_NAMES = {")
    for nr, name in sorted(read_numbers(UNISTD_32).items()):
        out.append(f"    {nr}: {name!r},")
    out.append("}")
    out.append("")
    out.append("# x32-only numbers (with the x32 bit cleared) -> name.")
    out.append(f"X32_NAMES = {dict(enumerate(X32_SPECIAL, 512))!r}")
    out.append("")
    out.append(f"# Entries no longer implemented by the kernel (always -ENOSYS): {missing!r}")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
