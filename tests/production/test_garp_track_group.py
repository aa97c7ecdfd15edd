"""garp_group / vrrp_garp_interval pacing and static track_group, each run with pykeepalived and
with keepalived 2.2.7 in the same scenario.

keepalived's pacing (vrrp_arp.c): a GARP goes out at once unless its interface's (or garp_group's)
previous one is less than garp_interval old; otherwise the address is marked pending, once, so a
burst of garp_master_repeat collapses to one immediate GARP plus one paced one, and the pending
addresses then go out one per interval.  keepalived's track_group (vrrp_static_track.c): the
group's instances track, with weight 0, the interface of each static address / route (dev) /
rule (iif) naming the group; a deleted static address is only put back."""

from __future__ import annotations

import time

import pytest
from prod import IMPLS, ScriptDir, global_defs, instance, start

from harness.daemon import keepalived_path
from harness.lab import Host, Lab
from harness.pcap import Frame
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

BOTH = ["py", pytest.param("ka", marks=[pytest.mark.interop, pytest.mark.skipif(
    keepalived_path() is None, reason="keepalived 2.2.7 not installed")])]
INTERVAL = 0.2
SLACK = 0.005      # capture timestamps and timer wake-ups; a GARP is never sent early


def _garps(frames: list[Frame], src_mac: str) -> list[tuple[str, float]]:
    out = [(f.arp.target_ip, f.ts_ns / 1e9) for f in frames
           if f.arp is not None and f.arp.sender_ip == f.arp.target_ip and f.src_mac.lower() == src_mac.lower()]
    return out


def _gaps(garps: list[tuple[str, float]]) -> list[float]:
    return [round(y[1] - x[1], 4) for x, y in zip(garps, garps[1:], strict=False)]


def _run_garps(lab: Lab, host: Host, impl: str, conf: str, instances: list[str], settle: float) -> list[tuple[str, float]]:
    cap = lab.capture()
    d = start(host, impl, conf)
    for name in instances:
        d.wait_state(name, "MASTER", timeout=15)
    time.sleep(settle)
    garps = _garps(cap.stop(), host.mac())
    d.stop()
    return garps


@pytest.mark.parametrize("impl", BOTH)
def test_garp_group_paces_all_instances_on_its_interface(lab: Lab, impl: str) -> None:
    """Two instances become master together on eth0 (garp_group garp_interval 0.2): their GARPs
    are at least 0.2 s apart, and each burst of 3 adds a single paced repeat (the first address
    sent is the only one that goes out twice), as keepalived 2.2.7 does."""
    a = lab.add_host("a")
    conf = (global_defs("router_id a", "vrrp_garp_master_repeat 3", "vrrp_garp_master_delay 0")
            + f"garp_group {{\n    garp_interval {INTERVAL}\n    interface eth0\n}}\n"
            + instance("VI_1", 51, 150, ["192.0.2.100/24", "192.0.2.101/24"])
            + instance("VI_2", 52, 150, ["192.0.2.110/24"]))
    garps = _run_garps(lab, a, impl, conf, ["VI_1", "VI_2"], settle=4 * INTERVAL + 0.5)
    addrs = [ip for ip, _ in garps]
    assert sorted(set(addrs)) == ["192.0.2.100", "192.0.2.101", "192.0.2.110"], garps
    assert len(addrs) == 4 and addrs.count(addrs[0]) == 2, f"{IMPLS[impl]}: {garps}"
    assert all(g >= INTERVAL - SLACK for g in _gaps(garps)), f"{IMPLS[impl]}: gaps {_gaps(garps)}"


