"""keepalived's own sample configs (read in place from the shared samples directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfg_netns import NS_INTERFACES, SAMPLES, Netns

from pykeepalived.config import load, load_text
from pykeepalived.config.dump import dump_config
from pykeepalived.config.reload import strip_pos

VALID = sorted(p for p in (SAMPLES / "valid").glob("*")) if SAMPLES.exists() else []
INVALID = sorted(p for p in (SAMPLES / "invalid").glob("*")) if SAMPLES.exists() else []
ALL = VALID + INVALID
needs_samples = pytest.mark.skipif(not SAMPLES.exists(), reason="shared keepalived samples not present")

def materialise(path: Path, tmp: Path) -> Path:
    """The sample as given, or, when it names helper paths with @@DIR@@ (see the samples README),
    a copy in a temp dir whose @@DIR@@ is a root-owned 0755 directory holding 0755 helper scripts."""
    text = path.read_text()
    if "@@DIR@@" not in text:
        return path
    helpers = tmp / "helpers"
    helpers.mkdir(mode=0o755, exist_ok=True)
    tmp.chmod(0o755)
    for name in set(re.findall(r"@@DIR@@/([A-Za-z0-9_.-]+)", text)):
        script = helpers / name
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    copy = tmp / path.name
    copy.write_text(text.replace("@@DIR@@", str(helpers)))
    copy.chmod(0o644)
    return copy


# keepalived -t on a host named differently from the sample's @ids: conditional_conf keeps
# lines for no id and names interfaces that do not exist, so it is rejected (exit 5) there too.
HOST_DEPENDENT = {"upstream-doc__samples__keepalived.conf.conditional_conf"}


@needs_samples
@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_sample_loads(path: Path, tmp_path: Path) -> None:
    path = materialise(path, tmp_path)
    config_id = "high" if path.name in HOST_DEPENDENT else None
    r = load(str(path), interfaces=NS_INTERFACES, config_id=config_id)
    assert r.config is not None
    assert r.exit_code == 0, [d.format() for d in r.diagnostics]
    assert r.config.vrrp_instances or r.config.virtual_servers


@needs_samples
@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_sample_rejected(path: Path, tmp_path: Path) -> None:
    path = materialise(path, tmp_path)
    r = load(str(path), interfaces=NS_INTERFACES)
    assert r.exit_code != 0
    assert any(d.level for d in r.diagnostics)


@needs_samples
@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_sample_dump_round_trip(path: Path, tmp_path: Path) -> None:
    path = materialise(path, tmp_path)
    wide = NS_INTERFACES | {"eth1", "eth2", "eth3", "eth0.1"}
    r = load(str(path), interfaces=wide)
    assert r.config is not None
    again = load_text(dump_config(r.config), interfaces=wide)
    assert again.config is not None
    assert strip_pos(again.config).__class__ is strip_pos(r.config).__class__
    import dataclasses
    assert dataclasses.replace(strip_pos(again.config), files=()) == dataclasses.replace(strip_pos(r.config),
                                                                                          files=())


@needs_samples
@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_sample_same_exit_as_keepalived(netns: Netns, path: Path, tmp_path: Path) -> None:
    kind = path.parent.name
    path = materialise(path, tmp_path)
    real, out = netns.keepalived_t(path)
    ours, our_out = netns.ours_t(path)
    assert ours == real, f"keepalived:\n{out}\nours:\n{our_out}"
    if kind == "valid" and path.name not in HOST_DEPENDENT:
        assert real == 0
    if kind == "invalid":
        assert real != 0
