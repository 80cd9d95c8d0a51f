"""The generated x86_64 table: complete against the kernel headers, kinds as documented."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from luatrap.syscalls import compat, table

UNISTD_64 = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")


@pytest.mark.skipif(not UNISTD_64.exists(), reason="needs linux-libc-dev's headers")
def test_every_kernel_header_entry_is_in_the_table():
    header = dict(re.findall(r"#define __NR_(\w+)\s+(\d+)", UNISTD_64.read_text()))
    assert len(header) > 350
    for name, nr in header.items():
        entry = table.by_name(name)
        assert entry is not None and entry.nr == int(nr), name


def test_table_has_newer_calls_and_argument_kinds():
    assert len(table.names()) >= 380
    assert table.by_name("fchmodat2").nr == 452 and table.by_name("listns").nr == 470
    kinds = [a.kind for a in table.by_name("openat").args]
    assert kinds == ["dirfd", "str", "int", "uint"]
    assert [a.kind for a in table.by_name("read").args] == ["fd", "outbuf", "ulong"]
    assert [a.kind for a in table.by_name("write").args] == ["fd", "inbuf", "ulong"]
    assert [a.kind for a in table.by_name("execve").args] == ["str", "strv", "strv"]
    assert table.by_name("getpid").args == ()


def test_arguments_are_normalised_by_kind():
    assert table.signed_args(257, [0xFFFFFF9C, 5, -1, 0x1_0000_01FF, 0, 0]) == \
        [-100, 5, -1, 0x1FF, 0, 0]
    assert table.signed_args(39, [-1, 2**62, 0, 0, 0, 0]) == [-1, 2**62, 0, 0, 0, 0]


def test_foreign_numbers_map_to_the_same_kernel_function():
    i386, x32 = compat.foreign_numbers({"socket", "openat", "fstat"})
    assert i386[359] == 41  # i386 socket -> x86_64 socket
    assert i386[compat.I386_SOCKETCALL] == -1  # socketcall is decoded per sub-call
    assert i386[295] == 257 and i386[197] == 5  # openat; fstat64 -> fstat
    assert x32[41] == 41
    assert compat.socketcall_target(1) == (41, 3) and compat.socketcall_target(99) is None
