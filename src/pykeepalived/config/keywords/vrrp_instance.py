"""vrrp_instance: keyword -> handler (its completion rules are in config/complete.py)."""

from __future__ import annotations

import ipaddress

from pykeepalived.config import model as m
from pykeepalived.config.blocks import (
    Ctx,
    Fields,
    Handler,
    block,
    deprecated,
    flag,
    integer,
    ip_field,
    keyword_rules,
    noop,
    pos,
    rest_text,
    script,
    string,
    switch,
    timer,
    value_block,
    value_lines,
    walk,
)
from pykeepalived.config.grammar import Node
from pykeepalived.config.keywords.addresses import parse_ipaddress, parse_route, parse_rule
from pykeepalived.config.keywords.global_defs import garp_extra_if
from pykeepalived.config.keywords.trackers import TRACKING
from pykeepalived.textbytes import to_bytes


def _h_state(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] in ("MASTER", "BACKUP"):
        f["state"] = w[1]
    else:
        ctx.warn(node, f"({f['name']}) unknown state '{w[1]}', defaulting to BACKUP")
        f["state"] = "BACKUP"


def _h_interface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["interface"] = w[1]
    f["_if_pos"] = pos(node)  # keepalived names the interface line when it does not exist


def _h_advert_int(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0.01, 255)
    if v is None:
        ctx.warn(node, f"({f['name']}) Advert interval ({w[1]}) not valid! Must be > 0 - ignoring")
    else:
        f["advert_int"] = v
        f["_advert_int_node"] = node


def _h_unicast_peer(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("unicast_peer", ()))
    seen = {p.address for p in out}
    for child, cw in value_lines(ctx, node):
        try:
            a: m.IPAddress = ipaddress.ip_address(cw[0].split("%", 1)[0])
        except ValueError:
            ctx.warn(child, f"Configuration error: VRRP instance[{f['name']}] malformed unicast peer "
                            f"address[{cw[0]}]. Skipping...")
            continue
        kw: Fields = {"address": a, "pos": pos(child)}
        i = 1
        while i + 1 < len(cw):
            if cw[i] in ("min_ttl", "max_ttl"):
                n = ctx.int_(child, cw[i + 1], 0, 255)
                if n is not None:
                    kw[cw[i]] = n
            else:
                ctx.warn(child, f"Unknown unicast_peer option {cw[i]}")
            i += 2
        if a in seen:
            ctx.warn(child, f"({f['name']}) Duplicate unicast peer {a} - ignoring")
            continue
        seen.add(a)
        out.append(m.UnicastPeer(**kw))
    f["unicast_peer"] = tuple(out)


