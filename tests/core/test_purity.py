"""core/ is sans-IO: no module in it imports socket, asyncio, time, pyroute2, select or threading."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pykeepalived.core

BLOCKED = ("socket", "asyncio", "time", "pyroute2", "select", "threading")
CORE_DIR = Path(pykeepalived.core.__file__).parent

# Runs in a fresh interpreter: every `import` executed by code whose module lives in
# pykeepalived.core is refused if it names a blocked module.  Imports done by the stdlib on
# our behalf (logging uses threading and time) are not ours and stay allowed.
PROBE = r"""
import builtins, importlib, pkgutil, sys
BLOCKED = set(sys.argv[1].split(","))
real_import = builtins.__import__

def guarded(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if importer.startswith("pykeepalived.core") and level == 0 and name.split(".")[0] in BLOCKED:
        raise ImportError(f"{importer} imports {name}: core/ must stay sans-IO")
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = guarded
import pykeepalived.core as core
names = [m.name for m in pkgutil.iter_modules(core.__path__, "pykeepalived.core.")]
for name in names:
    importlib.import_module(name)
print(" ".join(names))
"""


def core_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(pykeepalived.core.__path__)]


def test_import_every_core_module_with_io_blocked() -> None:
    """Every core module imports cleanly while socket/asyncio/time/... are refused to core code."""
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(BLOCKED)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert "pykeepalived.core.vrrp" in imported
    assert len(imported) == len(core_modules())


def test_guard_catches_a_blocked_import(tmp_path: Path) -> None:
    """The probe is not vacuous: a core module importing `time` makes it fail."""
    pkg = tmp_path / "pykeepalived" / "core"
    pkg.mkdir(parents=True)
    (tmp_path / "pykeepalived" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "bad.py").write_text("import time\n")
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(BLOCKED)], capture_output=True, text=True,
                            timeout=60, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0
    assert "pykeepalived.core.bad imports time" in result.stderr


def test_no_blocked_import_statement_in_core_sources() -> None:
    """Static check too, for imports hidden in functions that the probe never runs."""
    offenders = []
    for path in CORE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in BLOCKED]
    assert offenders == []
