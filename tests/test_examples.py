"""Every rule in rules_examples/ does what its comment says, on real programs."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys

import pytest

from conftest import PYTHON, ROOT, luatrap, native_run

EXAMPLES = ROOT / "rules_examples"


def only(tmp_path, *names: str, source=EXAMPLES):
    """A rules folder with just these example rules."""
    folder = tmp_path / "picked"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(source / f"{name}.lua", folder)
    return folder


def test_openat_monitor_logs_paths(engine, tmp_path):
    target = tmp_path / "watched.txt"
    target.write_text("data\n")
    r = luatrap("--rules", only(tmp_path, "openat"), "/bin/cat", target, engine=engine)
    assert r.stdout == "data\n"
    assert f"[Lua Log] openat({target}, flags=0x0, mode=00)" in r.lua_logs


def test_open_monitor_sees_the_raw_open_call(engine, tmp_path):
    r = luatrap("--rules", only(tmp_path, "open"), PYTHON, "-c",
                "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); "
                "fd = libc.syscall(2, b'/etc/hostname', os.O_RDONLY, 0); print(fd > 0)",
                engine=engine)
    assert r.stdout == "True\n"
    assert "[Lua Log] open(/etc/hostname, flags=0x0, mode=00)" in r.lua_logs


SOCKET_TRY = ("import socket\n"
              "try:\n"
              "    s = socket.socket(); s.connect(('127.0.0.1', {port})); print('connected')\n"
              "except OSError as e:\n"
              "    print('refused:', e.errno)\n")


def test_socket_sandbox_blocks_sockets(engine, tmp_path):
    r = luatrap("--rules", only(tmp_path, "socket", "connect"), PYTHON, "-c",
                SOCKET_TRY.format(port=9), engine=engine)
    assert r.stdout == "refused: 13\n"  # EACCES from socket.lua
    # type 524289 is SOCK_STREAM | SOCK_CLOEXEC. The C library may try AF_UNIX sockets of
    # its own first (NSS modules asking nscd or systemd for the user): blocked too.
    inet = "[Lua Log] Socket creation blocked! (domain=2, type=524289)"
    assert r.lua_logs.count(inet) == 1
    assert all(line.startswith("[Lua Log] Socket creation blocked!") for line in r.lua_logs)


def test_connect_sandbox_blocks_connections(engine, tmp_path):
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        r = luatrap("--rules", only(tmp_path, "connect"), PYTHON, "-c",
                    SOCKET_TRY.format(port=port), engine=engine)
        alone = luatrap(PYTHON, "-c", SOCKET_TRY.format(port=port), engine=engine)
    finally:
        server.close()
    assert alone.stdout == "connected\n"
    assert r.stdout == "refused: 111\n"
    assert r.lua_logs[0].startswith("[Lua Log] Connect blocked! (fd=")


def test_read_statistics(engine, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 4000)
    r = luatrap("--rules", only(tmp_path, "read"), sys.executable, "-c",
                f"import os\nfd = os.open('{data}', os.O_RDONLY)\n"
                "n = sum(len(os.read(fd, 100)) for _ in range(40))\nprint(n)", engine=engine)
    assert r.stdout == "4000\n"
    stats = [line for line in r.lua_logs if "Read stats" in line]
    counts = [int(m) for m in re.findall(r"Read stats: (\d+) calls", "\n".join(stats))]
    assert counts == list(range(10, 10 * len(counts) + 1, 10)) and counts[-1] >= 40


def test_tracing_set_logs_timestamped_calls_of_every_process(engine, tmp_path):
    r = luatrap("--rules", EXAMPLES / "trace", "bash", "-c",
                f"cat /etc/hostname > {tmp_path}/copy; wc -c < {tmp_path}/copy",
                engine=engine)
    assert r.returncode == 0
    pattern = re.compile(r"^\[Lua Log\] \[(\d+)\.(\d{9})\] pid (\d+) (\w+): (.*)$")
    parsed = [pattern.match(line) for line in r.lua_logs]
    assert parsed and all(parsed), r.lua_logs[:5]
    stamps = [(int(m.group(1)), int(m.group(2))) for m in parsed]
    assert stamps == sorted(stamps)
    assert len({m.group(3) for m in parsed}) >= 2  # bash and its children
    assert any(m.group(4) == "openat" and m.group(5) == "/etc/hostname" for m in parsed)


SANDBOX_ROUTES = {  # how a program may try to reach secret/key, each printing it
    "by name": "cat {secret}/key",
    "through a symbolic link": "cat link/key",
    "through .. and .": "cat {tmp}/../{tmpname}/./secret/key",
    "through /proc/self/root": "cat /proc/self/root{secret}/key",
    "through /proc/self/cwd": "cat /proc/self/cwd/link/key",
    "through /dev/fd": "exec 3<{tmp}; cat /dev/fd/3/secret/key",
    "by cd": "cd {secret} && cat key",
    "by moving it out": "mv {secret}/key stolen && cat stolen",
    "by a hard link": "ln {secret}/key hard && cat hard",
    "by a new symbolic link": "ln -s {secret}/key soft && cat soft",
    "from 32-bit code": "{int80} {secret}/key",
}


@pytest.mark.x86_64_only
@pytest.mark.parametrize("route", SANDBOX_ROUTES)
def test_path_sandbox_denies_a_directory_every_way(engine, tmp_path, cprog, route):
    """rules_examples/sandbox_paths/ judges a path by the object it names: each route
    prints the secret without luatrap (the control) and nothing under it."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key").write_text("topsecret\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "link").symlink_to(secret)
    command = SANDBOX_ROUTES[route].format(
        secret=secret, tmp=tmp_path, tmpname=tmp_path.name,
        int80=cprog("int80_cat", "-static", "-no-pie"))
    alone = native_run("bash", "-c", command, cwd=work)
    assert "topsecret" in alone.stdout, alone.stderr
    for name in ("stolen", "hard", "soft"):  # undo the control's own work
        (work / name).unlink(missing_ok=True)
    if not (secret / "key").exists():
        (secret / "key").write_text("topsecret\n")
    env = {**os.environ, "LUATRAP_DENY": str(secret)}
    r = luatrap("--rules", EXAMPLES / "sandbox_paths", "bash", "-c", command, engine=engine,
                env=env, cwd=work)
    assert "topsecret" not in r.stdout, r.stderr
    assert r.lua_logs and all(line.startswith("[Lua Log] denied ") for line in r.lua_logs), (
        r.stderr)
    assert r.lua_errors == [], r.stderr
    assert (secret / "key").read_text() == "topsecret\n"  # and it is still there


def test_path_sandbox_leaves_the_rest_alone(engine, tmp_path):
    env = {**os.environ, "LUATRAP_DENY": str(tmp_path / "secret")}
    r = luatrap("--rules", EXAMPLES / "sandbox_paths", "bash", "-c",
                "cat /etc/hostname; mkdir d && cd d && echo hi > f && mv f g && cat g",
                engine=engine, env=env, cwd=tmp_path)
    assert r.stdout == open("/etc/hostname").read() + "hi\n"
    assert r.lua_logs == [] and r.lua_errors == []


def test_path_sandbox_rules_are_generated_from_the_table():
    """Every path-taking call has its rule, as tools/gen_sandbox_paths.py writes it."""
    spec = importlib.util.spec_from_file_location("gen", ROOT / "tools" / "gen_sandbox_paths.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    written = {p.name: p.read_text() for p in (EXAMPLES / "sandbox_paths").glob("[!_]*.lua")}
    assert written == gen.rules()
    assert {"openat.lua", "openat2.lua", "renameat2.lua", "linkat.lua", "execve.lua",
            "mount.lua", "io_uring_setup.lua"} <= set(written)


def test_fault_injection_fails_the_nth_write(engine, tmp_path):
    env = {**os.environ, "LUATRAP_FAULT_N": "2"}
    r = luatrap("--rules", EXAMPLES / "faults", sys.executable, "-c",
                "import os\n"
                "for i in range(1, 4):\n"
                "    try: os.write(1, b'line %d\\n' % i)\n"
                "    except OSError as e: os.write(1, b'write %d failed: %d\\n' % (i, e.errno))\n",
                engine=engine, env=env)
    assert r.stdout == "line 1\nwrite 2 failed: 5\nline 3\n"
    assert r.lua_logs == ["[Lua Log] injecting EIO into write #2 (fd=1, 7 bytes)"]


def test_redaction_masks_the_word_in_every_write(engine, tmp_path):
    env = {**os.environ, "LUATRAP_REDACT": "hunter2"}
    r = luatrap("--rules", EXAMPLES / "redact", "bash", "-c",
                "echo 'my hunter2 is hunter2'; echo fine >&2; printf 'hunter2'",
                engine=engine, env=env)
    assert r.stdout == "my ******* is *******\n*******"
    assert "fine" in r.stderr


def test_redaction_reaches_read_only_string_literals(engine, cprog):
    env = {**os.environ, "LUATRAP_REDACT": "Hello"}
    r = luatrap("--rules", EXAMPLES / "redact", cprog("test_program"), engine=engine, env=env)
    assert "***** from write!" in r.stdout  # the literal lives in .rodata


def test_read_logger_shows_what_was_read(engine, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("first line\nsecond line\n")
    r = luatrap("--rules", EXAMPLES / "read_logger", "/bin/cat", data, engine=engine)
    assert r.stdout == "first line\nsecond line\n"
    assert "[Lua Log] read(fd=3) = 23: first line\\x0asecond line\\x0a" in r.lua_logs
    assert "[Lua Log] read(fd=3) = 0" in r.lua_logs
