"""Property-based tests of the rules layer (hypothesis): whatever a hook returns and
whatever arguments a call carries, the rule book answers None or an int, never raises."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from luatrap.logs import Log
from luatrap.rules import RuleBook
from luatrap.syscalls import table

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def lua_literal(value) -> str:
    """Lua source for a Python value drawn below."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"math.tointeger({value})" if value == -(2**63) else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "(0/0)"
        if math.isinf(value):
            return "(1/0)" if value > 0 else "(-1/0)"
        return repr(value)
    if isinstance(value, str):
        return "'" + "".join(f"\\{b}" for b in value.encode()) + "'"
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    raise TypeError(value)


LUA_VALUES = st.recursive(
    st.none() | st.booleans() | INT64 | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def book_with(tmp_path, source: str) -> tuple[RuleBook, list]:
    """A rule book for one getpid rule; `[Lua Error]` lines are collected in the list,
    c_log lines go to tmp_path/log."""
    logged: list = []
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "getpid.lua").write_text(source)
    book = RuleBook(folder, Log(str(tmp_path / "log")),
                    on_error=lambda path, message: logged.append(f"[Lua Error] {path}: {message}"))
    return book, logged


@settings(max_examples=150, deadline=None)
@given(first=LUA_VALUES, second=LUA_VALUES)
def test_any_return_values_give_a_defined_decision(tmp_path_factory, first, second):
    tmp = tmp_path_factory.mktemp("p")
    source = f"function do_syscall() return {lua_literal(first)}, {lua_literal(second)} end"
    book, logged = book_with(tmp, source)
    decision = book.dispatch(0, 0, table.by_name("getpid").nr, [0] * 6)
    assert decision is None or type(decision) is int
    if decision is not None:
        assert -(2**63) <= decision < 2**63
        assert first is True or first == 1
    if first in (None, False, 0) and first is not True:
        assert decision is None and logged == []
    if decision is None and not (first in (None, False, 0) and first is not True):
        assert len(logged) == 1 and logged[0].startswith("[Lua Error] ")


@settings(max_examples=150, deadline=None)
@given(args=st.lists(INT64, min_size=6, max_size=6))
def test_any_arguments_reach_the_hook_unchanged(tmp_path_factory, args):
    tmp = tmp_path_factory.mktemp("p")
    book, logged = book_with(tmp, "function do_syscall(num, a, b, c, d, e, f, g, h)\n"
                                  "  c_log(string.format(('%d '):rep(9), num, a, b, c, d, e,"
                                  " f, g, h))\n  return 0\nend\n")
    assert book.dispatch(0, 0, 39, list(args)) is None
    book.log.close()
    seen = (tmp / "log").read_text().split()
    assert seen[:2] == ["[Lua", "Log]"]
    assert [int(v) for v in seen[2:]] == [39, *args, 0, 0]
    assert logged == []


@settings(max_examples=60, deadline=None)
@given(source=st.text(max_size=60))
def test_any_rule_source_never_raises(tmp_path_factory, source):
    tmp = tmp_path_factory.mktemp("p")
    book, logged = book_with(tmp, source)
    decision = book.dispatch(0, 0, 39, [1, 2, 3, 4, 5, 6])
    assert decision is None or type(decision) is int
