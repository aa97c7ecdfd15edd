"""Completion: the block dicts -> the model, with keepalived's completion rules and cross-checks
(vrrp_complete_instance, chk_min_cfg and friends).

Each keepalived rule is one function here that both reports (with keepalived's words) and applies.
`resolve_instance` runs the same vrrp_instance rules silently: the model computes an instance's
`effective` values with it, so a rule cannot warn one way and apply another.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import stat
from collections.abc import Callable, Iterator
from typing import Any

from pykeepalived.config import model as m
from pykeepalived.config.blocks import Ctx, Fields
from pykeepalived.config.grammar import Node
from pykeepalived.config.keywords.checkers import CHECKER_CLASSES
from pykeepalived.config.keywords.global_defs import user_exists
from pykeepalived.config.model import Level, Pos

# ---------------------------------------------------------------------------------------------
# vrrp_instance: keepalived's vrrp_complete_instance(), each rule warning and applying once

Say = Callable[[str, str], None]  # (where, message); where: "instance" or "advert_int" (its line)


def _silent(where: str, msg: str) -> None:
    pass


def round_advert_int(version: int, configured: float) -> float:
    """The advert interval keepalived 2.2.7 uses (vrrp_complete_instance): VRRPv2 whole seconds,
    VRRPv3 10 ms units, each rounded half up in integer microseconds (v2: 2.5 s -> 3, 1.5 -> 2,
    0.5 -> 1, 0.4 -> 1; v3: 0.145 -> 0.15; captured from keepalived's adverts), never 0, at most
    255 s (v2) / 40.95 s (v3). The one copy: core uses the resolved value."""
    unit, top = (1_000_000, 255) if version == 2 else (10_000, 4095)
    us = round(configured * 1_000_000)      # keepalived reads 6 decimals into microseconds
    units = (us + unit // 2) // unit
    return min(top, max(1, units)) * unit / 1_000_000


class _Instance:
    """One vrrp_instance being completed: the configured instance (`vi`, replaced when a rule
    changes a configured value) and the resolved values found so far."""

    family: m.Family
    version: int
    strict: bool
    priority: int
    owner: bool
    state: m.State
    advert_int: float
    nopreempt: bool
    preempt_delay: float

    def __init__(self, vi: m.VrrpInstance, gd: m.GlobalDefs, say: Say) -> None:
        self.vi = vi
        self.gd = gd
        self.say = say

    def warn(self, msg: str) -> None:
        self.say("instance", f"({self.vi.name}) {msg}")

    def replace(self, **kw: Any) -> None:
        self.vi = dataclasses.replace(self.vi, **kw)


def _family(vi: m.VrrpInstance) -> m.Family:
    """From the first VIP, else the first unicast peer, unicast_src_ip, mcast_src_ip; else IPv4."""
    if vi.virtual_ipaddress:
        return vi.virtual_ipaddress[0].family
    for a in (vi.unicast_peer[0].address if vi.unicast_peer else None, vi.unicast_src_ip, vi.mcast_src_ip):
        if a is not None:
            return "inet" if a.version == 4 else "inet6"
    return "inet"


def _rule_version(r: _Instance) -> None:
    """IPv6 means VRRPv3; strict mode from the instance, else global_defs."""
    vi = r.vi
    r.family = _family(vi)
    r.version = vi.version if vi.version is not None else r.gd.vrrp_version
    if r.family == "inet6":
        if vi.version == 2 and vi.virtual_ipaddress:
            r.warn("cannot use IPv6 with VRRP version 2; setting version 3")
        r.version = 3
    r.strict = r.gd.vrrp_strict if vi.strict_mode is None else vi.strict_mode


def _rule_advert_int(r: _Instance) -> None:
    """Default 1 s; v2 rounded to whole seconds, v3 to 10 ms and at most 40.95 s."""
    adv = r.vi.advert_int
    if adv is not None:
        if r.version == 2 and adv != int(adv):
            r.say("advert_int", f"({r.vi.name}) VRRPv2 advertisement interval {adv:f}s must be an integer. rounding")
        elif r.version == 3 and adv > 40.95:
            r.say("advert_int", f"({r.vi.name}) VRRPv3 advertisement interval {adv:f}s is out of range. "
                                f"Must be less than 40.96 seconds. Setting to 40.95s")
    r.advert_int = round_advert_int(r.version, 1.0 if adv is None else adv)


def _rule_priority_and_state(r: _Instance) -> None:
    """Priority absent: 255 with state MASTER, else 100; state absent: MASTER iff the address
    owner; in strict mode only the address owner starts as MASTER."""
    vi = r.vi
    if vi.priority is None:
        r.priority = 255 if vi.state == "MASTER" else 100
    else:
        r.priority = vi.priority
    r.owner = r.priority == 255
    r.state = vi.state if vi.state is not None else ("MASTER" if r.owner else "BACKUP")
    if r.strict and r.state == "MASTER" and not r.owner:
        r.warn("State MASTER must match being address owner")
        r.state = "BACKUP"


def _rule_authentication(r: _Instance) -> None:
    """Authentication is VRRPv2 only and not in strict mode; AH cannot start as MASTER unless
    the address owner."""
    auth = r.vi.authentication
    if auth is None:
        return
    if r.strict:
        r.warn("Strict mode does not support authentication. Ignoring.")
        r.replace(authentication=None)
    elif r.version == 3:
        r.warn("VRRPv3 does not support authentication. Ignoring.")
        r.replace(authentication=None)
    elif auth.auth_type == "AH" and r.state == "MASTER" and r.priority != 255:
        r.warn("Initial state master is incompatible with AH authentication - clearing")
        r.replace(state="BACKUP")
        r.state = "BACKUP"


def _rule_unicast(r: _Instance) -> None:
    """Unicast keywords without unicast peers: multicast, and unicast_ttl is reset."""
    vi = r.vi
    if vi.unicast_peer:
        return
    if vi.check_unicast_src is not None or vi.old_unicast_checksum != "auto":
        r.warn("A unicast keyword has been specified without any unicast peers. Defaulting "
               "to multicast. This usage is deprecated - please update your configuration.")
    if vi.unicast_ttl is not None:
        r.say("instance_end", f"({vi.name}): Cannot use unicast_ttl without unicast peers - resetting")
        r.replace(unicast_ttl=None)


def _rule_vmac(r: _Instance) -> None:
    vi = r.vi
    if vi.vmac_xmit_base and vi.use_vmac is None:
        r.warn("vmac_xmit_base is only valid with a vmac")
        r.replace(vmac_xmit_base=False)
    if vi.use_ipvlan is not None and vi.use_ipvlan.address is None and r.family == "inet":
        r.warn("IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state")


def _rule_nopreempt(r: _Instance) -> None:
    """nopreempt is cleared for the address owner and a (resolved) initial state MASTER; the
    message names the configured state, as 2.2.7 does."""
    vi = r.vi
    if vi.nopreempt and (vi.state == "MASTER" or r.owner):
        r.warn("Warning - nopreempt will not work with initial state MASTER - clearing")
    r.nopreempt = vi.nopreempt and not (r.state == "MASTER" or r.owner)


def _rule_preempt_delay(r: _Instance) -> None:
    vi = r.vi
    if vi.preempt_delay and (vi.state == "MASTER" or vi.nopreempt or r.strict):
        r.warn("preempt_delay is incompatible with initial state MASTER/nopreempt/strict mode - clearing")
    r.preempt_delay = vi.preempt_delay or 0.0
    if r.state == "MASTER" or r.nopreempt or r.strict:
        r.preempt_delay = 0.0


# in keepalived's order: the messages come out in this order
INSTANCE_RULES: tuple[Callable[[_Instance], None], ...] = (
    _rule_version, _rule_advert_int, _rule_priority_and_state, _rule_authentication, _rule_unicast, _rule_vmac,
    _rule_nopreempt, _rule_preempt_delay)


def _pick(own: float | int | None, glob: float | int) -> float:
    return float(glob if own is None else own)


def _own(own: bool | None, glob: bool) -> bool:
    return glob if own is None else own


def _effective(r: _Instance) -> m.VrrpEffective:
    """The resolved values: the rules' results, and every per-instance option falling back to
    its global_defs value; strict mode forces no_accept (unless owner), lower_prio_no_advert,
    owner_ignore_adverts and down_timer_adverts 3."""
    vi, gd, strict = r.vi, r.gd, r.strict
    accept = vi.accept if vi.accept is not None else (r.owner if strict else True)
    down = 3 if strict else int(_pick(vi.down_timer_adverts, gd.vrrp_down_timer_adverts))
    mcast: m.IPAddress = vi.mcast_dst_ip if vi.mcast_dst_ip is not None else (
        gd.vrrp_mcast_group4 if r.family == "inet" else gd.vrrp_mcast_group6)
    garp_delay = _pick(vi.garp_master_delay, gd.vrrp_garp_master_delay)
    garp_repeat = int(_pick(vi.garp_master_repeat, gd.vrrp_garp_master_repeat))
    smtp_alert = vi.smtp_alert if vi.smtp_alert is not None else (
        gd.smtp_alert_vrrp if gd.smtp_alert_vrrp is not None else gd.smtp_alert)
    return m.VrrpEffective(
        state=r.state,
        priority=r.priority,
        address_owner=r.owner,
        advert_int=r.advert_int,
        version=r.version,
        family=r.family,
        nopreempt=r.nopreempt,
        preempt_delay=r.preempt_delay,
        accept=accept,
        strict=strict,
        mcast_dst_ip=mcast,
        unicast_ttl=255 if vi.unicast_ttl is None else vi.unicast_ttl,
        garp_master_delay=garp_delay,
        garp_master_repeat=garp_repeat,
        garp_master_refresh=_pick(vi.garp_master_refresh, gd.vrrp_garp_master_refresh),
        garp_master_refresh_repeat=int(_pick(vi.garp_master_refresh_repeat, gd.vrrp_garp_master_refresh_repeat)),
        garp_lower_prio_delay=_pick(vi.garp_lower_prio_delay, _pick(gd.vrrp_garp_lower_prio_delay, garp_delay)),
        garp_lower_prio_repeat=int(_pick(vi.garp_lower_prio_repeat,
                                         _pick(gd.vrrp_garp_lower_prio_repeat, garp_repeat))),
        garp_interval=gd.vrrp_garp_interval,
        gna_interval=gd.vrrp_gna_interval,
        down_timer_adverts=down,
        lower_prio_no_advert=strict or _own(vi.lower_prio_no_advert, gd.vrrp_lower_prio_no_advert),
        higher_prio_send_advert=_own(vi.higher_prio_send_advert, gd.vrrp_higher_prio_send_advert),
        owner_ignore_adverts=strict or _own(vi.owner_ignore_adverts, gd.vrrp_owner_ignore_adverts),
        check_unicast_src=_own(vi.check_unicast_src, gd.vrrp_check_unicast_src)
        or any(p.min_ttl is not None or p.max_ttl is not None for p in vi.unicast_peer),
        skip_check_adv_addr=_own(vi.skip_check_adv_addr, gd.vrrp_skip_check_adv_addr),
        v3_checksum_as_v2=_own(vi.v3_checksum_as_v2, gd.v3_checksum_as_v2),
        notify_priority_changes=_own(vi.notify_priority_changes, gd.vrrp_notify_priority_changes),
        smtp_alert=bool(smtp_alert),
    )


def complete_instance(vi: m.VrrpInstance, gd: m.GlobalDefs, say: Say = _silent) -> m.VrrpInstance:
    """keepalived's vrrp_complete_instance(): the instance with the rules' changes and its
    resolved `effective` values; `say` hears each rule's message. `vi` must be the caller's own
    (its `effective` is set in place when no rule changed it)."""
    r = _Instance(vi, gd, say)
    for rule in INSTANCE_RULES:
        rule(r)
    eff = _effective(r)
    out = r.vi
    if out.effective != eff:
        # the instance is ours until returned: set the resolved values without a second copy
        object.__setattr__(out, "effective", eff)
    return out


def resolve_instance(vi: m.VrrpInstance, gd: m.GlobalDefs) -> m.VrrpEffective:
    """The resolved values of `vi` against `gd`: the same rules as complete_instance, silent."""
    r = _Instance(vi, gd, _silent)
    for rule in INSTANCE_RULES:
        rule(r)
    return _effective(r)


# ---------------------------------------------------------------------------------------------
# Completion: dicts -> model, with keepalived's cross-checks


def _clean(f: Fields) -> Fields:
    return {k: v for k, v in f.items() if not k.startswith("_")}


def _node_at(p: Pos) -> Node:
    return Node("", p.file, p.line)


def system_interfaces() -> frozenset[str]:
    try:
        return frozenset(os.listdir("/sys/class/net"))
    except OSError:
        return frozenset()


def _finish_global(ctx: Ctx, f: Fields) -> m.GlobalDefs:
    g = _clean(f)
    for fifo in ("notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo"):
        s = g.pop(fifo + "_pending_script", None)
        if s is not None and g.get(fifo) is not None:
            prev = g[fifo]
            g[fifo] = m.Fifo(name=prev.name, user=prev.user, group=prev.group, script=s, pos=prev.pos)
    if "other" in g:
        g["other"] = tuple(g["other"])
    return m.GlobalDefs(**g)


def _addr_text(a: m.IPInterface) -> str:
    """An address as keepalived prints it: with its prefix unless it is a host address."""
    return str(a.ip) if a.network.prefixlen == a.max_prefixlen else str(a)


def _vips_on_existing_devices(ctx: Ctx, vips: tuple[m.IpAddress, ...]) -> tuple[m.IpAddress, ...]:
    """2.2.7 checks a VIP's device while parsing it and drops the VIP: before the family rule."""
    if ctx.interfaces is None:
        return vips
    present = []
    for v in vips:
        if v.dev is not None and v.dev not in ctx.interfaces:
            ctx.warn(_node_at(v.pos), f"WARNING - interface {v.dev} for ip address {_addr_text(v.address)} "
                                      "doesn't exist")
            ctx.bad_interface = True
        else:
            present.append(v)
    return tuple(present)


def _vips_of_one_family(ctx: Ctx, f: Fields, vips: tuple[m.IpAddress, ...]) -> tuple[m.IpAddress, ...]:
    """The VIPs of the first VIP's family; none at all is worth a warning."""
    if not vips:
        if not f.get("no_virtual_ipaddress"):
            ctx.warn(None, f"({f['name']}) No VIP specified; at least one is sensible")  # after the read
        return vips
    fam = vips[0].address.version
    kept = []
    for v in vips:
        if v.address.version != fam:
            ctx.warn(_node_at(v.pos),
                     f"({f['name']}): address family must match VRRP instance [{_addr_text(v.address)}] - ignoring")
        else:
            kept.append(v)
    return tuple(kept)


def _finish_instance(ctx: Ctx, f: Fields, gd: m.GlobalDefs) -> m.VrrpInstance | None:
    node: Node = f["_node"]
    f["virtual_ipaddress"] = _vips_on_existing_devices(ctx, f.get("virtual_ipaddress", ()))
    if not f.get("virtual_router_id"):
        return None  # reported by _check_min_cfg
    f["virtual_ipaddress"] = _vips_of_one_family(ctx, f, f["virtual_ipaddress"])
    adv_node: Node = f.get("_advert_int_node", node)

    def say(where: str, msg: str) -> None:
        # keepalived 2.2.7 checks an instance after the whole read (vrrp_complete_instance), where
        # no file or line is current: those messages are unlocated
        ctx.warn(adv_node if where == "advert_int" else node if where == "instance_end" else None, msg)

    vi = complete_instance(m.VrrpInstance(**_clean(f)), gd, say)
    return _fit_vips_in_advert(ctx, node, vi)


DEFAULT_MTU = 1500  # keepalived's, when the interface is unknown


def interface_mtu(name: str) -> int | None:
    try:
        with open(f"/sys/class/net/{name}/mtu") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def max_advert_addresses(family: str, version: int, ah: bool, mtu: int) -> int:
    """keepalived's rule (vrrp_complete_instance): the addresses that fit in an advert of the
    interface's MTU after Ethernet, IP, VRRP (and v2 authentication, AH) headers, at most 255."""
    if family == "inet":
        hdr = 14 + 20 + 8 + (8 if version == 2 else 0) + (24 if ah and version == 2 else 0)
        n = (mtu - hdr) // 4
    else:
        n = (mtu - (14 + 40 + 8)) // 16
    return max(0, min(n, 255))


def _fit_vips_in_advert(ctx: Ctx, node: Node, vi: m.VrrpInstance) -> m.VrrpInstance:
    """VIPs beyond what an advert holds are moved to the eVIPs with keepalived's message: they are
    still added as MASTER but neither advertised nor expected in the peer's adverts."""
    vips = vi.virtual_ipaddress
    if not vips or (len(vips) <= 89 and ctx.mtu_of is None):  # 89: what any advert holds at MTU 1500
        return vi
    mtu = DEFAULT_MTU
    if ctx.mtu_of is not None and vi.interface is not None:
        mtu = ctx.mtu_of(vi.interface) or DEFAULT_MTU
    ah = vi.authentication is not None and vi.authentication.auth_type == "AH"
    most = max_advert_addresses(vi.effective.family, vi.effective.version, ah, mtu)
    if len(vips) <= most:
        return vi
    ctx.warn(node, f"({vi.name}) Number of VIPs ({len(vips)}) exceeds maximum/space available in packet "
                   f"(max {most} addresses) - excess moved to eVIPs")
    return dataclasses.replace(vi, virtual_ipaddress=vips[:most],
                               virtual_ipaddress_excluded=vi.virtual_ipaddress_excluded + vips[most:])


@dataclasses.dataclass(slots=True)
class _Trackers:
    """The trackers that survived completion, for the references to them."""

    scripts: list[m.VrrpScript]
    files: list[m.TrackFile]
    processes: list[m.TrackProcess]
    bfds: list[m.BfdInstance]
    disabled: set[str]  # vrrp_scripts disabled because their program is missing

    def known_refs(self, ctx: Ctx, owner: str, f: Fields) -> Fields:
        """track_script/file/process/bfd references without their object: reported and dropped."""
        out: Fields = {}
        for field, kind, known in (("track_script", "script", {s.name for s in self.scripts} | self.disabled),
                                   ("track_file", "file", {t.name for t in self.files}),
                                   ("track_process", "process", {t.name for t in self.processes}),
                                   ("track_bfd", "bfd", {b.name for b in self.bfds})):
            if field not in f:
                continue
            kept = []
            for t in f[field]:
                if t.name not in known:
                    ctx.warn(_node_at(t.pos), f"({owner}) track {kind} {t.name} not found, ignoring...")
                else:
                    kept.append(t)
            out[field] = tuple(kept)
        return out


def _drop_interface_tracks(ctx: Ctx, vi: m.VrrpInstance, in_sync: bool, owner: bool) -> tuple[m.TrackInterface, ...]:
    own_if: list[m.TrackInterface] = []
    for t in vi.track_interface:
        n = _node_at(t.pos)
        if t.name == vi.interface:
            ctx.warn(n, f"({vi.name}) Ignoring track_interface {t.name} since own interface")
        elif t.weight and in_sync:
            ctx.warn(n, f"({vi.name}) ignoring {t.name} tracked interface weight due to SYNC group")
            own_if.append(dataclasses.replace(t, weight=0))
        elif t.weight and owner:
            ctx.warn(n, f"({vi.name}) ignoring {t.name} tracked interface due to address owner")
        else:
            own_if.append(t)
    return tuple(own_if)


def _drop_weighted_refs(ctx: Ctx, vi: m.VrrpInstance, refs: tuple[m.TrackRef, ...], weights: dict[str, int],
                        what: str) -> tuple[m.TrackRef, ...]:
    """`what`: the message's tail, with {name} and {w}."""
    kept = []
    for r in refs:
        w = r.weight if r.weight is not None else weights.get(r.name, 0)
        if w:
            ctx.warn(_node_at(r.pos), f"({vi.name}) " + what.format(name=r.name, w=w))
        else:
            kept.append(r)
    return tuple(kept)


def _drop_weighted_trackers(ctx: Ctx, vi: m.VrrpInstance, sg: m.VrrpSyncGroup | None,
                            trackers: _Trackers) -> m.VrrpInstance:
    """keepalived ignores tracker weights in sync groups (unless sync_group_tracking_weight) and
    for an address owner, whose priority never changes; the trackers then only cause FAULT."""
    in_sync = sg is not None and not sg.sync_group_tracking_weight
    owner = vi.effective.address_owner
    if not (in_sync or owner or any(t.name == vi.interface for t in vi.track_interface)):
        return vi
    own_if = _drop_interface_tracks(ctx, vi, in_sync, owner)
    if not (in_sync or owner):
        return dataclasses.replace(vi, track_interface=own_if)
    why = "SYNC group" if in_sync else "address_owner"
    scripts = _drop_weighted_refs(ctx, vi, vi.track_script, {s.name: s.weight for s in trackers.scripts},
                                  "ignoring tracked script {name} with weights due to " + why)
    files = _drop_weighted_refs(ctx, vi, vi.track_file, {f.name: f.weight for f in trackers.files},
                                "ignoring tracked file {name} with weight {w} due to " + why)
    return dataclasses.replace(vi, track_interface=own_if, track_script=scripts, track_file=files)


@functools.lru_cache(maxsize=1024)
def _script_secure(path: str) -> bool:
    """True when the file and every directory on its path are writable only by root."""
    p = os.path.abspath(path)
    while True:
        try:
            st = os.stat(p)
        except OSError:
            return True
        if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            if not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX and p != os.path.abspath(path)):
                return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


