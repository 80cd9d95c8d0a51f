"""signalfd(2) through ctypes: luatrap's own signals as readable events in its poll loop.

SIGCHLD says a traced task changed state; other signals sent to luatrap by a process are
passed on to the program, while those the terminal sends to the whole foreground job
(Ctrl-C, Ctrl-\\) already reached the program and are only swallowed here.
"""
from __future__ import annotations

import ctypes
import os
import signal
import struct

from luatrap.engines.native.kernel import check, libc

SFD_NONBLOCK, SFD_CLOEXEC = 0o4000, 0o2000000
SI_KERNEL = 0x80
_SIGINFO_SIZE = 128
FORWARDED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
             signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)
WATCHED = (signal.SIGCHLD, *FORWARDED)


class SignalFd:
    """Blocks WATCHED signals in luatrap and reads them from a file descriptor."""

    def __init__(self) -> None:
        # An ignored SIGCHLD (inherited from whoever started luatrap) would silence the
        # kernel's reports of traced tasks stopping: luatrap would wait forever.
        self._old_chld = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # ... but the program inherits what luatrap inherited.
        self.ignored_by_parent = ((signal.SIGCHLD,) if self._old_chld == signal.SIG_IGN
                                  else ())
        self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        self.inherited_mask = set(self._old_mask)
        mask = ctypes.create_string_buffer(128)
        for sig in WATCHED:
            check(libc.sigaddset(mask, sig), "sigaddset")
        self.fd = check(libc.signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd")

    def read(self) -> list[tuple[int, int, int]]:
        """Pending signals as (signo, code, sender pid)."""
        out = []
        while True:
            try:
                data = os.read(self.fd, _SIGINFO_SIZE * 16)
            except BlockingIOError:
                return out
            for off in range(0, len(data), _SIGINFO_SIZE):
                signo, _errno, code, pid = struct.unpack_from("<IiiI", data, off)
                out.append((signo, code, pid))

    def close(self, restore: bool = True) -> None:
        """Stop watching. With `restore`, luatrap's old signal mask comes back (for the
        Python API, whose caller goes on), after the signals that came meanwhile are
        taken: a Ctrl-C the program already died of must not also interrupt luatrap."""
        self.read()
        os.close(self.fd)
        if restore:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
            signal.signal(signal.SIGCHLD, self._old_chld)


def from_terminal_or_kernel(code: int) -> bool:
    """True if the kernel (the terminal driver) sent it, not a process with kill()."""
    return code == SI_KERNEL or code > 0
