#!/usr/bin/env python3
"""Benchmark harness: luatrap against native runs, strace and qemu-user, in one command.

    .venv/bin/python benchmarks/run.py [--runs 5] [--quick] [--no-chart] [--out DIR]

Builds its C workloads with gcc, runs every configuration interleaved (one run of each,
then again, so machine noise hits them alike) and reports medians, with ratios to the
references measured in the same run (absolute times depend on the machine; ratios are
what holds run to run):

- the seed's getpid loop (µs per call) without rules, with an empty rules folder, a
  pass-through rule, an intercepting rule and a c_do_syscall rule, next to a bare
  getpid, `qemu-x86_64` (the seed's design without rules), `strace --inject`
  pinned to one CPU and not, and the floors of the native engine's two paths, bare
  C with no rules: a seccomp notification answered by a thread, two ptrace stops;
- a compute-bound loop with rare system calls, timed by itself, and the same kind of
  loop taking a timer signal every 100 µs (what a signal costs under each engine);
- gzip of a 5 MB tar (compression: the emulated CPU's worst case);
- a real workload, `tar czf` of a directory tree, under a tracing rule set on
  openat/read/write (strace -f tracing the same calls);
- start-up: `luatrap --rules DIR /bin/true` against `/bin/true` (ms);
- aarch64 programs (built with Debian's cross compiler, where it and qemu-aarch64 are
  installed): the getpid loop, the compute loop and gzip (Debian's arm64 busybox, where
  .ci/run unpacks it) under the emulate engine against qemu-aarch64.

Prints Markdown tables, writes DIR/latest.json and, with matplotlib, DIR/latest.png
(DIR: benchmarks/results).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
VENV_PYTHON = HERE.parent / ".venv" / "bin" / "python"

try:
    import luatrap  # noqa: F401 - only: is it there?
except ImportError:  # run with a Python that lacks luatrap: use the project's venv
    if VENV_PYTHON.exists() and Path(sys.executable) != VENV_PYTHON:
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])
    sys.exit("benchmarks: luatrap is not installed for this Python; install it first "
             "(see the README) and run .venv/bin/python benchmarks/run.py")
LUATRAP = [sys.executable, "-m", "luatrap"]
EMULATE = [*LUATRAP, "--engine", "emulate"]
STRACE = shutil.which("strace")
QEMU = shutil.which("qemu-x86_64")
QEMU_AARCH64 = shutil.which("qemu-aarch64")
CROSS_CC = shutil.which("aarch64-linux-gnu-gcc")
BUSYBOX_AARCH64 = Path("/opt/luatrap-tests/busybox-arm64/bin/busybox")

TRACE_RULE = """function do_syscall(num, a1, a2, a3)
    local sec, nsec = c_get_timestamp()
    c_log(string.format("[%d.%09d] %s %d %d %d", sec, nsec, c_syscall_name(num), a1, a2, a3))
    return 0, 0
end
"""


def build(workdir: Path, name: str, *flags: str, cc: str = "gcc") -> Path:
    exe = workdir / (name if cc == "gcc" else f"{name}.{Path(cc).name.split('-')[0]}")
    subprocess.run([cc, "-O2", "-o", exe, HERE / "workloads" / f"{name}.c", *flags],
                   check=True)
    return exe


def rules(workdir: Path, name: str, files: dict[str, str]) -> str:
    folder = workdir / name
    folder.mkdir()
    for call, source in files.items():
        (folder / f"{call}.lua").write_text(source)
    return str(folder)


# As installed by pip: byte-code compiled once, not on every start.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: Path) -> float:
    """Wall-clock seconds of one run (its output discarded)."""
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, env=ENV)
    return time.perf_counter() - start


def reported(cmd: list[str], cwd: Path) -> float:
    """The number the workload prints itself (µs per call)."""
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True,
                         env=ENV).stdout
    return float(out.split()[-1])


def measure(configs: dict[str, tuple], runs: int, cwd: Path) -> dict[str, list[float]]:
    """Run each (how, cmd) configuration `runs` times, interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in configs}
    for how, cmd in configs.values():  # warm-up: page cache, byte-code
        how(cmd, cwd)
    for _ in range(runs):
        for name, (how, cmd) in configs.items():
            samples[name].append(how(cmd, cwd))
    return samples