@functools.lru_cache(maxsize=1024)
def _resolve_script(prog: str) -> str | None:
    if "/" in prog:
        return prog if os.path.exists(prog) else None
    for d in os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
        cand = os.path.join(d or ".", prog)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _present(*scripts: m.Script | None) -> Iterator[m.Script]:
    return (s for s in scripts if s is not None)


def _vs_scripts(vss: tuple[m.VirtualServer, ...]) -> Iterator[m.Script]:
    for vs in vss:
        yield from _present(vs.quorum_up, vs.quorum_down)
        for rs in vs.real_servers:
            yield from _present(rs.notify_up, rs.notify_down)
            yield from (c.misc_path for c in rs.checkers if isinstance(c, m.MiscCheck) and c.misc_path is not None)


def _all_scripts(cfg: m.Config, with_vrrp_scripts: bool) -> Iterator[m.Script]:
    for vi in cfg.vrrp_instances:
        yield from _present(vi.notify_master, vi.notify_backup, vi.notify_fault, vi.notify_stop, vi.notify_deleted,
                            vi.notify, vi.notify_master_rx_lower_pri)
    for g in cfg.vrrp_sync_groups:
        yield from _present(g.notify_master, g.notify_backup, g.notify_fault, g.notify_stop, g.notify)
    if with_vrrp_scripts:  # every vrrp_script, once VRRP has instances
        yield from _present(*(sc.script for sc in cfg.vrrp_scripts))
    yield from _vs_scripts(cfg.virtual_servers)
    gd = cfg.global_defs
    yield from _present(*(fifo.script for fifo in (gd.notify_fifo, gd.vrrp_notify_fifo, gd.lvs_notify_fifo)
                          if fifo is not None))
    yield from _present(gd.startup_script, gd.shutdown_script)


