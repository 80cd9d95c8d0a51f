#!/usr/bin/env python3
"""Benchmark harness: the seed's getpid loop under luatrap and the tools it competes with.

    python3 benchmarks/run.py [--runs 5] [--calls 100000]

Builds the workloads with gcc, runs every configuration interleaved (one run of each,
then again, so machine noise hits them alike), and prints a Markdown table of medians:
microseconds per getpid() call, and the ratio to `strace --inject` measured in the same
run. Raw results go to benchmarks/results/latest.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUATRAP = [sys.executable, "-m", "luatrap"]


def build(workdir: Path) -> Path:
    exe = workdir / "getpid_loop"
    subprocess.run(["gcc", "-O2", "-o", exe, HERE / "workloads" / "getpid_loop.c"], check=True)
    return exe


def rules_folder(workdir: Path, name: str, source: str | None) -> Path:
    folder = workdir / name
    folder.mkdir()
    if source:
        (folder / "getpid.lua").write_text(source)
    return folder


def configurations(workdir: Path, exe: Path, calls: int) -> dict[str, list[str]]:
    empty = rules_folder(workdir, "empty", None)
    passing = rules_folder(workdir, "pass", "function do_syscall(...) return 0, 0 end\n")
    faking = rules_folder(workdir, "fake", "function do_syscall(...) return 1, 99999 end\n")
    run = [str(exe), str(calls)]
    configs = {
        "native (no tool)": run,
        "luatrap native, no rules": [*LUATRAP, *run],
        "luatrap native, empty rules folder": [*LUATRAP, "--rules", str(empty), *run],
        "luatrap native, pass-through rule": [*LUATRAP, "--rules", str(passing), *run],
        "luatrap native, intercepting rule": [*LUATRAP, "--rules", str(faking), *run],
    }
    if shutil.which("strace"):
        configs["strace -f --seccomp-bpf --inject"] = [
            "strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=getpid",
            "-e", "inject=getpid:retval=99999", "-o", "/dev/null", *run]
    return configs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--calls", type=int, default=100000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        exe = build(workdir)
        configs = configurations(workdir, exe, args.calls)
        samples: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.runs):
            for name, cmd in configs.items():
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                samples[name].append(float(out.split()[-1]))
    medians = {name: statistics.median(v) for name, v in samples.items()}
    strace = medians.get("strace -f --seccomp-bpf --inject")
    print(f"| getpid loop, {args.calls} calls, median of {args.runs} | µs/call | "
          "× strace --inject |")
    print("|---|---|---|")
    for name, us in medians.items():
        ratio = f"{us / strace:.3f}" if strace else "-"
        print(f"| {name} | {us:.3f} | {ratio} |")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"samples_us": samples, "median_us": medians},
                                                indent=1))


if __name__ == "__main__":
    main()
