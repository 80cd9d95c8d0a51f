"""`luatrap check DIR`: find what is wrong with a rules folder before running anything.

Every rule is compiled and its top level run, as at its first call; reported are syntax
and load errors (with file and line), rules without do_syscall, file names that are no
system call of the architecture checked for (with the nearest names, and a hint when
the other architecture has it), and rules for calls the C library never makes on
x86_64, so they would never fire.
"""
from __future__ import annotations

import os
from pathlib import Path

from luatrap.logs import Log
from luatrap.rules.rulebook import RuleBook, RulesError
from luatrap.syscalls import table

# What glibc (2.36, Debian 12) calls instead, measured with strace on x86_64.
GLIBC_CALLS_INSTEAD = {
    "open": "openat", "stat": "newfstatat", "lstat": "newfstatat", "fstat": "newfstatat",
    "pipe": "pipe2", "eventfd": "eventfd2", "signalfd": "signalfd4", "select": "pselect6",
    "utime": "utimensat", "utimes": "utimensat", "futimesat": "utimensat",
    "fork": "clone (and posix_spawn/system use clone3)", "getdents": "getdents64",
    "time": "no system call: the vDSO answers it",
    "gettimeofday": "no system call: the vDSO answers it",
    "getcpu": "no system call: the vDSO answers it",
}


def check(folder: str | Path, arch: str = "x86_64") -> tuple[list[str], list[str]]:
    """(errors, warnings) for the rules in `folder`, named after `arch`'s system calls,
    one line each."""
    errors: list[str] = []
    warnings: list[str] = []

    def on_error(path: str, message: str) -> None:
        errors.append(f"{path}: {message}")  # as a run prints it: "file: line N: ..."

    quiet = Log(os.devnull)  # what rules c_log while loading is not a finding
    try:
        book = RuleBook(folder, quiet, on_error=on_error, syscalls=table.for_arch(arch))
    except RulesError as e:
        quiet.close()
        return [str(e)], []
    for path in book.unknown_files():
        hint = ""
        for other in table.TABLES.values():
            if other.arch != arch and other.by_name(path.stem):
                hint = f" (it is an {other.arch} one: luatrap check --arch {other.arch})"
        errors.append(book.unknown_file_message(path) + hint)
    for name, path in book.rule_files.items():
        book.load(name)
        if arch == "x86_64" and name in GLIBC_CALLS_INSTEAD:
            warnings.append(f"{path}: glibc on x86_64 never calls {name} "
                            f"({GLIBC_CALLS_INSTEAD[name]}); this rule fires only for "
                            "programs that make the raw system call")
    quiet.close()
    return errors, warnings


def main(folder: str, arch: str = "x86_64") -> int:
    """Print the findings; exit status 1 if any rule is broken, else 0."""
    errors, warnings = check(folder, arch)
    for line in errors:
        print(f"error: {line}")
    for line in warnings:
        print(f"warning: {line}")
    count = len(list(Path(folder).glob("*.lua"))) if Path(folder).is_dir() else 0
    print(f"{count} rule(s) checked: {len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0