@pytest.mark.parametrize("impl", BOTH)
def test_global_garp_interval_paces_one_instance(lab: Lab, impl: str) -> None:
    """vrrp_garp_interval goes through the same pacing: repeat 2 of two VIPs gives .100 at
    once, .100 again and then .101, each an interval apart."""
    a = lab.add_host("a")
    conf = (global_defs("router_id a", f"vrrp_garp_interval {INTERVAL}", "vrrp_garp_master_repeat 2",
                        "vrrp_garp_master_delay 0")
            + instance("VI_1", 51, 150, ["192.0.2.100/24", "192.0.2.101/24"]))
    garps = _run_garps(lab, a, impl, conf, ["VI_1"], settle=3 * INTERVAL + 0.5)
    assert [ip for ip, _ in garps] == ["192.0.2.100", "192.0.2.100", "192.0.2.101"], f"{IMPLS[impl]}: {garps}"
    assert all(g >= INTERVAL - SLACK for g in _gaps(garps)), f"{IMPLS[impl]}: gaps {_gaps(garps)}"


@pytest.mark.parametrize("impl", BOTH)
def test_garp_group_replaces_the_global_interval(lab: Lab, impl: str) -> None:
    """An interface in a garp_group that sets only gna_interval is not paced by the global
    vrrp_garp_interval (keepalived gives the global default only to interfaces without a group)."""
    a = lab.add_host("a")
    conf = (global_defs("router_id a", "vrrp_garp_interval 1", "vrrp_garp_master_repeat 2",
                        "vrrp_garp_master_delay 0")
            + "garp_group {\n    gna_interval 1\n    interface eth0\n}\n"
            + instance("VI_1", 51, 150, ["192.0.2.100/24", "192.0.2.101/24"]))
    garps = _run_garps(lab, a, impl, conf, ["VI_1"], settle=0.5)
    assert [ip for ip, _ in garps] == ["192.0.2.100", "192.0.2.101"] * 2, f"{IMPLS[impl]}: {garps}"
    assert garps[-1][1] - garps[0][1] < 0.5, f"{IMPLS[impl]}: paced although its group has no garp_interval"


