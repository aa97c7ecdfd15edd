"""Prometheus exposition of a status snapshot.

Metric names and labels are those of the keepalived exporters as they are today, so the
dashboards and alerts people already run keep working (docs/metrics.md lists every series):

- VRRP: mehdy/keepalived-exporter v1.x (names since its 2020 rename, labels since v1.3.0):
  counters `keepalived_advertisements_received_total{iname,intf,vrid}`, ...; the state as its own
  gauge `keepalived_vrrp_state{iname,intf,vrid,ip_address}` (one series per VIP, as keepalived
  prints it: `ADDR[/PREFIX]`, `intf` the VIP's device; one with `ip_address=""` for an instance
  without VIPs), `keepalived_vrrp_excluded_state` (virtual_ipaddress_excluded),
  `keepalived_script_status{name}` / `keepalived_script_state{name}`, `keepalived_up`.
  With `--metrics-names gen2brain` (or `both`), gen2brain/keepalived_exporter's VRRP counters
  (`keepalived_vrrp_advert_rcvd{name,intf,vrid}`, ... without `_total`), minus its `state` label.
- LVS: gen2brain/keepalived_exporter's (mehdy's has none): `keepalived_lvs_vip_conn{addr,proto}`,
  `keepalived_lvs_rs_in_bytes{vip,addr,proto}`, ... from the kernel's IPVS counters.

No label of a counter changes when the state changes: a failover never starts a new series, so
`increase(keepalived_become_master_total[5m])` counts it. Our own series are `pykeepalived_*`.

The text is written here (exposition format 0.0.4) rather than by prometheus_client, which
appends `_total` to every counter: gen2brain's counters have no such suffix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pykeepalived.status.channel import Snapshot
from pykeepalived.status.snapshot import histogram

NAME_SETS = ("mehdy", "gen2brain", "both")
DEFAULT_NAMES = "mehdy"

# keepalived's stats key (its JSON names, our snapshot's) -> mehdy/keepalived-exporter's counter
# (internal/collector/collector.go) and gen2brain/keepalived_exporter's (collector/collector.go).
VRRP_COUNTERS: tuple[tuple[str, str, str, str], ...] = (
    ("advert_rcvd", "keepalived_advertisements_received_total", "keepalived_vrrp_advert_rcvd",
     "Advertisements received"),
    ("advert_sent", "keepalived_advertisements_sent_total", "keepalived_vrrp_advert_sent", "Advertisements sent"),
    ("become_master", "keepalived_become_master_total", "keepalived_vrrp_become_master", "Became master"),
    ("release_master", "keepalived_release_master_total", "keepalived_vrrp_release_master", "Released master"),
    ("packet_len_err", "keepalived_packet_length_errors_total", "keepalived_vrrp_packet_len_err",
     "Packet length errors"),
    ("advert_interval_err", "keepalived_advertisements_interval_errors_total",
     "keepalived_vrrp_advert_interval_err", "Advertisement interval errors"),
    ("ip_ttl_err", "keepalived_ip_ttl_errors_total", "keepalived_vrrp_ip_ttl_err", "TTL errors"),
    ("invalid_type_rcvd", "keepalived_invalid_type_received_total", "keepalived_vrrp_invalid_type_rcvd",
     "Invalid type errors"),
    ("addr_list_err", "keepalived_address_list_errors_total", "keepalived_vrrp_addr_list_err",
     "Address list errors"),
    ("invalid_authtype", "keepalived_authentication_invalid_total", "keepalived_vrrp_invalid_authtype",
     "Authentication invalid"),
    ("authtype_mismatch", "keepalived_authentication_mismatch_total", "keepalived_vrrp_authtype_mismatch",
     "Authentication mismatch"),
    ("auth_failure", "keepalived_authentication_failure_total", "keepalived_vrrp_auth_failure",
     "Authentication failure"),
    ("pri_zero_rcvd", "keepalived_priority_zero_received_total", "keepalived_vrrp_pri_zero_rcvd",
     "Priority zero received"),
    ("pri_zero_sent", "keepalived_priority_zero_sent_total", "keepalived_vrrp_pri_zero_sent", "Priority zero sent"),
)
# the kernel's IPVS counters (IPVS_STATS_ATTR_*) -> gen2brain's series suffix
LVS_COUNTERS = (
    ("conns", "conn", "connections"),
    ("inpkts", "in_packets", "in packets"),
    ("outpkts", "out_packets", "out packets"),
    ("inbytes", "in_bytes", "in bytes"),
    ("outbytes", "out_bytes", "out bytes"),
)
SCRIPT_STATUS = {"BAD": 0, "GOOD": 1}  # mehdy: VRRPScriptStatuses; INIT is not exported
MEHDY_VRRP_LABELS = ("iname", "intf", "vrid")
GEN2BRAIN_VRRP_LABELS = ("name", "intf", "vrid")
VIP_LABELS = ("iname", "intf", "vrid", "ip_address")

RELOAD_BOUNDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def label_value(value: object) -> str:
    """A label value the UTF-8 exposition can carry. Names read from the config keep bytes
    that are not UTF-8 as surrogates (surrogateescape): those come out as `\\xNN` escapes
    instead of failing the whole scrape with a UnicodeEncodeError."""
    s = "" if value is None else str(value)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate the loader never makes (e.g. from a JSON \\ud800)
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def floatToGoString(value: float) -> str:  # noqa: N802 - prometheus_client's name, its output
    """A sample value as prometheus_client writes it (`1.0`, `+Inf`, `NaN`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_label(s: str) -> str:
    return s.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(s: str) -> str:
    return s.replace("\\", r"\\").replace("\n", r"\n")


@dataclass
class Family:
    """One metric family: its samples are (sample name suffix, label values, value)."""

    name: str
    type: str  # counter | gauge | histogram
    help: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[str, tuple[tuple[str, str], ...], float]] = field(default_factory=list)

    def add(self, values: Sequence[object], value: float, suffix: str = "",
            extra: tuple[tuple[str, str], ...] = ()) -> None:
        pairs = tuple(zip(self.labels, (label_value(v) for v in values), strict=True)) + extra
        self.samples.append((suffix, pairs, float(value)))

    def render(self) -> str:
        out = [f"# HELP {self.name} {_escape_help(self.help)}\n# TYPE {self.name} {self.type}\n"]
        for suffix, pairs, value in self.samples:
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(pairs))
            out.append(f"{self.name}{suffix}{{{labels}}} {floatToGoString(value)}\n" if labels
                       else f"{self.name}{suffix} {floatToGoString(value)}\n")
        return "".join(out)