def suites(work: Path, quick: bool) -> dict[str, dict[str, tuple]]:
    calls = "20000" if quick else "100000"
    loop = [str(build(work, "getpid_loop")), calls]
    compute = [str(build(work, "compute")), "5000000" if quick else "200000000"]
    archive = work / "input.tar"
    with open(archive, "wb") as out:  # the first 5 MB (quick: 500 kB) of a tar of headers
        tar_of = subprocess.run(["tar", "cf", "-", "-C", "/usr/include", "."],
                                capture_output=True, check=True).stdout
        out.write(tar_of[:(500_000 if quick else 5_000_000)])
    gzip = [shutil.which("gzip") or "gzip", "-c", str(archive)]
    empty = rules(work, "empty", {})
    passing = rules(work, "pass", {"getpid": "function do_syscall() return 0, 0 end"})
    faking = rules(work, "fake", {"getpid": "function do_syscall() return 1, 99999 end"})
    running = rules(work, "run_now", {
        "getpid": "function do_syscall(num) return 1, c_do_syscall(num) end"})
    tracing = rules(work, "trace", dict.fromkeys(("openat", "read", "write"), TRACE_RULE))
    tree = work / "tree"
    shutil.copytree("/usr/include/linux", tree / "linux")
    tar = ["tar", "czf", str(work / "out.tar.gz"), "-C", str(work), "tree"]
    log = ["--log", "/dev/null"]

    getpid = {
        "native (no tool)": (reported, loop),
        "luatrap, no rules": (reported, [*LUATRAP, *loop]),
        "luatrap, empty rules folder": (reported, [*LUATRAP, "--rules", empty, *loop]),
        "luatrap, pass-through rule": (reported, [*LUATRAP, "--rules", passing, *loop]),
        "luatrap, intercepting rule": (reported, [*LUATRAP, "--rules", faking, *loop]),
        "luatrap, c_do_syscall rule": (reported, [*LUATRAP, "--rules", running, *loop]),
        "seccomp notification answered in C (floor)": (
            reported, [str(build(work, "notify_floor", "-pthread")), calls]),
        "two ptrace stops served in C (c_do_syscall floor)": (
            reported, [str(build(work, "ptrace_floor")), calls]),
    }
    for label, folder in (("no rules", None), ("empty rules folder", empty),
                          ("pass-through rule", passing), ("intercepting rule", faking),
                          ("c_do_syscall rule", running)):
        getpid[f"luatrap emulate, {label}"] = (reported, [
            *EMULATE, *(["--rules", folder] if folder else []), *loop])
    if STRACE:
        inject = [STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=getpid",
                  "-e", "inject=getpid:retval=99999", "-o", "/dev/null", *loop]
        getpid["strace --inject, one CPU"] = (reported, ["taskset", "-c", "0", *inject])
        getpid["strace --inject, any CPU"] = (reported, inject)
    if QEMU:
        getpid["qemu-x86_64, no rules"] = (reported, [QEMU, *loop])
    compute_suite = {
        "native (no tool)": (reported, compute),
        "luatrap, rule on getpid": (reported, [*LUATRAP, *log, "--rules", faking, *compute]),
        "luatrap emulate, rule on getpid": (reported, [*EMULATE, *log, "--rules", faking,
                                                       *compute]),
    }
    if STRACE:
        compute_suite["strace -f, getpid traced"] = (reported, [
            STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=getpid", "-o", "/dev/null",
            *compute])
    if QEMU:
        compute_suite["qemu-x86_64"] = (reported, [QEMU, *compute])
    timer = [str(build(work, "timer_signals")), "100", "20000000" if quick else "300000000"]
    writing = rules(work, "write", {"write": "function do_syscall() return 0, 0 end"})
    signals = {
        "native (no tool)": (reported, timer),
        "luatrap, no rules": (reported, [*LUATRAP, *timer]),
        "luatrap, rule on write (not traced)": (reported, [*LUATRAP, *log, "--rules",
                                                           writing, *timer]),
        "luatrap, rule on getpid (traced)": (reported, [*LUATRAP, *log, "--rules", faking,
                                                        *timer]),
        "luatrap emulate, rule on getpid": (reported, [*EMULATE, *log, "--rules", faking,
                                                       *timer]),
    }
    if QEMU:
        signals["qemu-x86_64"] = (reported, [QEMU, *timer])
    compression = {
        "native (no tool)": (timed, gzip),
        "luatrap, rule on getpid": (timed, [*LUATRAP, *log, "--rules", faking, *gzip]),
        "luatrap emulate, no rules": (timed, [*EMULATE, *gzip]),
        "luatrap emulate, rule on getpid": (timed, [*EMULATE, *log, "--rules", faking,
                                                    *gzip]),
    }
    if QEMU:
        compression["qemu-x86_64"] = (timed, [QEMU, *gzip])
    workload = {
        "native (no tool)": (timed, tar),
        "luatrap, tracing openat/read/write": (timed, [*LUATRAP, *log, "--rules", tracing,
                                                       *tar]),
        "luatrap emulate, same rules": (timed, [*EMULATE, *log, "--rules", tracing, *tar]),
    }
    if STRACE:
        workload["strace -f, same calls"] = (timed, [
            STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat,read,write",
            "-o", "/dev/null", *tar])
    startup = {
        "/bin/true": (timed, ["/bin/true"]),
        "luatrap --rules DIR /bin/true": (timed, [*LUATRAP, *log, "--rules", passing,
                                                  "/bin/true"]),
        "luatrap --engine emulate --rules DIR /bin/true": (timed, [
            *EMULATE, *log, "--rules", passing, "/bin/true"]),
    }
    return {"getpid loop (µs per call)": getpid, "compute loop, self-timed (s)": compute_suite,
            "compute loop under a 100 µs timer signal (s)": signals,
            "gzip -c of a 5 MB tar (s)": compression,
            "tar czf of /usr/include/linux (s)": workload, "start-up (s)": startup,
            **aarch64_suites(work, quick, loop, compute, archive, faking)}


