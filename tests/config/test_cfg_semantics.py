"""Same meaning as keepalived: every valid sample with VRRP instances, and the preprocessor
fixture tree, resolve to the same instance values as keepalived 2.2.7 shows in its -d dump."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfg_netns import SAMPLES, Netns, our_vrrp_summary

from pykeepalived.config import load

IFS = frozenset({"lo", "eth0", "eth0p"})
VALID = sorted((SAMPLES / "valid").glob("*")) if SAMPLES.exists() else []
TREE = Path(__file__).parent / "fixtures" / "tree" / "main.conf"


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_sample_instances_mean_the_same(netns: Netns, tmp_path: Path, path: Path) -> None:
    ours = load(str(path), interfaces=IFS)
    assert ours.config is not None
    if not ours.config.vrrp_instances and "vrrp_instance" not in path.read_text():
        return  # an LVS-only sample: keepalived -P has nothing to show
    real = netns.keepalived_vrrp_dump(path, tmp_path)
    if not real:
        if ours.config.vrrp_instances:
            pytest.skip("keepalived could not start VRRP for this config here (lvs_sync_daemon needs ip_vs)")
        return
    assert our_vrrp_summary(ours.config) == real


@pytest.mark.privileged
@pytest.mark.interop
def test_fixture_tree_means_the_same(netns: Netns, tmp_path: Path) -> None:
    real = netns.keepalived_vrrp_dump(TREE, tmp_path, "-i", "lb1")
    ours = load(str(TREE), config_id="lb1", interfaces=IFS)
    assert ours.config is not None
    assert our_vrrp_summary(ours.config) == real
    assert len(real) == 8