def _histogram(name: str, doc: str, data: dict[str, Any] | list[float] | None) -> Family | None:
    """`data` is {"buckets": [[upper_bound, cumulative_count], ...], "sum": s} or raw values."""
    if isinstance(data, list):
        data = histogram(data, RELOAD_BOUNDS)
    if not data or not data.get("buckets"):
        return None
    buckets = [("+Inf" if b == "+Inf" or b == float("inf") else floatToGoString(float(b)), float(c))
               for b, c in data["buckets"]]
    if buckets[-1][0] != "+Inf":
        buckets.append(("+Inf", float(data.get("count", buckets[-1][1]))))
    fam = Family(name, "histogram", doc)
    for bound, count in buckets:
        fam.add((), count, "_bucket", (("le", bound),))
    fam.add((), buckets[-1][1], "_count")
    fam.add((), float(data.get("sum", 0.0)), "_sum")
    return fam


def vip_label(entry: dict[str, Any]) -> str:
    """A VIP as keepalived prints it (ipaddresstos): the address, `/PREFIX` unless a host route."""
    addr = str(entry.get("address", ""))
    prefix = entry.get("prefixlen")
    full = 128 if ":" in addr else 32
    return addr if prefix is None or int(prefix) == full else f"{addr}/{prefix}"


def _vip_entries(inst: dict[str, Any], excluded: bool) -> list[dict[str, Any]]:
    entries = inst.get("vip_entries")
    if entries is not None:
        return [e for e in entries if bool(e.get("excluded")) == excluded]
    if excluded:
        return []
    out = []
    for vip in inst.get("vips", []):  # "ADDR/PREFIX" (an older child's snapshot)
        addr, _, prefix = str(vip).partition("/")
        out.append({"address": addr, "prefixlen": int(prefix) if prefix else None})
    return out


def collect(snap: Snapshot, names: str = DEFAULT_NAMES) -> Iterator[Family]:
    children = snap.get("children", {})
    vrrp = children.get("vrrp", {})
    up = Family("keepalived_up", "gauge", "Status")
    up.add((), 0.0 if any("error" in c for c in children.values()) or not children else 1.0)
    yield up
    yield from _vrrp(vrrp.get("instances", []), names)
    yield from _scripts(vrrp.get("trackers", {}).get("scripts", []))
    checkers = children.get("checkers", {})
    yield from _lvs(checkers.get("virtual_servers", []), checkers.get("kernel"))
    yield from _own(vrrp, snap.get("daemon", {}))


