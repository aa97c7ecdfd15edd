"""virtual_server, real_server and virtual_server_group: keyword -> handler."""

from __future__ import annotations

import ipaddress

from pykeepalived.config import model as m
from pykeepalived.config.blocks import (
    Ctx,
    Fields,
    Handler,
    block,
    block_name,
    flag,
    integer,
    keyword_rules,
    pos,
    script,
    string,
    switch,
    timer,
    value_lines,
    walk,
)
from pykeepalived.config.grammar import Node
from pykeepalived.config.keywords.checkers import CHECKER_TABLES, COMMON_TIMING, TIMING_STOPS, checker_block


def _h_sched(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] not in ("rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos"):
        ctx.warn(node, f"Invalid lvs_scheduler '{w[1]}' - ignoring")
        return
    f["lvs_sched"] = w[1]


def forwarding_method(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        meth = w[1].upper()
        if meth not in ("NAT", "DR", "TUN"):
            ctx.warn(node, f"PARSER : unknown [{w[1]}] routing method for virtual server.")
            return
        f[field] = meth
        if meth == "TUN" and len(w) > 2:
            kw: Fields = {}
            i = 2
            while i < len(w):
                if w[i] == "type" and i + 1 < len(w) and w[i + 1] in ("ipip", "gue", "gre"):
                    kw["type"] = w[i + 1]
                    i += 2
                elif w[i] == "port" and i + 1 < len(w):
                    kw["port"] = ctx.int_(node, w[i + 1], 1, 65535)
                    i += 2
                elif w[i] in ("nocsum", "csum", "remcsum"):
                    kw["csum"] = w[i]
                    i += 1
                else:
                    ctx.warn(node, f"Unknown tunnel option {w[i]}")
                    i += 1
            f["tunnel"] = m.Tunnel(**kw)
    return h


def _h_flag_list(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    need = {"hashed": "sh", "sh-port": "sh", "sh-fallback": "sh", "mh-port": "mh", "mh-fallback": "mh"}.get(w[0])
    if need is not None and f.get("lvs_sched") != need:
        # checked against the scheduler given so far, as 2.2.7 does (its message says sh for mh too)
        ctx.warn(node, f"{w[0]} only applies to sh scheduler - ignoring")
        return
    f["flags"] = tuple(f.get("flags", ())) + (w[0],)


def _h_persistence_timeout(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        f["persistence_timeout"] = 360
        return
    v = ctx.int_(node, w[1], 1, 2678400)
    if v is None:
        ctx.warn(node, "persistence_timeout invalid")
    else:
        f["persistence_timeout"] = v


def _h_protocol(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    p = w[1].upper()
    if p not in ("TCP", "UDP", "SCTP"):
        ctx.warn(node, f"Unknown protocol {w[1]} - ignoring")
        return
    f["protocol"] = p
    f["_protocol_node"] = node


def _h_sorry_server(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    try:
        a = ipaddress.ip_address(w[1])
    except ValueError:
        ctx.warn(node, f"Invalid sorry server IP address {w[1]} - skipping")
        return
    port = ctx.int_(node, w[2], 0, 65535) if len(w) > 2 else 0
    if port is not None:
        f["sorry_server"] = (a, port)


def _h_sorry_inhibit(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if "sorry_server" not in f:
        ctx.warn(node, "Ignoring sorry_server inhibit used before or without sorry_server")
        return
    switch("sorry_server_inhibit")(ctx, node, w, f)


def _h_sorry_method(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if "sorry_server" not in f:
        ctx.warn(node, "sorry_server forwarding used without sorry_server")
        return
    forwarding_method("sorry_server_lvs_method")(ctx, node, w, f)


def _h_ip_family(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] in ("inet", "inet6"):
        f["ip_family"] = w[1]
    else:
        ctx.warn(node, f"unknown address family {w[1]}")


def _h_real_server(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    a = ctx.ip(node, w[1], "real server")
    port = ctx.int_(node, w[2], 0, 65535) if len(w) > 2 else 0
    rf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], REAL_SERVER, rf)
    if a is None or port is None:
        return
    rf["address"] = a
    rf["port"] = port
    f.setdefault("_real_servers", []).append((node, rf))


REAL_SERVER: dict[str, Handler] = {
    "weight": integer("weight", 0, 2147483647, "Real server weight {v} is outside range 0-2147483647"),
    "lvs_method": forwarding_method("lvs_method"),
    "lb_kind": forwarding_method("lvs_method"),
    "uthreshold": integer("uthreshold", 0, 2147483647),
    "lthreshold": integer("lthreshold", 0, 2147483647),
    "inhibit_on_failure": flag("inhibit_on_failure"),
    "notify_up": script("notify_up"),
    "notify_down": script("notify_down"),
    "alpha": flag("alpha"),
    "smtp_alert": flag("smtp_alert"),
    "virtualhost": string("virtualhost"),
    **COMMON_TIMING,
    **{k: checker_block(k) for k in CHECKER_TABLES},
}


VIRTUAL_SERVER: dict[str, Handler] = {
    "lvs_sched": _h_sched,
    "lb_algo": _h_sched,
    "lvs_method": forwarding_method("lvs_method"),
    "lb_kind": forwarding_method("lvs_method"),
    **{k: _h_flag_list for k in ("flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port",
                                  "mh-fallback", "ops", "hashed")},
    "persistence_timeout": _h_persistence_timeout,
    "persistence_granularity": string("persistence_granularity"),
    "persistence_engine": string("persistence_engine"),
    "protocol": _h_protocol,
    "ip_family": _h_ip_family,
    "ha_suspend": switch("ha_suspend"),
    "alpha": switch("alpha"),
    "omega": switch("omega"),
    "quorum": integer("quorum", 1, 4294967295, "Quorum {v} must be in [1, 4294967295]. Setting to 1.", 1),
    "hysteresis": integer("hysteresis", 0, 2147483647),
    "quorum_up": script("quorum_up"),
    "quorum_down": script("quorum_down"),
    "sorry_server": _h_sorry_server,
    "sorry_server_inhibit": _h_sorry_inhibit,
    "sorry_server_lvs_method": _h_sorry_method,
    "inhibit_on_failure": switch("inhibit_on_failure"),
    "smtp_alert": flag("smtp_alert"),
    "virtualhost": string("virtualhost"),
    "snmp_name": string("snmp_name"),
    "real_server": block(_h_real_server, lambda: REAL_SERVER),
    **COMMON_TIMING,
    "delay_loop": timer("delay_loop", 0.000001, 4294.967295, "virtual server delay loop '{v}' invalid - ignoring"),
}


def virtual_server_group_block(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    name = block_name(ctx, node, w, "virtual_server_group")
    entries: list[m.VsgEntry] = []
    for child, cw in value_lines(ctx, node):
        if cw[0] == "fwmark":
            ctx.need(child, cw, 1)
            mark = ctx.int_(child, cw[1], 1, 4294967295)
            fam: m.Family | None = None
            if len(cw) > 2 and cw[2] == "inet":
                fam = "inet"
            elif len(cw) > 2 and cw[2] == "inet6":
                fam = "inet6"
            if mark is not None:
                entries.append(m.VsgEntry(fwmark=mark, family=fam, pos=pos(child)))
            continue
        port = ctx.int_(child, cw[1], 0, 65535) if len(cw) > 1 else 0
        addr_s = cw[0]
        try:
            first: m.IPAddress
            last: m.IPAddress | None = None
            if "/" in addr_s:
                net = ipaddress.ip_network(addr_s, strict=False)
                first = net.network_address
                last = net.broadcast_address if net.num_addresses > 1 else None
            elif "-" in addr_s:
                a, _, b = addr_s.partition("-")
                first = ipaddress.ip_address(a)
                if first.version == 4:
                    parts = str(first).split(".")
                    last = ipaddress.ip_address(".".join(parts[:3] + [b]))
                else:
                    head = str(first).rsplit(":", 1)[0]
                    last = ipaddress.ip_address(f"{head}:{b}")
                if int(last) < int(first):
                    raise ValueError(addr_s)
            else:
                first = ipaddress.ip_address(addr_s)
        except ValueError:
            ctx.warn(child, f"VS group {name}: invalid address {addr_s}")
            continue
        if port is not None:
            entries.append(m.VsgEntry(address=first, address_end=last, port=port, pos=pos(child)))
    f.setdefault("virtual_server_groups", []).append(
        m.VirtualServerGroup(name=name or "", entries=tuple(entries), pos=pos(node)))


def virtual_server_block(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    vf: Fields = {"pos": pos(node), "_node": node}
    if w[1] == "fwmark":
        ctx.need(node, w, 2)
        mark = ctx.int_(node, w[2], 1, 4294967295)
        if mark is None:
            return
        vf["fwmark"] = mark
    elif w[1] == "group":
        ctx.need(node, w, 2)
        vf["group"] = w[2]
    else:
        a: m.IPAddress | None
        try:
            a = ipaddress.ip_address(w[1])
        except ValueError:
            a = None
        port = ctx.int_(node, w[2], 0, 65535) if len(w) > 2 else 0
        if a is None or port is None:
            ctx.warn(node, f"Invalid virtual server IP address/port {w[1]}/{w[2] if len(w) > 2 else ''} - skipping")
            return
        vf["address"] = a
        vf["port"] = port
    walk(ctx, node.children or [], VIRTUAL_SERVER, vf)
    f.setdefault("_virtual_servers", []).append(vf)


keyword_rules(VIRTUAL_SERVER, stops=TIMING_STOPS | {
    "hysteresis", "ip_family", "lb_algo", "lb_kind", "lvs_method", "lvs_sched", "persistence_engine",
    "persistence_granularity", "protocol", "quorum", "quorum_down", "quorum_up", "real_server", "sorry_server"})
keyword_rules(REAL_SERVER, stops=TIMING_STOPS | {"lthreshold", "lvs_method", "notify_down", "notify_up", "uthreshold",
                                                 "weight"}, newer={"lb_kind"})
