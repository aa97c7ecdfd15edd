"""use_vmac: the client's ARP entry for the VIP stays the virtual MAC across a failover, in
mixed pairs with keepalived 2.2.7; the interface, its sysctls and the IGMP map match
keepalived's; the VMAC is removed at stop."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from prod import global_defs, instance, start, wait_count

from harness.lab import Host, Lab
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

VIP = "192.0.2.100"
VMAC = "00:00:5e:00:01:33"          # VRID 51


def _prepare(h: Host) -> None:
    """The usual VMAC host setup (Appendix B): answer ARP only on the interface holding the address."""
    h.run("echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce")


def _conf(name: str, priority: int) -> str:
    return global_defs(f"router_id {name}") + instance("VI_1", 51, priority, [f"{VIP}/24"],
                                                        extra="    use_vmac\n")


def _vmac(h: Host) -> dict[str, Any] | None:
    r = h.run(["ip", "-d", "-j", "link", "show", "dev", "vrrp.51"], check=False)
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def _sysctls(h: Host) -> dict[str, str]:
    keys = [("eth0", "arp_ignore"), ("eth0", "arp_filter"), ("vrrp.51", "arp_ignore"),
            ("vrrp.51", "accept_local"), ("vrrp.51", "promote_secondaries"), ("vrrp.51", "rp_filter")]
    return {f"{i}/{k}": h.run(["cat", f"/proc/sys/net/ipv4/conf/{i}/{k}"]).stdout.strip() for i, k in keys}


def _reachable(c: Host) -> None:
    # The old master's last advert may leave the bridge pointing at it until the new master's
    # next advert (both send from the same virtual MAC): at most one advert interval.
    wait_until(lambda: c.ping(VIP, timeout=1) or None, 4, message="VIP unreachable after the failover")


def _client_mac(c: Host) -> str | None:
    c.ping(VIP, timeout=1)
    return c.neigh(VIP)


@pytest.mark.parametrize("hi, lo", [("py", "ka"), ("ka", "py")])
def test_arp_entry_stays_virtual_mac_across_failover(lab: Lab, hi: str, lo: str) -> None:
    if "ka" in (hi, lo):
        pytest.importorskip("harness").keepalived_path() or pytest.skip("needs keepalived 2.2.7")
    a, b, c = lab.add_hosts("a", "b", "c")
    for h in (a, b):
        _prepare(h)
    da = start(a, hi, _conf("a", 150))
    da.wait_state("VI_1", "MASTER", timeout=15)
    db = start(b, lo, _conf("b", 100))
    db.wait_state("VI_1", "BACKUP", timeout=10)
    assert wait_until(lambda: _client_mac(c) == VMAC or None, 5, message="client ARP entry")
    assert c.ping(VIP)

    da.stop()
    db.wait_state("VI_1", "MASTER", timeout=10)
    _reachable(c)
    assert c.neigh(VIP) == VMAC
    assert b.has_address(VIP, "vrrp.51")

    da = start(a, hi, _conf("a", 150))          # back to a (preempt): still the same MAC
    wait_count(da, r"\(VI_1\) Entering MASTER STATE", 1, timeout=15)
    wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=5)
    _reachable(c)
    assert c.neigh(VIP) == VMAC
    assert a.has_address(VIP, "vrrp.51") and not b.has_address(VIP, "vrrp.51")


@pytest.mark.interop
def test_vmac_interface_same_as_keepalived(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    seen = {}
    for host, impl in ((a, "py"), (b, "ka")):
        d = start(host, impl, _conf(host.name, 150).replace("virtual_router_id 51", "virtual_router_id 51"))
        d.wait_state("VI_1", "MASTER", timeout=15)
        link = _vmac(host)
        assert link is not None
        info = link["linkinfo"]
        nft = host.run(["nft", "list", "map", "ip", "keepalived", "vmac_map"], check=False).stdout
        seen[impl] = (link["address"], info["info_kind"], info["info_data"]["mode"], link.get("link"),
                      "UP" in link["flags"], _sysctls(host), '"vrrp.51" : "eth0"' in nft,
                      host.has_address(VIP, "vrrp.51"))
        d.stop()
        assert _vmac(host) is None, f"{impl} left vrrp.51 behind"
    assert seen["py"] == seen["ka"]
    assert seen["py"][:3] == (VMAC, "macvlan", "private")


@pytest.mark.parametrize("xmit_base", [False, True])
@pytest.mark.parametrize("impl", ["py", pytest.param("ka", marks=pytest.mark.interop)])
def test_advert_source_mac(lab: Lab, impl: str, xmit_base: bool) -> None:
    """Adverts come from the virtual MAC, or from the base interface's MAC with vmac_xmit_base;
    the VIP and its gratuitous ARPs are on the VMAC either way."""
    a, c = lab.add_hosts("a", "c")
    _prepare(a)
    extra = "    use_vmac\n" + ("    vmac_xmit_base\n" if xmit_base else "")
    conf = global_defs("router_id a") + instance("VI_1", 51, 150, [f"{VIP}/24"], extra=extra)
    cap = lab.capture()
    d = start(a, impl, conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    wait_until(lambda: a.has_address(VIP, "vrrp.51") or None, 3, message="VIP on vrrp.51")
    time.sleep(1.5)
    frames = cap.stop()
    adverts = {f.src_mac for f in frames if f.vrrp is not None}
    garps = {f.src_mac for f in frames if f.ethertype == 0x0806}
    assert adverts == {a.mac() if xmit_base else VMAC}
    assert garps == {VMAC}
    assert _client_mac(c) == VMAC
    d.stop()


VIP6 = "2001:db8::100"
VMAC6 = "00:00:5e:00:02:34"         # VRID 52, IPv6


def _conf6(name: str, priority: int) -> str:
    return global_defs(f"router_id {name}") + instance("VI_6", 52, priority, ["fe80::100/64", f"{VIP6}/64"],
                                                        extra="    use_vmac\n")


def _v6_state(h: Host) -> tuple[object, ...]:
    addrs = json.loads(h.run(["ip", "-6", "-j", "addr", "show", "dev", "vrrp.52"]).stdout)[0]["addr_info"]
    # the base interface's own link-local, copied and deprecated
    ll = sorted((a["local"] == h.link_local(), a.get("preferred_life_time")) for a in addrs
                if a["local"].startswith("fe80:") and a["local"] != "fe80::100")
    nft = h.run(["nft", "list", "table", "ip6", "keepalived"], check=False).stdout
    rules = sorted(line.strip() for line in nft.splitlines() if "macvlan" in line or "elements" in line)
    link = _vmac6(h)
    return link["address"], link["linkinfo"]["info_data"]["mode"], ll, rules


def _vmac6(h: Host) -> dict[str, Any]:
    return dict(json.loads(h.run(["ip", "-d", "-j", "link", "show", "dev", "vrrp.52"]).stdout)[0])


@pytest.mark.interop
def test_ipv6_vmac_failover_and_same_as_keepalived(lab: Lab) -> None:
    a, b, c = lab.add_hosts("a", "b", "c")
    da = start(a, "py", _conf6("a", 150))
    da.wait_state("VI_6", "MASTER", timeout=15)
    db = start(b, "ka", _conf6("b", 100))
    db.wait_state("VI_6", "BACKUP", timeout=10)
    wait_until(lambda: c.ping(VIP6, timeout=1) or None, 5, message="VIP6 reachable")
    assert c.neigh(VIP6) == VMAC6
    ours, theirs = _v6_state(a), _v6_state(b)
    assert ours[0] == theirs[0] == VMAC6
    assert ours[1:] == theirs[1:], f"pykeepalived {ours} keepalived {theirs}"
    assert ours[2] == [(True, 0)]

    da.stop()
    db.wait_state("VI_6", "MASTER", timeout=10)
    wait_until(lambda: c.ping(VIP6, timeout=1) or None, 5, message="VIP6 reachable after failover")
    assert c.neigh(VIP6) == VMAC6
    assert a.run(["ip", "link", "show", "vrrp.52"], check=False).returncode != 0, "VMAC left behind"
