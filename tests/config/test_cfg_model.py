"""The model's resolved values (keepalived's vrrp_complete_instance rules) and the CLI entry."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from cfg_netns import NS_INTERFACES

from pykeepalived.config import load_text
from pykeepalived.config.complete import resolve_instance, round_advert_int
from pykeepalived.config.model import GlobalDefs, IpAddress, VrrpInstance


def vi(**kw: object) -> VrrpInstance:
    return VrrpInstance(name="VI", interface="eth0", virtual_router_id=1,
                        virtual_ipaddress=(IpAddress(address=ipaddress.ip_interface("10.0.0.1/24")),), **kw)  # type: ignore[arg-type]


def test_global_defaults() -> None:
    g = GlobalDefs()
    assert (g.vrrp_garp_master_delay, g.vrrp_garp_master_repeat, g.vrrp_version) == (5.0, 5, 2)
    assert str(g.vrrp_mcast_group4) == "224.0.0.18" and str(g.vrrp_mcast_group6) == "ff02::12"
    e = resolve_instance(vi(), g)  # the lower-priority GARP values fall back to the master ones
    assert g.vrrp_down_timer_adverts == 3 and e.garp_lower_prio_delay == 5.0 and e.garp_lower_prio_repeat == 5


def test_priority_and_state_completion() -> None:
    assert (vi().effective.state, vi().effective.priority) == ("BACKUP", 100)
    e = vi(state="MASTER").effective
    assert (e.state, e.priority, e.address_owner) == ("MASTER", 255, True)
    e = vi(priority=255).effective
    assert (e.state, e.priority) == ("MASTER", 255)
    e = vi(state="MASTER", priority=100).effective
    assert (e.state, e.priority) == ("MASTER", 100)


def test_nopreempt_cleared_for_master_and_owner() -> None:
    assert vi(nopreempt=True).effective.nopreempt
    assert not vi(nopreempt=True, state="MASTER").effective.nopreempt
    assert not vi(nopreempt=True, priority=255).effective.nopreempt


# What keepalived 2.2.7 sends for a configured advert_int (tcpdump of its adverts in a namespace:
# "intvl 3s" for v2 2.5, "intvl 15cs" for v3 0.145; it logs "VRRPv2 advertisement interval
# 2.500000s must be an integer. rounding"): half up, in integer microseconds. Before, the daemon's
# copy gave v3 0.145 -> 0.14 (float error) and core/timing's copy v2 2.5 -> 2 (round half even).
KEEPALIVED_ADVERT_INT = [
    (2, 2.5, 3.0), (2, 1.5, 2.0), (2, 0.5, 1.0), (2, 0.4, 1.0), (2, 2.6, 3.0), (2, 300, 255.0),
    (3, 0.145, 0.15), (3, 0.125, 0.13), (3, 0.115, 0.12), (3, 0.004, 0.01), (3, 0.123, 0.12),
    (3, 50, 40.95), (3, 1, 1.0),
]


@pytest.mark.parametrize(("version", "given", "used"), KEEPALIVED_ADVERT_INT)
def test_advert_int_rounds_as_keepalived(version: int, given: float, used: float) -> None:
    assert round_advert_int(version, given) == used
    assert vi(advert_int=given, version=version).effective.advert_int == used   # what the daemon runs


def test_advert_int_rounding() -> None:
    assert vi(advert_int=1.5).effective.advert_int == 2.0
    assert vi(advert_int=0.3).effective.advert_int == 1.0
    assert vi(advert_int=0.123, version=3).effective.advert_int == 0.12
    assert vi(advert_int=100.0, version=3).effective.advert_int == 40.95
    six = VrrpInstance(name="V6", virtual_router_id=1,
                       virtual_ipaddress=(IpAddress(address=ipaddress.ip_interface("fd00::1/64")),), advert_int=0.5)
    assert (six.effective.version, six.effective.family, six.effective.advert_int) == (3, "inet6", 0.5)
    assert str(six.effective.mcast_dst_ip) == "ff02::12"


def test_strict_mode_effects() -> None:
    e = resolve_instance(vi(), GlobalDefs(vrrp_strict=True))
    assert e.strict and not e.accept and e.lower_prio_no_advert and e.owner_ignore_adverts
    assert resolve_instance(vi(priority=255), GlobalDefs(vrrp_strict=True)).accept


def test_garp_values_fall_back_to_globals() -> None:
    g = GlobalDefs(vrrp_garp_master_delay=2.0, vrrp_garp_master_repeat=3)
    e = resolve_instance(vi(), g)
    assert (e.garp_master_delay, e.garp_master_repeat, e.garp_lower_prio_delay, e.garp_lower_prio_repeat) == \
        (2.0, 3, 2.0, 3)
    e = resolve_instance(vi(garp_master_delay=7.0), g)
    assert e.garp_master_delay == 7.0


def test_loader_resolves_against_file_globals() -> None:
    r = load_text("global_defs {\n  vrrp_version 3\n  vrrp_garp_master_delay 1\n}\n"
                  "vrrp_instance V {\n  interface eth0\n  virtual_router_id 5\n  advert_int 0.25\n"
                  "  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n", interfaces=NS_INTERFACES)
    assert r.config is not None and r.exit_code == 0
    v = r.config.vrrp_instances[0]
    assert (v.effective.version, v.effective.advert_int, v.effective.garp_master_delay) == (3, 0.25, 1.0)
    assert str(v.virtual_ipaddress[0].address) == "10.0.0.1/32"


def test_duplicate_vrid_same_interface() -> None:
    two = "".join(f"vrrp_instance V{i} {{\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress {{\n"
                  f"    10.0.{i}.1\n  }}\n}}\n" for i in range(2))
    r = load_text(two, interfaces=NS_INTERFACES)
    assert r.exit_code == 5
    assert any(d.message == "V0 and V1 both use VRID 5 with IPv4 on interface eth0" and d.line == 8
               for d in r.diagnostics)


def test_instance_without_vips() -> None:
    r = load_text("vrrp_instance V {\n  interface eth0\n  virtual_router_id 5\n}\n", interfaces=NS_INTERFACES)
    assert any("No VIP" in d.message and d.line is None for d in r.diagnostics)  # keepalived: after the read


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pykeepalived", *args], capture_output=True, text=True, timeout=60)


def test_cli_config_test_and_dump(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("global_defs {\n  router_id cli\n  bogus_kw\n}\n")
    p = run_cli("-t", "-f", str(conf))
    assert p.returncode == 5
    assert f"({conf}: Line 3) Unknown keyword 'bogus_kw'" in p.stderr
    log = tmp_path / "t.log"
    p = run_cli(f"--config-test={log}", "-f", str(conf))
    assert p.returncode == 5 and "Unknown keyword 'bogus_kw'" in log.read_text()
    conf.write_text("global_defs {\n  router_id cli\n}\n")
    p = run_cli("-d", "-t", "-f", str(conf))
    assert p.returncode == 0 and "router_id cli" in p.stdout
    p = run_cli("-t", "-e", "-f", str(tmp_path / "missing.conf"))
    assert p.returncode == 4


@pytest.mark.parametrize("text", ["\x00\x01\x02", "{{{{", "}}}}", "$A=$A\n$A\n", '"' * 5000])
def test_cli_never_tracebacks(tmp_path: Path, text: str) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    p = run_cli("-t", "-f", str(conf))
    assert "Traceback" not in p.stderr
    assert p.returncode in (0, 2, 4, 5, 6)
