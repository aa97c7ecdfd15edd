"""The VRRP child's state as plain JSON-able data: what the status channel serves and
what the status API, /metrics and `pykeepalived status` read.

Built only on request (see channel.py), from the live VirtualRouter objects.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pykeepalived.status.channel import Rows
from pykeepalived.status.dumps import wall_time


def _addr(packed: bytes | None) -> str | None:
    return None if not packed else str(ipaddress.ip_address(packed))


def instance_snapshot(router: Any) -> dict[str, Any]:
    p = router.params
    state = int(router.state)
    return {
        "name": router.name,
        "state": router.state.name,
        "state_code": state,
        "wantstate": router.wantstate.name,
        "vrid": p.vrid,
        "interface": p.interface,
        "family": "inet" if p.family == 4 else "inet6",
        "version": p.version,
        "base_priority": router.base_priority,
        "effective_priority": router.effective_priority,
        "vips": [f"{v.address}/{v.prefixlen if v.prefixlen is not None else (32 if p.family == 4 else 128)}"
                 for v in p.vips],
        "vip_entries": [{"address": v.address, "prefixlen": v.prefixlen, "dev": v.dev or p.interface,
                         "excluded": excluded}
                        for excluded, vips in ((False, p.vips), (True, getattr(p, "evips", ()))) for v in vips],
        "vips_present": state == 2,
        "master_address": _addr(router.master_address),
        "master_priority": router.master_priority,
        "advert_interval": router.adver_int_us / 1e6,
        "master_adver_int": router.master_adver_int_us / 1e6,
        "last_transition": wall_time(router.last_transition),
        "last_transition_reason": router.last_transition_reason,
        "transitions": [{"time": wall_time(t), "from": f.name, "to": to.name, "reason": why}
                        for t, f, to, why in getattr(router, "transitions", ())],
        "faults": sorted(router.faults),
        "garp_delay": p.garp_master_delay,
        "stats": router.stats.as_dict(),
    }


def config_digest(files: Iterable[str]) -> str:
    """A digest of the configuration files as they are on disk now (their paths and contents; an
    unreadable file counts as its error), to tell whether the running configuration still matches
    them (pykeepalived_config_changed_on_disk). A file newly matched by an include glob is not
    seen until one of the files read changes."""
    import hashlib

    h = hashlib.sha256()
    for path in files:
        h.update(os.fsencode(path) + b"\0")
        try:
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        except OSError as exc:
            h.update(f"unreadable: {exc.errno}".encode())
    return h.hexdigest()


def lvs_addr(address: str, port: int | None = None, fwmark: int | None = None) -> str:
    """gen2brain/keepalived_exporter's address label: Go's `IP.String() + ":" + port` (IPv6
    without brackets, as it writes them); a fwmark service `fwmark:N` (gen2brain writes `<nil>:0`
    for every one, which would merge them into one series)."""
    if fwmark:
        return f"fwmark:{fwmark}"
    return f"{address}:{port or 0}"


def kernel_lvs_snapshot(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """The kernel's IPVS counters (lvs.ipvs.IpvsBackend.read_stats rows: (ServiceKey, stats,
    [(DestKey, stats)])) as the checker child's snapshot carries them ("kernel")."""
    return [{"addr": lvs_addr(key.addr, key.port, key.fwmark), "proto": key.protocol, "af": key.af,
             "stats": stats,
             "dests": [{"addr": lvs_addr(d.addr, d.port), "stats": dstats} for d, dstats in dests]}
            for key, stats, dests in rows]


def histogram(values: Iterable[float], bounds: Sequence[float]) -> dict[str, Any]:
    """Cumulative Prometheus-style buckets of `values`."""
    vals = list(values)
    buckets = [[b, sum(1 for v in vals if v <= b)] for b in bounds]
    return {"buckets": buckets + [["+Inf", len(vals)]], "sum": sum(vals), "count": len(vals)}


TAKEOVER_BOUNDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def trackers_snapshot(scripts: Iterable[Any], values: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """vrrp_scripts (io.trackers.ScriptTracker) with their last verdict, and the last value of every
    other tracker (`values`: (kind, name) -> value, kinds interface / file / process)."""
    def status(ok: bool | None) -> str:
        return "INIT" if ok is None else ("GOOD" if ok else "BAD")

    out: dict[str, Any] = {
        "scripts": [{"name": t.spec.name, "status": status(t.state.ok),
                     "state_code": 1 if getattr(t, "running", None) is not None else 0} for t in scripts]}
    for kind, key in (("interface", "interfaces"), ("file", "files"), ("process", "processes")):
        out[key] = [{"name": name, "value": value} for (k, name), value in sorted(values.items()) if k == kind]
    return out


def vrrp_snapshot(routers: Sequence[Any], *, sync_groups: Iterable[Any] = (),
                  trackers: dict[str, Any] | None = None,
                  extra: Callable[[], dict[str, Any]] | None = None, in_turns: bool = False) -> dict[str, Any]:
    """`in_turns`: the instances as `Rows`, made while the status channel writes them (the
    VRRP loop keeps running between slices); otherwise a plain list."""
    rows = Rows(routers, instance_snapshot)
    snap: dict[str, Any] = {
        "process": "vrrp",
        "pid": os.getpid(),
        "instances": rows if in_turns else rows.made(),
        "sync_groups": [{"name": g.name, "state": g.state.name if hasattr(g.state, "name") else str(g.state),
                         "members": [m.name for m in g.members]} for g in sync_groups],
        "trackers": trackers if trackers is not None else {"scripts": []},
    }
    takeovers = [t for r in routers for t in getattr(r, "takeover_times", ())]
    if takeovers:
        snap["takeovers"] = histogram(takeovers, TAKEOVER_BOUNDS)
    if extra is not None:
        snap.update(extra())
    return snap