def _checker_timing(kind: str, kw: Fields, cf: Fields, rs: Fields, vs: Fields) -> None:
    """Timing inheritance: checker, else real_server, else virtual_server, else checker default."""
    defaults = {"retry": {"DNS_CHECK": 3, "MISC_CHECK": 0}.get(kind, 1),
                "delay_before_retry": 3.0 if kind in ("HTTP_GET", "SSL_GET") else 1.0}
    for k in ("delay_loop", "connect_timeout", "retry", "delay_before_retry", "warmup"):
        if k in kw:
            continue
        if k in rs:
            kw[k] = rs[k]
        elif k in vs:
            kw[k] = vs[k]
        elif k in defaults:
            kw[k] = defaults[k]
    if kind == "DNS_CHECK" and all("delay_before_retry" not in x for x in (cf, rs, vs)):
        kw["delay_before_retry"] = kw.get("delay_loop", 60.0)
    if kind == "MISC_CHECK":
        kw.pop("connect_timeout", None)
    if kind in ("FILE_CHECK", "BFD_CHECK"):
        for k in ("connect_timeout", "retry", "delay_before_retry", "warmup"):
            kw.pop(k, None)


def _at_end(node: Node) -> Node:
    """The block's closing '}': where keepalived's block-end handlers report."""
    return Node(node.text, node.file, node.end_line) if node.end_line is not None else node


