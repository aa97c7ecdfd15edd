"""The top level of keepalived.conf (ROOT) and its small blocks: garp_group, track_group,
linkbeat_interfaces, interface_up_down_delays, net_namespace."""

from __future__ import annotations

from typing import Literal

from pykeepalived.config import model as m
from pykeepalived.config.blocks import (
    Ctx,
    Fields,
    Handler,
    block,
    block_name,
    flag,
    keyword_rules,
    named_block,
    pos,
    string,
    timer,
    value_block,
    value_lines,
    walk,
)
from pykeepalived.config.grammar import Node
from pykeepalived.config.keywords.addresses import parse_ipaddress, parse_route, parse_rule
from pykeepalived.config.keywords.checkers import SSL_TABLE, ssl_block
from pykeepalived.config.keywords.global_defs import GLOBAL_DEFS
from pykeepalived.config.keywords.trackers import BFD_INSTANCE, TRACK_FILE, TRACK_PROCESS, VRRP_SCRIPT
from pykeepalived.config.keywords.virtual_server import (
    VIRTUAL_SERVER,
    virtual_server_block,
    virtual_server_group_block,
)
from pykeepalived.config.keywords.vrrp_instance import VRRP_INSTANCE
from pykeepalived.config.keywords.vrrp_sync_group import SYNC_GROUP, group_names


def _h_garp_ifaces(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    for child, ws in value_lines(ctx, node):
        f.setdefault("_ifaces", []).extend((x, child) for x in ws)


def _h_garp_iface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f.setdefault("_ifaces", []).append((w[1], node))


GARP_GROUP: dict[str, Handler] = {"garp_interval": timer("garp_interval", 0, 4294.967295),
                                  "gna_interval": timer("gna_interval", 0, 4294.967295),
                                  "interface": _h_garp_iface, "interfaces": block(_h_garp_ifaces)}


def _h_garp_group(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    gf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], GARP_GROUP, gf)
    taken = {i for g in f.get("garp_groups", []) for i in g.interfaces}
    names: list[str] = []
    for name, where in gf.pop("_ifaces", []):
        if name in taken:
            ctx.warn(where, f"garp_group already specified for {name} - ignoring")
            continue
        taken.add(name)
        names.append(name)
    gf["interfaces"] = tuple(names)
    groups = f.setdefault("garp_groups", [])
    if "garp_interval" not in gf and "gna_interval" not in gf:
        ctx.warn(node, f"garp group {len(groups)} does not have any delay set - removing")
        return
    groups.append(m.GarpGroup(**gf))


def _h_track_group_names(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if "group" in f:
        ctx.warn(node, f"Group list already specified for sync group {f['name']}")
        return
    group_names(ctx, node, w, f)
    if not f.get("group"):
        # 2.2.7 reports it once the value block is read: at its closing '}'
        end = Node(node.text, node.file, node.end_line) if node.end_line is not None else node
        ctx.warn(end, f"Warning - track group {f['name']} has empty group block")


TRACK_GROUP: dict[str, Handler] = {"group": block(_h_track_group_names)}


def _h_track_group(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    name = block_name(ctx, node, w, "track_group")
    tf: Fields = {"name": name, "pos": pos(node)}
    walk(ctx, node.children or [], TRACK_GROUP, tf)
    f.setdefault("track_groups", []).append(m.TrackGroup(**tf))


def _h_linkbeat_interfaces(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("linkbeat_interfaces", ()))
    for child, cw in value_lines(ctx, node):
        t = cw[1].upper() if len(cw) > 1 else "MII"
        kind: Literal["MII", "ETHTOOL", "IOCTL"] = "MII"
        if t == "ETHTOOL":
            kind = "ETHTOOL"
        elif t == "IOCTL":
            kind = "IOCTL"
        elif t != "MII":
            ctx.warn(child, f"Unknown linkbeat type {cw[1]}")
        out.append(m.LinkbeatInterface(name=cw[0], type=kind, pos=pos(child)))
    f["linkbeat_interfaces"] = tuple(out)


def _h_up_down_delays(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("interface_up_down_delays", ()))
    for child, cw in value_lines(ctx, node):
        if len(cw) < 2:
            ctx.warn(child, f"interface_up_down_delays: missing delay for {cw[0]}")
            continue
        down = ctx.float_(child, cw[1], 0, 255)
        up = ctx.float_(child, cw[2], 0, 255) if len(cw) > 2 else down
        if down is not None and up is not None:
            out.append(m.InterfaceUpDownDelay(interface=cw[0], down=down, up=up, pos=pos(child)))
    f["interface_up_down_delays"] = tuple(out)


def _h_global_defs(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    gf: Fields = f.setdefault("_global_defs", {"pos": pos(node)})
    walk(ctx, node.children or [], GLOBAL_DEFS, gf)


def _h_net_namespace(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if f.get("net_namespace") is not None:
        ctx.warn(node, "Duplicate net_namespace definition - ignoring")
        return
    f["net_namespace"] = w[1]


def _h_net_namespace_ipvs(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["net_namespace_ipvs"] = w[1] if len(w) > 1 else ""


ROOT: dict[str, Handler] = {
    "global_defs": block(_h_global_defs, lambda: GLOBAL_DEFS),
    "vrrp_instance": named_block("vrrp_instances", VRRP_INSTANCE),
    "vrrp_sync_group": named_block("vrrp_sync_groups", SYNC_GROUP),
    "vrrp_script": named_block("vrrp_scripts", VRRP_SCRIPT),
    "track_file": named_block("track_files", TRACK_FILE),
    "vrrp_track_file": named_block("track_files", TRACK_FILE),
    "vrrp_track_process": named_block("track_processes", TRACK_PROCESS),
    "static_ipaddress": value_block("static_ipaddress", parse_ipaddress),
    "static_routes": value_block("static_routes", parse_route),
    "static_rules": value_block("static_rules", parse_rule),
    "virtual_server_group": block(virtual_server_group_block),
    "virtual_server": block(virtual_server_block, lambda: VIRTUAL_SERVER),
    "SSL": block(ssl_block, lambda: SSL_TABLE),
    "bfd_instance": named_block("bfd_instances", BFD_INSTANCE),
    "garp_group": block(_h_garp_group, lambda: GARP_GROUP),
    "track_group": block(_h_track_group, lambda: TRACK_GROUP),
    "linkbeat_use_polling": flag("linkbeat_use_polling"),
    "linkbeat_interfaces": block(_h_linkbeat_interfaces),
    "interface_up_down_delays": block(_h_up_down_delays),
    "net_namespace": _h_net_namespace,
    "net_namespace_ipvs": _h_net_namespace_ipvs,
    "namespace_with_ipsets": flag("namespace_with_ipsets"),
    "instance": string("instance"),
    "use_pid_dir": flag("use_pid_dir"),
    "child_wait_time": timer("child_wait_time", 0, 4294.967295),
}


keyword_rules(ROOT, stops={"child_wait_time", "track_file", "virtual_server", "virtual_server_group", "vrrp_script",
                           "vrrp_track_file", "vrrp_track_process"})
