"""Seeing every call: strace-style lines, JSON Lines records and an `strace -c` summary.

The engine reports each call's entry (before it runs: its input strings are read then)
and its result; the tracer writes what was asked for. Nothing here runs unless one of
--strace, --trace-json or --summary was given.
"""
from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from luatrap.logs import Log
from luatrap.syscalls import decode, table


@dataclass(slots=True)
class CallRecord:
    """One call between its entry and its result."""

    tid: int
    nr: int
    name: str
    args: list[int]
    texts: list[str]
    wall: float
    start: float


@dataclass
class _Stats:
    calls: int = 0
    errors: int = 0
    seconds: float = 0.0
    intercepted: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Tracer:
    """Writes strace lines (to the log), JSON Lines (to a file) and/or a summary."""

    def __init__(self, log: Log, strace: bool = False, json_path: str | int | None = None,
                 summary: bool = False, syscalls: table.SyscallTable = table.X86_64) -> None:
        """json_path: a file to create, or an open file descriptor to append to;
        syscalls: the program's table (its architecture's names and arguments)."""
        self.log = log
        self.syscalls = syscalls
        self.strace = strace
        self.summary = summary
        self.json = (open(json_path, "w", buffering=1)  # noqa: SIM115
                     if json_path is not None and json_path != "" else None)
        self.decoder: decode.Decoder | None = None
        self.pid_of = lambda tid: tid
        self.stats: dict[str, _Stats] = defaultdict(_Stats)
        self.open: dict[int, CallRecord] = {}

    def attach(self, access) -> None:
        """Read the program's memory through the engine's ProcessAccess."""
        self.decoder = decode.Decoder(
            lambda addr, n: access.read_memory(self._tid, addr, n),
            lambda addr, n: access.read_string(self._tid, addr, n), self.syscalls)
        self.pid_of = access.pid_of

    def entry(self, tid: int, nr: int, args: list[int]) -> None:
        """Call `nr(args)` of thread `tid` is about to run (or to meet its rule)."""
        self._tid = tid
        texts = self.decoder.arguments(nr, args, None) if self.decoder else []
        name = self.syscalls.name_of(nr) or f"syscall_{nr}"
        self.open[tid] = CallRecord(tid, nr, name, list(args), texts, time.time(),
                                    time.perf_counter())

    def result(self, tid: int, value: int | None, rule: Path | None = None) -> None:
        """The call of `tid` returned `value` (None: it never returns, e.g. exit);
        `rule` is the rule file that intercepted it, if any."""
        rec = self.open.pop(tid, None)
        if rec is None:
            return
        duration = time.perf_counter() - rec.start
        if value is not None and self.decoder:
            self._tid = tid
            rec.texts = self.decoder.arguments(rec.nr, rec.args, value) \
                if _has_outputs(self.syscalls, rec.nr) else rec.texts
        if self.strace:
            shown = "?" if value is None else decode.result_text(rec.name, value)
            mark = f" [intercepted by {rule.name}]" if rule else ""
            self.log(f"{tid} {rec.name}({','.join(rec.texts)}) = {shown}{mark}")
        if self.json:
            self.json.write(json.dumps({
                "ts": round(rec.wall, 6), "pid": self.pid_of(tid), "tid": tid, "nr": rec.nr,
                "name": rec.name, "args": rec.args, "decoded": rec.texts, "result": value,
                "errno": decode.errno_of(value) if value is not None else None,
                "intercepted_by": rule.name if rule else None,
                "duration_us": round(duration * 1e6, 3)}) + "\n")
        if self.summary:
            st = self.stats[rec.name]
            st.calls += 1
            st.seconds += duration
            if value is not None and -4096 < value < 0:
                st.errors += 1
            if rule:
                st.intercepted[rule.name] += 1

    def export_stats(self) -> dict:
        """The summary's counts so far, as JSON-ready data (for another process to merge)."""
        return {name: [st.calls, st.errors, st.seconds, dict(st.intercepted)]
                for name, st in self.stats.items()}

    def merge_stats(self, data: dict) -> None:
        """Add counts exported by another process of the same program."""
        for name, (calls, errors, seconds, intercepted) in data.items():
            st = self.stats[name]
            st.calls += calls
            st.errors += errors
            st.seconds += seconds
            for rule, n in intercepted.items():
                st.intercepted[rule] += n

    def gone(self, tid: int) -> None:
        """Thread `tid` ended: a call still open (exit, exit_group) never returns."""
        if tid in self.open:
            self.result(tid, None)

    def close(self) -> None:
        """Finish: open calls, the summary table, the JSON file."""
        for tid in list(self.open):
            self.result(tid, None)
        if self.summary:
            for line in summary_table(self.stats):
                self.log(line)
        if self.json:
            self.json.close()


def _has_outputs(syscalls: table.SyscallTable, nr: int) -> bool:
    sc = syscalls.by_number(nr)
    return bool(sc) and any(a.kind in ("outbuf", "stat") for a in sc.args)


def summary_table(stats: dict[str, _Stats]) -> list[str]:
    """Rows like `strace -c`, plus how many calls each rule intercepted."""
    total = sum(s.seconds for s in stats.values()) or 1e-12
    lines = ["% time     seconds  usecs/call     calls    errors syscall          intercepted",
             "------ ----------- ----------- --------- --------- ---------------- -----------"]
    for name, s in sorted(stats.items(), key=lambda kv: -kv[1].seconds):
        by = ", ".join(f"{n} by {rule}" for rule, n in sorted(s.intercepted.items()))
        lines.append(f"{100 * s.seconds / total:6.2f} {s.seconds:11.6f} "
                     f"{1e6 * s.seconds / s.calls:11.0f} {s.calls:9d} "
                     f"{s.errors or '':>9} {name:<16} {by}".rstrip())
    calls = sum(s.calls for s in stats.values())
    errors = sum(s.errors for s in stats.values())
    seconds = sum(s.seconds for s in stats.values())
    lines.append(lines[1])
    lines.append(f"100.00 {seconds:11.6f} {1e6 * seconds / max(calls, 1):11.0f} {calls:9d} "
                 f"{errors or '':>9} total")
    return lines