def _checker_from(ctx: Ctx, cnode: Node, cf: Fields, rs: Fields, vs: Fields) -> m.Checker | None:
    kind = cf["_kind"]
    kw = _clean(cf)
    if kind == "SSL_GET":
        kw["ssl"] = True
    if kind in ("HTTP_GET", "SSL_GET") and not kw.get("urls"):
        ctx.warn(_at_end(cnode), f"{kind} has no url specified - ignoring checker")
        return None
    if kind == "MISC_CHECK" and kw.get("misc_path") is None:
        ctx.warn(_at_end(cnode), "No script path has been specified for MISC_CHECKER - skipping")
        return None
    if kind == "BFD_CHECK" and not kw.get("name"):
        ctx.warn(_at_end(cnode), f"({_rs_name(rs)}) No name has been specified for BFD_CHECKER - skipping")
        return None
    _checker_timing(kind, kw, cf, rs, vs)
    try:
        return CHECKER_CLASSES[kind](**kw)
    except TypeError as exc:
        ctx.warn(cnode, f"{kind}: invalid options ({exc})")
        return None


def _rs_name(rs: Fields) -> str:
    a = rs.get("address")
    return f"[{a}]:tcp:{rs.get('port', 0)}"


def _vs_defaults(ctx: Ctx, node: Node, vf: Fields) -> str | None:
    """The virtual server's own rules; its name, or None when it is dropped."""
    if vf.get("fwmark") is not None and "_protocol_node" in vf:
        ctx.warn(None, f"Warning: Virtual server FWM {vf['fwmark']}: protocol specified for fwmark - "
                       "protocol will be ignored")
    is_ip = vf.get("address") is not None
    if not vf.get("_real_servers"):
        # checked first in 2.2.7, before the protocol default
        proto = str(vf["protocol"]).lower() if "protocol" in vf else ("none" if is_ip else "tcp")
        ctx.warn(None, f"Virtual server {_vs_name(vf, proto)} has no real servers - ignoring")
        return None
    if is_ip and "protocol" not in vf:
        # 2.2.7 really defaults to UDP here (the reference's TCP default is newer)
        ctx.warn(None, f"Virtual server {_vs_name(vf, 'none')}: no protocol set - defaulting to UDP")
        vf["protocol"] = "UDP"
    name = _vs_name(vf)
    if "lvs_sched" not in vf:
        ctx.warn(None, f"Virtual server {name}: no scheduler set, setting default 'wlc'")
    if "lvs_method" not in vf:
        ctx.warn(None, f"Virtual server {name}: no forwarding method set, setting default NAT")
    if is_ip and vf.get("port", 0) == 0 and vf.get("persistence_timeout") is None:
        ctx.warn(None, f"Virtual server {name}: zero port only valid for persistent services - setting")
        vf["persistence_timeout"] = 360
    if "ops" in vf.get("flags", ()) and vf.get("protocol", "TCP") != "UDP":
        ctx.warn(None, f"Virtual server {name}: one packet scheduling requires UDP - resetting")
        vf["flags"] = tuple(x for x in vf["flags"] if x != "ops")
    return name