@pytest.mark.parametrize("impl", BOTH)
def test_garp_group_interfaces_are_paced_together(lab: Lab, impl: str) -> None:
    """`interfaces { eth0 eth1 }`: one pacing for both interfaces, so a VIP on eth1 waits for
    the GARP just sent on eth0 (with `interface` lines in two groups it would not)."""
    lab.add_lan()
    a = lab.add_host("a", lans=(0, 1))
    conf = (global_defs("router_id a", "vrrp_garp_master_repeat 2", "vrrp_garp_master_delay 0")
            + f"garp_group {{\n    garp_interval {INTERVAL}\n    interfaces {{\n        eth0\n        eth1\n    }}\n}}\n"
            + instance("VI_1", 51, 150, ["192.0.2.100/24", "198.51.100.100/24 dev eth1"]))
    caps = [lab.capture(0), lab.capture(1)]
    d = start(a, impl, conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    time.sleep(3 * INTERVAL + 0.5)
    garps = sorted(_garps(caps[0].stop(), a.mac("eth0")) + _garps(caps[1].stop(), a.mac("eth1")),
                   key=lambda g: g[1])
    d.stop()
    assert [ip for ip, _ in garps] == ["192.0.2.100", "192.0.2.100", "198.51.100.100"], f"{IMPLS[impl]}: {garps}"
    assert all(g >= INTERVAL - SLACK for g in _gaps(garps)), f"{IMPLS[impl]}: gaps {_gaps(garps)}"

@pytest.mark.parametrize("impl", BOTH)
def test_gna_interval_paces_neighbour_adverts(lab: Lab, impl: str) -> None:
    """gna_interval does for unsolicited NAs what garp_interval does for GARPs; the IPv4 GARPs
    of the same burst are not held back by it."""
    a = lab.add_host("a")
    conf = (global_defs("router_id a", "vrrp_garp_master_repeat 2", "vrrp_garp_master_delay 0")
            + f"garp_group {{\n    gna_interval {INTERVAL}\n    interface eth0\n}}\n"
            + instance("VI_1", 51, 150, ["192.0.2.100/24"],
                       extra="    virtual_ipaddress_excluded {\n        2001:db8:5::1/64\n        2001:db8:5::2/64\n    }\n"))
    cap = lab.capture()
    d = start(a, impl, conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    time.sleep(3 * INTERVAL + 0.5)
    frames = cap.stop()
    d.stop()
    nas = [(f.na.target, f.ts) for f in frames
           if f.na is not None and f.src_mac == a.mac() and f.na.target.startswith("2001:db8:5::")]
    garps = _garps(frames, a.mac())
    assert [ip for ip, _ in nas] == ["2001:db8:5::1", "2001:db8:5::1", "2001:db8:5::2"], f"{IMPLS[impl]}: {nas}"
    assert all(g >= INTERVAL - SLACK for g in _gaps(nas)), f"{IMPLS[impl]}: gaps {_gaps(nas)}"
    assert [ip for ip, _ in garps] == ["192.0.2.100"] * 2 and garps[1][1] - garps[0][1] < INTERVAL / 2, \
        f"{IMPLS[impl]}: {garps}"

STATIC = "10.20.0.1"


def _static_conf(fifo: str) -> str:
    return (global_defs("router_id a", f"notify_fifo {fifo}")
            + "track_group TG {\n    group {\n        VI_1\n    }\n}\n"
            + f"static_ipaddress {{\n    {STATIC}/24 dev eth1 track_group TG\n}}\n"
            + "static_routes {\n    10.30.0.0/16 via 10.20.0.254 dev eth1 track_group TG\n}\n"
            + instance("VI_1", 51, 150, ["192.0.2.100/24"]))


def _from_master(lines: list[str]) -> list[str]:
    """The FIFO from the first MASTER line on (the start, BACKUP first, is not under test)."""
    first = 'INSTANCE "VI_1" MASTER 150'
    return lines[lines.index(first):] if first in lines else lines


def _has_route(h: Host) -> bool:
    return "10.30.0.0/16" in h.run(["ip", "route", "show"]).stdout


@pytest.mark.parametrize("impl", BOTH)
def test_track_group_faults_on_static_interface(lab: Lab, impl: str) -> None:
    """A static address deleted with `ip addr del` is put back and VI_1 stays MASTER; the static
    address's interface going down puts VI_1 (its track_group) in FAULT, and up again brings it
    back to MASTER with the address and route restored."""
    lab.add_lan()
    a = lab.add_host("a", lans=(0, 1))
    sdir = ScriptDir()
    try:
        fifo = sdir.fifo()
        d = start(a, impl, _static_conf(fifo.path))
        fifo.wait_line('INSTANCE "VI_1" MASTER 150', timeout=15)
        wait_until(lambda: (a.has_address(STATIC, "eth1") and _has_route(a)) or None, 5, message="static config")

        a.ip_cmd("addr", "del", f"{STATIC}/24", "dev", "eth1")
        wait_until(lambda: a.has_address(STATIC, "eth1") or None, 5, message="static address not restored")
        time.sleep(0.5)
        assert _from_master(fifo.lines()) == ['INSTANCE "VI_1" MASTER 150'], f"{IMPLS[impl]}: {fifo.lines()}"

        a.set_link(False, "eth1")
        fifo.wait_line('INSTANCE "VI_1" FAULT 150', timeout=5)
        assert not a.has_address("192.0.2.100")
        a.set_link(True, "eth1")
        fifo.wait_line('INSTANCE "VI_1" MASTER 150', count=2, timeout=10)
        wait_until(lambda: (a.has_address(STATIC, "eth1") and _has_route(a)) or None, 5,
                   message=f"{IMPLS[impl]}: static address/route not back after link up")
        assert _from_master(fifo.lines()) == ['INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_1" FAULT 150',
                                              'INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150'], f"{IMPLS[impl]}: {fifo.lines()}"
        d.stop()
    finally:
        sdir.close()
