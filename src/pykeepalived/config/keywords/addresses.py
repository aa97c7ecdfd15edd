"""Address, route and rule lines: virtual_ipaddress / virtual_routes / virtual_rules of a
vrrp_instance and static_ipaddress / static_routes / static_rules (keepalived's parse_ipaddress,
alloc_route, alloc_rule)."""

from __future__ import annotations

import ipaddress
from typing import NoReturn

from pykeepalived.config import model as m
from pykeepalived.config.blocks import Ctx, Fields, StopParse, pos
from pykeepalived.config.grammar import Node
from pykeepalived.config.model import Level


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
    flags = {"home": "home", "-nodad": "nodad", "nodad": "nodad", "mngtmpaddr": "mngtmpaddr",
             "noprefixroute": "noprefixroute", "autojoin": "autojoin", "no_track": "no_track",
             "use_vmac": "use_vmac"}
    while i < len(w):
        k = w[i]
        if k in flags:
            kw[flags[k]] = True
            i += 1
            continue
        if k not in ("dev", "brd", "broadcast", "scope", "label", "peer", "preferred_lft", "track_group"):
            ctx.warn(node, f"Unknown configuration entry '{k}' for ip address - ignoring")
            i += 1
            continue
        if i + 1 >= len(w):
            ctx.warn(node, f"Missing value for '{k}' of ip address {a}")
            break
        v = w[i + 1]
        if k == "dev":
            kw["dev"] = v
        elif k in ("brd", "broadcast"):
            kw["brd"] = v
        elif k == "scope":
            kw["scope"] = v
        elif k == "label":
            kw["label"] = v
        elif k == "peer":
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
        elif k == "track_group":
            kw["track_group"] = v
        else:
            ctx.warn(node, f"Unknown configuration entry '{k}' for ip address - ignoring")
            i += 1
            continue
        i += 2
    if addr.version == 6 and addr.network.prefixlen == 128 and "preferred_lft" not in kw:
        kw["preferred_lft"] = 0
    return m.IpAddress(**kw)


ROUTE_TYPES = {"unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast",
               "multicast", "anycast", "nat"}


ROUTE_VALUE_OPTS = {"table", "metric", "preference", "priority", "scope", "protocol", "proto", "tos", "dsfield",
                    "realms", "mtu", "advmss", "rtt", "rttvar", "reordering", "window", "cwnd", "ssthresh",
                    "initcwnd", "initrwnd", "features", "quickack", "congctl", "pref", "fastopen_no_cookie",
                    "hoplimit", "rto_min", "expires", "encap", "vrf", "track_group", "ttl-propagate"}


ROUTE_FLAGS = {"onlink", "no_track", "add", "append", "prepend", "inet6", "inet"}


def _net(s: str) -> m.IPNetwork:
    if s == "default":
        return ipaddress.ip_network("0.0.0.0/0")
    return ipaddress.ip_network(s, strict=False)


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


