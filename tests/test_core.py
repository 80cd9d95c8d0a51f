"""The C core's own edges (src/core/): the rules runtime driven directly, as an engine
drives it, and the hand-written Unicorn declarations checked against the package."""
from __future__ import annotations

import errno
import os
import re
import threading
from pathlib import Path

import pytest

from luatrap import _core
from luatrap.logs import Log
from luatrap.rules import RuleBook, RunNow

ROOT = Path(__file__).resolve().parent.parent
GETPID, GETPPID, WRITE = 39, 110, 1


@pytest.fixture
def book(tmp_path):
    """book({'getpid': source, ...}, budget=..., memory_mb=...) -> (RuleBook, errors, log)"""
    def make(files: dict[str, str], budget: int = 1_000_000, memory_mb: int = 64):
        folder = tmp_path / "rules"
        folder.mkdir(exist_ok=True)
        for name, source in files.items():
            (folder / f"{name}.lua").write_text(source)
        errors: list[str] = []
        log_path = tmp_path / "log"
        rules = RuleBook(folder, Log(str(log_path)), budget=budget,
                         max_memory=memory_mb << 20,
                         on_error=lambda path, message: errors.append(message))
        return rules, errors, log_path
    return make


def decide(rules: RuleBook, nr: int = GETPID, *args: int, tid: int = 0):
    return rules.dispatch(tid, 0, nr, [*args, *[0] * (6 - len(args))])


def test_errors_inside_c_functions_become_rule_errors(book):
    rules, errors, _ = book({"getpid": """
        function do_syscall(num, a)
            if a == 1 then return 1, c_read_bytes(8, 4) end
            if a == 2 then error({}) end
            if a == 3 then return 1, #c_read_string(c_read_bytes) end
            return 1, 5
        end"""})
    assert decide(rules, GETPID, 1) == -errno.EFAULT  # a fault: the call fails
    for a in (2, 3):
        assert decide(rules, GETPID, a) is None  # the rule's own bugs: the call runs
    assert decide(rules) == 5  # and the state is sound afterwards
    assert errors == ["line 3: c_read_bytes: cannot read 4 bytes at 0x8: Bad address",
                      "error object is a table value",
                      "line 5: c_read_string: bad argument: address must be an integer, "
                      "got function"]


def test_budget_and_memory_cap_hit_inside_c_functions(book):
    rules, errors, _ = book({
        "getpid": "function do_syscall() while true do c_get_timestamp() end end",
        "getppid": "function do_syscall(n, size) return 1, #c_read_bytes(0, size) end",
        "write": "function do_syscall() return 1, 7 end",
    }, budget=100_000, memory_mb=16)
    assert decide(rules) is None
    assert decide(rules, GETPPID, 64 << 20) is None  # a 64 MB buffer under a 16 MB cap
    assert decide(rules, WRITE) == 7
    assert errors == ["instruction budget exceeded (100000 Lua instructions per call)",
                      "out of memory (the Lua state's memory cap was reached)"]


def test_huge_strings_cross_the_boundary_whole(book):
    rules, errors, log = book({"getpid": """
        function do_syscall(num, n)
            local s = string.rep("\\0x", n)
            c_log(s:sub(1, 10))
            return 1, #s
        end"""})
    assert decide(rules, GETPID, 4 << 20) == 8 << 20
    rules.log.close()
    assert log.read_bytes() == b"[Lua Log] \0x\0x\0x\0x\0x\n"
    assert errors == []


def test_a_suspended_hook_waits_while_other_calls_are_decided(book):
    rules, errors, _ = book({
        "getpid": "function do_syscall(num) return 1, c_do_syscall(110) * 2 end",
        "getppid": "n = 0\nfunction do_syscall() n = n + 1 return 1, n end",
    })
    first = decide(rules, tid=11)
    second = decide(rules, tid=12)
    assert isinstance(first, RunNow) and isinstance(second, RunNow)
    assert (first.nr, first.args) == (GETPPID, [0] * 6)
    assert [decide(rules, GETPPID, tid=13) for _ in range(3)] == [1, 2, 3]
    assert rules.resume(12, 0, second, 21) == 42  # in another order than they started
    assert rules.resume(11, 0, first, 50) == 100
    assert errors == []


def test_many_threads_share_one_lua_state(book):
    rules, errors, _ = book({"getpid": "count = 0\n"
                                       "function do_syscall() count = count + 1 "
                                       "return 1, count end"})
    seen: list[list[int]] = []

    def worker() -> None:
        mine = [decide(rules) for _ in range(5000)]
        seen.append(mine)
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = sorted(v for mine in seen for v in mine)
    assert results == list(range(1, 40001))  # every increment once, none lost
    assert errors == []


def test_each_distinct_error_is_told_once(book):
    rules, errors, _ = book({"getpid": "function do_syscall(num, a) error('no ' .. a) end"})
    for a in [1, 2, 1, 1, 3, 2]:
        decide(rules, GETPID, a)
    assert errors == ["line 1: no 1", "line 1: no 2", "line 1: no 3"]


def test_the_rules_runtime_refuses_bad_arguments():
    rules = _core.Rules(1000, 1 << 20, 2)
    with pytest.raises(OSError):
        rules.add(5000, "nothing", "nothing.lua", b"", 0, 0)
    with pytest.raises(TypeError):
        rules.decide(1, 1, 39, (1, 2))
    with pytest.raises(TypeError):
        _core.EmulateHook("/nonexistent", 0, print, print, print, rules="not rules")


