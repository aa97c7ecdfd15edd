"""Reload diff: what a SIGHUP changes between two loaded configs.

`diff_configs(old, new)` says, for instances, their VIPs / excluded VIPs / routes / rules,
the static addresses / routes / rules, virtual servers and their real servers, which were
added, removed, changed or kept. Identity keys follow keepalived's reload matching:
instances by name, addresses by (address, device), routes by (destination, table, type),
rules by their full text, virtual servers by `IP:PORT/PROTO` / `FWM n` / `group NAME`,
real servers by (address, port). Positions (file:line) never make a difference: moving
a block inside the file is not a change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pykeepalived.config import model as m

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Delta(Generic[T]):
    added: tuple[T, ...] = ()
    removed: tuple[T, ...] = ()
    changed: tuple[tuple[T, T], ...] = ()  # (old, new)
    kept: tuple[T, ...] = ()

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class InstanceDiff:
    """Per instance present in both configs: its address/route/rule deltas."""

    name: str
    virtual_ipaddress: Delta[m.IpAddress]
    virtual_ipaddress_excluded: Delta[m.IpAddress]
    virtual_routes: Delta[m.Route]
    virtual_rules: Delta[m.Rule]


@dataclass(frozen=True, slots=True)
class VirtualServerDiff:
    key: str
    real_servers: Delta[m.RealServer]


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    instances: Delta[m.VrrpInstance]
    instance_details: dict[str, InstanceDiff] = field(default_factory=dict)
    static_ipaddress: Delta[m.IpAddress] = Delta()
    static_routes: Delta[m.Route] = Delta()
    static_rules: Delta[m.Rule] = Delta()
    virtual_servers: Delta[m.VirtualServer] = Delta()
    virtual_server_details: dict[str, VirtualServerDiff] = field(default_factory=dict)
    global_defs_changed: bool = False


def strip_pos(obj: Any) -> Any:
    """The same value with every `pos` replaced by NOPOS (for position-blind comparison)."""
    if isinstance(obj, m.Pos):
        return m.NOPOS
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            nv = strip_pos(v)
            if nv is not v:
                changes[f.name] = nv
        return dataclasses.replace(obj, **changes) if changes else obj
    if isinstance(obj, tuple):
        items = tuple(strip_pos(x) for x in obj)
        return obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    return obj


def same(a: Any, b: Any) -> bool:
    return bool(strip_pos(a) == strip_pos(b))


def delta(old: Iterable[T], new: Iterable[T], key: Callable[[T], Hashable],
          equal: Callable[[T, T], bool] = same) -> Delta[T]:
    old_map = {key(x): x for x in old}
    new_map = {key(x): x for x in new}
    added = tuple(x for k, x in new_map.items() if k not in old_map)
    removed = tuple(x for k, x in old_map.items() if k not in new_map)
    changed: list[tuple[T, T]] = []
    kept: list[T] = []
    for k, x in new_map.items():
        if k in old_map:
            if equal(old_map[k], x):
                kept.append(x)
            else:
                changed.append((old_map[k], x))
    return Delta(added, removed, tuple(changed), tuple(kept))


def address_key(a: m.IpAddress) -> Hashable:
    return (a.address, a.dev)


def route_key(r: m.Route) -> Hashable:
    return (r.type, r.dst, r.table, r.metric)


def rule_key(r: m.Rule) -> Hashable:
    return r.text


def rs_key(rs: m.RealServer) -> Hashable:
    return (rs.address, rs.port)


def diff_configs(old: m.Config, new: m.Config) -> ConfigDiff:
    inst = delta(old.vrrp_instances, new.vrrp_instances, key=lambda v: v.name)
    details: dict[str, InstanceDiff] = {}
    for a, b in list(inst.changed) + [(old.vrrp_instance(v.name), v) for v in inst.kept]:
        assert a is not None
        details[b.name] = InstanceDiff(
            name=b.name,
            virtual_ipaddress=delta(a.virtual_ipaddress, b.virtual_ipaddress, address_key),
            virtual_ipaddress_excluded=delta(a.virtual_ipaddress_excluded, b.virtual_ipaddress_excluded,
                                             address_key),
            virtual_routes=delta(a.virtual_routes, b.virtual_routes, route_key),
            virtual_rules=delta(a.virtual_rules, b.virtual_rules, rule_key),
        )
    vss = delta(old.virtual_servers, new.virtual_servers, key=lambda v: v.key)
    old_vs = {v.key: v for v in old.virtual_servers}
    vs_details: dict[str, VirtualServerDiff] = {}
    for vs in [b for _, b in vss.changed] + list(vss.kept):
        vs_details[vs.key] = VirtualServerDiff(vs.key, delta(old_vs[vs.key].real_servers, vs.real_servers, rs_key))
    return ConfigDiff(
        instances=inst,
        instance_details=details,
        static_ipaddress=delta(old.static_ipaddress, new.static_ipaddress, address_key),
        static_routes=delta(old.static_routes, new.static_routes, route_key),
        static_rules=delta(old.static_rules, new.static_rules, rule_key),
        virtual_servers=vss,
        virtual_server_details=vs_details,
        global_defs_changed=not same(old.global_defs, new.global_defs),
    )
