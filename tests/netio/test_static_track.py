"""track_group -> the interfaces each instance tracks (keepalived's static_track_group_init),
on configurations parsed by the real loader; the namespace test with keepalived 2.2.7 side by
side is tests/production/test_garp_track_group.py."""

from __future__ import annotations

import logging

import pytest

from pykeepalived.config import load_text
from pykeepalived.config.model import Config
from pykeepalived.core.engine import build_tracking, static_track_interfaces

INSTANCES = "".join(f"vrrp_instance {n} {{\n interface eth0\n virtual_router_id {i}\n priority 100\n"
                    f" virtual_ipaddress {{\n 192.0.2.{i}/24\n }}\n}}\n" for i, n in ((1, "VI_1"), (2, "VI_2")))


def parse(text: str) -> Config:
    result = load_text(text + INSTANCES, interfaces=frozenset({"eth0", "eth1", "eth2", "eth3"}))
    assert result.config is not None, [d.format() for d in result.diagnostics]
    return result.config


def test_each_static_item_adds_its_interface(caplog: pytest.LogCaptureFixture) -> None:
    config = parse("global_defs {\n default_interface eth3\n}\n"
                   "track_group TG {\n group {\n VI_1\n VI_2\n }\n}\n"
                   "track_group T2 {\n group {\n VI_2\n }\n}\n"
                   "static_ipaddress {\n 10.1.0.1/24 dev eth1 track_group TG\n 10.2.0.1/24 track_group T2\n"
                   " 10.3.0.1/24 dev eth2 track_group TG no_track\n 10.4.0.1/24 dev eth2\n}\n"
                   "static_routes {\n 10.9.0.0/16 via 10.1.0.254 dev eth1 track_group TG\n"
                   " blackhole 10.8.0.0/16 track_group TG\n}\n"
                   "static_rules {\n from 10.7.0.0/16 iif eth2 table 100 track_group T2\n}\n")
    with caplog.at_level(logging.INFO):
        mapping = static_track_interfaces(config)
    assert mapping == {"VI_1": ["eth1"], "VI_2": ["eth1", "eth3", "eth2"]}
    assert "Static address has both track_group and no_track set - not tracking" in caplog.messages


def test_tracked_with_weight_zero_and_own_tracking_kept() -> None:
    config = parse("track_group TG {\n group {\n VI_1\n }\n}\n"
                   "static_ipaddress {\n 10.1.0.1/24 dev eth1 track_group TG\n}\n")
    tracking = build_tracking(config.vrrp_instances[0], config, static_track_interfaces(config)["VI_1"])
    assert tracking.update("interface", "eth1", False)[0].fault is True
    assert tracking.update("interface", "eth1", True)[0].fault is False
