"""The VRRP snapshot built from real VirtualRouters driven through an election."""

from __future__ import annotations

import json
import socket

import pytest

from pykeepalived.core.events import DeadlineReached, Startup
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.core.vrrp import VirtualRouter
from pykeepalived.status.metrics import render_metrics
from pykeepalived.status.snapshot import histogram, vrrp_snapshot


def elected_router() -> VirtualRouter:
    r = VirtualRouter(RouterParams(name="VI_1", vrid=51, priority=110, interface="veth0",
                                   source_address="192.0.2.1", vips=(VipSpec(address="192.0.2.100", prefixlen=24),)))
    now = 100.0
    r.handle(Startup(), now)
    deadline = r.deadline()
    assert deadline is not None
    r.handle(DeadlineReached(), deadline)
    return r


def test_instance_fields_follow_the_router() -> None:
    r = elected_router()
    snap = json.loads(json.dumps(vrrp_snapshot([r])))
    inst = snap["instances"][0]
    assert inst["name"] == "VI_1" and inst["state"] == "MASTER" and inst["state_code"] == 2
    assert inst["vips"] == ["192.0.2.100/24"] and inst["vips_present"] is True
    assert inst["effective_priority"] == 110 and inst["vrid"] == 51 and inst["advert_interval"] == 1.0
    assert inst["stats"]["become_master"] == 1 == r.stats.become_master
    assert inst["last_transition"] > 1e9  # wall clock, not the loop's monotonic clock


def test_metrics_from_a_real_router() -> None:
    r = elected_router()
    text = render_metrics({"daemon": {}, "children": {"vrrp": vrrp_snapshot([r])}}).decode()
    assert 'keepalived_become_master_total{iname="VI_1",intf="veth0",vrid="51"} 1.0' in text
    assert 'keepalived_vrrp_state{iname="VI_1",intf="veth0",ip_address="192.0.2.100/24",vrid="51"} 2.0' in text


def test_histogram_is_cumulative() -> None:
    h = histogram([0.05, 0.3, 3.0], (0.1, 1.0))
    assert h["buckets"] == [[0.1, 1], [1.0, 2], ["+Inf", 3]] and h["count"] == 3


def test_takeover_time_and_transition_history() -> None:
    from pykeepalived._fastpath import codec  # type: ignore[attr-defined]

    from pykeepalived.core.events import AdvertReceived

    r = VirtualRouter(RouterParams(name="VI_1", vrid=51, priority=100, interface="veth0",
                                   source_address="192.0.2.2", vips=(VipSpec(address="192.0.2.100", prefixlen=24),)))
    r.handle(Startup(), 0.0)
    vip = bytes([192, 0, 2, 100])
    raw = codec.encode_advert(version=2, vrid=51, priority=150, adver_int=1, addresses=(vip,), family=socket.AF_INET)
    adv, _ = codec.decode_advert(raw, socket.AF_INET, bytes([192, 0, 2, 1]), bytes([224, 0, 0, 18]))
    r.handle(AdvertReceived(adv, bytes([192, 0, 2, 1]), bytes([224, 0, 0, 18])), 1.0)
    deadline = r.deadline()
    assert deadline is not None
    r.handle(DeadlineReached(), deadline)
    assert list(r.takeover_times) == [pytest.approx(3 + 156 / 256)]
    inst = vrrp_snapshot([r])["instances"][0]
    assert [(t["from"], t["to"]) for t in inst["transitions"]] == [("INIT", "BACKUP"), ("BACKUP", "MASTER")]
    assert vrrp_snapshot([r])["takeovers"]["count"] == 1


def test_metrics_survive_names_with_non_utf8_bytes() -> None:
    """The loader keeps a Latin-1 byte in a name as a surrogate (surrogateescape); /metrics
    raised UnicodeEncodeError (answered 500) for the whole page. Found by fuzz/fuzz_http.py."""
    from prometheus_client.parser import text_string_to_metric_families

    from pykeepalived.status.metrics import render_metrics

    name = b"VI_\xe9".decode("utf-8", "surrogateescape")
    snap = {"daemon": {}, "children": {"vrrp": {
        "instances": [{"name": name, "interface": "eth0", "vrid": 1, "state_code": 2, "vips": ["192.0.2.1/32"]}],
        "trackers": {"scripts": [{"name": "chk_\udcff", "status": "GOOD"}]}}}}
    fams = {f.name: f for f in text_string_to_metric_families(render_metrics(snap).decode())}
    assert fams["keepalived_vrrp_state"].samples[0].labels["iname"] == "VI_\\xe9"
    assert fams["keepalived_script_status"].samples[0].labels["name"] == "chk_\\xff"