def _finish_rs(ctx: Ctx, rf: Fields, vf: Fields) -> m.RealServer:
    checkers = []
    for cnode, cf in rf.get("_checkers", []):
        c = _checker_from(ctx, cnode, cf, rf, vf)
        if c is not None:
            checkers.append(c)
    kw = _clean(rf)
    kw.setdefault("lvs_method", vf.get("lvs_method", "NAT"))
    if "tunnel" not in kw and vf.get("tunnel") is not None:
        kw["tunnel"] = vf["tunnel"]
    kw.setdefault("inhibit_on_failure", vf.get("inhibit_on_failure", False))
    kw.setdefault("delay_loop", vf.get("delay_loop", 60.0))
    for k in ("connect_timeout", "retry", "delay_before_retry", "warmup"):
        if k not in kw and k in vf:
            kw[k] = vf[k]
    kw["checkers"] = tuple(checkers)
    return m.RealServer(**kw)


def _quorum_and_hysteresis(ctx: Ctx, node: Node, name: str, vf: Fields, kw: Fields,
                           rss: list[m.RealServer]) -> None:
    total = sum(rs.weight for rs in rss)
    quorum = kw.get("quorum", 1)
    if quorum > total:
        ctx.warn(None, f"Warning - quorum {quorum} for {name} exceeds total weight of real servers {total}, "
                       f"reducing quorum to {total}")
        quorum = kw["quorum"] = total
    hyst = kw.get("hysteresis", 0)
    if hyst >= quorum and (hyst or "hysteresis" in vf or quorum == 0):
        new = (quorum - 1) % 2**32  # 2.2.7's unsigned arithmetic: quorum 0 gives 4294967295
        ctx.warn(None, f"Virtual server {name}: hysteresis {hyst} >= quorum {quorum}; setting hysteresis to {new}")
        kw["hysteresis"] = new


