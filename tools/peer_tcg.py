#!/usr/bin/env python3
"""Runs QEMU's own CPU and Linux-layer tests (tests/tcg, from Debian's qemu source
package) natively, under qemu-x86_64 and under each luatrap engine, and prints which
pass where.

    .venv/bin/python tools/peer_tcg.py [--source DIR] [--engines native,emulate]
                                       [--out docs/peer_tcg.md]

Without --source, the qemu source package is fetched with `apt-get source
--download-only qemu` (Debian's deb-src lines must be enabled) into a temporary folder
and only its tests/tcg is unpacked; nothing of it is kept. The x86_64 target's tests are
built as QEMU builds them (-O0 -g -Wall -fno-strict-aliasing, each test's own flags),
once static and once dynamic: the multiarch tests, the x86_64 ones, test-x86_64, and the
i386 tests that run as 64-bit programs. A run passes when it exits 0 within the time
limit and, where QEMU keeps a reference output (float_convs.ref, ...), prints it.
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 120
# i386 tests QEMU's x86_64 target does not build: 16-bit, vm86 and 32-bit code, headers
# generated from Python scripts.
I386_SKIPPED = {"test-i386", "test-avx", "test-mmx", "test-3dnow", "hello-i386"}
EXTRA_FLAGS = {
    "test-i386-sse-exceptions": ["-msse4.1", "-mfpmath=sse"],
    "test-i386-pcmpistri": ["-msse4.2"],
    "hello-i386": ["-ffreestanding", "-nostdlib"],
    "testthread": ["-pthread"], "threadcount": ["-pthread"], "munmap-pthread": ["-pthread"],
    "signals": ["-pthread", "-lrt"],
}
BUSY_CALLS = ["openat", "read", "write", "close", "getpid", "futex", "newfstatat", "mmap"]
PASS = "function do_syscall() return 0, 0 end\n"


def fetch_tcg(into: Path) -> Path:
    """tests/tcg of Debian's qemu source package, unpacked under `into`."""
    subprocess.run(["apt-get", "source", "--download-only", "qemu"], cwd=into, check=True)
    archive = next(iter(glob.glob(str(into / "qemu_*.orig.tar.*"))))
    subprocess.run(["tar", "xf", archive, "--wildcards", "*/tests/tcg/*"], cwd=into,
                   check=True)
    return next(iter(glob.glob(str(into / "qemu-*" / "tests" / "tcg"))))


def sources(tcg: Path) -> dict[str, tuple[list[str], Path | None]]:
    """test name -> (gcc arguments: sources and flags, reference output or None)."""
    tests: dict[str, tuple[list[str], Path | None]] = {}
    multi = tcg / "multiarch"
    for src in sorted([*multi.glob("*.c"), *(multi / "linux").glob("*.c")]):
        name = src.stem
        args = [str(src)]
        if name.startswith("float_"):
            args += [str(multi / "libs" / "float_helpers.c"), "-lm"]
        ref = tcg / "x86_64" / f"{name}.ref"
        tests[name] = (args, ref if ref.exists() else None)
    for src in sorted((tcg / "x86_64").glob("*.c")):
        tests[src.stem] = ([str(src), f"-I{multi}"], None)
    tests["test-x86_64"] = ([str(tcg / "i386" / "test-i386.c"), "-lm"], None)
    for src in sorted((tcg / "i386").glob("*.c")):
        if src.stem not in I386_SKIPPED:
            tests[src.stem] = ([str(src), "-lm"], None)
    return tests


def build(tcg: Path, out: Path) -> dict[str, tuple[Path, Path | None]]:
    """Every test, static and dynamic: binary name -> (path, reference)."""
    built = {}
    for name, (args, ref) in sources(tcg).items():
        flags = ["-Wall", "-O0", "-g", "-fno-strict-aliasing",
                 *(["-O2"] if name == "test-i386-bmi2" else []), *EXTRA_FLAGS.get(name, [])]
        for kind in ("static", "dynamic"):
            if kind == "dynamic" and name == "hello-i386":
                continue  # freestanding: static only
            exe = out / f"{name}.{kind}"
            link = ["-static"] if kind == "static" else []
            done = subprocess.run(["gcc", *flags, *args, "-o", str(exe), *link],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                built[exe.name] = (exe, ref)
            else:
                print(f"not built: {exe.name}: {done.stderr.strip().splitlines()[-1:]}",
                      file=sys.stderr)
    return built


def passes(cmd: list[str], ref: Path | None, cwd: Path) -> bool:
    try:
        done = subprocess.run(cmd, capture_output=True, cwd=cwd, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and (ref is None or done.stdout == ref.read_bytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, help="an unpacked qemu tree's tests/tcg")
    ap.add_argument("--engines", default="native,emulate")
    ap.add_argument("--out", type=Path, help="write the Markdown report here too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="luatrap-tcg-") as tmp:
        work = Path(tmp)
        tcg = args.source or Path(fetch_tcg(work))
        built = build(Path(tcg), work)
        rules = work / "rules"
        rules.mkdir()
        for call in BUSY_CALLS:
            (rules / f"{call}.lua").write_text(PASS)
        luatrap = [sys.executable, "-m", "luatrap", "--log", os.devnull, "--rules", str(rules)]
        modes = {"native": [], "qemu-x86_64": ["qemu-x86_64"]}
        for engine in args.engines.split(","):
            modes[f"luatrap {engine}"] = [*luatrap, "--engine", engine]
        results = {mode: {} for mode in modes}
        for name, (exe, ref) in sorted(built.items()):
            for mode, prefix in modes.items():
                results[mode][name] = passes([*prefix, str(exe)], ref, work)
            print(name, " ".join(f"{m}={'pass' if results[m][name] else 'FAIL'}"
                                 for m in modes), flush=True)
    total = len(built)
    lines = ["| | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes),
             f"| passed (of {total}) | " + " | ".join(
                 str(sum(results[m].values())) for m in modes) + " |", ""]
    for mode in modes:
        failed = [n for n in sorted(built) if not results[mode][n]]
        lines.append(f"- {mode} fails: " + (", ".join(f"`{n}`" for n in failed) or "none"))
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
