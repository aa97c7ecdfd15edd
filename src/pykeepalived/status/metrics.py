"""Prometheus exposition of a status snapshot.

Metric names and labels follow the widely used keepalived exporters, so existing
Grafana dashboards keep working: the VRRP series of mehdy/keepalived-exporter
(`keepalived_advert_rcvd_total{iname,intf,vrid,state}`, `keepalived_vrrp_state
{iname,intf,vrid,ip_address}`, ...) and the LVS series of gen2brain/keepalived_exporter
(`keepalived_lvs_vip_conn{addr,proto}`, ...). Our own metrics are prefixed `pykeepalived_`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from pykeepalived.status.channel import Snapshot
from pykeepalived.status.snapshot import histogram

# stats key in the snapshot (keepalived's JSON names) -> exporter metric name (without _total).
VRRP_COUNTERS = {
    "advert_rcvd": ("keepalived_advert_rcvd", "Advertisements received"),
    "advert_sent": ("keepalived_advert_sent", "Advertisements sent"),
    "become_master": ("keepalived_become_master", "Became master"),
    "release_master": ("keepalived_release_master", "Released master"),
    "packet_len_err": ("keepalived_packet_len_err", "Packet length errors"),
    "advert_interval_err": ("keepalived_advert_interval_err", "Advertisement interval errors"),
    "ip_ttl_err": ("keepalived_ip_ttl_err", "TTL errors"),
    "invalid_type_rcvd": ("keepalived_invalid_type_rcvd", "Invalid type errors"),
    "addr_list_err": ("keepalived_addr_list_err", "Address list errors"),
    "invalid_authtype": ("keepalived_invalid_authtype", "Authentication invalid"),
    "authtype_mismatch": ("keepalived_authtype_mismatch", "Authentication mismatch"),
    "auth_failure": ("keepalived_auth_failure", "Authentication failure"),
    "pri_zero_rcvd": ("keepalived_pri_zero_rcvd", "Priority zero received"),
    "pri_zero_sent": ("keepalived_pri_zero_sent", "Priority zero sent"),
}
LVS_COUNTERS = {
    "conns": ("conn", "connections"),
    "inpkts": ("in_packets", "in packets"),
    "outpkts": ("out_packets", "out packets"),
    "inbytes": ("in_bytes", "in bytes"),
    "outbytes": ("out_bytes", "out bytes"),
}
STATE_NAMES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT"}
VRRP_LABELS = ["iname", "intf", "vrid", "state"]


RELOAD_BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def label_value(value: object) -> str:
    """A label value the UTF-8 exposition can carry. Names read from the config keep bytes
    that are not UTF-8 as surrogates (surrogateescape): those come out as `\\xNN` escapes
    instead of failing the whole scrape with a UnicodeEncodeError."""
    s = str(value)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate the loader never makes (e.g. from a JSON \\ud800)
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _histogram(name: str, doc: str, data: dict[str, Any] | list[float] | None) -> HistogramMetricFamily | None:
    """`data` is {"buckets": [[upper_bound, cumulative_count], ...], "sum": s} or raw values."""
    if isinstance(data, list):
        data = histogram(data, RELOAD_BOUNDS)
    if not data or not data.get("buckets"):
        return None
    buckets = [(("+Inf" if b == "+Inf" or b == float("inf") else repr(float(b))), float(c))
               for b, c in data["buckets"]]
    if buckets[-1][0] != "+Inf":
        buckets.append(("+Inf", float(data.get("count", buckets[-1][1]))))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=float(data.get("sum", 0.0)))


class SnapshotCollector:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        children = self.snap.get("children", {})
        vrrp = children.get("vrrp", {})
        up = GaugeMetricFamily("keepalived_up", "Status")
        up.add_metric([], 0.0 if any("error" in c for c in children.values()) or not children else 1.0)
        yield up
        yield from self._vrrp(vrrp)
        yield from self._scripts(vrrp.get("trackers", {}).get("scripts", []))
        yield from self._lvs(children.get("checkers", {}).get("virtual_servers", []))
        yield from self._own(vrrp, self.snap.get("daemon", {}))

    def _vrrp(self, vrrp: dict[str, Any]) -> Iterator[Metric]:
        instances = vrrp.get("instances", [])
        state = GaugeMetricFamily("keepalived_vrrp_state", "State of vrrp",
                                  labels=["iname", "intf", "vrid", "ip_address"])
        garp = CounterMetricFamily("keepalived_garp_delay", "Gratuitous ARP delay", labels=VRRP_LABELS)
        counters = {key: CounterMetricFamily(name, doc, labels=VRRP_LABELS)
                    for key, (name, doc) in VRRP_COUNTERS.items()}
        for inst in instances:
            code = int(inst.get("state_code", 0))
            labels = [label_value(inst.get("name", "")), label_value(inst.get("interface", "")),
                      label_value(inst.get("vrid", "")), STATE_NAMES.get(code, label_value(inst.get("state", "")))]
            for vip in inst.get("vips", []):
                state.add_metric([labels[0], labels[1], labels[2], label_value(str(vip).split("/")[0])], float(code))
            garp.add_metric(labels, float(inst.get("garp_delay", 0)))
            stats = inst.get("stats", {})
            for key, family in counters.items():
                family.add_metric(labels, float(stats.get(key, 0)))
        yield state
        yield garp
        yield from counters.values()

    def _scripts(self, scripts: list[dict[str, Any]]) -> Iterator[Metric]:
        status = GaugeMetricFamily("keepalived_script_status", "Tracker Script Status", labels=["name"])
        state = GaugeMetricFamily("keepalived_script_state", "Tracker Script State", labels=["name"])
        for script in scripts:
            status.add_metric([label_value(script.get("name"))], 1.0 if script.get("status") == "GOOD" else 0.0)
            state.add_metric([label_value(script.get("name"))], float(script.get("state_code", 0)))
        yield status
        yield state

    def _lvs(self, services: list[dict[str, Any]]) -> Iterator[Metric]:
        if not services:
            return
        families: dict[str, GaugeMetricFamily] = {}
        for side in ("vip", "rs"):
            for key, (suffix, doc) in LVS_COUNTERS.items():
                families[f"{side}:{key}"] = GaugeMetricFamily(
                    f"keepalived_lvs_{side}_{suffix}", f"{side.upper()} {doc}", labels=["addr", "proto"])
        up = GaugeMetricFamily("pykeepalived_real_server_up", "Checkers' verdict on a real server (1 up)",
                               labels=["vs", "rs"])
        weight = GaugeMetricFamily("pykeepalived_real_server_weight", "Weight the checkers give a real server",
                                   labels=["vs", "rs"])
        for vs in services:
            proto = label_value(vs.get("protocol", "")).upper()
            # Kernel traffic counters only when the snapshot carries them (read from IPVS).
            if "stats" in vs:
                for key in LVS_COUNTERS:
                    families[f"vip:{key}"].add_metric([label_value(vs.get("name", "")), proto],
                                                      float(vs["stats"].get(key, 0)))
            for rs in vs.get("real_servers", []):
                if "stats" in rs:
                    for key in LVS_COUNTERS:
                        families[f"rs:{key}"].add_metric([label_value(rs.get("name", "")), proto],
                                                         float(rs["stats"].get(key, 0)))
                labels = [label_value(vs.get("name", "")), label_value(rs.get("name", ""))]
                up.add_metric(labels, 1.0 if rs.get("alive") else 0.0)
                weight.add_metric(labels, float(rs.get("weight", 0)))
        yield from (f for f in families.values() if f.samples)
        yield up
        yield weight

    def _own(self, vrrp: dict[str, Any], daemon: dict[str, Any]) -> Iterator[Metric]:
        for name, doc, data in (
            ("pykeepalived_advert_send_gap_ratio",
             "Gap between consecutive adverts sent by a master, as a multiple of its nominal interval",
             vrrp.get("advert_gaps")),
            ("pykeepalived_takeover_seconds",
             "Time from the last advert heard from the old master to becoming master, as measured here",
             vrrp.get("takeovers")),
            ("pykeepalived_reload_duration_seconds", "Duration of configuration reloads",
             daemon.get("reload_durations")),
        ):
            family = _histogram(name, doc, data)
            if family is not None:
                yield family
        reloads = CounterMetricFamily("pykeepalived_reloads", "Configuration reloads done")
        reloads.add_metric([], float(daemon.get("reload_count", 0)))
        yield reloads
        failures = CounterMetricFamily(
            "pykeepalived_reload_failures",
            "Configuration reloads refused (file missing or unreadable, unusable, failed validation)")
        failures.add_metric([], float(daemon.get("reload_failures", 0)))
        yield failures
        last_ok = GaugeMetricFamily("pykeepalived_config_last_reload_successful",
                                    "1 unless the last reload was refused (the running configuration was kept)")
        last_ok.add_metric([], 1.0 if daemon.get("last_reload_ok", True) else 0.0)
        yield last_ok


def render_metrics(snap: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    return generate_latest(registry)
