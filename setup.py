"""Builds luatrap's C core (luatrap._core) against the system's Lua 5.4.

Everything else about the package is in pyproject.toml. A machine without a C compiler
or Lua 5.4's headers fails here with one line saying what to install.
"""
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup

SOURCES = ["rules.c", "rule_errors.c", "host_api.c", "memory.c", "guest_map.c", "emulate_hook.c",
           "emulate_memory.c", "emulate_seccomp.c", "emulate_process.c", "emulate_kick.c",
           "emulate_frames.c",
           "guest_seccomp.c", "foreign_calls.c", "guest_pointers.c", "notify_loop.c",
           "traced_calls.c", "traced_wait.c", "resolve.c", "module.c"]
DEBIAN_HINT = "apt-get install -y gcc pkg-config liblua5.4-dev python3-dev"


def fail(what: str) -> None:
    sys.stderr.write(f"luatrap: cannot build the C core: {what} (Debian: {DEBIAN_HINT})\n")
    sys.exit(1)


def lua_flags() -> tuple[list[str], list[str]]:
    """Compiler and linker flags of Lua 5.4, from pkg-config."""
    if shutil.which("pkg-config") is None:
        fail("pkg-config is not installed")
    for name in ("lua5.4", "lua-5.4", "lua54"):
        found = subprocess.run(["pkg-config", "--cflags", "--libs", name],
                               capture_output=True, text=True)
        if found.returncode == 0:
            flags = found.stdout.split()
            return ([f for f in flags if not f.startswith(("-l", "-L"))],
                    [f for f in flags if f.startswith(("-l", "-L"))])
    fail("Lua 5.4's development files are not installed")
    return [], []


def extensions() -> list[Extension]:
    if not {"build_ext", "bdist_wheel", "develop", "editable_wheel", "build",
            "install"} & set(sys.argv):
        return []  # metadata only: no compiler needed
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        fail("no C compiler (cc or gcc) found")
    cflags, libs = lua_flags()
    extra = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter",
             "-Wno-missing-field-initializers"]
    wanted = os.environ.get("LUATRAP_CFLAGS", "").split()  # e.g. sanitizers: tools/sanitize
    return [Extension("luatrap._core", [f"src/core/{s}" for s in SOURCES],
                      extra_compile_args=cflags + extra + wanted,
                      extra_link_args=libs + wanted,
                      depends=[f"src/core/{h}" for h in
                               ("rules.h", "module.h", "unicorn_api.h", "guest_map.h",
                                "foreign_calls.h", "guest_pointers.h", "resolve.h",
                                "traced_calls.h", "emulate_hook.h", "guest_seccomp.h")])]


setup(ext_modules=extensions())
