"""Calls into the host kernel on the guest's behalf: raw `syscall` and `int 0x80`.

Guest memory is host memory at the same addresses, so a forwarded call needs no
translation: its registers go to the host kernel as they are, and its raw result
(-errno on failure) comes back. ctypes releases the GIL around these calls, so one
guest thread blocked in the kernel does not stop the others.
"""
from __future__ import annotations

import ctypes
import mmap

from luatrap.syscalls import table

PAGE = 4096
RT_SIGACTION, RT_SIGPROCMASK, RT_SIGTIMEDWAIT = (
    table.by_name(name).nr for name in ("rt_sigaction", "rt_sigprocmask", "rt_sigtimedwait"))
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.signal.restype = ctypes.c_void_p
libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]

# rax=nr, args in rdi rsi rdx r10 r8 r9 (the 7th C argument comes on the stack)
_SYSCALL = "4889f84889f74889d64889ca4d89c24d89c84c8b4c24080f05c3"
# the same into eax, ebx ecx edx esi edi ebp for `int 0x80`; rbx and rbp preserved,
# the 32-bit result sign-extended
_INT80 = "53554889f84889f34989d24889ca4c89d14c89c64c89cf488b6c2418cd805d5b4863c0c3"


def _stub(hex_code: str, offset: int, page: int):
    code = bytes.fromhex(hex_code)
    ctypes.memmove(page + offset, code, len(code))
    return ctypes.CFUNCTYPE(ctypes.c_long, *([ctypes.c_long] * 7))(page + offset)


def _make_stubs():
    page = libc.mmap(None, PAGE, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if page in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "cannot map the system call stubs")
    calls = _stub(_SYSCALL, 0, page), _stub(_INT80, 64, page)
    if libc.mprotect(page, PAGE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
        raise OSError(ctypes.get_errno(), "cannot make the system call stubs executable")
    return calls


syscall, int80 = _make_stubs()
"""syscall(nr, a1..a6) -> raw result; int80(nr, a1..a6) -> raw 32-bit result."""


def page_down(x: int) -> int:
    return x & ~(PAGE - 1)


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


def failed(result: int) -> bool:
    """Is a raw result an error (-4095..-1)?"""
    return -4096 < result < 0


def change_signal_mask(how: int, bits: int) -> int:
    """rt_sigprocmask for the calling thread, raw: glibc's pthread_sigmask (and so
    Python's) leaves out its own two signals, 32 and 33, which a guest may use as any
    other (its SIGEV_THREAD timers signal with 32). The old mask, as bits."""
    new, old = ctypes.c_uint64(bits), ctypes.c_uint64()
    if syscall(RT_SIGPROCMASK, how, ctypes.addressof(new), ctypes.addressof(old), 8, 0, 0) != 0:
        raise OSError("rt_sigprocmask failed")
    return old.value


def take_signal(signo: int) -> bytes | None:
    """Take signal `signo` if it is pending for the calling thread (rt_sigtimedwait,
    without waiting, raw as change_signal_mask): its siginfo_t, as the kernel made it."""
    wanted, info = ctypes.c_uint64(1 << (signo - 1)), ctypes.create_string_buffer(128)
    no_wait = (ctypes.c_long * 2)()
    got = syscall(RT_SIGTIMEDWAIT, ctypes.addressof(wanted), ctypes.addressof(info),
                  ctypes.addressof(no_wait), 8, 0, 0)
    return info.raw if got == signo else None


def restore_default_action(signo: int) -> None:
    """The host's default action for `signo` (raw rt_sigaction, as change_signal_mask:
    glibc refuses to touch its own 32 and 33)."""
    default = (ctypes.c_uint64 * 4)()  # handler SIG_DFL, no flags, restorer, mask
    syscall(RT_SIGACTION, signo, ctypes.addressof(default), 0, 8, 0, 0)
