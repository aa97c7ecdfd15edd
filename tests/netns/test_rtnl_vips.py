"""The hand-packed VIP requests (io/rtnl.py) against pyroute2's (io/netlink.py), in the kernel.

For every kind of VIP the config can describe, the address is added once through pyroute2
(`Netlink.add_vips`, the reference) and once through `AddrRequests`; what the kernel then
holds (`ip -j addr`: prefix, flags, scope, label, broadcast, peer, lifetimes, and the prefix
route) must be the same, and each path's delete must remove the other's address. Refusals
(no such interface, already there, already gone) give the same error texts on both paths.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.wait import wait_until
from pykeepalived.core.params import VipSpec
from pykeepalived.io.netlink import Netlink
from pykeepalived.io.rtnl import AddrRequests, addr_message, parse_acks, vip_error

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

DEV = "d0"
DEV2 = "d1"

VARIANTS = [
    VipSpec("192.0.2.10"),
    VipSpec("192.0.2.11", 24),
    VipSpec("192.0.2.12", 24, brd="+"),
    VipSpec("192.0.2.13", 24, brd="192.0.2.127"),
    VipSpec("192.0.2.14", 24, brd="-"),
    VipSpec("192.0.2.15", 32, scope="link"),
    VipSpec("192.0.2.16", 32, scope="host"),
    VipSpec("192.0.2.17", 32, scope="200"),
    VipSpec("192.0.2.18", 24, label=f"{DEV}:vip"),
    VipSpec("192.0.2.19", 32, peer="198.51.100.19/32"),
    VipSpec("192.0.2.20", 24, peer="198.51.100.0/24"),
    VipSpec("192.0.2.21", 32, preferred_lft="0"),
    VipSpec("192.0.2.22", 32, preferred_lft="forever"),
    VipSpec("192.0.2.23", 32, preferred_lft="3600"),
    VipSpec("192.0.2.24", 24, noprefixroute=True),
    VipSpec("192.0.2.25", 24, brd="+", scope="link", label=f"{DEV}:x", preferred_lft="0"),
    VipSpec("192.0.2.26", 32, home=True),
    VipSpec("192.0.2.27", 32, nodad=True),
    VipSpec("2001:db8::10"),
    VipSpec("2001:db8::11", 64),
    VipSpec("2001:db8::12", 128, preferred_lft="forever"),
    VipSpec("2001:db8::13", 64, preferred_lft="600"),
    VipSpec("2001:db8::14", 64, nodad=True),
    VipSpec("2001:db8::15", 64, home=True),
    VipSpec("2001:db8::16", 64, mngtmpaddr=True),
    VipSpec("2001:db8::17", 64, noprefixroute=True),
    VipSpec("2001:db8::18", 128, peer="2001:db8:1::18/128"),
    VipSpec("2001:db8::19", 64, scope="link"),
    VipSpec("2001:db8::1a", 64, home=True, mngtmpaddr=True, noprefixroute=True, preferred_lft="forever"),
    VipSpec("fe80::10", 64),
]


def ip_json(*args: str) -> Any:
    return json.loads(subprocess.run(["ip", "-j", *args], check=True, capture_output=True, text=True).stdout or "[]")


def kernel_addr(vip: VipSpec) -> dict[str, Any] | None:
    """The kernel's view of `vip` on DEV, with the lifetimes' countdown rounded away."""
    for link in ip_json("addr", "show", "dev", DEV):
        for a in link.get("addr_info", []):
            if a.get("local") == vip.address:
                a = dict(a)
                for k in ("valid_life_time", "preferred_life_time"):
                    if isinstance(a.get(k), int) and a[k] < 0xFFFFFFFF:
                        a[k] = round(a[k] / 10)       # a few seconds may pass between the two adds
                return a
    return None


def prefix_routes() -> list[dict[str, Any]]:
    routes = ip_json("route", "show", "table", "all", "dev", DEV) + ip_json("-6", "route", "show", "table", "all",
                                                                            "dev", DEV)
    for r in routes:
        r.pop("expires", None)
    return sorted(routes, key=json.dumps)


def ipv6_settled() -> bool | None:
    for dev in (DEV, DEV2):
        local = ip_json("-6", "route", "show", "table", "local", "dev", dev)
        if not any(r.get("dst") == "ff00::/8" for r in local) or not any(r.get("dst", "").startswith("fe80:")
                                                                         for r in local):
            return None
    addrs = [a for link in ip_json("addr") for a in link.get("addr_info", [])]
    return not any(a.get("tentative") for a in addrs) or None


def settled(vip: VipSpec) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The VIP and routes once they stop changing: IPv6 finishes an address (its local
    route) in a kernel work item after the request."""
    last = None
    for _ in range(50):
        now = (kernel_addr(vip), prefix_routes())
        if now == last:
            return now
        last = now
        time.sleep(0.1)
    raise AssertionError(f"the kernel's addresses and routes kept changing: {last}")



