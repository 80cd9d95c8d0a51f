"""luatrap's own descriptors in the guest's descriptor table (its log, trace and summary
files, its signalfd): kept high, out of the program's way, and out of its reach."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luatrap.engines.emulate.linux import Emulator


class ReservedFds(set):
    """luatrap's own descriptors in the guest's table; the C hook refuses them (EBADF)
    to forwarded calls."""

    def __init__(self, emu: Emulator) -> None:
        super().__init__()
        self.emu = emu

    def add(self, fd: int) -> None:
        super().add(fd)
        self.emu.hook.reserve_fds(sorted(self))

    def discard(self, fd: int) -> None:
        super().discard(fd)
        self.emu.hook.reserve_fds(sorted(self))


def fd_base(limit: int) -> int:
    """Where luatrap keeps its own descriptors: high, out of the guest's way (it expects
    its first open to give 3), but under the descriptor limit, however low the guest
    set it (`ulimit -n 29` before an exec)."""
    if limit > 64:
        return min(limit, 4096) - 32
    return max(limit - 8, 3)


def keep_log_fds(emu: Emulator) -> dict:
    """luatrap's log and trace files, kept from the guest and across its execve."""
    log = emu.session.log
    log.fd = emu.keep_fd(log.fd, close=log.fd != 2)
    if emu.session.rules:
        emu.session.rules.core.log_fd = log.fd
    kept = {"log_fd": log.fd}
    tracer = emu.session.tracer
    if tracer is not None and tracer.json is not None:
        fd = emu.keep_fd(tracer.json.fileno(), close=False)
        if fd != tracer.json.fileno():
            tracer.json.close()
            tracer.json = open(fd, "w", buffering=1)  # noqa: SIM115
        kept["json_fd"] = fd
    if tracer is not None and tracer.summary:
        shared = emu.exec_state.get("summary_fd")
        if shared is None:
            shared = os.memfd_create("luatrap-summary", os.MFD_CLOEXEC)
        kept["summary_fd"] = emu.keep_fd(shared, close=False)
    return kept
