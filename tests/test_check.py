"""`luatrap check DIR`: what is wrong with a rules folder, before anything runs."""
from __future__ import annotations

from conftest import ROOT, luatrap


def test_check_reports_every_kind_of_problem(rules):
    folder = rules({
        "getpid": "function do_syscall( return end",
        "write": "x = 1",
        "opne": "function do_syscall() return 0 end",
        "open": "function do_syscall() return 0 end",
        "read": 'error("boom")',
        "close": "function do_syscall() return 0, 0 end",
    })
    r = luatrap("check", folder)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    # the same words as a run's [Lua Error] line
    assert f"error: {folder}/getpid.lua: line 1: <name> or '...' expected near 'return'" \
        in lines
    assert f"error: {folder}/write.lua: no function do_syscall defined" in lines
    assert f"error: {folder}/read.lua: line 1: boom" in lines
    assert any(line.startswith(f"error: {folder}/opne.lua: 'opne' is no x86_64 system call"
                               " (did you mean open.lua") for line in lines)
    assert any(line.startswith(f"warning: {folder}/open.lua: glibc on x86_64 never calls open"
                               " (openat)") for line in lines)
    assert lines[-1] == "6 rule(s) checked: 4 error(s), 1 warning(s)"


def test_check_passes_the_shipped_examples():
    for folder in [ROOT / "rules_examples", *sorted(
            p for p in (ROOT / "rules_examples").iterdir() if p.is_dir())]:
        r = luatrap("check", folder)
        assert r.returncode == 0, (folder, r.stdout)
        assert " 0 error(s)" in r.stdout


def test_check_missing_folder_and_usage(tmp_path):
    r = luatrap("check", tmp_path / "none")
    assert r.returncode == 1 and "rules folder not found" in r.stdout
    assert luatrap("check").returncode == 2
