"""Fixtures of the checker tests; the helpers live in checklib.py (a module name of its own,
so that `import` never picks up another directory's conftest under xdist)."""

from checklib import world

__all__ = ["world"]
