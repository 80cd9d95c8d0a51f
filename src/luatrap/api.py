"""The Python API, mirroring the command line: `luatrap.run(argv, rules=...)`."""
from __future__ import annotations

import os

from luatrap import engines
from luatrap.engines.base import EngineError, Program, program_arch
from luatrap.logs import Log
from luatrap.rules import RuleBook, RulesError
from luatrap.rules.rulebook import DEFAULT_BUDGET, DEFAULT_MEMORY
from luatrap.session import Session
from luatrap.syscalls import table


class UsageError(Exception):
    """luatrap itself cannot do what was asked (bad option, missing program or rules)."""


def _in_path(name: str, search: str) -> str | None:
    """The first executable `name` in the PATH-style `search` (as a shell looks it up;
    shutil.which would cost start-up its imports)."""
    for folder in search.split(":"):
        candidate = os.path.join(folder or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def resolve_program(name: str, env: dict[str, str]) -> str:
    """The executable PROGRAM names: a path if it has a slash, else found in PATH."""
    path = name if "/" in name else _in_path(name, env.get("PATH", os.defpath))
    if path is None or not os.path.exists(path):
        raise UsageError(f"program not found: {name}")
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise UsageError(f"not an executable file: {name}")
    return path


def default_engine(path: str) -> str:
    """native if this host can run the program itself, else emulate."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return "native"
    if head.startswith(b"#!") or not head.startswith(b"\x7fELF"):
        return "native"  # scripts and other formats: the kernel decides
    return "native" if program_arch(path) == "x86_64" else "emulate"


def run(argv: list[str], rules: str | None = None, engine: str | None = None,
        log: str | None = None, env: dict[str, str] | None = None, strace: bool = False,
        trace_json: str | None = None, summary: bool = False,
        lua_budget: int = DEFAULT_BUDGET, lua_memory_mb: int = DEFAULT_MEMORY >> 20,
        on_rule_error: str = "allow", sysroot: str | None = None, *,
        in_place: bool = False) -> int:
    """Run argv[0] with arguments argv[1:] under the rules folder `rules`.

    strace: log every call as qemu-user's -strace does; trace_json: write every call as
    a JSON object per line to that file; summary: print a table of calls at exit;
    lua_budget: Lua instructions per hook call; lua_memory_mb: the Lua state's memory cap;
    on_rule_error: "allow" (a failing rule lets its call run) or "deny" (EPERM);
    sysroot: where an aarch64 program's absolute paths are looked up first (qemu-user's
    -L: its dynamic loader and libraries); in_place: the engine may make this process
    the program's (for the CLI).

    Returns the program's exit status (128+N if signal N killed it). Raises UsageError
    when luatrap itself cannot run it.
    """
    env = dict(os.environ) if env is None else env
    if not argv:
        raise UsageError("no program given")
    path = resolve_program(argv[0], env)
    name = engine or default_engine(path)
    arch = program_arch(path) or "x86_64"
    if arch != "x86_64" and name == "native":
        raise UsageError(f"{argv[0]}: an {arch} program runs only under the emulate engine")
    if sysroot is None:
        sysroot = os.environ.get("QEMU_LD_PREFIX") or None  # as qemu-user reads it
    if sysroot is not None and not os.path.isdir(sysroot):
        raise UsageError(f"sysroot not found: {sysroot}")
    syscalls = table.for_arch(arch)
    try:
        engine_module = engines.load(name)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except ImportError as e:
        raise UsageError(f"the {name} engine cannot be loaded: {e}") from None
    try:
        sink = Log(log)
    except OSError as e:
        raise UsageError(f"cannot open log file {log}: {e.strerror}") from None
    try:
        book = None
        if rules is not None:
            try:
                book = RuleBook(rules, sink, budget=lua_budget,
                                max_memory=lua_memory_mb << 20,
                                deny_on_error=on_rule_error == "deny", syscalls=syscalls)
            except RulesError as e:
                raise UsageError(str(e)) from None
            sink(f"Rules folder path: {rules}")
            for path_ in book.unknown_files():
                if not any(other.by_name(path_.stem) for other in table.TABLES.values()):
                    sink(f"luatrap: {book.unknown_file_message(path_)}; ignored")
                # (a rule for another architecture's call: a folder may serve both)
            sink("Lua environment initialized. Scripts will be loaded on demand.")
        tracer = None
        if strace or trace_json or summary:
            from luatrap.trace import Tracer  # only when asked: it imports the decoders

            try:
                tracer = Tracer(sink, strace=strace, json_path=trace_json, summary=summary,
                                syscalls=syscalls)
            except OSError as e:
                raise UsageError(f"cannot open {trace_json}: {e.strerror}") from None
        settings = {"rules": os.path.abspath(rules) if rules else None,
                    "rule_sources": {name: source.decode("latin-1")
                                     for name, source in book.sources.items()} if book else {},
                    "strace": strace,
                    "summary": summary, "lua_budget": lua_budget,
                    "lua_memory_mb": lua_memory_mb, "on_rule_error": on_rule_error,
                    "host_env": dict(os.environ),
                    "sysroot": os.path.abspath(sysroot) if sysroot else None}
        try:
            return engine_module.run(Program(path, list(argv), env, settings, in_place),
                                     Session(book, sink, tracer))
        except EngineError as e:
            raise UsageError(str(e)) from None
    finally:
        sink.close()


def run_exec_state(fd: int) -> int:
    """Go on with a program that execve'd under the emulate engine: the state its
    luatrap wrote to `fd` (settings, open log files, the new program and its argv)."""
    import json

    with open(fd, "rb") as f:
        state = json.loads(f.read())
    sink = Log(fd=state["log_fd"])
    syscalls = table.for_arch(program_arch(state["path"]) or "x86_64")
    book = None
    if state["rules"]:
        try:
            sources = {name: text.encode("latin-1")
                       for name, text in state["rule_sources"].items()}
            book = RuleBook(state["rules"], sink, budget=state["lua_budget"],
                            max_memory=state["lua_memory_mb"] << 20, sources=sources,
                            deny_on_error=state["on_rule_error"] == "deny",
                            syscalls=syscalls)
        except RulesError as e:
            sink(f"luatrap: {e}")
            return 2
    tracer = None
    if state["strace"] or state.get("json_fd") is not None or state["summary"]:
        from luatrap.trace import Tracer

        tracer = Tracer(sink, strace=state["strace"], json_path=state.get("json_fd"),
                        summary=state["summary"], syscalls=syscalls)
    state["raw_env"] = [e.encode("latin-1") for e in state["env"]]
    program = Program(state["path"], state["argv"], {}, state, in_place=True)
    try:
        return engines.load("emulate").run(program, Session(book, sink, tracer))
    except EngineError as e:
        sink(f"luatrap: {e}")
        return 127
