"""A bytecode cache for the methods `dataclasses` generates: start-up CPU (issue 18, "Start-up").

Each `@dataclass` writes the source of its `__init__`, `__repr__`, `__eq__`, `__setattr__`...
and compiles it with `exec(text, ...)` at import time; Python caches module bytecode in
`__pycache__` but not these. The daemon's ~90 dataclasses compile ~300 such functions on every
start: about a third of the import CPU of a child (70 of ~280 ms measured on the shared 2-core
machine), on the critical path of start-up and of a respawn.

`install()` (done by the package's `__init__`) gives the `dataclasses` module an `exec` that
looks the text up in a cache before compiling it (same text, same flags, same filename: the
code object is what `exec` would have compiled). `save()` writes what was compiled beside the
package's bytecode, as `__pycache__/dataclasses.<cache_tag>.marshal` (like a .pyc: not written
when bytecode writing is off or the directory is read-only). The supervisor saves once its
children's code is imported. The key is the whole source text, so a stale entry is never used:
a changed class compiles anew and the next `save()` keeps only the entries of this run.
"""

from __future__ import annotations

import builtins
import contextlib
import marshal
import os
import sys
from typing import Any

_PATH = os.path.join(os.path.dirname(__file__), "__pycache__",
                     f"dataclasses.{sys.implementation.cache_tag}.marshal")
_cache: dict[str, Any] | None = None     # text -> code object, loaded on first use
_used: dict[str, Any] = {}               # entries used or compiled by this process
_compiled = 0                            # compiled here (not found in the cache)


def _load() -> dict[str, Any]:
    try:
        with open(_PATH, "rb") as f:
            data = marshal.loads(f.read())      # marshal.load(f) reads the file piece by piece: 10x slower
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    global _cache, _compiled
    if isinstance(source, str):
        if _cache is None:
            _cache = _load()
        code = _cache.get(source)
        if code is None:
            # exec(str) compiles with no inherited __future__ flags: dont_inherit (this module's
            # own flags must not leak into the generated code).
            code = compile(source, "<string>", "exec", dont_inherit=True)
            _cache[source] = code
            _compiled += 1
        _used[source] = code
        source = code
    builtins.exec(source, globals, locals)


def install() -> None:
    """Route dataclasses' exec through the cache (idempotent; a no-op where dataclasses
    no longer calls a module-level exec)."""
    import dataclasses

    if getattr(dataclasses, "exec", None) is not _exec:
        dataclasses.exec = _exec  # type: ignore[attr-defined]


def save() -> bool:
    """Write the cache if this process compiled anything. True when written. Entries of
    other runs are kept (a checker-only configuration does not drop the VRRP child's), unless
    they outnumber this run's four to one (classes changed by upgrades)."""
    if not _compiled or sys.dont_write_bytecode or _cache is None:
        return False
    keep = _cache if len(_cache) <= 4 * len(_used) else _used
    tmp = f"{_PATH}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(_PATH), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(marshal.dumps(keep))
        os.replace(tmp, _PATH)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


def stats() -> tuple[int, int]:
    """(functions taken from the cache, functions compiled) in this process."""
    return len(_used) - _compiled, _compiled
