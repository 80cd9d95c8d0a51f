"""What Unicorn's CPU gets wrong, shown without luatrap: each case is the smallest code
behind a QEMU tests/tcg failure under the emulate engine (tools/peer_tcg.py), or behind
another difference luatrap cannot configure away, run on the real CPU and on a bare
Unicorn (the unicorn package, nothing of luatrap's), starting both from the kernel's
FPU state. The cases are expected to differ (xfail, strict):
Unicorn 2.1's code generator is QEMU 5.0's, and QEMU fixed these later. When a Unicorn
release fixes one, its test fails here: then the known limits in docs/engines.md shrink.
"""
from __future__ import annotations

import ctypes
import mmap
import signal
import struct
import subprocess
import sys

import pytest

from conftest import need

BUFFER = 128  # rdi points at it: outputs at 0..63, inputs at 64..119, MXCSR kept at 120
OUTPUT = 64


def long_double(mantissa: int, sign_exponent: int) -> bytes:
    """An x87 80-bit value: 64-bit mantissa (explicit integer bit), sign and exponent."""
    return struct.pack("<QH", mantissa, sign_exponent)


INF, SNAN = long_double(1 << 63, 0x7FFF), long_double(0xA << 60, 0x7FFF)
CASES = {
    "cmpxchg": ("""
        mov $0xdeadbeef12345678, %rax
        mov %eax, 64(%rdi)
        mov $0x77777777, %ecx
        cmpxchg %ecx, 64(%rdi)      # equal: rax keeps its upper half
        mov %rax, 0(%rdi)""", b""),
    "test-i386-f2xm1": ("fldt 64(%rdi); f2xm1; fstpt 0(%rdi)",
                        long_double(1 << 63, 0x3FFE)),  # 0.5: 64-bit precision
    "test-i386-fbstp": ("fldt 64(%rdi); fbstp 0(%rdi)",
                        long_double(0xCCCCCCCCCCCCCCCD, 0xBFFB)),  # -0.1: BCD -0
    "test-i386-fisttp": ("fldt 64(%rdi); fisttpl 0(%rdi); fnstsw 8(%rdi)",
                         long_double(1 << 63, 0x3FFF + 100)),  # 2^100: invalid
    "test-i386-fldcst": ("movw $0xb7f, 64(%rdi); fldcw 64(%rdi); fldl2t; fstpt 0(%rdi)",
                         b""),  # rounded up
    "test-i386-fp-exceptions": ("flds 64(%rdi); fnstsw 0(%rdi)",
                                struct.pack("<I", 0x7FA00000)),  # a float sNaN: invalid
    "test-i386-fpatan": ("fldt 64(%rdi); fldt 64(%rdi); fpatan; fstpt 0(%rdi)",
                         long_double(1 << 63, 0xFFFF)),  # atan2(-inf, -inf)
    "test-i386-fscale": ("fld1; fldt 64(%rdi); fscale; fnstsw 0(%rdi); fstpt 16(%rdi)",
                         SNAN),
    "test-i386-fxam": ("fldt 64(%rdi); fxam; fnstsw 0(%rdi)",
                       long_double(1 << 62, 0x3FFF)),  # an unnormal: invalid operand
    "test-i386-fxtract": ("fldt 64(%rdi); fxtract; fstpt 0(%rdi); fstpt 16(%rdi)", INF),
    "test-i386-fyl2x": ("fldt 64(%rdi); fldz; fyl2x; fstpt 0(%rdi)", INF),  # inf*log2(0)
    "test-i386-fyl2xp1": ("movl $12345, 64(%rdi); fildl 64(%rdi); fldz; fchs; fyl2xp1;"
                          " fstpt 0(%rdi)", b""),  # 12345 * log2(1 + -0) is -0
    "test-i386-pseudo-denormal": ("fldt 64(%rdi); fldt 64(%rdi); faddp; fstpt 0(%rdi);"
                                  " fnstsw 16(%rdi)", long_double(1 << 63, 0)),
    "test-i386-snan-convert": ("flds 64(%rdi); fstpt 0(%rdi); fnstsw 16(%rdi)",
                               struct.pack("<I", 0x7FA00000)),
    "test-i386-sse-exceptions": ("""
        movss 64(%rdi), %xmm0
        cvtss2sd %xmm0, %xmm1        # a float sNaN widened: MXCSR's invalid flag
        stmxcsr 0(%rdi)""", struct.pack("<I", 0x7FA00000)),
    "float_convs, float_convd": ("""
        movsd 64(%rdi), %xmm0
        cvttsd2si %xmm0, %eax        # a NaN to int32: the indefinite value, invalid
        mov %eax, 0(%rdi)
        stmxcsr 4(%rdi)""", struct.pack("<Q", 0x7FF8000000000000)),
    "test-i386-pcmpistri": ("""
        movdqu 64(%rdi), %xmm0
        movdqu 80(%rdi), %xmm1
        pcmpistri $0x4c, %xmm1, %xmm0
        mov %ecx, 0(%rdi)""", b"abcdefghijklmnopbcdefghijklmnopa"),
}


