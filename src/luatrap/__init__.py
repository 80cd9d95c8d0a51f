"""luatrap: run a Linux program and hook its system calls with Lua rules."""
__version__ = "0.1.0"

from luatrap.api import UsageError, run  # noqa: E402

__all__ = ["run", "UsageError", "__version__"]
