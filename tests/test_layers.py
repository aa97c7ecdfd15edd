"""Who may import whom in src/pykeepalived (../shared/design/ARCHITECTURE.md, "Who imports whom").

An AST walk of every module (imports under TYPE_CHECKING count too: they are still a dependency
a reader has to follow). Dependencies point inward: the part that decides defines the
vocabulary; adapters and processes depend on it.

Today's tree still has the upward imports that the redesign (issue 17) removes. They are listed
in KNOWN_VIOLATIONS, each with where it is going, so that no new one can appear unnoticed and
the list can only shrink: a listed edge that no longer exists fails the test too (delete it
from the list).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "pykeepalived"

# Leaf modules anyone may import: error types, the logging setup, config text back to bytes,
# the libc glue (osutil: setns, prctl, malloc_trim, inotify), the SMTP dialogue (smtp: the checkers
# and the VRRP notifier both mail; check/ may not import io/), script_env (scripts: the same),
# the dataclasses bytecode cache (installed by the package's __init__, saved by the supervisor).
LEAVES = {"errors", "log", "textbytes", "osutil", "smtp", "scripts", "dataclass_cache", "pykeepalived"}   # pykeepalived: __init__ (version, compat)

# layer -> the layers of ours it may import (besides itself and LEAVES).
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "core": {"config"},
    "_fastpath": set(),
    "io": {"core", "_fastpath", "config"},
    "lvs": {"core"},                       # target: core.lvs.table only
    "check": {"config"},
    "status": set(),
    "vrrp": {"core", "_fastpath", "config", "io", "status", "child", "osutil"},
    "checker": {"core", "config", "io", "check", "lvs", "status", "child", "osutil"},
    "supervisor": {"config", "status", "child", "osutil", "pidfile", "sdnotify"},
    "child": {"config", "osutil"},
    "osutil": set(),
    "smtp": {"config"},                    # a leaf for its users; reads GlobalDefs
    "pidfile": set(),
    "sdnotify": set(),
}
# Entry points may import anything: cli.py, __main__.py, the package itself.
ENTRY = {"cli", "__main__", "pykeepalived"}

# Upward or sideways imports of today's tree: (importer module, imported module) -> where it goes.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}   # none left (issue 17: io/runtime.py went to vrrp/)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "pykeepalived"


def imports_of(path: Path) -> set[str]:
    """Our modules that `path` imports, relative to the package ('io.netlink', 'daemon', ...)."""
    me = module_name(path).split(".") if module_name(path) != "pykeepalived" else []
    package = me if path.name == "__init__.py" else me[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            if name == "pykeepalived" and isinstance(node, ast.ImportFrom):   # from pykeepalived import log
                found.update(a.name if (SRC / a.name).exists() or (SRC / f"{a.name}.py").exists()
                             else "pykeepalived" for a in node.names)
            elif name == "pykeepalived":
                found.add("pykeepalived")
            elif name.startswith("pykeepalived."):
                found.add(name.removeprefix("pykeepalived."))
            elif node.__class__ is ast.ImportFrom and getattr(node, "level", 0) and name:
                found.add(name)
    return found


def layer(module: str) -> str:
    return module.split(".")[0]


def allowed(importer: str, dep: str) -> bool:
    """Whether module `importer` may import module `dep` (both relative to the package)."""
    mine, theirs = layer(importer), layer(dep)
    return mine in ENTRY or theirs == mine or theirs in LEAVES or theirs in ALLOWED.get(mine, set())


def violations() -> set[tuple[str, str]]:
    bad = set()
    for path in SRC.rglob("*.py"):
        me = module_name(path)
        bad.update((me, dep) for dep in imports_of(path) if not allowed(me, dep))
    return bad


def test_no_new_upward_import() -> None:
    new = sorted(violations() - KNOWN_VIOLATIONS.keys())
    assert not new, "imports against ARCHITECTURE.md's rules:\n" + "\n".join(f"  {a} -> {b}" for a, b in new)


def test_known_violations_still_exist() -> None:
    """The list only shrinks: an edge the redesign removed must leave the list too."""
    gone = sorted(KNOWN_VIOLATIONS.keys() - violations())
    assert not gone, "no longer imported, delete from KNOWN_VIOLATIONS:\n" + "\n".join(
        f"  {a} -> {b}" for a, b in gone)


def test_every_layer_has_a_rule() -> None:
    layers = {layer(module_name(p)) for p in SRC.rglob("*.py")}
    unknown = layers - ALLOWED.keys() - ENTRY - LEAVES
    assert not unknown, f"layers without an import rule: {sorted(unknown)}"


def test_walk_is_not_vacuous() -> None:
    """It sees from-imports (core/params.py uses config.model, the VRRP child child.py's reload
    contract) and the rules refuse a forbidden edge."""
    assert "config.model" in imports_of(SRC / "core" / "params.py")
    assert "child" in imports_of(SRC / "vrrp" / "process.py")
    assert not allowed("core.engine", "io.netlink") and not allowed("io.notify", "vrrp.runtime")
    assert not allowed("vrrp.process", "supervisor.process") and allowed("vrrp.process", "status.channel")
