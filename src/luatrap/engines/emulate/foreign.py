"""The other ways into the kernel under the emulate engine: `int 0x80` (i386 numbers,
socketcall) and x32 numbers.

A call of either ABI meets the rule of its x86_64 twin; a hook that runs a call
(c_do_syscall) runs it in the caller's ABI, as the native engine does
(src/core/foreign_calls.c). Calls that would act on luatrap's own process are
emulated or refused (calls.foreign_table); the rest go to the host kernel once their
pointers are known to be the guest's.
"""
from __future__ import annotations

import errno
import struct
from typing import TYPE_CHECKING

from luatrap.engines.emulate import calls, host
from luatrap.engines.emulate.memory import GuestFault
from luatrap.rules import RunNow
from luatrap.syscalls import compat, table

if TYPE_CHECKING:
    from luatrap.engines.emulate.threads import GuestThread
    from luatrap.session import Session

X32_BIT = 0x40000000
UNREADABLE = object()  # socketcall's argument array could not be read
OPEN_CALLS = {table.by_name(n).nr for n in ("open", "openat", "openat2", "open_by_handle_at")}


def _numbers(names: dict[int, str]) -> dict[int, int]:
    """foreign number -> the number of the x86_64 call of that name."""
    return {nr: found.nr for nr, name in names.items() if (found := table.by_name(name))}


class ForeignCalls:
    """The Emulator's i386 and x32 calls (a part of the Emulator, kept apart to read)."""

    def init_foreign(self, session: Session) -> None:
        ruled = {table.name_of(nr) for nr in session.hooked}
        self.i386_ruled, self.x32_ruled = compat.foreign_numbers(ruled)
        self.i386_of, self.x32_of = compat.i386_of(), compat.x32_of()
        self.i386_twins = _numbers(compat.i386_names())
        self.x32_twins = _numbers(compat.x32_names())
        self.i386_emulated = calls.foreign_table(compat.i386_names()) | calls.I386_BY_NUMBER
        self.x32_emulated = calls.foreign_table(compat.x32_names())

    def x32_call(self, t: GuestThread, nr: int, args) -> object:
        """An x32 call: its rule decides as for the x86_64 call; else the host answers."""
        target = self.x32_ruled.get(nr & ~X32_BIT)
        if target is not None:
            decision = self.session.on_syscall(t.tid, target, args)
            if decision is not None:
                return self.decide_foreign(t, self.run_x32, nr, args, target, decision)
        return self.run_x32(t, nr, args)

    def run_x32(self, t: GuestThread, nr: int, args) -> object:
        handler = self.x32_emulated.get(nr & ~X32_BIT)
        if handler is not None:
            return self.foreign_emulated(handler, t, args)
        twin = self.x32_twins.get(nr & ~X32_BIT)
        refused = self.hook.check_pointers(twin, tuple(args)) if twin is not None else 0
        return refused or self.host_call(t, nr, args)

    def decide_foreign(self, t: GuestThread, run, nr: int, args, hooked_nr: int,
                       decision) -> object:
        """Carry out a rule's decision for an i386 or x32 call `nr` (its x86_64 twin
        `hooked_nr`): the calls its hook runs are made in the caller's own ABI, as on
        the native engine; one that ABI lacks gives the hook ENOSYS."""
        result = None
        while decision.__class__ is RunNow:
            foreign = self.foreign_number(nr, hooked_nr, decision.nr)
            result = (run(t, foreign, list(decision.args)) if foreign is not None
                      else -errno.ENOSYS)
            decision = self.session.resume(t.tid, decision, result)
        if decision is None:  # let the call run: the hook's last call was it
            return result if result is not None else run(t, nr, args)
        return decision

    def foreign_number(self, nr: int, hooked_nr: int, now_nr: int) -> int | None:
        """The number, in the ABI of call `nr`, of x86_64 call `now_nr` (see
        src/core/foreign_calls.c, which does the same for the native engine)."""
        x32 = bool(nr & X32_BIT)
        if now_nr == hooked_nr and (x32 or nr != compat.I386_SOCKETCALL):
            return nr
        found = (self.x32_of if x32 else self.i386_of).get(now_nr)
        return None if found is None else found | (X32_BIT if x32 else 0)

    def foreign_emulated(self, handler, t: GuestThread, args: list[int]) -> object:
        """An i386 or x32 call that must not reach the host kernel (calls.foreign_table)."""
        try:
            return handler(self, t, *args)
        except GuestFault:
            return -errno.EFAULT

    def i386_call(self, t: GuestThread, nr: int, args: list[int]) -> object:
        """An `int 0x80` call: ruled if its x86_64 twin is ruled; run by the host kernel
        unless it would act on luatrap's own process (calls.foreign_table)."""
        target = self.i386_ruled.get(nr)
        if target is not None:
            mapped = self.map_i386(nr, target, args)
            if mapped is UNREADABLE:
                return -errno.EFAULT  # as the kernel would; the array could change after
            if mapped is not None:
                decision = self.session.on_syscall(t.tid, *mapped)
                if decision is not None:
                    return self.decide_foreign(t, self.run_i386, nr, args, mapped[0],
                                               decision)
        return self.run_i386(t, nr, args)

    def run_i386(self, t: GuestThread, nr: int, args: list[int]) -> object:
        handler = self.i386_emulated.get(nr)
        if handler is not None:
            return self.foreign_emulated(handler, t, args)
        args = [a & 0xFFFFFFFF for a in args]
        twin = self.map_i386(nr, self.i386_twins.get(nr, -1), args)
        if twin is UNREADABLE:
            return -errno.EFAULT
        if twin is not None and twin[0] >= 0:  # the x86_64 twin's checks: the same pointers
            refused = self.hook.check_pointers(twin[0], tuple(twin[1]))
            if refused:
                return refused
        result = host.int80(nr, *args)
        if twin is not None and twin[0] in OPEN_CALLS:
            result = self.hook.keep_opened(result)
        return result

    def map_i386(self, nr: int, target: int, args: list[int]) -> tuple[int, list[int]] | None:
        """The x86_64 call an i386 call reaches, socketcall's arguments read from its
        array; None if it reaches none, UNREADABLE if the array cannot be read."""
        if nr != compat.I386_SOCKETCALL:
            return target, args
        sub = compat.socketcall_target(args[0])
        if sub is None:
            return None
        try:
            words = struct.unpack(f"<{sub[1]}I", self.memory.read(args[1], 4 * sub[1]))
        except GuestFault:
            return UNREADABLE
        return sub[0], [*words, *[0] * (6 - sub[1])]
