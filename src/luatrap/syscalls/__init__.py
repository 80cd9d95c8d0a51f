"""System call tables: numbers, names and argument kinds, and what is derived from them."""
from luatrap.syscalls.table import (
    ARCH_I386,
    ARCH_X32,
    ARCH_X86_64,
    Syscall,
    by_name,
    by_number,
    errno_values,
    name_of,
    signed_args,
)

__all__ = [
    "ARCH_I386", "ARCH_X32", "ARCH_X86_64", "Syscall", "by_name", "by_number",
    "errno_values", "name_of", "signed_args",
]