def parse_route(ctx: Ctx, node: Node, w: list[str], what: str = "VROUTE") -> m.Route | None:
    kw: Fields = {"text": " ".join(w), "pos": pos(node)}
    opts: list[tuple[str, str]] = []
    nexthops: list[m.Nexthop] = []
    i = 0
    try:
        if w[0] in ROUTE_TYPES:
            kw["type"] = w[0]
            i = 1
        while i < len(w):
            k = w[i]
            nxt = w[i + 1] if i + 1 < len(w) else None
            if nxt is None and (k in ROUTE_STOP_WHEN_LAST or (
                    k in ROUTE_STOP_WHEN_LAST_V6 and not ("dst" in kw and kw["dst"].version == 4))):
                stop_missing_value(ctx, node, w, i)
            if k in ("src",) and nxt:
                kw["src"] = ipaddress.ip_address(nxt)
                i += 2
            elif k == "to" and nxt:
                kw["dst"] = _net(nxt)
                i += 2
            elif k in ("via", "gw") and nxt:
                if k == "gw":
                    ctx.warn(node, '"gw" for routes is deprecated. Please use "via"')
                if nxt in ("inet", "inet6") and i + 2 < len(w):
                    i += 1
                    nxt = w[i + 1]
                kw["via"] = ipaddress.ip_address(nxt)
                i += 2
            elif k == "or" and nxt:
                ctx.warn(node, '"or" for routes is deprecated. Please use "nexthop"')
                nexthops.append(m.Nexthop(via=ipaddress.ip_address(nxt)))
                i += 2
            elif k == "dev" and nxt:
                kw["dev"] = nxt
                i += 2
            elif k == "nexthop":
                i += 1
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
                nexthops.append(m.Nexthop(**nh))
            elif k in ROUTE_FLAGS:
                if k == "no_track":
                    kw["no_track"] = True
                opts.append((k, ""))
                i += 1
            elif k in ROUTE_VALUE_OPTS and nxt is not None:
                if k == "table":
                    kw["table"] = nxt
                elif k in ("metric", "preference", "priority"):
                    kw["metric"] = int(nxt)
                elif k == "scope":
                    kw["scope"] = nxt
                elif k in ("protocol", "proto"):
                    kw["protocol"] = nxt
                elif k == "track_group":
                    kw["track_group"] = nxt
                else:
                    opts.append((k, nxt))
                i += 2
            elif "dst" not in kw:
                kw["dst"] = _net(k)
                i += 1
            else:
                ctx.warn(node, f"Unknown route option '{k}'")
                i += 1
    except ValueError as exc:
        ctx.warn(node, f"Invalid {what} '{' '.join(w)}' ({exc})")
        return None
    if "dst" not in kw:
        ctx.warn(node, f"{what} has no destination")
        return None
    if "dev" not in kw and not kw.get("no_track") and not any(nh.dev for nh in nexthops):
        ctx.warn(node, f"Warning - cannot track route {kw['dst']} with no interface specified, not tracking")
    kw["nexthops"] = tuple(nexthops)
    kw["options"] = tuple(opts)
    return m.Route(**kw)


def parse_rule(ctx: Ctx, node: Node, w: list[str]) -> m.Rule | None:
    kw: Fields = {"text": " ".join(w), "pos": pos(node)}
    opts: list[tuple[str, str]] = []
    i = 0
    try:
        while i < len(w):
            k = w[i]
            nxt = w[i + 1] if i + 1 < len(w) else None
            if k in ("inet", "inet6"):
                kw["family"] = k
                i += 1
                continue
            if k in ("no_track",):
                kw["no_track"] = True
                i += 1
                continue
            if k in ("blackhole", "unreachable", "prohibit", "nop") :
                kw["action"] = k
                i += 1
                continue
            if k in ("l3mdev", "not"):
                opts.append((k, ""))
                i += 1
                continue
            if nxt is None:
                if k in RULE_STOP_WHEN_LAST:
                    stop_missing_value(ctx, node, w, i)
                raise ValueError(f"missing value for {k}")
            if k == "from":
                kw["from_"] = None if nxt == "all" else ipaddress.ip_network(nxt, strict=False)
            elif k == "to":
                kw["to"] = None if nxt == "all" else ipaddress.ip_network(nxt, strict=False)
            elif k in ("table", "lookup"):
                kw["table"] = nxt
            elif k in ("preference", "priority", "pref", "order"):
                kw["preference"] = int(nxt)
            elif k in ("iif", "dev"):
                kw["iif"] = nxt
            elif k == "oif":
                kw["oif"] = nxt
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
            elif k == "track_group":
                kw["track_group"] = nxt
            elif k in ("realms", "uidrange", "protocol", "ip_proto", "ipproto", "sport", "dport",
                       "suppress_prefixlength", "suppress_ifgroup", "tun_id", "map-to", "type"):
                opts.append((k, nxt))
            else:
                raise ValueError(f"unknown rule option {k}")
            i += 2
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