def _finish_vs(ctx: Ctx, vf: Fields) -> m.VirtualServer | None:
    node: Node = vf["_node"]
    name = _vs_defaults(ctx, node, vf)
    if name is None:
        return None
    rss = [_finish_rs(ctx, rf, vf) for _rnode, rf in vf.get("_real_servers", [])]
    kw = _clean(vf)
    kw["real_servers"] = tuple(rss)
    if "flags" in kw:
        kw["flags"] = tuple(kw["flags"])
    _quorum_and_hysteresis(ctx, node, name, vf, kw, rss)
    return m.VirtualServer(**kw)


def _vs_name(vf: Fields, proto: str | None = None) -> str:
    """keepalived's FMT_VS: `[IP]:proto:port`, `FWM n` or the group name."""
    if vf.get("fwmark") is not None:
        return f"FWM {vf['fwmark']}"
    if vf.get("group") is not None:
        return str(vf["group"])
    p = proto if proto is not None else str(vf.get("protocol", "TCP")).lower()
    return f"[{vf.get('address')}]:{p}:{vf.get('port', 0)}"


# ---------------------------------------------------------------------------------------------
# The whole configuration


def _complete_scripts(ctx: Ctx, f: Fields) -> list[m.VrrpScript]:
    scripts: list[m.VrrpScript] = []
    default_user_bad = f.get("_global_defs", {}).get("_default_user_bad")
    for sf in f.get("vrrp_scripts", []):
        node = sf["_node"]
        if sf.get("script") is None:
            ctx.warn(_at_end(node), f"No script set for vrrp_script {sf['name']} - removing")
            continue
        kw = _clean(sf)
        kw.setdefault("timeout", kw.get("interval", 1.0))
        sc = m.VrrpScript(**kw)
        user = sc.user or sc.script.user if sc.script is not None else sc.user
        group = sc.group or (sc.script.group if sc.script is not None else None)
        if user is not None:
            if not user_exists(user, group):
                assert sc.script is not None
                ctx.warn(node, f"Unable to set uid/gid for script '{sc.script.cmd}'")
                continue
        elif default_user_bad:
            ctx.warn(node, f"Unable to set default user for vrrp script {sc.name} - removing")
            continue
        scripts.append(sc)
    return scripts


def _disable_missing_scripts(ctx: Ctx, f: Fields, scripts: list[m.VrrpScript]) -> list[m.VrrpScript]:
    """2.2.7 disables a vrrp_script whose program cannot be found (once VRRP has instances):
    it never runs, and instances tracking it are not affected by it."""
    if not f.get("vrrp_instances") or f.get("net_namespace") is not None:
        return scripts
    kept = []
    for sc in scripts:
        assert sc.script is not None
        prog = sc.script.args[0] if sc.script.args else sc.script.cmd
        if not prog.startswith("<") and _resolve_script(prog) is None:
            ctx.warn(None, f"Disabling track script {sc.name} since not found/accessible")  # after the read
        else:
            kept.append(sc)
    return kept


def _complete_bfd(bf: Fields) -> Fields:
    kw = _clean(bf)
    for k in ("min_rx", "min_tx", "idle_tx"):
        if k in kw:
            kw[k] = kw[k] / 1000.0
    if bf.get("_vrrp_only") and not bf.get("_checker_only"):
        kw["checker"] = False
    if bf.get("_checker_only") and not bf.get("_vrrp_only"):
        kw["vrrp"] = False
    return kw


def _complete_trackers(ctx: Ctx, f: Fields) -> _Trackers:
    all_scripts = _complete_scripts(ctx, f)
    scripts = _disable_missing_scripts(ctx, f, all_scripts)
    files = []
    for tf in f.get("track_files", []):
        if tf.get("file") is None:
            ctx.warn(tf["_node"], f"No file set for track_file {tf['name']} - removing")
            continue
        files.append(m.TrackFile(**_clean(tf)))
    processes = []
    for tp in f.get("track_processes", []):
        if tp.get("process") is None:
            ctx.warn(tp["_node"], f"No process specified for track_process {tp['name']} - removing")
            continue
        processes.append(m.TrackProcess(**_clean(tp)))
    bfds = []
    for bf in f.get("bfd_instances", []):
        kw = _complete_bfd(bf)
        if kw.get("neighbor_ip") is None:
            ctx.warn(bf["_node"], f"No neighbor_ip set for bfd_instance {bf['name']} - removing")
            continue
        bfds.append(m.BfdInstance(**kw))
    disabled = {sc.name for sc in all_scripts} - {sc.name for sc in scripts}
    return _Trackers(scripts, files, processes, bfds, disabled)


def _sync_group_members(ctx: Ctx, gf: Fields, inst_names: set[str], member_of: dict[str, str]) -> list[str]:
    members = []
    for n in gf.get("group", ()):
        if n not in inst_names:
            ctx.warn(None, f"Virtual router {n} specified in sync group {gf['name']} doesn't exist - ignoring")
            continue
        if n in member_of:
            ctx.warn(gf["_node"], f"VRRP instance {n} cannot be in more than one sync group - ignoring")
            continue
        member_of[n] = gf["name"]
        members.append(n)
    return members


