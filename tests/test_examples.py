"""SPEC §8: every rule in rules_examples/ does what its comment says, on real programs."""
from __future__ import annotations

import re
import shutil

from conftest import ROOT, luatrap

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
    r = luatrap("--rules", only(tmp_path, "open"), "python3", "-c",
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
    r = luatrap("--rules", only(tmp_path, "socket", "connect"), "python3", "-c",
                SOCKET_TRY.format(port=9), engine=engine)
    assert r.stdout == "refused: 13\n"  # EACCES from socket.lua
    # type 524289 is SOCK_STREAM | SOCK_CLOEXEC
    assert r.lua_logs == ["[Lua Log] Socket creation blocked! (domain=2, type=524289)"]


def test_connect_sandbox_blocks_connections(engine, tmp_path):
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        r = luatrap("--rules", only(tmp_path, "connect"), "python3", "-c",
                    SOCKET_TRY.format(port=port), engine=engine)
        alone = luatrap("python3", "-c", SOCKET_TRY.format(port=port), engine=engine)
    finally:
        server.close()
    assert alone.stdout == "connected\n"
    assert r.stdout == "refused: 111\n"
    assert r.lua_logs[0].startswith("[Lua Log] Connect blocked! (fd=")


def test_read_statistics(engine, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 4000)
    r = luatrap("--rules", only(tmp_path, "read"), "python3", "-c",
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
