"""Trackers: vrrp_script, vrrp_track_file, vrrp_track_process, bfd_instance, and the
track_interface / track_script / track_file / track_process / track_bfd references of an
instance or sync group."""

from __future__ import annotations

from pykeepalived.config import model as m
from pykeepalived.config.blocks import (
    Ctx,
    Fields,
    Handler,
    block,
    flag,
    integer,
    ip_field,
    keyword_rules,
    pos,
    rest_text,
    string,
    switch,
    timer,
    user_and_group,
    value_lines,
)
from pykeepalived.config.grammar import Node


def _weight(ctx: Ctx, node: Node, w: list[str], i: int, lo: int, hi: int) -> tuple[int | None, bool | None]:
    weight: int | None = None
    reverse: bool | None = None
    while i < len(w):
        if w[i] == "weight" and i + 1 < len(w):
            weight = ctx.int_(node, w[i + 1], lo, hi)
            if weight is None:
                ctx.warn(node, f"weight for {w[0]} must be between {lo} and {hi} - ignoring")
            i += 2
        elif w[i] == "reverse":
            reverse = True
            i += 1
        elif w[i] == "noreverse":
            reverse = False
            i += 1
        else:
            ctx.warn(node, f"unknown option '{w[i]}' for {w[0]}")
            i += 1
    return weight, reverse


def track_interface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("track_interface", ()))
    for child, cw in value_lines(ctx, node):
        weight, reverse = _weight(ctx, child, cw, 1, -253, 253)
        out.append(m.TrackInterface(name=cw[0], weight=weight or 0, reverse=bool(reverse), pos=pos(child)))
    f["track_interface"] = tuple(out)


def track_refs(field: str, lo: int, hi: int) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        out = list(f.get(field, ()))
        for child, cw in value_lines(ctx, node):
            weight, reverse = _weight(ctx, child, cw, 1, lo, hi)
            out.append(m.TrackRef(name=cw[0], weight=weight, reverse=reverse, pos=pos(child)))
        f[field] = tuple(out)
    return block(h)


def weight_reverse(lo: int, hi: int) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        v = ctx.int_(node, w[1], lo, hi)
        if v is None:
            ctx.warn(node, f"({f['name']}) weight '{w[1]}' must be between {lo} and {hi}")
            return
        f["weight"] = v
        if len(w) > 2:
            if w[2] == "reverse":
                f["weight_reverse"] = True
            elif w[2] != "noreverse":
                ctx.warn(node, f"({f['name']}) unknown weight option {w[2]}")
    return h


def _h_script_optional(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) > 1:
        f["script"] = ctx.script(node, rest_text(node))


def _h_script_interval(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0, 4294.967295)
    if v is None:
        ctx.warn(node, f"({f['name']}): vrrp script interval '{w[1]}' invalid - ignoring")
    elif v == 0:
        ctx.warn(node, f"({f['name']}): vrrp script interval must be greater than 0, setting to 1")
        f["interval"] = 1.0
    else:
        f["interval"] = v


# What a vrrp_instance and a vrrp_sync_group track, with keepalived's weight ranges.
TRACKING: dict[str, Handler] = {
    "track_interface": block(track_interface),
    "track_script": track_refs("track_script", -253, 253),
    "track_file": track_refs("track_file", -254, 254),
    "track_process": track_refs("track_process", -254, 254),
    "track_bfd": track_refs("track_bfd", -253, 253),
}

VRRP_SCRIPT: dict[str, Handler] = {
    "script": _h_script_optional,
    "interval": _h_script_interval,
    "timeout": timer("timeout", 0.000001, 4294.967295),
    "weight": weight_reverse(-253, 253),
    "rise": integer("rise", 1, 2147483647, "({name}): vrrp script rise value '{v}' invalid, defaulting to 1", 1),
    "fall": integer("fall", 1, 2147483647, "({name}): vrrp script fall value '{v}' invalid, defaulting to 1", 1),
    "user": user_and_group,
    "init_fail": switch("init_fail"),
}


def _h_init_file(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["init_file"] = 0
    for a in w[1:]:
        if a == "overwrite":
            f["init_file_overwrite"] = True
        else:
            v = ctx.int_(node, a, -2147483648, 2147483647)
            if v is not None:
                f["init_file"] = v


TRACK_FILE: dict[str, Handler] = {
    "file": string("file"),
    "weight": weight_reverse(-254, 254),
    "init_file": _h_init_file,
}


def _h_process(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["process"] = w[1]
    f["parameters"] = tuple(w[2:])


def _h_param_match(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        f["param_match"] = "initial"
        return
    if w[1] in ("initial", "partial"):
        f["param_match"] = w[1]
    else:
        ctx.warn(node, f"({f['name']}) invalid param_match type {w[1]} - ignoring")


def _h_process_delay(prefix: str) -> Handler:
    """fork_delay / terminate_delay / delay (both): 1 us .. 3600 s; the last keyword wins."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        v = ctx.float_(node, w[1], 0.000001, 3600)
        if v is None:
            ctx.warn(node, f"{prefix}delay ({w[1]}) for vrrp_track_process {f.get('name', '')} must be between "
                           "[0.000001..3600] inclusive. Ignoring...")
            return
        if prefix != "fork_":
            f["terminate_delay"] = v
        if prefix != "terminate_":
            f["fork_delay"] = v
    return h


TRACK_PROCESS: dict[str, Handler] = {
    "process": _h_process,
    "param_match": _h_param_match,
    "weight": weight_reverse(-254, 254),
    "quorum": integer("quorum", 0, 65535),
    "quorum_max": integer("quorum_max", 0, 65535),
    "fork_delay": _h_process_delay("fork_"),
    "terminate_delay": _h_process_delay("terminate_"),
    "delay": _h_process_delay(""),
    "full_command": flag("full_command"),
}


BFD_INSTANCE: dict[str, Handler] = {
    "neighbor_ip": ip_field("neighbor_ip"),
    "neighbour_ip": ip_field("neighbor_ip"),
    "source_ip": ip_field("source_ip"),
    "min_rx": integer("min_rx", 1, 1000000),
    "min_tx": integer("min_tx", 1, 1000000),
    "idle_tx": integer("idle_tx", 1, 1000000),
    "multiplier": integer("multiplier", 1, 255),
    "passive": switch("passive"),
    "ttl": integer("ttl", 1, 255),
    "hoplimit": integer("hoplimit", 1, 255),
    "max_hops": integer("max_hops", 0, 255),
    "multihop": flag("multihop"),
    "weight": weight_reverse(-253, 253),
    "vrrp": switch("_vrrp_only"),
    "checker": switch("_checker_only"),
}


keyword_rules(VRRP_SCRIPT, stops={"fall", "interval", "rise", "timeout", "user", "weight"})
keyword_rules(TRACK_PROCESS, stops={"delay", "fork_delay", "process", "quorum", "quorum_max", "terminate_delay"})
keyword_rules(BFD_INSTANCE, stops={"hoplimit", "idle_tx", "max_hops", "min_rx", "min_tx", "multiplier", "source_ip",
                                   "ttl", "weight"}, newer={"multihop"})
