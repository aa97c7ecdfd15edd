"""use_vmac across SIGHUP: an instance added by a reload gets its macvlan (MAC, mode, VIP on it,
client ARP entry on the virtual MAC), one removed by a reload takes its macvlan with it, and an
unchanged instance's VMAC is left alone (same ifindex).  keepalived 2.2.7 runs the same steps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prod import IMPLS, count, global_defs, instance

from harness.daemon import VrrpDaemon
from harness.lab import Host, Lab
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]


def _link(h: Host, name: str) -> dict[str, Any] | None:
    r = h.run(["ip", "-d", "-j", "link", "show", "dev", name], check=False)
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def _conf(*instances: str) -> str:
    return global_defs("router_id a") + "".join(instances)


VI_1 = instance("VI_1", 51, 150, ["192.0.2.100/24"], extra="    use_vmac\n")
VI_2 = instance("VI_2", 52, 150, ["192.0.2.102/24"], extra="    use_vmac\n")


@pytest.mark.parametrize("impl", ["py", pytest.param("ka", marks=pytest.mark.interop)])
def test_reload_adds_and_removes_vmacs(lab: Lab, impl: str) -> None:
    a, c = lab.add_hosts("a", "c")
    a.run("echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce")
    d = VrrpDaemon(a, _conf(VI_1), implementation=IMPLS[impl]).start()
    d.wait_state("VI_1", "MASTER", timeout=15)
    first = _link(a, "vrrp.51")
    assert first is not None and _link(a, "vrrp.52") is None

    d.conf_path.write_text(_conf(VI_1, VI_2))       # add VI_2 with use_vmac
    d.reload()
    d.wait_state("VI_2", "MASTER", timeout=15)
    vmac = wait_until(lambda: _link(a, "vrrp.52"), 5, message="vrrp.52 not created on reload")
    assert vmac["address"] == "00:00:5e:00:01:34"
    assert vmac["linkinfo"]["info_kind"] == "macvlan"
    assert vmac["linkinfo"]["info_data"]["mode"] == "private"
    assert a.has_address("192.0.2.102", "vrrp.52")
    wait_until(lambda: (c.ping("192.0.2.102", timeout=1) and c.neigh("192.0.2.102") == "00:00:5e:00:01:34") or None,
               5, message="client ARP entry for the new VIP is not the virtual MAC")
    kept = _link(a, "vrrp.51")
    assert kept is not None and kept["ifindex"] == first["ifindex"], "the unchanged instance's VMAC was recreated"

    d.conf_path.write_text(_conf(VI_2))             # remove VI_1: its VMAC goes
    d.reload()
    wait_until(lambda: _link(a, "vrrp.51") is None or None, 10, message="vrrp.51 left after VI_1 was removed")
    assert not a.has_address("192.0.2.100", "eth0")
    assert _link(a, "vrrp.52") is not None and a.has_address("192.0.2.102", "vrrp.52")
    assert count(d, "Traceback") == 0 and count(d, r"(?i)error") == 0, d.log()

    d.stop()
    wait_until(lambda: _link(a, "vrrp.52") is None or None, 10, message="vrrp.52 left after stop")