def test_unicorn_declarations_match_the_package():
    """src/core/unicorn_api.h declares Unicorn's constants by hand (the wheel ships no
    headers); they must be the unicorn package's own."""
    unicorn = pytest.importorskip("unicorn")
    from unicorn import arm64_const as arm64
    from unicorn import unicorn_const as uc
    from unicorn import x86_const as x86

    header = (ROOT / "src" / "core" / "unicorn_api.h").read_text()
    defined = {name: value.strip() for name, value in
               re.findall(r"^#define (UC_\w+) ([^/\n]+)", header, re.M)
               if not name.startswith("UC_CTL_WRITE")}
    assert len(defined) > 15
    for name, text in defined.items():
        module = x86 if name.startswith("UC_X86") else \
            arm64 if name.startswith("UC_ARM64") else uc
        assert re.fullmatch(r"[\d() <]+", text), (name, text)
        assert eval(text, {"__builtins__": {}}) == getattr(module, name), name  # noqa: S307
    assert unicorn.__version__.startswith("2.1.")


def test_register_ids_match_the_package():
    """The emulate engine's Python side names Unicorn's registers by hand too (importing
    unicorn's bindings would cost start-up): they must be the package's own."""
    pytest.importorskip("unicorn")
    from unicorn import arm64_const, x86_const

    from luatrap.engines.emulate import aarch64, cpu

    for name in ("RAX", "RBP", "RBX", "RCX", "RDI", "RDX", "RIP", "RSI", "RSP", "R8", "R15",
                 "EFLAGS", "FS_BASE", "GS_BASE", "MXCSR", "FPCW", "LDTR", "GDTR", "MSR",
                 "CS", "SS"):
        assert getattr(cpu, name) == getattr(x86_const, f"UC_X86_REG_{name}"), name
    for n, reg in enumerate(aarch64.X):
        assert reg == getattr(arm64_const, f"UC_ARM64_REG_X{n}"), n
    for name in ("SP", "PC", "TPIDR_EL0", "CPACR_EL1", "PSTATE"):
        assert getattr(aarch64, f"REG_{name}") == getattr(arm64_const, f"UC_ARM64_REG_{name}")
    assert cpu.ARM64_SYSTEM_REGISTER == arm64_const.UC_ARM64_REG_CP_REG
    from unicorn import unicorn_const

    assert aarch64.UC_ARCH_ARM64 == unicorn_const.UC_ARCH_ARM64
    assert aarch64.UC_CPU_ARM64_MAX == arm64_const.UC_CPU_ARM64_MAX
    assert cpu.UC_CTL_PAGE_SIZE_WRITE & 0xFF == unicorn_const.UC_CTL_UC_PAGE_SIZE
    assert cpu.UC_CTL_CPU_MODEL_WRITE & 0xFF == unicorn_const.UC_CTL_CPU_MODEL


def test_the_exact_stop_switch_is_found_for_both_guests():
    """Stopping a computing guest thread exactly (cpu.py's _exit_check_switch) reads an
    offset out of libunicorn's machine code: with the Unicorn pyproject.toml pins, it
    must be found, the same for both architectures, and take effect."""
    pytest.importorskip("unicorn")
    from luatrap.engines.emulate import cpu
    from luatrap.engines.emulate.aarch64 import Aarch64
    from luatrap.engines.emulate.guest_arch import X86_64

    offsets = {cpu._exit_check_switch(arch.exit_check) for arch in (X86_64, Aarch64())}
    assert len(offsets) == 1 and None not in offsets
    for arch in (X86_64, Aarch64()):
        assert cpu.Cpu(arch).stops_exactly, arch.name


def test_the_fault_in_flight_is_found_and_forgotten():
    """Forgetting a guest's fault once it becomes a signal (cpu.forget_fault) pokes
    the one field of Unicorn's saved x86 state that an experiment finds: with the
    pinned Unicorn it must be found, and a CPU that forgot a #DE takes the next one as
    a #DE again, not as a double fault."""
    pytest.importorskip("unicorn")
    from unicorn import UC_HOOK_INTR, Uc
    from unicorn.unicorn_const import UC_ARCH_X86, UC_MODE_64

    from luatrap.engines.emulate import cpu

    assert cpu._exception_in_flight() is not None
    divide_by_zero = b"\x31\xc9\xf7\xf1"
    for forget in (False, True):
        uc, vectors = Uc(UC_ARCH_X86, UC_MODE_64), []
        uc.mem_map(0x1000, 0x1000)
        uc.mem_write(0x1000, divide_by_zero)
        uc.hook_add(UC_HOOK_INTR, lambda uc, vector, seen: (seen.append(vector), uc.emu_stop()),
                    vectors)
        shim = cpu.Cpu.__new__(cpu.Cpu)
        shim.uc, shim._scratch = uc._uch.value, None
        for _ in range(2):
            uc.emu_start(0x1000, 0x1000 + len(divide_by_zero))
            if forget:
                shim.forget_fault()
        assert vectors == ([0, 0] if forget else [0, 8])


def test_the_core_is_built_against_lua_54():
    assert _core.LUA_VERSION.startswith("Lua 5.4")
    assert "lupa" not in os.environ.get("PYTHONPATH", "")