def aarch64_suites(work: Path, quick: bool, x86_loop: list[str], x86_compute: list[str],
                   archive: Path, faking: str) -> dict[str, dict[str, tuple]]:
    """The same workloads built for aarch64: the emulate engine against qemu-aarch64
    (and the x86_64 build's hooked getpid beside the aarch64 one's)."""
    if not (CROSS_CC and QEMU_AARCH64):
        return {}
    loop = [str(build(work, "getpid_loop", "-static", cc=CROSS_CC)), x86_loop[1]]
    compute = [str(build(work, "compute", "-static", cc=CROSS_CC)), x86_compute[1]]
    getpid = {
        "qemu-aarch64, no rules": (reported, [QEMU_AARCH64, *loop]),
        "luatrap, no rules": (reported, [*LUATRAP, *loop]),
        "luatrap, intercepting rule": (reported, [*LUATRAP, "--rules", faking, *loop]),
        "luatrap, x86_64 build, intercepting rule": (reported, [
            *EMULATE, "--rules", faking, *x86_loop]),
    }
    computing = {
        "qemu-aarch64": (reported, [QEMU_AARCH64, *compute]),
        "luatrap, rule on getpid": (reported, [*LUATRAP, "--log", "/dev/null", "--rules",
                                               faking, *compute]),
    }
    suites = {"aarch64: getpid loop (µs per call)": getpid,
              "aarch64: compute loop, self-timed (s)": computing}
    if BUSYBOX_AARCH64.exists():
        gzip = [str(BUSYBOX_AARCH64), "gzip", "-c", str(archive)]
        suites["aarch64: busybox gzip -c of the same tar (s)"] = {
            "qemu-aarch64": (timed, [QEMU_AARCH64, *gzip]),
            "luatrap, no rules": (timed, [*LUATRAP, *gzip]),
            "luatrap, rule on getpid": (timed, [*LUATRAP, "--log", "/dev/null", "--rules",
                                                faking, *gzip]),
        }
    return suites


def table(title: str, medians: dict[str, float], bases: list[str], unit: str) -> list[str]:
    """A Markdown table: each configuration's median and its ratio to each base."""
    bases = [b for b in bases if medians.get(b)]
    lines = [f"| {title} | {unit} | " + " | ".join(f"× {b}" for b in bases) + " |",
             "|---|---|" + "---|" * len(bases)]
    for name, value in medians.items():
        shown = f"{value * 1000:.1f}" if unit == "ms" else f"{value:.3f}"
        ratios = " | ".join(f"{value / medians[b]:.2f}" for b in bases)
        lines.append(f"| {name} | {shown} | {ratios} |")
    return lines


def chart(results: dict, path: Path) -> bool:
    try:
        import matplotlib
        import matplotlib.ticker
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(len(results), 1, figsize=(9, 3.2 * len(results)))
    for ax, (title, data) in zip(axes, results.items(), strict=True):
        names = list(data["median"])
        values = [data["median"][n] for n in names]
        bars = ax.barh(names, values, color="#4878a8")
        ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=3, fontsize=8)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 2, max(values) * 4)
        ax.tick_params(axis="y", labelsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no overlaps
        ax.invert_yaxis()
    fig.suptitle(f"luatrap benchmarks ({os.cpu_count()} CPUs), medians, log scale",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=90)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs of each configuration")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--no-chart", action="store_true", help="skip the PNG")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where results go")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for title, configs in suites(work, args.quick).items():
            samples = measure(configs, args.runs, work)
            medians = {n: statistics.median(v) for n, v in samples.items()}
            results[title] = {"samples": samples, "median": medians}
    print(f"Machine: {platform.node()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"Python {platform.python_version()}; medians of {args.runs} interleaved runs.\n")
    for title, data in results.items():
        med = data["median"]
        if title.startswith("aarch64"):
            base = "qemu-aarch64, no rules" if "getpid" in title else "qemu-aarch64"
            lines = table(title, med, [base], "µs/call" if "getpid" in title else "s")
        elif title.startswith("getpid"):
            lines = table(title, med, ["native (no tool)", "qemu-x86_64, no rules"], "µs/call")
        elif title.startswith("start-up"):
            lines = table(title, med, ["/bin/true"], "ms")
            over = (med["luatrap --rules DIR /bin/true"] - med["/bin/true"]) * 1000
            lines.append(f"| luatrap's start-up over native | {over:.1f} | |")
        else:
            lines = table(title, med, ["native (no tool)", "qemu-x86_64"], "s")
        print("\n".join(lines) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(
        {"machine": {"node": platform.node(), "cpus": os.cpu_count(),
                     "kernel": platform.release(), "python": platform.python_version()},
         "runs": args.runs, "quick": args.quick, "results": results}, indent=1))
    if not args.no_chart:
        made = chart(results, args.out / "latest.png")
        print(f"chart: {args.out / 'latest.png'}" if made
              else "chart skipped: pip install matplotlib")


if __name__ == "__main__":
    main()