def _complete_sync_groups(ctx: Ctx, f: Fields, trackers: _Trackers) -> tuple[list[m.VrrpSyncGroup], dict[str, str]]:
    groups: list[m.VrrpSyncGroup] = []
    member_of: dict[str, str] = {}
    inst_names = {x["name"] for x in f.get("vrrp_instances", [])}
    for gf in f.get("vrrp_sync_groups", []):
        kw = _clean(gf)
        members = _sync_group_members(ctx, gf, inst_names, member_of)
        kw["group"] = tuple(members)
        if not members:
            ctx.warn(None, f"Sync group {gf['name']}, no matching virtual router found in group "
                                  "declaration - removing")
            continue
        kw.update(trackers.known_refs(ctx, gf["name"], kw))
        if len(members) == 1:
            ctx.warn(None, f"Sync group {gf['name']} has only 1 virtual router(s) - this probably isn't "
                                  "what you want")
        groups.append(m.VrrpSyncGroup(**kw))
    return groups, member_of


def _complete_instances(ctx: Ctx, f: Fields, gd: m.GlobalDefs, trackers: _Trackers, groups: list[m.VrrpSyncGroup],
                        member_of: dict[str, str]) -> tuple[list[m.VrrpInstance], list[m.VrrpInstance]]:
    """The instances, and those left out of the model as invalid (still checked for interfaces)."""
    instances: list[m.VrrpInstance] = []
    dropped: list[m.VrrpInstance] = []
    seen_names: set[str] = set()
    for vf in f.get("vrrp_instances", []):
        if vf["name"] in seen_names:
            ctx.warn(vf["_node"], f"vrrp_instance {vf['name']} already defined - ignoring")
            continue
        seen_names.add(vf["name"])
        if vf["name"] in member_of:
            vf["sync_group"] = member_of[vf["name"]]
        vf.update(trackers.known_refs(ctx, vf["name"], vf))
        vi = _finish_instance(ctx, vf, gd)
        if vi is not None:
            sg = next((g for g in groups if g.name == vi.sync_group), None)
            instances.append(_drop_weighted_trackers(ctx, vi, sg, trackers))
        else:
            dropped.append(m.VrrpInstance(**_clean(vf)))
    return instances, dropped


def _without_disabled(refs: tuple[m.TrackRef, ...], disabled: set[str]) -> tuple[m.TrackRef, ...]:
    return tuple(t for t in refs if t.name not in disabled)


def _sync_group_start_state(instances: list[m.VrrpInstance], groups: list[m.VrrpSyncGroup]) -> None:
    """A sync group starts as MASTER only if every member is the address owner; otherwise members
    wanting MASTER start as BACKUP (2.2.7's -d shows Wantstate BACKUP for them)."""
    by_name = {vi.name: i for i, vi in enumerate(instances)}
    for g in groups:
        members = [instances[by_name[n]] for n in g.group if n in by_name]
        if members and not all(v.effective.address_owner for v in members):
            for v in members:
                if v.effective.state == "MASTER":
                    instances[by_name[v.name]] = dataclasses.replace(
                        v, effective=dataclasses.replace(v.effective, state="BACKUP"))


def _check_duplicate_vrids(ctx: Ctx, instances: list[m.VrrpInstance]) -> None:
    """Two instances with one VRID on the same interface / family / destination."""
    seen: dict[tuple[str | None, str, int, str], str] = {}
    for vi in instances:
        if vi.unicast_peer:
            continue
        key = (vi.interface, vi.effective.family, vi.virtual_router_id, str(vi.effective.mcast_dst_ip))
        other = seen.get(key)
        if other is not None:
            fam = "IPv4" if vi.effective.family == "inet" else "IPv6"
            ctx.warn(_node_at(vi.pos), f"{other} and {vi.name} both use VRID {vi.virtual_router_id} with {fam} on "
                                       f"interface {vi.interface}")
        else:
            seen[key] = vi.name


def _complete_virtual_servers(ctx: Ctx, f: Fields) -> list[m.VirtualServer]:
    vss = []
    for vf in f.get("_virtual_servers", []):
        vs = _finish_vs(ctx, vf)
        if vs is not None:
            vss.append(vs)
    vsg_names = {g.name for g in f.get("virtual_server_groups", [])}
    for vs in vss:
        if vs.group is not None and vs.group not in vsg_names:
            ctx.warn(_node_at(vs.pos), f"Virtual server group {vs.group} specified but not configured - ignoring "
                                       "virtual server")
    return vss


_BUILT = ("vrrp_instances", "vrrp_sync_groups", "vrrp_scripts", "track_files", "track_processes", "bfd_instances",
          "virtual_servers")


def complete(ctx: Ctx, f: Fields, files: tuple[str, ...], interfaces: frozenset[str] | None) -> m.Config:
    gd = _finish_global(ctx, f.get("_global_defs", {}))
    if not (gd.dynamic_interfaces or f.get("net_namespace") is not None):
        ctx.interfaces = system_interfaces() if interfaces is None else interfaces
        if interfaces is None:
            ctx.mtu_of = functools.cache(interface_mtu)   # one read per interface and load, not per instance
    trackers = _complete_trackers(ctx, f)
    groups, member_of = _complete_sync_groups(ctx, f, trackers)
    instances, dropped = _complete_instances(ctx, f, gd, trackers, groups, member_of)
    if trackers.disabled:
        instances = [dataclasses.replace(v, track_script=_without_disabled(v.track_script, trackers.disabled))
                     if any(t.name in trackers.disabled for t in v.track_script) else v for v in instances]
        groups = [dataclasses.replace(g, track_script=_without_disabled(g.track_script, trackers.disabled))
                  for g in groups]
    _sync_group_start_state(instances, groups)
    _check_duplicate_vrids(ctx, instances)
    vss = _complete_virtual_servers(ctx, f)

    cfg_kw = _clean({k: v for k, v in f.items() if k in m.Config.__dataclass_fields__ and k not in _BUILT})
    for k in ("garp_groups", "track_groups", "virtual_server_groups"):
        if k in cfg_kw:
            cfg_kw[k] = tuple(cfg_kw[k])
    config = m.Config(global_defs=gd, vrrp_instances=tuple(instances), vrrp_sync_groups=tuple(groups),
                      vrrp_scripts=tuple(trackers.scripts), track_files=tuple(trackers.files),
                      track_processes=tuple(trackers.processes), virtual_servers=tuple(vss),
                      bfd_instances=tuple(trackers.bfds), files=files, **cfg_kw)
    if_pos = {vf["name"]: vf["_if_pos"] for vf in f.get("vrrp_instances", []) if "_if_pos" in vf}
    if not _check_interfaces(ctx, config, interfaces, if_pos, dropped):
        _check_script_security(ctx, config, bool(f.get("vrrp_instances")))
        _check_min_cfg(ctx, f.get("vrrp_instances", []))
    return config


