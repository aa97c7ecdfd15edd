"""Release metadata that must stay in step: version, CHANGELOG, LICENSE, pyproject (fast, no build)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pykeepalived import __version__

ROOT = Path(__file__).resolve().parent.parent


def test_changelog_has_a_heading_for_the_version() -> None:
    """Tag scheme (CHANGELOG.md): the release commit sets __version__ and is tagged v<version>."""
    text = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(__version__)}\b", text, re.M), f"CHANGELOG.md has no '## {__version__}'"


def test_license_is_gpl2_or_later_in_pep639_form() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = meta["project"]
    assert project["license"] == "GPL-2.0-or-later"
    assert project["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))  # PEP 639: no both
    lic = (ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in lic and "Version 2, June 1991" in lic


def test_every_declared_dependency_is_imported() -> None:
    """pyparsing was declared and never imported, prometheus-client stopped being imported when status/
    began writing /metrics itself: a declared runtime dependency must be imported by src/."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    imports = {"pyroute2": "pyroute2", "uvloop": "uvloop", "dnspython": "dns", "setproctitle": "setproctitle"}
    source = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    for dep in meta["project"]["dependencies"]:
        name = re.split(r"[<>=!~ ;\[]", dep, maxsplit=1)[0]
        assert name in imports, f"{name}: say which module it provides in this test"
        assert re.search(rf"^\s*(import|from) {imports[name]}\b", source, re.M), f"{name} is never imported"
