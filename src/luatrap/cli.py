"""The `luatrap` command: qemu-user style options, then the program and its arguments."""
from __future__ import annotations

import os
import sys

from luatrap import __version__
from luatrap.api import UsageError, run
from luatrap.rules import check

USAGE = ("usage: luatrap [options] PROGRAM [ARGS...]\n"
         "       luatrap check [--arch x86_64|aarch64] RULES_DIR")
HELP = f"""{USAGE}

Run PROGRAM, calling the Lua rule DIR/<syscall>.lua at each system call that has one.

options:
  -h, --help                 show this help and exit
  --version                  show luatrap's version and exit
  -rules path, --rules path  set the rules folder path
  --engine native|emulate    how the program runs (default: native when the host can
                             run it, else emulate: aarch64 programs)
  -L path                    an aarch64 program's sysroot: its absolute paths (the
                             dynamic loader, libraries) are looked up there first, as
                             qemu-user's -L (default: $QEMU_LD_PREFIX)
  -E VAR=VALUE               set VAR in the program's environment
  -U VAR                     remove VAR from the program's environment
  --log FILE                 write [Lua Log], [Lua Error] and luatrap's messages to FILE
  -strace, --strace          log every system call: TID name(args) = result
  --trace-json FILE          write every system call as one JSON object per line
  --summary                  at exit, print a table of calls, errors and time per call
  --lua-budget N             Lua instructions one hook call may run (default 10000000)
  --lua-memory MB            memory cap of the rules' Lua state (default 256)
  --on-rule-error allow|deny when a rule fails (a Lua error, a bad return value, a
                             rule that cannot load): the call runs (allow, the
                             default) or fails with EPERM (deny); a rule file may set
                             its own with `on_rule_error = "deny"`

`luatrap check DIR` compiles every rule of DIR and reports what is wrong, without
running a program (a program called `check` runs as `luatrap -- check`); rules are
named after x86_64's system calls, or aarch64's with --arch aarch64.

Rules read their settings from luatrap's own environment (os.getenv), not from the
program's (-E/-U): LUATRAP_DENY=/srv luatrap --rules rules_examples/sandbox_paths PROG.

Options end at PROGRAM (or at --): everything after it belongs to the program.
luatrap exits with the program's exit status (128+N if a signal N killed it), or 2
if luatrap itself cannot run it."""

# flag option -> attribute of Options it sets to True
_FLAGS = {"--strace": "strace", "-strace": "strace", "--summary": "summary",
          "-summary": "summary"}
# option -> attribute of Options it fills (each takes one value)
_VALUED = {"--rules": "rules", "-rules": "rules", "--engine": "engine", "-engine": "engine",
           "--log": "log", "-log": "log", "-E": "set_env", "-U": "unset_env",
           "--trace-json": "trace_json", "--lua-budget": "lua_budget",
           "--lua-memory": "lua_memory", "--on-rule-error": "on_rule_error",
           "-L": "sysroot"}


class Options:
    """The parsed command line."""

    def __init__(self) -> None:
        self.rules: str | None = None
        self.engine: str | None = None
        self.log: str | None = None
        self.trace_json: str | None = None
        self.lua_budget: str | None = None
        self.lua_memory: str | None = None
        self.on_rule_error: str | None = None
        self.sysroot: str | None = None
        self.strace = False
        self.summary = False
        self.set_env: list[str] = []
        self.unset_env: list[str] = []
        self.argv: list[str] = []


def parse(args: list[str]) -> Options | str:
    """Options from the command line, or 'help' / 'version' when those were asked."""
    opts = Options()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg in ("-h", "-help", "--help"):
            return "help"
        if arg in ("--version", "-version"):
            return "version"
        if arg in _FLAGS:
            setattr(opts, _FLAGS[arg], True)
            i += 1
            continue
        name, eq, value = arg.partition("=")
        if name not in _VALUED:
            raise UsageError(f"unknown option {arg!r} (see luatrap --help)")
        if not eq:
            i += 1
            if i >= len(args):
                raise UsageError(f"option {name} needs a value")
            value = args[i]
        target = getattr(opts, _VALUED[name])
        if isinstance(target, list):
            target.append(value)
        else:
            setattr(opts, _VALUED[name], value)
        i += 1
    opts.argv = args[i:]
    if not opts.argv:
        raise UsageError("no program given (see luatrap --help)")
    return opts


def program_environment(set_env: list[str], unset_env: list[str]) -> dict[str, str]:
    """luatrap's environment with -E and -U applied, as qemu-user does."""
    env = dict(os.environ)
    for item in set_env:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise UsageError(f"-E needs VAR=VALUE, got {item!r}")
        env[name] = value
    for name in unset_env:
        env.pop(name, None)
    return env


def _positive(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) <= 0:
        raise UsageError(f"{option} needs a positive whole number, got {value!r}")
    return int(value)


def _to_closed_pipe(fn, *args):
    """fn(*args), whose output may go to a reader that stopped reading (`| head -1`):
    that is not an error; Python's own flush at exit is kept quiet too."""
    try:
        result = fn(*args)
        sys.stdout.flush()
        return result
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _choice(value: str | None, option: str, choices: tuple[str, ...]) -> str | None:
    if value is None or value in choices:
        return value
    raise UsageError(f"{option} must be {' or '.join(choices)}, not {value!r}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `luatrap` command; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--exec-state"] and len(args) == 2:  # the emulate engine's execve
        from luatrap.api import run_exec_state

        return run_exec_state(int(args[1]))
    if args[:1] == ["check"]:
        arch = "x86_64"
        if args[1:2] == ["--arch"] and len(args) > 2:
            arch, args = args[2], args[2:]
        if len(args) != 2 or arch not in ("x86_64", "aarch64"):
            print("usage: luatrap check [--arch x86_64|aarch64] RULES_DIR", file=sys.stderr)
            return 2
        return _to_closed_pipe(check.main, args[1], arch)
    try:
        opts = parse(args)
        if opts == "help":
            return _to_closed_pipe(print, HELP) or 0
        if opts == "version":
            return _to_closed_pipe(print, f"luatrap {__version__}") or 0
        env = program_environment(opts.set_env, opts.unset_env)
        limits = {"lua_budget": _positive(opts.lua_budget, "--lua-budget"),
                  "lua_memory_mb": _positive(opts.lua_memory, "--lua-memory"),
                  "on_rule_error": _choice(opts.on_rule_error, "--on-rule-error",
                                           ("allow", "deny"))}
        return run(opts.argv, rules=opts.rules, engine=opts.engine, log=opts.log, env=env,
                   strace=opts.strace, trace_json=opts.trace_json, summary=opts.summary,
                   sysroot=opts.sysroot, in_place=True,
                   **{k: v for k, v in limits.items() if v is not None})
    except UsageError as e:
        print(f"luatrap: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - a bug of luatrap: one line, not a traceback
        print(f"luatrap: internal error: {type(e).__name__}: {e} "
              "(please report it; set LUATRAP_DEBUG=1 for the traceback)", file=sys.stderr)
        if os.environ.get("LUATRAP_DEBUG"):
            raise
        return 2

