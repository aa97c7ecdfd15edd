"""/metrics carries the series of the keepalived exporters as they are today, so their dashboards
read pykeepalived unchanged.

- Every PromQL query of mehdy/keepalived-exporter's shipped Grafana dashboard (tests/status/data,
  see its README for source and licence) names metrics we emit, with the labels it uses.
- The exporters' series lists, read from their collector.go (mehdy at 5aedbfb, gen2brain at
  53a0c0a), are emitted with exactly their names and labels.
- No counter label changes at a failover (mehdy dropped its `state` label in v1.3.0; gen2brain
  still has one, which we leave out): the same series continue and become_master counts.
- `promtool check metrics` accepts the page (skipped when Debian's `prometheus` package is absent).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pykeepalived.core.events import AdvertReceived, DeadlineReached, Startup
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.core.vrrp import VirtualRouter
from pykeepalived.status.metrics import render_metrics
from pykeepalived.status.snapshot import vrrp_snapshot

DASHBOARD = Path(__file__).parent / "data" / "mehdy-keepalived-exporter-dashboard.json"

# mehdy/keepalived-exporter internal/collector/collector.go, fillMetrics() (commit 5aedbfb).
MEHDY_SERIES = {
    "keepalived_up": (),
    "keepalived_vrrp_state": ("iname", "intf", "vrid", "ip_address"),
    "keepalived_vrrp_excluded_state": ("iname", "intf", "vrid", "ip_address"),
    "keepalived_gratuitous_arp_delay_total": ("iname", "intf", "vrid"),
    **{name: ("iname", "intf", "vrid") for name in (
        "keepalived_advertisements_received_total", "keepalived_advertisements_sent_total",
        "keepalived_become_master_total", "keepalived_release_master_total",
        "keepalived_packet_length_errors_total", "keepalived_advertisements_interval_errors_total",
        "keepalived_ip_ttl_errors_total", "keepalived_invalid_type_received_total",
        "keepalived_address_list_errors_total", "keepalived_authentication_invalid_total",
        "keepalived_authentication_mismatch_total", "keepalived_authentication_failure_total",
        "keepalived_priority_zero_received_total", "keepalived_priority_zero_sent_total")},
    "keepalived_script_status": ("name",),
    "keepalived_script_state": ("name",),
}
# Emitted by the exporter only with its --cs option: it runs an operator's script per VIP, which
# is no data of keepalived's (nor ours).
MEHDY_EXPORTER_ONLY = {"keepalived_exporter_check_script_status"}

# gen2brain/keepalived_exporter collector/collector.go (commit 53a0c0a): VRRP counters, labels
# name, intf, vrid, state (we leave `state` out: it would start new series at every failover).
GEN2BRAIN_VRRP = ("advert_rcvd", "advert_sent", "become_master", "release_master", "packet_len_err",
                  "advert_interval_err", "ip_ttl_err", "invalid_type_rcvd", "addr_list_err",
                  "invalid_authtype", "authtype_mismatch", "auth_failure", "pri_zero_rcvd", "pri_zero_sent")
GEN2BRAIN_LVS = {**{f"keepalived_lvs_vip_{s}": ("addr", "proto")
                    for s in ("in_packets", "out_packets", "in_bytes", "out_bytes", "conn")},
                 **{f"keepalived_lvs_rs_{s}": ("vip", "addr", "proto")
                    for s in ("in_packets", "out_packets", "in_bytes", "out_bytes", "conn")}}

# Labels Prometheus adds to every scraped series (target labels), never sent by an exporter.
TARGET_LABELS = {"instance", "job"}
PROMQL_WORDS = {"rate", "irate", "increase", "sum", "avg", "min", "max", "count", "by", "without", "on",
                "ignoring", "group_left", "group_right", "label_values", "delta", "idelta", "changes",
                "resets", "topk", "bottomk", "abs", "and", "or", "unless", "offset", "bool", "time",
                "vector", "scalar", "absent", "clamp_min", "clamp_max", "histogram_quantile",
                "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time",
                "last_over_time", "deriv", "predict_linear", "round", "sort", "sort_desc"}


def dashboard_queries() -> list[str]:
    """Every distinct PromQL expression of the dashboard: panel targets and template variables."""
    found: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in ("expr", "query") and "keepalived" in node:
            found.append(node)

    walk(json.loads(DASHBOARD.read_text()))
    return sorted(set(found))


def metrics_of(query: str) -> dict[str, set[str]]:
    """metric name -> label names the query selects or groups by (a PromQL subset: selectors,
    functions, `by (...)`/`without (...)`, label_values(metric, label))."""
    q = re.sub(r"\[[^\]]*\]", "", query)                        # range selectors
    q = re.sub(r'"(?:[^"\\]|\\.)*"', '""', q)                   # string literals
    grouping = {label.strip() for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", q)
                for label in group.split(",") if label.strip()}
    q = re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", q)
    out: dict[str, set[str]] = {}
    lv = re.fullmatch(r"\s*label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*(\w+)\s*\)\s*", q)
    if lv:
        return {lv.group(1): {lv.group(2)}}
    for m in re.finditer(r"([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?", q):
        name, selector = m.group(1), m.group(2) or ""
        if name in PROMQL_WORDS or q[m.end():].lstrip().startswith("(") and not selector:
            continue
        if re.fullmatch(r"[\d.]+", name):
            continue
        labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector)) | grouping
        out.setdefault(name, set()).update(labels)
    return out


def router(name: str, vrid: int, priority: int, **params: Any) -> VirtualRouter:
    r = VirtualRouter(RouterParams(name=name, vrid=vrid, priority=priority, interface="veth0",
                                   source_address="192.0.2.1", **params))
    r.handle(Startup(), 100.0)
    return r


def elect(r: VirtualRouter) -> None:
    deadline = r.deadline()
    assert deadline is not None
    r.handle(DeadlineReached(), deadline)


def preempted(r: VirtualRouter, now: float) -> None:
    from pykeepalived._fastpath import codec  # type: ignore[attr-defined]

    vips = tuple(socket.inet_aton(v.address) for v in r.params.vips)
    raw = codec.encode_advert(version=2, vrid=r.params.vrid, priority=254, adver_int=1, addresses=vips,
                              family=socket.AF_INET)
    adv, _ = codec.decode_advert(raw, socket.AF_INET, bytes([192, 0, 2, 9]), bytes([224, 0, 0, 18]))
    r.handle(AdvertReceived(adv, bytes([192, 0, 2, 9]), bytes([224, 0, 0, 18])), now)


def cluster() -> list[VirtualRouter]:
    """VI_1: two VIPs (one on another device, one /32); VI_2: only excluded VIPs; VI_3: no VIP."""
    r1 = router("VI_1", 51, 110, vips=(VipSpec(address="192.0.2.100", prefixlen=24),
                                        VipSpec(address="198.51.100.7", dev="veth1")))
    r2 = router("VI_2", 52, 100, evips=(VipSpec(address="203.0.113.5", prefixlen=24),))
    r3 = router("VI_3", 53, 100)
    for r in (r1, r2, r3):
        elect(r)
    return [r1, r2, r3]


def snapshot(routers: list[VirtualRouter], **daemon: Any) -> dict[str, Any]:
    scripts = [{"name": "chk_haproxy", "status": "GOOD", "state_code": 0},
               {"name": "chk_db", "status": "BAD", "state_code": 1}]
    vrrp = json.loads(json.dumps(vrrp_snapshot(routers, trackers={"scripts": scripts})))
    return {"daemon": daemon, "children": {"vrrp": vrrp}}


def families(snap: dict[str, Any], names: str = "mehdy") -> dict[str, list[Any]]:
    """sample name -> samples (so counters are found under their full `_total` names)."""
    text = render_metrics(snap, names).decode()
    # prometheus_client's parser renames a counter's samples to NAME_total; Prometheus keeps the
    # name on the wire (gen2brain's counters have no _total): take the names from the text.
    wire = [re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and line[0] != "#"]
    samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples]
    assert len(wire) == len(samples)
    out: dict[str, list[Any]] = {}
    for name, sample in zip(wire, samples, strict=True):
        out.setdefault(name, []).append(sample._replace(name=name))
    return out


def answered(queries: list[str], emitted: dict[str, list[Any]]) -> tuple[list[str], list[str]]:
    """(queries every metric of which we emit with the labels the query uses, the others)"""
    ok, missing = [], []
    for q in queries:
        wanted = metrics_of(q)
        assert wanted, f"no metric found in {q!r}"
        good = all(name in emitted and all(label in TARGET_LABELS or label in emitted[name][0].labels
                                           for label in labels)
                   for name, labels in wanted.items())
        (ok if good else missing).append(q)
    return ok, missing


def test_the_dashboard_has_twenty_queries_and_the_extractor_reads_them() -> None:
    queries = [q for q in dashboard_queries() if not q.startswith("label_values(")]
    assert len(queries) == 20
    assert metrics_of('rate(keepalived_become_master_total{instance="$instance"}[$__rate_interval])') == \
        {"keepalived_become_master_total": {"instance"}}
    assert metrics_of("sum by (iname) (increase(keepalived_advertisements_sent_total[5m]))") == \
        {"keepalived_advertisements_sent_total": {"iname"}}
    assert metrics_of("label_values(keepalived_up, instance)") == {"keepalived_up": {"instance"}}


def test_every_dashboard_query_keepalived_can_answer_gets_data() -> None:
    queries = dashboard_queries()
    ok, missing = answered(queries, families(snapshot(cluster())))
    # keepalived_exporter_check_script_status is the exporter's own --cs script, not keepalived data.
    assert [q for q in missing if not set(metrics_of(q)) <= MEHDY_EXPORTER_ONLY] == []
    assert len(missing) == 1 and len([q for q in ok if not q.startswith("label_values(")]) == 19


def test_mehdy_series_have_its_names_and_labels() -> None:
    got = families(snapshot(cluster()))
    for name, labels in MEHDY_SERIES.items():
        assert name in got, name
        for sample in got[name]:
            assert set(sample.labels) == set(labels), (name, sample.labels)
    states = {(s.labels["iname"], s.labels["intf"], s.labels["ip_address"]): s.value
              for s in got["keepalived_vrrp_state"]}
    # keepalived prints a VIP ADDR/PREFIX unless /32 (ipaddresstos); intf is the VIP's device;
    # an instance without VIPs still has a state series (ip_address="").
    assert states == {("VI_1", "veth0", "192.0.2.100/24"): 2.0, ("VI_1", "veth1", "198.51.100.7"): 2.0,
                      ("VI_2", "veth0", ""): 2.0, ("VI_3", "veth0", ""): 2.0}
    assert [(s.labels["iname"], s.labels["ip_address"]) for s in got["keepalived_vrrp_excluded_state"]] == \
        [("VI_2", "203.0.113.5/24")]
    assert {s.labels["name"]: s.value for s in got["keepalived_script_status"]} == {"chk_haproxy": 1, "chk_db": 0}
    assert {s.labels["name"]: s.value for s in got["keepalived_script_state"]} == {"chk_haproxy": 0, "chk_db": 1}
    assert not any(name.startswith("keepalived_vrrp_advert") for name in got)  # gen2brain's: not by default


@pytest.mark.parametrize("names", ["gen2brain", "both"])
def test_gen2brain_vrrp_counters_on_request(names: str) -> None:
    got = families(snapshot(cluster()), names)
    for key in GEN2BRAIN_VRRP:
        samples = got[f"keepalived_vrrp_{key}"]
        assert {tuple(sorted(s.labels)) for s in samples} == {("intf", "name", "vrid")}
    assert {s.labels["name"]: s.value for s in got["keepalived_vrrp_become_master"]} == \
        {"VI_1": 1, "VI_2": 1, "VI_3": 1}
    assert ("keepalived_become_master_total" in got) == (names == "both")
    text = render_metrics(snapshot(cluster()), names).decode()
    assert "# TYPE keepalived_vrrp_become_master counter" in text  # gen2brain's name: no _total


def test_a_failover_continues_the_same_series() -> None:
    routers = cluster()
    before = families(snapshot(routers), "both")
    preempted(routers[0], 200.0)           # VI_1: MASTER -> BACKUP
    elect(routers[0])                      # and back (the peer went silent)
    assert routers[0].stats.become_master == 2
    after = families(snapshot(routers), "both")
    for name, samples in after.items():
        if name.endswith("_total") or name.startswith("keepalived_vrrp_") and "state" not in name:
            assert [s.labels for s in samples] == [s.labels for s in before[name]], name
    master = {s.labels["iname"]: s.value for s in after["keepalived_become_master_total"]}
    assert master["VI_1"] == 2 and master["VI_2"] == 1
    released = {s.labels["iname"]: s.value for s in after["keepalived_release_master_total"]}
    assert released["VI_1"] == 1


def test_lvs_series_have_gen2brain_names_and_labels() -> None:
    stats = {"conns": 3, "inpkts": 30, "outpkts": 20, "inbytes": 3000, "outbytes": 9000}
    checkers = {
        "virtual_servers": [{"name": "192.0.2.200:80/TCP", "protocol": "TCP", "real_servers": [
            {"name": "[198.51.100.11]:8080", "alive": True, "weight": 1}]}],
        "kernel": [{"addr": "192.0.2.200:80", "proto": 6, "stats": stats,
                    "dests": [{"addr": "198.51.100.11:8080", "stats": stats}]},
                   {"addr": "2001:db8::1:443", "proto": 6, "stats": stats, "dests": []}]}
    snap = {"daemon": {}, "children": {"checkers": checkers}}
    got = families(snap)
    for name, labels in GEN2BRAIN_LVS.items():
        assert name in got and all(set(s.labels) == set(labels) for s in got[name]), name
    assert {s.labels["addr"]: s.value for s in got["keepalived_lvs_vip_conn"]} == \
        {"192.0.2.200:80": 3, "2001:db8::1:443": 3}
    rs = got["keepalived_lvs_rs_in_bytes"][0]
    assert rs.labels == {"vip": "192.0.2.200:80", "addr": "198.51.100.11:8080", "proto": "6"} and rs.value == 3000
    assert got["pykeepalived_real_server_weight"][0].value == 1
    # without kernel counters (the nftables backend): no LVS counter series, the verdicts stay
    del checkers["kernel"]
    got = families(snap)
    assert not any(name.startswith("keepalived_lvs_") for name in got) and "pykeepalived_real_server_up" in got


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool absent (Debian package `prometheus`, 96 MB installed: not in ci/setup.sh)")
@pytest.mark.parametrize("names", ["mehdy", "both"])
def test_promtool_accepts_the_page(names: str) -> None:
    """promtool parses the page; its only lint is the one the exporters' own names earn
    (gen2brain's counters have no `_total`), which we keep for their dashboards."""
    snap = snapshot(cluster(), reload_durations=[0.2, 0.4], reload_count=2, reload_failures=1,
                    last_reload_ok=False)
    stats = {"conns": 3, "inpkts": 30, "outpkts": 20, "inbytes": 3000, "outbytes": 9000}
    snap["children"]["checkers"] = {
        "virtual_servers": [{"name": "192.0.2.200:80/TCP", "real_servers": [{"name": "[198.51.100.11]:8080"}]}],
        "kernel": [{"addr": "192.0.2.200:80", "proto": 6, "stats": stats,
                    "dests": [{"addr": "198.51.100.11:8080", "stats": stats}]}]}
    page = render_metrics(snap, names)
    proc = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True, timeout=60)
    problems = [line for line in proc.stdout.decode().splitlines() + proc.stderr.decode().splitlines()
                if line.strip()]
    exporters_own = {name for name in GEN2BRAIN_LVS} | {f"keepalived_vrrp_{k}" for k in GEN2BRAIN_VRRP}
    for line in problems:
        name, _, problem = line.partition(" ")
        assert name in exporters_own and 'counter metrics should have "_total" suffix' in problem, line
    assert proc.returncode == (3 if problems else 0), problems  # 3: lint problems only (1: unparsable)
