#!/usr/bin/env python3
"""Runs a test suite nobody here wrote — CPython's own — natively and under each luatrap
engine, and prints which tests pass natively but not under luatrap.

    .venv/bin/python tools/peer_suite.py [--engines native,emulate] [--modules test_os,...]
                                         [--out docs/peer_suite.md]

Each module runs as `python -m test MODULE -v` (CPython's regression test runner, from
the Python that runs this script), alone and then under `luatrap --engine E --rules R`,
where R holds pass-through rules on busy calls (so ruled calls really go through
luatrap). A test counts as passing when its verbose line ends in "ok" (or "skipped", if
it is skipped natively too). The table and the list of tests that differ go to --out.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["test_os", "test_subprocess", "test_signal", "test_threading", "test_socket",
           "test_select", "test_selectors", "test_fcntl", "test_posix", "test_shutil",
           "test_tempfile", "test_pty", "test_io", "test_mmap", "test_time"]
BUSY_CALLS = ["openat", "read", "write", "close", "getpid", "futex", "newfstatat"]
# Tests left out everywhere, natively too: VSOCK tests wait forever in accept() on a VM
# whose host does not connect back.
IGNORED = ["*VSOCK*"]
PASS = "function do_syscall() return 0, 0 end\n"
START = re.compile(r"^(test\w*) \(([\w.]+)\)")  # a test's line (a docstring may follow)
RESULT = re.compile(r"(?:^| )(ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$")
TIMEOUT = 1800


def outcomes(output: str) -> dict[str, str]:
    """test id -> 'pass' / 'skip' / 'fail', from unittest's verbose output (a test's own
    prints may come between its name and its result)."""
    out, current = {}, None
    for line in output.splitlines():
        start = START.match(line)
        if start:
            current = start.group(2)  # (3.11 prints the whole dotted id)
        found = RESULT.search(line) if current and (start or " ... " not in line) else None
        if current and found and (" ... " in line or not start):
            result = found.group(1)
            out[current] = ("pass" if result in ("ok", "expected failure") else
                            "skip" if result.startswith("skipped") else "fail")
            current = None
    return out


def run_module(module: str, prefix: list[str]) -> tuple[dict[str, str], float]:
    """One module's outcomes under `prefix` (a luatrap command, or nothing), and its time."""
    cmd = [*prefix, sys.executable, "-m", "test", module, "-v",
           *[arg for pattern in IGNORED for arg in ("-i", pattern)]]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
            else (e.stdout or "")
    return outcomes(output), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="native,emulate")
    ap.add_argument("--modules", default=",".join(MODULES))
    ap.add_argument("--out", type=Path, help="write the Markdown report here too")
    args = ap.parse_args()
    # A shell starts a background job with SIGINT ignored, and an ignored signal stays
    # ignored across exec: CPython's SIGINT tests would fail natively. A handler here
    # makes it the default again in the tests' processes.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    engines = [e for e in args.engines.split(",") if e]
    rules = Path(tempfile.mkdtemp(prefix="luatrap-peer-"))
    for call in BUSY_CALLS:
        (rules / f"{call}.lua").write_text(PASS)
    luatrap = [sys.executable, "-m", "luatrap", "--log", os.devnull, "--rules", str(rules)]
    rows, differences = [], []
    for module in args.modules.split(","):
        alone, alone_time = run_module(module, [])
        row = [module, str(len(alone)), str(sum(v == "fail" for v in alone.values()))]
        differences += [f"- failing natively: `{t}`" for t, v in sorted(alone.items())
                        if v == "fail"]
        for engine in engines:
            under, under_time = run_module(module, [*luatrap, "--engine", engine])
            extra = sorted(t for t, v in alone.items()
                           if v == "pass" and under.get(t, "fail") != "pass")
            row += [str(len(extra)), f"{under_time / max(alone_time, 1e-3):.1f}×"]
            differences += [f"- {engine}: `{t}` ({under.get(t, 'not run')})" for t in extra]
        rows.append(row)
        print(" | ".join(row), flush=True)
    header = ["module", "tests", "failing natively"]
    for engine in engines:
        header += [f"{engine}: pass natively, not under luatrap", f"{engine}: time"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    report = "\n".join(lines) + "\n\n" + ("\n".join(differences) or "(none)") + "\n"
    print("\n" + report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