def assemble(source: str, tmp_path) -> bytes:
    """The machine code of `source` (GNU as syntax), framed: the kernel's FPU state,
    MXCSR kept, `ret`."""
    need("as")
    text = ("fninit\nstmxcsr 120(%rdi)\nmovl $0x1f80, 124(%rdi)\nldmxcsr 124(%rdi)\n"
            f"{source}\nldmxcsr 120(%rdi)\nret\n")
    src, obj, raw = tmp_path / "case.s", tmp_path / "case.o", tmp_path / "case.bin"
    src.write_text(".text\n" + text)
    subprocess.run(["as", "--64", "-o", str(obj), str(src)], check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(obj), str(raw)],
                   check=True)
    return raw.read_bytes()


def framed(data: bytes) -> bytes:
    """The buffer: room for outputs, then the inputs."""
    return (bytes(OUTPUT) + data).ljust(BUFFER, b"\0")


def on_this_cpu(code: bytes, data: bytes) -> bytes:
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    buffer = ctypes.create_string_buffer(framed(data), BUFFER)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)(ctypes.addressof(buffer))
    return buffer.raw[:OUTPUT]


def on_unicorn(code: bytes, data: bytes) -> bytes:
    unicorn = pytest.importorskip("unicorn")
    from unicorn import x86_const as x86

    uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    code_at, data_at, stack_at = 0x10000, 0x20000, 0x30000
    for start in (code_at, data_at, stack_at):
        uc.mem_map(start, 0x1000)
    uc.mem_write(code_at, code)
    uc.mem_write(data_at, framed(data))
    uc.reg_write(x86.UC_X86_REG_RDI, data_at)
    uc.reg_write(x86.UC_X86_REG_RSP, stack_at + 0x800)
    uc.emu_start(code_at, code_at + len(code) - 1)  # up to the `ret`
    return bytes(uc.mem_read(data_at, OUTPUT))


@pytest.mark.xfail(strict=True, reason="Unicorn 2.1 (QEMU 5.0's code generator)")
@pytest.mark.parametrize("case", CASES)
def test_unicorn_differs_from_the_cpu(case, tmp_path):
    """The CPU's result (and flags) against Unicorn's for the case behind `case`."""
    source, data = CASES[case]
    code = assemble(source, tmp_path)
    assert on_unicorn(code, data) == on_this_cpu(code, data)


def test_the_harness_agrees_where_unicorn_is_right(tmp_path):
    """The control: plain x87 and SSE arithmetic gives the same bytes both ways."""
    code = assemble("fld1; fld1; faddp; fstpt 0(%rdi); movss 64(%rdi), %xmm0;"
                    " addss %xmm0, %xmm0; movss %xmm0, 16(%rdi); stmxcsr 20(%rdi)", tmp_path)
    data = struct.pack("<f", 1.25)
    assert on_unicorn(code, data) == on_this_cpu(code, data)
    assert struct.unpack_from("<f", on_this_cpu(code, data), 16)[0] == 2.5


IN_AL_DX = b"\xec\xc3"  # in %dx, %al; ret


def faults_on_this_cpu(code: bytes) -> bool:
    """Does `code` end this process with SIGSEGV (run in a child Python)?"""
    run = (f"import ctypes, mmap; p = mmap.mmap(-1, 4096, prot=7); p.write({code!r}); "
           "ctypes.CFUNCTYPE(None)(ctypes.addressof(ctypes.c_char.from_buffer(p)))()")
    return subprocess.run([sys.executable, "-c", run]).returncode == -signal.SIGSEGV


def faults_on_unicorn_in_user_mode(code: bytes) -> bool:
    """Does `code` raise an exception on a bare Unicorn at privilege 3 (entered as the
    kernel enters user mode: sysretq, selectors from the STAR MSR)?"""
    unicorn = pytest.importorskip("unicorn")
    from unicorn import x86_const as x86

    uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    code_at, stack_at = 0x10000, 0x30000
    uc.mem_map(code_at, 0x1000)
    uc.mem_map(stack_at, 0x1000)
    uc.mem_write(code_at, b"\x48\x0f\x07" + code)  # sysretq, then the code
    uc.msr_write(0xC0000080, uc.msr_read(0xC0000080) | 1)  # EFER.SCE
    uc.msr_write(0xC0000081, 0x23 << 48)  # STAR: user selectors 0x33 and 0x2b
    uc.reg_write(x86.UC_X86_REG_RCX, code_at + 3)
    uc.reg_write(x86.UC_X86_REG_R11, 0x202)
    uc.reg_write(x86.UC_X86_REG_RSP, stack_at + 0x800)
    vectors: list[int] = []
    uc.hook_add(unicorn.UC_HOOK_INTR, lambda uc, n, _: (vectors.append(n), uc.emu_stop()))
    uc.emu_start(code_at, code_at + 3 + len(code) - 1)  # up to the `ret`
    assert uc.reg_read(x86.UC_X86_REG_CS) == 0x33
    return bool(vectors)


@pytest.mark.xfail(strict=True, reason="Unicorn 2.1 allows every I/O instruction")
def test_io_instructions_fault_in_user_mode():
    """`in` at privilege 3 with no I/O permission: the CPU's general protection fault
    (SIGSEGV from the kernel) against Unicorn, whose translator leaves the check out."""
    assert faults_on_this_cpu(IN_AL_DX)
    assert faults_on_unicorn_in_user_mode(IN_AL_DX)


def test_privileged_instructions_fault_on_unicorn_in_user_mode():
    """The control: `hlt` faults on both, once Unicorn's CPU is at privilege 3."""
    assert faults_on_this_cpu(b"\xf4\xc3")
    assert faults_on_unicorn_in_user_mode(b"\xf4\xc3")
