"""Script security: a script run as root must not be writable by non-root, nor may any
directory on its path be (sticky directories like /tmp excepted); without
enable_script_security any runnable script is a SECURITY VIOLATION (-t exit 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cfg_netns import Netns

from pykeepalived.config import load

IFS = frozenset({"lo", "eth0", "eth0p"})


def make_tree(root: Path) -> dict[str, Path]:
    """Scripts: a secure one, one in a world-writable dir, one under a world-writable parent,
    and a world-writable script in a secure dir."""
    root.mkdir(mode=0o755)
    (root / "good").mkdir(mode=0o755)
    (root / "bad").mkdir()
    (root / "bad").chmod(0o777)
    (root / "parent_bad").mkdir()
    (root / "parent_bad").chmod(0o777)
    (root / "parent_bad" / "sub").mkdir(mode=0o755)
    paths = {"secure": root / "good" / "s.sh", "dir_writable": root / "bad" / "s.sh",
             "parent_writable": root / "parent_bad" / "sub" / "s.sh", "file_writable": root / "good" / "w.sh"}
    for name, p in paths.items():
        p.write_text("#!/bin/sh\nexit 0\n")
        p.chmod(0o777 if name == "file_writable" else 0o755)
    return paths


def conf(script: Path, security: bool) -> str:
    return (f"global_defs {{\n  {'enable_script_security' if security else ''}\n  script_user root\n}}\n"
            f"vrrp_instance V {{\n  interface eth0\n  virtual_router_id 1\n  notify_master {script}\n"
            "  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n")


EXPECTED = {  # (script, security enabled) -> (exit code, text expected in a message)
    ("secure", False): (6, "SECURITY VIOLATION - scripts are being executed but script_security not enabled."),
    ("secure", True): (0, None),
    ("dir_writable", False): (6, "There are insecure scripts."),
    ("dir_writable", True): (0, "Unsafe permissions found for script"),
    ("parent_writable", False): (6, "There are insecure scripts."),
    ("parent_writable", True): (0, "Unsafe permissions found for script"),
    ("file_writable", False): (6, "There are insecure scripts."),
    ("file_writable", True): (0, "Unsafe permissions found for script"),
}

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="script security applies to scripts run as root")


@needs_root
@pytest.mark.parametrize(("name", "security"), list(EXPECTED), ids=[f"{n}-{s}" for n, s in EXPECTED])
def test_script_security(tmp_path: Path, name: str, security: bool) -> None:
    paths = make_tree(tmp_path / "s")
    cfg = tmp_path / "k.conf"
    cfg.write_text(conf(paths[name], security))
    r = load(str(cfg), interfaces=IFS)
    code, text = EXPECTED[(name, security)]
    assert r.exit_code == code
    if text is not None:
        hits = [d for d in r.diagnostics if text in d.message]
        # SECURITY VIOLATION is decided after the read: keepalived 2.2.7 prints it unlocated
        assert hits and hits[0].line == (None if code == 6 else 8), [d.format() for d in r.diagnostics]
    if security and name != "secure":  # the insecure script is disabled... but reported with its line
        assert any(str(paths[name]) in d.message for d in r.diagnostics)


def test_missing_script_is_not_a_violation(tmp_path: Path) -> None:
    cfg = tmp_path / "k.conf"
    cfg.write_text(conf(tmp_path / "does-not-exist.sh", False))
    assert load(str(cfg), interfaces=IFS).exit_code == 0


@needs_root
@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize(("name", "security"), list(EXPECTED), ids=[f"{n}-{s}" for n, s in EXPECTED])
def test_script_security_same_exit_as_keepalived(netns: Netns, tmp_path: Path, name: str, security: bool) -> None:
    paths = make_tree(tmp_path / "s")
    cfg = tmp_path / "k.conf"
    cfg.write_text(conf(paths[name], security))
    real, out = netns.keepalived_t(cfg)
    assert real == EXPECTED[(name, security)][0], out
    assert load(str(cfg), interfaces=IFS).exit_code == real