class Side:
    """Netlink (pyroute2 on its thread) and AddrRequests on a loop thread of their own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.nl = Netlink(self.loop)
        self.nl.start()
        self.addrs = AddrRequests(self.loop)
        self.call(self.addrs.open)
        self.index = {n: socket.if_nametoindex(n) for n in (DEV, DEV2)}

    def call(self, fn: Any, *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def pyroute2(self, command: str, vip: VipSpec, index: int | None = None) -> list[str]:
        pairs = [(self.index[DEV] if index is None else index, vip)]
        coro = self.nl.add_vips(pairs) if command == "add" else self.nl.remove_vips(pairs)
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def packed(self, command: str, vip: VipSpec, index: int | None = None) -> list[str]:
        """Send the packed request; the error texts as the runtime logs them (refusals it
        ignores give none)."""
        done = threading.Event()
        errors: list[str] = []

        def ack(code: int, text: str) -> None:
            err = vip_error(command, vip, code, text)
            if err is not None:
                errors.append(err)
            done.set()

        msg = self.addrs.message(command, self.index[DEV] if index is None else index, vip)
        self.call(self.addrs.send, [(msg, ack)])
        assert done.wait(10), "no ACK"
        return errors

    def close(self) -> None:
        self.call(self.addrs.close)
        self.nl.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def side(private_netns: None) -> Iterator[Side]:
    subprocess.run(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"], check=True)   # no wait for DAD
    for dev in (DEV, DEV2):     # veth: this kernel has no dummy driver
        subprocess.run(["ip", "link", "add", dev, "type", "veth", "peer", "name", f"{dev}p"], check=True)
        for name in (dev, f"{dev}p"):
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
    # IPv6 sets the interfaces up in the background (link-locals, ff00::/8): let it finish,
    # or its routes would appear between the two paths' snapshots
    wait_until(ipv6_settled, 10, message="IPv6 settled on the test interfaces")
    s = Side()
    try:
        yield s
    finally:
        s.close()


@pytest.mark.parametrize("vip", VARIANTS, ids=lambda v: "-".join(
    str(x) for x in (v.address, v.prefixlen, v.brd, v.scope, v.label, v.peer, v.preferred_lft,
                     "home" if v.home else None, "nodad" if v.nodad else None, "mngt" if v.mngtmpaddr else None,
                     "nopr" if v.noprefixroute else None) if x is not None))
def test_packed_request_gives_the_kernel_the_same_address(side: Side, vip: VipSpec) -> None:
    base_routes = prefix_routes()
    assert side.pyroute2("add", vip) == []
    reference, reference_routes = settled(vip)
    assert reference is not None, "pyroute2 did not add it"
    assert side.packed("del", vip) == []           # the packed delete removes pyroute2's address
    assert kernel_addr(vip) is None
    wait_until(lambda: prefix_routes() == base_routes or None, 5, message="routes back to the start")
    assert side.packed("add", vip) == []
    assert kernel_addr(vip) == reference
    wait_until(lambda: prefix_routes() == reference_routes or None, 5,
               message=f"the same routes as pyroute2's: {reference_routes}")
    assert side.packed("add", vip) == []           # already there: fine, as on the pyroute2 path
    assert side.pyroute2("del", vip) == []          # and pyroute2's delete removes the packed one
    assert kernel_addr(vip) is None
    assert side.packed("del", vip) == []           # already gone: fine


def test_refusals_give_the_same_texts(side: Side) -> None:
    vip = VipSpec("192.0.2.50", 24)
    gone = side.index[DEV2]
    subprocess.run(["ip", "link", "del", DEV2], check=True)
    ref = side.pyroute2("add", vip, gone)
    assert ref and "No such device" in ref[0] or "(19," in ref[0], ref
    assert side.packed("add", vip, gone) == ref
    assert side.pyroute2("del", vip, gone) == side.packed("del", vip, gone) == []
    bad = VipSpec("192.0.2.51", 24, scope="nosuchscope")
    with pytest.raises(ValueError, match="unknown scope"):
        addr_message("add", side.index[DEV], bad)


def test_several_requests_in_one_send_each_acked(side: Side) -> None:
    vips = [VipSpec(f"192.0.2.{60 + i}", 32) for i in range(5)]
    results: list[tuple[str, int]] = []
    done = threading.Event()

    def ack_for(v: VipSpec) -> Any:
        def ack(code: int, text: str) -> None:
            results.append((v.address, code))
            if len(results) == len(vips) + 1:
                done.set()
        return ack

    index = side.index[DEV]
    requests = [(side.addrs.message("add", index, v), ack_for(v)) for v in vips]
    requests.insert(2, (side.addrs.message("add", side.index[DEV] + 1000, vips[0]), ack_for(VipSpec("0.0.0.0"))))
    side.call(side.addrs.send, requests)
    assert done.wait(10)
    assert sorted(results) == sorted([(v.address, 0) for v in vips] + [("0.0.0.0", 19)])
    assert all(kernel_addr(v) is not None for v in vips)


def test_parse_acks_full_echo_and_extended_text() -> None:
    # an ACK without NETLINK_CAP_ACK echoes the whole request; the text TLV follows it
    req = addr_message("add", 7, VipSpec("192.0.2.1", 24))
    text = b"Some kernel text\0"
    tlv = (4 + len(text)).to_bytes(2, "little") + (1).to_bytes(2, "little") + text + b"\0" * (-len(text) % 4)
    body = (-17).to_bytes(4, "little", signed=True) + req + tlv
    hdr = (16 + len(body)).to_bytes(4, "little") + (2).to_bytes(2, "little") + (0x200).to_bytes(2, "little") \
        + (42).to_bytes(4, "little") + (0).to_bytes(4, "little")
    ok = (36).to_bytes(4, "little") + (2).to_bytes(2, "little") + (0x100).to_bytes(2, "little") \
        + (43).to_bytes(4, "little") + bytes(4) + bytes(4) + req[:16]
    assert parse_acks(hdr + body + ok) == [(42, 17, "Some kernel text"), (43, 0, "")]


def test_monitor_filter_drops_only_new_addresses(private_netns: None) -> None:
    """The monitor's socket filter: no RTM_NEWADDR (a takeover's VIPs would wake the netlink
    thread into the loop's GIL), but links and deletions still come."""
    import select

    from pykeepalived.io.netlink import drop_new_addresses

    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        s.bind((0, 0x1 | 0x10 | 0x100))        # links, IPv4 and IPv6 addresses
        drop_new_addresses(s)
        subprocess.run(["ip", "link", "add", DEV, "type", "veth", "peer", "name", f"{DEV}p"], check=True)
        subprocess.run(["ip", "addr", "add", "192.0.2.1/24", "dev", DEV], check=True)
        subprocess.run(["ip", "addr", "add", "2001:db8::1/64", "dev", DEV, "nodad"], check=True)
        subprocess.run(["ip", "addr", "del", "192.0.2.1/24", "dev", DEV], check=True)
        kinds = []
        while select.select([s], [], [], 0.5)[0]:
            data = s.recv(65536)
            kinds.append(int.from_bytes(data[4:6], "little"))
    assert 20 not in kinds and 21 in kinds and 16 in kinds, kinds
