"""pykeepalived's adverts are the same bytes keepalived 2.2.7 sends for the same configuration.

The same config runs on the same host, first under keepalived, then under pykeepalived, each
captured on the LAN: the VRRP messages must be identical byte for byte (so checksums match),
and so must every IP header field except the ID (a per-instance counter from 1 in both) and
the header checksum; the priority-0 advert at stop too.
"""

from __future__ import annotations

import struct
import time

import pytest
from vrrp_pair import CELLS, VRID, adverts, source_of, start

from harness.lab import Lab
from harness.pcap import Frame

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.timeout(60)]


def _run(lab: Lab, impl: str, config: str, src: str, count: int,
         interval: float) -> tuple[list[Frame], list[bytes]]:
    """The daemon's adverts, and its gratuitous ARP / unsolicited NA frames (raw)."""
    a = lab.hosts["a"]
    cap = lab.capture(name=f"wire-{impl}")
    d = start(a, impl, config)
    d.wait_state("VI_1", "MASTER", timeout=10)
    time.sleep(count * interval + 0.05)
    d.stop()
    time.sleep(0.1)
    frames = cap.stop()
    mac = a.mac()
    l2 = [f.raw for f in frames if f.src_mac == mac and (
        (f.arp is not None and f.arp.sender_ip == f.arp.target_ip)      # gratuitous, not a lookup
        or (f.na is not None and not f.na.solicited))]
    return adverts(frames, src), l2


def _header_fields(f: Frame) -> tuple[object, ...]:
    ip = f.raw[14:]
    if f.family == 4:
        ver_ihl, tos, total, _ident, frag, ttl, proto = struct.unpack_from("!BBHHHBB", ip)
        return f.dst_mac, ver_ihl, tos, total, frag, ttl, proto, ip[12:20]
    return f.dst_mac, ip[:8], ip[8:40]   # version, traffic class, flow label, length, next header, hops; addresses


def _ids(frames: list[Frame]) -> list[int]:
    return [struct.unpack_from("!H", f.raw, 14 + 4)[0] for f in frames]


@pytest.mark.parametrize("cell_name", list(CELLS))
def test_adverts_identical_to_keepalived(lab: Lab, cell_name: str) -> None:
    cell = CELLS[cell_name]
    a, b = lab.add_hosts("a", "b")
    config = cell.config(a, b, 255)      # the address owner: master at once
    src = source_of(a, cell)
    count = 3 if cell.version == 2 else 5
    got = {impl: _run(lab, impl, config, src, count, cell.advert_int) for impl in ("ka", "py")}
    (ka, ka_l2), (py, py_l2) = got["ka"], got["py"]
    # gratuitous ARPs / unsolicited NAs: same frames, same number (garp_master_repeat per VIP)
    assert ka_l2, "keepalived sent no GARP/NA"
    assert sorted(py_l2) == sorted(ka_l2), \
        f"GARP/NA differ:\n keepalived   {[f.hex() for f in ka_l2[:2]]}\n pykeepalived {[f.hex() for f in py_l2[:2]]}"
    assert len(ka) >= count and len(py) >= count, f"too few adverts: keepalived {len(ka)}, pykeepalived {len(py)}"
    ka_live = [f for f in ka if f.vrrp.priority == 255]   # type: ignore[union-attr]
    py_live = [f for f in py if f.vrrp.priority == 255]   # type: ignore[union-attr]
    assert py_live[0].payload == ka_live[0].payload, \
        f"VRRP message differs:\n keepalived   {ka_live[0].payload.hex()}\n pykeepalived {py_live[0].payload.hex()}"
    assert {f.payload for f in py_live} == {py_live[0].payload}
    assert _header_fields(py_live[0]) == _header_fields(ka_live[0])
    assert py[0].vrrp.vrid == VRID   # type: ignore[union-attr]
    if cell.family == 4:
        ids = _ids(py)
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"IP IDs not consecutive: {ids}"
        assert ids[0] == _ids(ka)[0] == 1
    ka_zero = [f for f in ka if f.vrrp.priority == 0]     # type: ignore[union-attr]
    py_zero = [f for f in py if f.vrrp.priority == 0]     # type: ignore[union-attr]
    assert len(py_zero) == len(ka_zero) == 1
    assert py_zero[0].payload == ka_zero[0].payload


VIP_OPTIONS_CONF = """
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 255
    advert_int 0.1
    version 3
    virtual_ipaddress {
        192.0.2.100/24 brd 192.0.2.255 dev eth0 scope global label eth0:vip
        192.0.2.101/32 scope link
        198.18.0.1/24 brd + label eth0:two
    }
    virtual_ipaddress_excluded {
        2001:db8::100/128
        2001:db8::101/64 preferred_lft forever
        2001:db8::102/64 nodad noprefixroute
    }
}
"""
VIPS = ("192.0.2.100", "192.0.2.101", "198.18.0.1", "2001:db8::100", "2001:db8::101", "2001:db8::102")
FIELDS = ("prefixlen", "broadcast", "scope", "label", "preferred_life_time", "valid_life_time", "nodad",
          "noprefixroute", "dynamic", "deprecated")


def _vip_table(lab: Lab, impl: str) -> dict[str, dict[str, object]]:
    import json

    a = lab.hosts["a"]
    d = start(a, impl, VIP_OPTIONS_CONF)
    d.wait_state("VI_1", "MASTER", timeout=10)
    time.sleep(0.5)
    info = json.loads(a.run(["ip", "-j", "addr", "show", "dev", "eth0"]).stdout)[0]["addr_info"]
    d.stop()
    return {x["local"]: {k: x.get(k) for k in FIELDS} for x in info if x["local"] in VIPS}


def test_vip_options_as_keepalived_sets_them(lab: Lab) -> None:
    """brd, brd +, scope, label, /128 deprecated unless preferred_lft forever, nodad,
    noprefixroute: the kernel ends up with the same addresses under both daemons."""
    lab.add_hosts("a")
    ka = _vip_table(lab, "ka")
    py = _vip_table(lab, "py")
    assert set(ka) == set(VIPS), f"keepalived installed {sorted(ka)}"
    assert py == ka
    assert not lab.hosts["a"].has_address("192.0.2.100")   # both removed them at stop