def _vrrp(instances: list[dict[str, Any]], names: str) -> Iterator[Family]:
    state = Family("keepalived_vrrp_state", "gauge", "State of vrrp", VIP_LABELS)
    excluded = Family("keepalived_vrrp_excluded_state", "gauge", "State of vrrp with excluded VIP", VIP_LABELS)
    garp = Family("keepalived_gratuitous_arp_delay_total", "counter", "Gratuitous ARP delay", MEHDY_VRRP_LABELS)
    mehdy = [Family(m, "counter", doc, MEHDY_VRRP_LABELS) for _, m, _, doc in VRRP_COUNTERS] \
        if names in ("mehdy", "both") else []
    gen2brain = [Family(g, "counter", doc, GEN2BRAIN_VRRP_LABELS) for _, _, g, doc in VRRP_COUNTERS] \
        if names in ("gen2brain", "both") else []
    for inst in instances:
        code = float(inst.get("state_code", 0))
        intf = inst.get("interface") or ""
        key = (inst.get("name", ""), intf, inst.get("vrid", ""))
        vips = _vip_entries(inst, False)
        for vip in vips:
            state.add((key[0], vip.get("dev") or intf, key[2], vip_label(vip)), code)
        if not vips:  # mehdy: "record vrrp_state metric even when VIPs are not defined"
            state.add((*key, ""), code)
        for vip in _vip_entries(inst, True):
            excluded.add((key[0], vip.get("dev") or intf, key[2], vip_label(vip)), code)
        garp.add(key, float(inst.get("garp_delay", 0)))
        stats = inst.get("stats", {})
        for i, (stat, *_rest) in enumerate(VRRP_COUNTERS):
            value = float(stats.get(stat, 0))
            if mehdy:
                mehdy[i].add(key, value)
            if gen2brain:
                gen2brain[i].add(key, value)
    yield state
    if excluded.samples:
        yield excluded
    if mehdy:
        yield garp
    yield from mehdy
    yield from gen2brain


def _scripts(scripts: list[dict[str, Any]]) -> Iterator[Family]:
    status = Family("keepalived_script_status", "gauge", "Tracker Script Status", ("name",))
    state = Family("keepalived_script_state", "gauge", "Tracker Script State", ("name",))
    for script in scripts:
        name = script.get("name", "")
        if script.get("status") in SCRIPT_STATUS:
            status.add((name,), SCRIPT_STATUS[script["status"]])
        state.add((name,), float(script.get("state_code", 0)))
    yield from (f for f in (status, state) if f.samples)


def _lvs(services: list[dict[str, Any]], kernel: list[dict[str, Any]] | None) -> Iterator[Family]:
    """The checkers' verdicts (ours) and, when the backend reads them, the kernel's counters
    (gen2brain's series, one per kernel service and destination, as its exporter lists them)."""
    if kernel:
        vip = {k: Family(f"keepalived_lvs_vip_{s}", "counter", f"VIP {doc}", ("addr", "proto"))
               for k, s, doc in LVS_COUNTERS}
        rs = {k: Family(f"keepalived_lvs_rs_{s}", "counter", f"RS {doc}", ("vip", "addr", "proto"))
              for k, s, doc in LVS_COUNTERS}
        for svc in kernel:
            addr, proto = svc.get("addr", ""), str(svc.get("proto", 0))
            for key, family in vip.items():
                family.add((addr, proto), float(svc.get("stats", {}).get(key, 0)))
            for dest in svc.get("dests", []):
                for key, family in rs.items():
                    family.add((addr, dest.get("addr", ""), proto), float(dest.get("stats", {}).get(key, 0)))
        yield from vip.values()
        yield from (f for f in rs.values() if f.samples)
    if not services:
        return
    up = Family("pykeepalived_real_server_up", "gauge", "Checkers' verdict on a real server (1 up)", ("vs", "rs"))
    weight = Family("pykeepalived_real_server_weight", "gauge", "Weight the checkers give a real server",
                    ("vs", "rs"))
    for vs in services:
        for real in vs.get("real_servers", []):
            labels = (vs.get("name", ""), real.get("name", ""))
            up.add(labels, 1.0 if real.get("alive") else 0.0)
            weight.add(labels, float(real.get("weight", 0)))
    yield from (f for f in (up, weight) if f.samples)


def _own(vrrp: dict[str, Any], daemon: dict[str, Any]) -> Iterator[Family]:
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
    reloads = Family("pykeepalived_reloads_total", "counter", "Configuration reloads done")
    reloads.add((), float(daemon.get("reload_count", 0)))
    yield reloads
    failures = Family("pykeepalived_reload_failures_total", "counter",
                      "Configuration reloads refused (file missing or unreadable, unusable, failed validation)")
    failures.add((), float(daemon.get("reload_failures", 0)))
    yield failures
    last_ok = Family("pykeepalived_config_last_reload_successful", "gauge",
                     "1 unless the last reload was refused (the running configuration was kept)")
    last_ok.add((), 1.0 if daemon.get("last_reload_ok", True) else 0.0)
    yield last_ok
    if daemon.get("config_loaded") is not None:
        loaded = Family("pykeepalived_config_last_reload_success_timestamp_seconds", "gauge",
                        "When the running configuration was loaded (start or last successful reload), Unix time")
        loaded.add((), float(daemon["config_loaded"]))
        yield loaded
    if "config_changed_on_disk" in daemon:
        changed = Family("pykeepalived_config_changed_on_disk", "gauge",
                         "1 when the configuration files on disk differ from the running configuration "
                         "(edited and not reloaded, or the reload was refused)")
        changed.add((), 1.0 if daemon["config_changed_on_disk"] else 0.0)
        yield changed


def render_families(families: Iterable[Family]) -> bytes:
    return "".join(f.render() for f in families).encode()


def render_metrics(snap: Snapshot, names: str = DEFAULT_NAMES) -> bytes:
    return render_families(collect(snap, names))