def _h_src_ip(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        try:
            f[field] = ipaddress.ip_address(w[1].split("%", 1)[0])
        except ValueError:
            ctx.warn(node, f"Configuration error: VRRP instance[{f['name']}] malformed src address[{w[1]}]. "
                           "Skipping...")
    return h


def _h_auth_type(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] in ("PASS", "AH"):
        f["auth_type"] = w[1]
    else:
        ctx.warn(node, f"({f['name']}) unknown authentication type '{w[1]}'")


def _h_auth_pass(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    pw = w[1] if len(w) == 2 else rest_text(node)
    raw = to_bytes(pw)  # the bytes as written in the file (keepalived copies them)
    if len(raw) > 8:
        ctx.info(node, "Truncating auth_pass to 8 characters")
    f["auth_pass"] = raw[:8]


AUTHENTICATION: dict[str, Handler] = {"auth_type": _h_auth_type, "auth_pass": _h_auth_pass}


def _h_authentication(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    af: Fields = {"name": f.get("name", ""), "pos": pos(node)}
    walk(ctx, node.children or [], AUTHENTICATION, af)
    if "auth_type" in af:
        f["authentication"] = m.Authentication(**{k: v for k, v in af.items() if k != "name"})


def _h_use_vmac(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    kw: Fields = {"pos": pos(node)}
    i = 1
    while i < len(w):
        a = w[i]
        if a == "netlink_notify_msg":
            kw["netlink_notify_msg"] = True
        elif a == "group" and i + 1 < len(w):
            kw["group"] = ctx.int_(node, w[i + 1], 0, 2147483647)
            i += 1
        elif ":" in a:
            kw["mac"] = a
        elif "name" not in kw:
            kw["name"] = a
        i += 1
    f["use_vmac"] = m.Vmac(**kw)


def _h_use_ipvlan(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    kw: Fields = {"pos": pos(node)}
    for i, a in enumerate(w[1:], 1):
        if a in ("bridge", "private", "vepa"):
            kw["mode"] = a
        elif a == "group":
            continue
        elif w[i - 1] == "group":
            kw["group"] = ctx.int_(node, a, 0, 2147483647)
        else:
            try:
                kw["address"] = ipaddress.ip_interface(a)
            except ValueError:
                kw["name"] = a
    f["use_ipvlan"] = m.Ipvlan(**kw)


def _h_timer_expired_backup(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["timer_expired_backup"] = ctx.int_(node, w[1], 0, 254) if len(w) > 1 else 0


def _h_old_unicast_checksum(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["old_unicast_checksum"] = "never" if len(w) > 1 and w[1] == "never" else "always"


def _h_notify_deleted(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) > 1:
        f["notify_deleted"] = ctx.script(node, rest_text(node))
    else:
        f["notify_deleted_set"] = True


def _h_lvs_sync_daemon_interface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.warn(node, f"({f['name']}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.")
    ctx.warn(node, "        Please use global lvs_sync_daemon")
    ctx.need(node, w, 1)


def _h_preempt_delay(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0, 1000)
    if v is None:
        ctx.warn(node, f"({f['name']}) Preempt_delay not valid! must be between 0-1000")
    else:
        f["preempt_delay"] = v


def _h_accept(value: bool) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        f["accept"] = value
    return h


def _h_garp(field: str, is_timer: bool) -> Handler:
    bad = "({name}): {kw} '{v}' invalid - ignoring"
    return timer(field, 0, 4294.967295, bad) if is_timer else integer(field, 0, 2147483647, bad)


VRRP_INSTANCE: dict[str, Handler] = {
    "state": _h_state,
    "interface": _h_interface,
    "dont_track_primary": switch("dont_track_primary"),
    **TRACKING,
    "track_src_ip": switch("track_src_ip"),
    "mcast_src_ip": _h_src_ip("mcast_src_ip"),
    "unicast_src_ip": _h_src_ip("unicast_src_ip"),
    "mcast_dst_ip": ip_field("mcast_dst_ip"),
    "unicast_peer": block(_h_unicast_peer),
    "unicast_ttl": integer("unicast_ttl", 0, 255, "({name}): TTL '{v}' not valid - must be between 0 & 255"),
    "unicast_fault_no_peer": switch("unicast_fault_no_peer"),
    "check_unicast_src": switch("check_unicast_src"),
    "old_unicast_checksum": _h_old_unicast_checksum,
    "virtual_router_id": integer("virtual_router_id", 1, 255,
                                 "({name}): VRID '{v}' not valid - must be between 1 & 255"),
    "priority": integer("priority", 1, 255,
                        "({name}) Priority not valid! must be between 1 & 255. Using default 100"),
    "advert_int": _h_advert_int,
    "version": integer("version", 2, 3, "({name}): Version must be either 2 or 3"),
    "virtual_ipaddress": value_block("virtual_ipaddress", parse_ipaddress),
    "virtual_ipaddress_excluded": value_block("virtual_ipaddress_excluded", parse_ipaddress),
    "no_virtual_ipaddress": flag("no_virtual_ipaddress"),
    "promote_secondaries": switch("promote_secondaries"),
    "virtual_routes": value_block("virtual_routes", parse_route),
    "virtual_rules": value_block("virtual_rules", parse_rule),
    "accept": _h_accept(True),
    "no_accept": _h_accept(False),
    "skip_check_adv_addr": flag("skip_check_adv_addr"),
    "strict_mode": flag("strict_mode"),
    "preempt": switch("nopreempt", False),
    "nopreempt": switch("nopreempt"),
    "preempt_delay": _h_preempt_delay,
    "debug": integer("debug", 0, 4, "({name}) Debug value '{v}' not valid; must be between 0-4"),
    "notify_backup": script("notify_backup"),
    "notify_master": script("notify_master"),
    "notify_fault": script("notify_fault"),
    "notify_stop": script("notify_stop"),
    "notify_deleted": _h_notify_deleted,
    "notify": script("notify"),
    "notify_master_rx_lower_pri": script("notify_master_rx_lower_pri"),
    "notify_priority_changes": flag("notify_priority_changes"),
    "smtp_alert": flag("smtp_alert"),
    "lvs_sync_daemon_interface": _h_lvs_sync_daemon_interface,
    "garp_master_delay": _h_garp("garp_master_delay", True),
    "garp_master_repeat": _h_garp("garp_master_repeat", False),
    "garp_lower_prio_delay": _h_garp("garp_lower_prio_delay", True),
    "garp_lower_prio_repeat": _h_garp("garp_lower_prio_repeat", False),
    "garp_master_refresh": _h_garp("garp_master_refresh", True),
    "garp_master_refresh_repeat": _h_garp("garp_master_refresh_repeat", False),
    "garp_extra_if": garp_extra_if(""),
    "vmac_garp_intvl": deprecated(garp_extra_if(""), 'Keyword "vmac_garp_intvl" is deprecated - please use'
                                                         ' "garp_extra_if"'),
    "lower_prio_no_advert": flag("lower_prio_no_advert"),
    "higher_prio_send_advert": flag("higher_prio_send_advert"),
    "owner_ignore_adverts": flag("owner_ignore_adverts"),
    "kernel_rx_buf_size": integer("kernel_rx_buf_size", 0, 2147483647),
    "native_ipv6": deprecated(noop, "({name}) native_ipv6 is deprecated (implied by an IPv6 address)"),
    "linkbeat_use_polling": deprecated(noop, "({name}) 'linkbeat_use_polling' in vrrp instance deprecated - "
                                                "use linkbeat_interfaces"),
    "authentication": block(_h_authentication, lambda: AUTHENTICATION),
    "use_vmac": _h_use_vmac,
    "use_vmac_addr": switch("use_vmac_addr"),
    "vmac_xmit_base": switch("vmac_xmit_base"),
    "use_ipvlan": _h_use_ipvlan,
    "vrf": string("vrf"),
    "down_timer_adverts": integer("down_timer_adverts", 1, 100, "({name}): Invalid down_timer_adverts [1:100] '{v}'"),
    "timer_expired_backup": _h_timer_expired_backup,
    "thread_timer_expired": _h_timer_expired_backup,
    "v3_checksum_as_v2": flag("v3_checksum_as_v2"),
}


keyword_rules(VRRP_INSTANCE, stops={
    "interface", "virtual_router_id", "advert_int", "debug", "down_timer_adverts", "garp_lower_prio_delay",
    "garp_lower_prio_repeat", "garp_master_delay", "garp_master_refresh", "garp_master_refresh_repeat",
    "garp_master_repeat", "mcast_dst_ip", "mcast_src_ip", "notify", "notify_backup", "notify_fault",
    "notify_master", "notify_master_rx_lower_pri", "notify_stop", "preempt_delay", "priority", "state",
    "unicast_src_ip", "unicast_ttl", "version", "vrf", "lvs_sync_daemon_interface"}, newer={
    "no_virtual_ipaddress", "owner_ignore_adverts", "thread_timer_expired", "timer_expired_backup",
    "v3_checksum_as_v2"})
