"""Where luatrap's own lines go: stderr or --log FILE, each line written whole at once."""
from __future__ import annotations

import os


class Log:
    """A line sink: every call writes one complete line with a single write(2)."""

    def __init__(self, path: str | None = None, fd: int | None = None) -> None:
        """Lines go to the file at `path`, else to the open `fd`, else to stderr."""
        self.path = path
        if path is not None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
                         | os.O_CLOEXEC, 0o644)
        self.fd = 2 if fd is None else fd

    def __call__(self, line: str | bytes) -> None:
        data = (line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line)
        data += b"\n"
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass  # stderr closed or full disk: the program must go on regardless

    def close(self) -> None:
        """Close a --log file (stderr stays open)."""
        if self.fd != 2:
            os.close(self.fd)
            self.fd = 2