def _check_min_cfg(ctx: Ctx, instances: list[Fields]) -> None:
    """keepalived's chk_min_cfg(): the first instance without a VRID or an interface stops the
    VRRP child (reported as a general error: -t exits 5). 2.2.7 checks the interface before it
    knows about unicast peers, and `default_interface` only applies to static addresses, so
    neither saves an instance without `interface`."""
    seen: set[str] = set()
    for vf in instances:
        if vf["name"] in seen:
            continue  # a second definition is ignored
        seen.add(vf["name"])
        if not vf.get("virtual_router_id"):
            ctx.stop(vf["_node"], f"({vf['name']}) the virtual router id must be set")
            return
        if vf.get("interface") is None:
            ctx.stop(vf["_node"], f"({vf['name']}) Unknown interface!")
            return


def _missing_dev(ctx: Ctx, a: m.IpAddress, have: frozenset[str]) -> bool:
    if a.dev is not None and a.dev not in have:
        ctx.warn(_node_at(a.pos), f"WARNING - interface {a.dev} for ip address {_addr_text(a.address)} doesn't exist")
        return True
    return False


def _missing_tracked(ctx: Ctx, owner: str, tracks: tuple[m.TrackInterface, ...], have: frozenset[str]) -> bool:
    bad = False
    for t in tracks:
        if t.name not in have:
            ctx.warn(_node_at(t.pos), f"({owner}) tracked interface {t.name} doesn't exist")
            bad = True
    return bad


def _check_instance_ifs(ctx: Ctx, vi: m.VrrpInstance, have: frozenset[str], if_pos: dict[str, Pos]) -> bool:
    bad = False
    if vi.interface is not None and vi.interface not in have:
        ctx.warn(_node_at(if_pos.get(vi.name, vi.pos)),
                 f"WARNING - interface {vi.interface} for vrrp_instance {vi.name} doesn't exist")
        bad = True
    elif vi.interface == "lo":
        ctx.err(Level.FATAL, _node_at(vi.pos), f"({vi.name}) cannot use loopback interface for VRRP")
    bad |= _missing_tracked(ctx, vi.name, vi.track_interface, have)
    for a in vi.virtual_ipaddress_excluded:
        bad |= _missing_dev(ctx, a, have)
    for r in vi.virtual_routes:
        bad |= _check_route_ifs(ctx, r, have)
    return bad


def _check_interfaces(ctx: Ctx, cfg: m.Config, interfaces: frozenset[str] | None,
                      if_pos: dict[str, Pos], dropped: list[m.VrrpInstance]) -> bool:
    """Report interfaces that do not exist; True when there were any (keepalived stops there)."""
    if cfg.global_defs.dynamic_interfaces or cfg.net_namespace is not None:
        # interfaces of another namespace cannot be checked from here (keepalived -t skips them too)
        return False
    have = system_interfaces() if interfaces is None else interfaces
    bad = ctx.bad_interface
    for vi in sorted(cfg.vrrp_instances + tuple(dropped), key=lambda v: (v.pos.file, v.pos.line)):
        bad |= _check_instance_ifs(ctx, vi, have, if_pos)
    for a in cfg.static_ipaddress:
        bad |= _missing_dev(ctx, a, have)
    for r in cfg.static_routes:
        bad |= _check_route_ifs(ctx, r, have)
    for g in cfg.vrrp_sync_groups:
        bad |= _missing_tracked(ctx, g.name, g.track_interface, have)
    if bad:
        ctx.err(Level.BAD_IF, None, "Non-existent interface specified in configuration")
    return bad


def _check_route_ifs(ctx: Ctx, r: m.Route, have: frozenset[str]) -> bool:
    bad = False
    devs = [r.dev] + [nh.dev for nh in r.nexthops]
    for d in devs:
        if d is not None and d not in have:
            ctx.warn(_node_at(r.pos), f"WARNING - interface {d} for VROUTE nexthop doesn't exist")
            bad = True
    return bad


def _check_script_security(ctx: Ctx, cfg: m.Config, with_vrrp_scripts: bool) -> None:
    gd = cfg.global_defs
    found: m.Script | None = None
    insecure = False
    for s in _all_scripts(cfg, with_vrrp_scripts):
        prog = s.args[0] if s.args else s.cmd
        path = None if prog.startswith("<") else _resolve_script(prog)
        if path is None and not prog.startswith("<"):
            continue
        found = found or s
        if path is not None and os.geteuid() == 0 and s.user in (None, "root") and gd.script_user in (None, "root") \
                and not _script_secure(path):
            insecure = True
            if gd.enable_script_security:
                # logged, not a config error: 2.2.7's -t still exits 0
                ctx.info(_node_at(s.pos), f"Unsafe permissions found for script '{path}' - disabling.")
    if found is not None and not gd.enable_script_security and os.geteuid() == 0:
        ctx.err(Level.SECURITY_ERROR, None, "SECURITY VIOLATION - scripts are being executed but "
                "script_security not enabled." + (" There are insecure scripts." if insecure else ""))
