"""use_vmac_addr: VIPs on other interfaces, or of the other family, get VMACs of their own
(and so does a VIP with its own `use_vmac` option).

keepalived 2.2.7 (observed): one private macvlan per (interface, family) of the VIPs and eVIPs
other than the instance's own, with MAC 00:00:5e:00:01:VRID (IPv6 :02:), named
vmac_addr_prefix + ".VRID" if free, for IPv6 then + "6.VRID", else + "N.VRID" (lowest free N).
Both daemons run the same configurations; the macvlans they make must be the same, a client
on the other LAN must see the VIP at the virtual MAC, and stop removes them all.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from prod import IMPLS, global_defs

from harness.daemon import VrrpDaemon
from harness.lab import Lab
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.timeout(180)]

VIPS = {
    # instance on eth1 with use_vmac: VIPs on eth0, IPv6 eVIPs on all three, IPv4 on eth2
    "use_vmac": ("eth1", "use_vmac\n    use_vmac_addr\n", "",
                 ["198.51.100.100/24", "192.0.2.100/24 dev eth0", "192.0.2.101/24 dev eth0"],
                 ["2001:db8::100/64 dev eth0", "2001:db8:1::100/64", "203.0.113.5/24 dev eth2",
                  "2001:db8:2::100/64 dev eth2"]),
    # own prefix; IPv6 first, so it gets the plain name
    "prefix": ("eth0", "use_vmac\n    use_vmac_addr\n", "vmac_prefix vm\n    vmac_addr_prefix va",
               ["192.0.2.100/24"],
               ["2001:db8:1::100/64 dev eth1", "2001:db8:2::100/64 dev eth2", "198.51.100.100/24 dev eth1",
                "203.0.113.5/24 dev eth2"]),
    # without use_vmac: the instance's own VIPs stay on eth0
    "alone": ("eth0", "use_vmac_addr\n", "",
              ["192.0.2.100/24", "198.51.100.100/24 dev eth1"], ["2001:db8::100/64"]),
    # neither: only VIPs with their own use_vmac option get one (also on the instance's interface)
    "per_vip": ("eth0", "", "",
                ["192.0.2.100/24 use_vmac", "198.51.100.100/24 dev eth1 use_vmac", "198.51.100.101/24 dev eth1"],
                ["2001:db8::100/64 use_vmac", "203.0.113.5/24 dev eth2"]),
}


def _conf(case: str) -> str:
    iface, opts, gd, vips, evips = VIPS[case]
    nl = "\n        "
    return (global_defs("router_id a", *([gd] if gd else []))
            + f"vrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id 51\n"
              f"    priority 150\n    advert_int 1\n    {opts}"
              f"    virtual_ipaddress {{\n        {nl.join(vips)}\n    }}\n"
              f"    virtual_ipaddress_excluded {{\n        {nl.join(evips)}\n    }}\n}}\n")


Layout = dict[str, tuple[str, str, str, list[str]]]


def _macvlans(links: list[dict[str, Any]], addrs: list[dict[str, Any]]) -> Layout:
    """name -> (MAC, parent, mode, global addresses) of every macvlan."""
    by_index = {link["ifindex"]: link["ifname"] for link in links}
    on = {a["ifname"]: sorted(f"{i['local']}/{i['prefixlen']}" for i in a.get("addr_info", [])
                              if not i["local"].startswith("fe80:")) for a in addrs}
    return {link["ifname"]: (link["address"], by_index.get(link.get("link_index"), link.get("link", "")),
                             link["linkinfo"]["info_data"]["mode"], on.get(link["ifname"], []))
            for link in links if link.get("linkinfo", {}).get("info_kind") == "macvlan"}


def _run(impl: str, case: str) -> tuple[Layout, str]:
    """The macvlans while MASTER and the MAC a client on LAN 1 sees for the VIP there."""
    with Lab() as lab:
        lab.add_lan()
        lab.add_lan()
        a = lab.add_host("a", lans=(0, 1, 2))
        c = lab.add_host("c", lans=(1,))
        a.run("echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce")
        d = VrrpDaemon(a, _conf(case), implementation=IMPLS[impl]).start()
        d.wait_state("VI_1", "MASTER", timeout=15)
        vip = "198.51.100.100"

        def layout() -> Layout:
            links = json.loads(a.run(["ip", "-d", "-j", "link", "show"]).stdout)
            return _macvlans(links, json.loads(a.run(["ip", "-j", "addr", "show"]).stdout))

        found = wait_until(lambda: (lay := layout()) and any(f"{vip}/24" in v[3] for v in lay.values()) and lay,
                           10, message=f"{impl}: VIP {vip} not on a macvlan")
        mac = wait_until(lambda: (c.ping(vip, timeout=1) and c.neigh(vip)) or None, 5, message="client ARP entry")
        d.stop()
        wait_until(lambda: not layout() or None, 10, message=f"{impl}: macvlans left after stop")
        return found, mac


@pytest.mark.parametrize("case", list(VIPS))
def test_use_vmac_addr_same_vmacs_as_keepalived(case: str) -> None:
    theirs = _run("ka", case)
    ours = _run("py", case)
    assert ours[0] == theirs[0], f"pykeepalived:\n{ours[0]}\nkeepalived 2.2.7:\n{theirs[0]}"
    assert ours[1] == theirs[1] == "00:00:5e:00:01:33"
