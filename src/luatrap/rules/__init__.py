"""The Lua side: a rules folder turned into lazily loaded `do_syscall` hooks."""
from luatrap.rules.rulebook import RuleBook, RulesError, RunNow

__all__ = ["RuleBook", "RulesError", "RunNow"]