def test_ipvs_counters_are_read_from_stats64_or_stats() -> None:
    """IPVS_SVC_ATTR_STATS64 (all u64) is preferred; IPVS_SVC_ATTR_STATS mixes u32 (conns,
    packets, rates) and u64 (bytes). The kernel nests them as attributes 10 / 12."""
    import struct

    from pykeepalived.lvs.ipvs import STATS_FIELDS, parse_nlas, stats_from_nlas

    def nla(kind: int, payload: bytes) -> bytes:
        length = 4 + len(payload)
        return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)

    values = [3, 30, 20, 3000, 9000, 1, 2, 3, 400, 500]
    stats64 = b"".join(nla(i + 1, struct.pack("=Q", v)) for i, v in enumerate(values))
    stats32 = b"".join(nla(i + 1, struct.pack("=Q" if name.endswith("bytes") else "=I", v))
                       for i, (name, v) in enumerate(zip(STATS_FIELDS, values, strict=True)))
    want = dict(zip(STATS_FIELDS, values, strict=True))
    assert stats_from_nlas(parse_nlas(nla(1, b"\2\0") + nla(0x8000 | 12, stats64))) == want
    assert stats_from_nlas(parse_nlas(nla(0x8000 | 10, stats32))) == want
    assert stats_from_nlas(parse_nlas(nla(1, b"\2\0"))) == {}


def test_kernel_rows_become_gen2brain_labels() -> None:
    from pykeepalived.core.lvs import DestKey, ServiceKey
    from pykeepalived.status.snapshot import kernel_lvs_snapshot

    rows = [(ServiceKey(2, 6, "192.0.2.200", 80), {"conns": 1}, [(DestKey("198.51.100.11", 8080), {"conns": 1})]),
            (ServiceKey(10, 17, "2001:db8::1", 53), {}, []), (ServiceKey(2, 0, "", 0, 7), {}, [])]
    snap = kernel_lvs_snapshot(rows)
    assert [(s["addr"], s["proto"]) for s in snap] == [("192.0.2.200:80", 6), ("2001:db8::1:53", 17), ("fwmark:7", 0)]
    assert snap[0]["dests"] == [{"addr": "198.51.100.11:8080", "stats": {"conns": 1}}]


def test_checker_snapshot_carries_kernel_counters_or_says_why_not() -> None:
    """The checker child's channel answer: with a backend that reads counters (IPVS) the rows
    come from the backend's thread (BackendThread.call) under 'kernel'; with one that cannot
    (nftables) 'kernel_counters' says so and /metrics has no keepalived_lvs_* series."""
    import asyncio
    from types import SimpleNamespace
    from typing import Any

    from pykeepalived.checker.process import checkers_snapshot_with_counters
    from pykeepalived.core.lvs import DestKey, Service, ServiceAttrs, ServiceKey, Table

    key = ServiceKey(2, 6, "192.0.2.200", 80)
    rows = [(key, {"conns": 4}, [(DestKey("198.51.100.11", 8080), {"conns": 4})])]

    class Ipvs:
        def read_stats(self, keys: list[ServiceKey]) -> Any:
            assert keys == [key]
            return rows

    class Backend:
        def __init__(self, inner: object, name: str) -> None:
            self.inner, self.name = inner, name

        async def call(self, fn: Any) -> Any:
            return fn(self.inner)

    hub = SimpleNamespace(snapshot=lambda: [])
    config = SimpleNamespace(virtual_servers=[])
    for inner, name in ((Ipvs(), "ipvs"), (object(), "nftables")):
        runtime: Any = SimpleNamespace(backend=Backend(inner, name),
                                       programmed=Table({key: Service(ServiceAttrs("rr"), {})}))
        snap = asyncio.run(checkers_snapshot_with_counters(config, hub, runtime))
        page = render_metrics({"daemon": {}, "children": {"checkers": snap}}).decode()
        if name == "ipvs":
            assert snap["kernel"][0]["addr"] == "192.0.2.200:80"
            assert 'keepalived_lvs_vip_conn{addr="192.0.2.200:80",proto="6"} 4.0' in page
        else:
            assert "kernel" not in snap and snap["kernel_counters"] == "not available with the nftables backend"
            assert "keepalived_lvs_" not in page
