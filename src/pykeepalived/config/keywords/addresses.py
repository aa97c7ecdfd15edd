"""Address, route and rule lines: virtual_ipaddress / virtual_routes / virtual_rules of a
vrrp_instance and static_ipaddress / static_routes / static_rules (keepalived's parse_ipaddress,
alloc_route, alloc_rule)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import NoReturn

from pykeepalived.config import model as m
from pykeepalived.config.blocks import Ctx, Fields, StopParse, pos
from pykeepalived.config.grammar import Node
from pykeepalived.config.model import Level

_IP_FLAGS = {"home": "home", "-nodad": "nodad", "nodad": "nodad", "mngtmpaddr": "mngtmpaddr",
             "noprefixroute": "noprefixroute", "autojoin": "autojoin", "no_track": "no_track", "use_vmac": "use_vmac"}
_IP_VALUE_OPTS = ("dev", "brd", "broadcast", "scope", "label", "peer", "preferred_lft", "track_group")


def parse_ipaddress(ctx: Ctx, node: Node, w: list[str], default_dev: str | None = None) -> m.IpAddress | None:
    """One VIP / static address line: ADDR[/LEN] [options]."""
    a = w[0]
    try:
        if "-" in a.split("/")[0] and "/" not in a:
            raise ValueError
        addr = ipaddress.ip_interface(a)
    except ValueError:
        ctx.warn(node, f"VRRP parsed invalid IP {a}. skipping IP...")
        return None
    kw: Fields = {"address": addr, "pos": pos(node)}
    i = 1
    while i < len(w):
        k = w[i]
        if k in _IP_FLAGS:
            kw[_IP_FLAGS[k]] = True
            i += 1
            continue
        if k not in _IP_VALUE_OPTS:
            ctx.warn(node, f"Unknown configuration entry '{k}' for ip address - ignoring")
            i += 1
            continue
        if i + 1 >= len(w):
            ctx.warn(node, f"Missing value for '{k}' of ip address {a}")
            break
        _ip_option(ctx, node, kw, k, w[i + 1])
        i += 2
    if addr.version == 6 and addr.network.prefixlen == 128 and "preferred_lft" not in kw:
        kw["preferred_lft"] = 0
    return m.IpAddress(**kw)


def _ip_option(ctx: Ctx, node: Node, kw: Fields, k: str, v: str) -> None:
    if k == "peer":
        try:
            kw["peer"] = ipaddress.ip_interface(v)
        except ValueError:
            ctx.warn(node, f"Invalid peer address {v}")
    elif k == "preferred_lft":
        if v == "forever":
            kw["preferred_lft"] = 0xFFFFFFFF
        else:
            n = ctx.int_(node, v, 0, 0xFFFFFFFF)
            if n is not None:
                kw["preferred_lft"] = n
    else:
        kw["brd" if k == "broadcast" else k] = v


ROUTE_TYPES = {"unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast",
               "multicast", "anycast", "nat"}
ROUTE_VALUE_OPTS = {"table", "metric", "preference", "priority", "scope", "protocol", "proto", "tos", "dsfield",
                    "realms", "mtu", "advmss", "rtt", "rttvar", "reordering", "window", "cwnd", "ssthresh",
                    "initcwnd", "initrwnd", "features", "quickack", "congctl", "pref", "fastopen_no_cookie",
                    "hoplimit", "rto_min", "expires", "encap", "vrf", "track_group", "ttl-propagate"}
ROUTE_FLAGS = {"onlink", "no_track", "add", "append", "prepend", "inet6", "inet"}
# the route options kept as model fields (the others stay in `options`)
_ROUTE_FIELDS = {"table": "table", "metric": "metric", "preference": "metric", "priority": "metric", "scope": "scope",
                 "protocol": "protocol", "proto": "protocol", "track_group": "track_group"}


def _net(s: str) -> m.IPNetwork:
    if s == "default":
        return ipaddress.ip_network("0.0.0.0/0")
    return ipaddress.ip_network(s, strict=False)


_ROUTE_SIMPLE: dict[str, tuple[str, Callable[[str], object]]] = {
    "src": ("src", ipaddress.ip_address), "to": ("dst", _net), "dev": ("dev", str)}


# keywords whose value keepalived 2.2.7 reads unchecked (null strvec slot): one at the end of a
# line stops it with exit 2 (measured for each: -t, virtual_routes and virtual_rules)
ROUTE_STOP_WHEN_LAST = frozenset({
    "from", "to", "table", "preference", "priority", "metric", "dev", "oif", "tos", "dsfield", "realms",
    "protocol", "via", "gw", "or", "src", "scope", "mtu", "advmss", "hoplimit", "rtt", "rttvar", "reordering",
    "window", "cwnd", "ssthresh", "rto_min", "initcwnd", "initrwnd", "features", "quickack", "congctl",
    "fastopen_no_cookie", "ttl-propagate", "vrf", "as"})
ROUTE_STOP_WHEN_LAST_V6 = frozenset({"pref", "expires"})  # IPv6-only: an IPv4 route reports them instead
RULE_STOP_WHEN_LAST = frozenset({
    "from", "to", "table", "lookup", "preference", "priority", "order", "iif", "dev", "oif", "tos", "dsfield",
    "fwmark", "goto", "realms", "uidrange", "protocol", "ipproto", "sport", "dport", "suppress_prefixlength",
    "suppress_ifgroup", "type"})


def stop_missing_value(ctx: Ctx, node: Node, w: list[str], i: int) -> NoReturn:
    ctx.err(Level.MISSING_PARAMETER, node, f"*** Configuration line starting `{w[0]}` is missing a parameter after "
                                           f"keyword `{w[i]}` at word position {i + 2}")
    raise StopParse(2)


class _Route:
    """A route line being read: its fields, extra options and nexthops."""

    def __init__(self, ctx: Ctx, node: Node, w: list[str]) -> None:
        self.ctx, self.node, self.w = ctx, node, w
        self.kw: Fields = {"text": " ".join(w), "pos": pos(node)}
        self.opts: list[tuple[str, str]] = []
        self.nexthops: list[m.Nexthop] = []

    def stops_when_last(self, k: str) -> bool:
        return k in ROUTE_STOP_WHEN_LAST or (
            k in ROUTE_STOP_WHEN_LAST_V6 and not ("dst" in self.kw and self.kw["dst"].version == 4))

    def word(self, i: int) -> int:
        """Read the option at w[i]; the index of the next one."""
        w, kw = self.w, self.kw
        k = w[i]
        nxt = w[i + 1] if i + 1 < len(w) else None
        if nxt is None and self.stops_when_last(k):
            stop_missing_value(self.ctx, self.node, w, i)
        simple = _ROUTE_SIMPLE.get(k)
        if simple is not None and nxt:
            field, value = simple
            kw[field] = value(nxt)
            return i + 2
        if k in ("via", "gw") and nxt:
            return self.via(i, nxt)
        if k == "or" and nxt:
            self.ctx.warn(self.node, '"or" for routes is deprecated. Please use "nexthop"')
            self.nexthops.append(m.Nexthop(via=ipaddress.ip_address(nxt)))
            return i + 2
        if k == "nexthop":
            return self.nexthop(i + 1)
        if k in ROUTE_FLAGS:
            if k == "no_track":
                kw["no_track"] = True
            self.opts.append((k, ""))
            return i + 1
        if k in ROUTE_VALUE_OPTS and nxt is not None:
            model_field = _ROUTE_FIELDS.get(k)
            if model_field is None:
                self.opts.append((k, nxt))
            else:
                kw[model_field] = int(nxt) if model_field == "metric" else nxt
            return i + 2
        if "dst" not in kw:
            kw["dst"] = _net(k)
        else:
            self.ctx.warn(self.node, f"Unknown route option '{k}'")
        return i + 1

    def via(self, i: int, nxt: str) -> int:
        w = self.w
        if w[i] == "gw":
            self.ctx.warn(self.node, '"gw" for routes is deprecated. Please use "via"')
        if nxt in ("inet", "inet6") and i + 2 < len(w):
            i += 1
            nxt = w[i + 1]
        self.kw["via"] = ipaddress.ip_address(nxt)
        return i + 2

    def nexthop(self, i: int) -> int:
        w = self.w
        nh: Fields = {}
        while i < len(w) and w[i] in ("via", "dev", "weight", "onlink"):
            if w[i] == "onlink":
                nh["onlink"] = True
                i += 1
                continue
            if i + 1 >= len(w):
                raise ValueError(w[i])
            if w[i] == "via":
                nh["via"] = ipaddress.ip_address(w[i + 1])
            elif w[i] == "dev":
                nh["dev"] = w[i + 1]
            else:
                nh["weight"] = int(w[i + 1])
            i += 2
        self.nexthops.append(m.Nexthop(**nh))
        return i


def parse_route(ctx: Ctx, node: Node, w: list[str], what: str = "VROUTE") -> m.Route | None:
    r = _Route(ctx, node, w)
    kw = r.kw
    try:
        i = 0
        if w[0] in ROUTE_TYPES:
            kw["type"] = w[0]
            i = 1
        while i < len(w):
            i = r.word(i)
    except ValueError as exc:
        ctx.warn(node, f"Invalid {what} '{' '.join(w)}' ({exc})")
        return None
    if "dst" not in kw:
        ctx.warn(node, f"{what} has no destination")
        return None
    if "dev" not in kw and not kw.get("no_track") and not any(nh.dev for nh in r.nexthops):
        ctx.warn(node, f"Warning - cannot track route {kw['dst']} with no interface specified, not tracking")
    kw["nexthops"] = tuple(r.nexthops)
    kw["options"] = tuple(r.opts)
    return m.Route(**kw)


# rule options without a value: keyword -> (field, value); field None: kept in `options`
_RULE_WORDS: dict[str, tuple[str | None, object]] = {
    "inet": ("family", "inet"), "inet6": ("family", "inet6"), "no_track": ("no_track", True),
    "blackhole": ("action", "blackhole"), "unreachable": ("action", "unreachable"),
    "prohibit": ("action", "prohibit"), "nop": ("action", "nop"), "l3mdev": (None, ""), "not": (None, "")}
_RULE_OPTIONS = frozenset({"realms", "uidrange", "protocol", "ip_proto", "ipproto", "sport", "dport",
                           "suppress_prefixlength", "suppress_ifgroup", "tun_id", "map-to", "type"})


def _rule_net(s: str) -> m.IPNetwork | None:
    return None if s == "all" else ipaddress.ip_network(s, strict=False)


def _rule_value(kw: Fields, opts: list[tuple[str, str]], k: str, nxt: str) -> None:
    if k in ("from", "to"):
        kw["from_" if k == "from" else "to"] = _rule_net(nxt)
    elif k in ("table", "lookup"):
        kw["table"] = nxt
    elif k in ("preference", "priority", "pref", "order"):
        kw["preference"] = int(nxt)
    elif k in ("iif", "dev", "oif", "track_group"):
        kw["iif" if k == "dev" else k] = nxt
    elif k in ("tos", "dsfield"):
        kw["tos"] = int(nxt, 0)
    elif k == "fwmark":
        mark, _, mask = nxt.partition("/")
        kw["fwmark"] = int(mark, 0)
        if mask:
            kw["fwmask"] = int(mask, 0)
    elif k == "goto":
        kw["action"] = "goto"
        kw["goto"] = int(nxt)
    elif k in _RULE_OPTIONS:
        opts.append((k, nxt))
    else:
        raise ValueError(f"unknown rule option {k}")


def _rule_word(ctx: Ctx, node: Node, w: list[str], i: int, kw: Fields, opts: list[tuple[str, str]]) -> int:
    """Read the option at w[i]; the index of the next one."""
    k = w[i]
    single = _RULE_WORDS.get(k)
    if single is not None:
        field, value = single
        if field is None:
            opts.append((k, ""))
        else:
            kw[field] = value
        return i + 1
    if i + 1 >= len(w):
        if k in RULE_STOP_WHEN_LAST:
            stop_missing_value(ctx, node, w, i)
        raise ValueError(f"missing value for {k}")
    _rule_value(kw, opts, k, w[i + 1])
    return i + 2


def parse_rule(ctx: Ctx, node: Node, w: list[str]) -> m.Rule | None:
    kw: Fields = {"text": " ".join(w), "pos": pos(node)}
    opts: list[tuple[str, str]] = []
    i = 0
    try:
        while i < len(w):
            i = _rule_word(ctx, node, w, i, kw, opts)
    except ValueError as exc:
        if len(w) > i + 1 and w[i] in ("from", "to"):
            ctx.warn(node, f"VRRP parsed invalid IP {w[i + 1]}. skipping IP...")
            ctx.warn(node, f"Invalid rule {w[i]} address {w[i + 1]}")
        else:
            ctx.warn(node, f"Invalid rule '{' '.join(w)}' ({exc})")
        return None
    for net in (kw.get("from_"), kw.get("to")):
        if net is not None:
            kw["family"] = "inet" if net.version == 4 else "inet6"
    if "preference" not in kw:
        kw["preference"] = ctx.next_rule_preference
        ctx.next_rule_preference -= 1
        ctx.warn(node, f"Rule has no preference specified - setting to {kw['preference']}. This is probably not what "
                       "you want.")
    kw["options"] = tuple(opts)
    return m.Rule(**kw)
