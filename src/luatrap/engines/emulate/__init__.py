"""The emulate engine: the program runs on an emulated CPU (Unicorn) with luatrap's own
Linux layer, the design of qemu-user, in Python.

Guest memory is luatrap's memory at the same addresses, so most system calls go to the
host kernel as they are; the rest are emulated (calls.py). x86_64 and aarch64 programs
run (guest_arch.py describes what differs; aarch64.py translates). Every system call passes
through luatrap, so a ruled call costs no kernel round trip. The CLI runs the program
in luatrap's own process, as qemu-user does; the Python API runs it in a child.
"""
from __future__ import annotations

import os

from luatrap.engines.base import EngineError, Program, elf_arch
from luatrap.session import Session

NAME = "emulate"


def run(program: Program, session: Session) -> int:
    """Run `program` to completion under `session`; its exit status as a shell shows it."""
    try:
        from luatrap.engines.emulate.linux import Emulator  # loads unicorn's library
    except (ImportError, OSError) as e:
        raise EngineError(f"the emulate engine needs the unicorn package ({e})") from None

    def emulator() -> Emulator:
        return Emulator(session, arch_of(program))

    if not program.in_place:
        pid = os.fork()
        if pid:
            status = os.waitpid(pid, 0)[1]
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else \
                128 + os.WTERMSIG(status)
        try:
            emulator().start(program)
        except BaseException as e:  # noqa: BLE001 - the forked child must never return
            message = str(e) if isinstance(e, EngineError) else \
                f"internal error: {type(e).__name__}: {e}"
            os.write(2, f"luatrap: {message}\n".encode())
        os._exit(2)
    emulator().start(program)
    return 2  # not reached: start() ends the process


def arch_of(program: Program):
    """The description of the program's architecture (x86_64 unless its ELF file, or
    its `#!` interpreter's, is aarch64), with the -L sysroot."""
    from luatrap.engines.emulate import loader
    from luatrap.engines.emulate.guest_arch import X86_64

    try:
        target = loader.script_argv(program.path, program.argv)[0]
    except loader.ExecError:
        return X86_64  # start() reports it
    if elf_arch(target) != "aarch64":
        return X86_64
    from luatrap.engines.emulate.aarch64 import Aarch64

    arch = Aarch64()
    arch.sysroot = program.settings.get("sysroot")
    return arch


__all__ = ["NAME", "run"]
