"""The command line — options, errors of luatrap itself, PATH look-up, logs."""
from __future__ import annotations

import subprocess
import sys

import pytest

import luatrap as api
from conftest import FAKE_GETPID, PYTHON, ROOT, luatrap


def one_clean_error_line(r, text: str) -> None:
    assert r.returncode == 2
    assert r.stderr.splitlines() == [r.stderr.strip()], r.stderr
    assert r.stderr.startswith("luatrap: ") and text in r.stderr
    assert "Traceback" not in r.stderr


def test_help_lists_the_rules_option():
    r = luatrap("--help")
    assert r.returncode == 0
    assert "-rules path, --rules path  set the rules folder path" in r.stdout


def test_version():
    r = luatrap("--version")
    assert r.returncode == 0 and r.stdout.startswith("luatrap ")


def test_missing_rules_folder(tmp_path):
    one_clean_error_line(luatrap("--rules", tmp_path / "nope", "/bin/true"),
                         "rules folder not found")


def test_mistyped_names_get_a_suggestion(tmp_path):
    (tmp_path / "my_rules").mkdir()
    (tmp_path / "my_rules" / "getpdi.lua").write_text("function do_syscall() end")
    one_clean_error_line(luatrap("--rules", "my_rule", "/bin/true", cwd=tmp_path),
                         "rules folder not found: my_rule (did you mean my_rules?)")
    r = luatrap("--rules", "my_rules", "/bin/true", cwd=tmp_path)
    assert r.returncode == 0
    assert "luatrap: my_rules/getpdi.lua: 'getpdi' is no x86_64 system call (did you mean " \
           "getpid.lua" in r.stderr


def test_output_to_a_reader_that_stops_reading_is_no_error():
    """`luatrap --help | head -1`: the pipe closes while luatrap writes."""
    for _ in range(10):
        r = subprocess.run(["bash", "-c", f"{PYTHON} -m luatrap --help | head -1; "
                            f"{PYTHON} -m luatrap check rules_examples | head -1"],
                           capture_output=True, text=True, cwd=ROOT)
        assert r.stderr == "" and r.stdout.startswith("usage: luatrap")


def test_missing_program():
    one_clean_error_line(luatrap("no-such-program-anywhere"), "program not found")
    one_clean_error_line(luatrap("./no-such-file"), "program not found")


def test_program_not_executable(tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("x")
    one_clean_error_line(luatrap(f), "not an executable file")
    one_clean_error_line(luatrap(tmp_path), "not an executable file")


@pytest.mark.parametrize("args,text", [
    (["--bogus", "/bin/true"], "unknown option '--bogus'"),
    (["--rules"], "option --rules needs a value"),
    ([], "no program given"),
    (["-E", "NOEQUALS", "/bin/true"], "-E needs VAR=VALUE"),
    (["--engine", "quantum", "/bin/true"], "unknown engine 'quantum'"),
    (["--on-rule-error", "maybe", "/bin/true"],
     "--on-rule-error must be allow or deny, not 'maybe'"),
])
def test_bad_options(args, text):
    one_clean_error_line(luatrap(*args), text)


def test_qemu_style_single_dash_rules_and_path_lookup(rules):
    r = luatrap("-rules", rules({"getpid": FAKE_GETPID}), PYTHON, "-c",
                "import os; print(os.getpid())")
    assert r.stdout == "99999\n"


def test_everything_after_program_belongs_to_it():
    r = luatrap("echo", "--rules", "-E", "--help")
    assert r.stdout == "--rules -E --help\n"
    r = luatrap("--", "echo", "x")
    assert r.stdout == "x\n"


def test_log_file_takes_lua_lines(rules, tmp_path):
    log = tmp_path / "trace.log"
    folder = rules({"getpid": 'function do_syscall()\n'
                             '  if not said then c_log("hi") said = true end return 1, 7\nend'})
    r = luatrap("--log", log, "--rules", folder, PYTHON, "-c",
                "import os; print(os.getpid())")
    assert r.stdout == "7\n" and r.stderr == ""
    assert log.read_text().splitlines() == [
        f"Rules folder path: {folder}",
        "Lua environment initialized. Scripts will be loaded on demand.",
        "[Lua Log] hi"]


def test_working_directory_is_the_programs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "luatrap", "pwd"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.stdout == f"{tmp_path}\n"


def test_python_api_mirrors_the_cli(engine, rules, tmp_path):
    out = tmp_path / "out"
    folder = rules({"getpid": FAKE_GETPID})
    status = api.run(["bash", "-c", f"echo $$ > {out}; exit 4"], rules=str(folder),
                     log=str(tmp_path / "log"), engine=engine)
    assert status == 4
    assert out.read_text() == "99999\n"
    with pytest.raises(api.UsageError):
        api.run(["/no/such/program"])
    assert (tmp_path / "log").read_text().splitlines() == [
        f"Rules folder path: {folder}",
        "Lua environment initialized. Scripts will be loaded on demand."]


def test_log_file_is_rewritten_each_run(rules, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("old contents\n")
    luatrap("--log", log, "--rules", rules({"getpid": FAKE_GETPID}), "true")
    assert "old contents" not in log.read_text()


def test_emulate_engine_refuses_a_file_that_is_no_program(tmp_path):
    fake = tmp_path / "fake"
    fake.write_bytes(b"\x7fELF not really")
    fake.chmod(0o755)
    one_clean_error_line(luatrap("--engine", "emulate", fake), "not an ELF file")
