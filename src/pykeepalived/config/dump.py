"""Render a model back as keepalived.conf text.

Used by `-d/--dump-conf` (readable, and valid input again) and by the round-trip tests:
load(dump(cfg)) gives back cfg (positions aside). Values are written as resolved, so
defaults keepalived applied appear explicitly."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from pykeepalived.config import model as m


def _q(s: str) -> str:
    """Quote a word for the plain splitter when needed."""
    if s == "" or any(c in s for c in " \t#!{}\"'\\$"):
        return '"' + s.replace('"', "") + '"'
    return s


def _num(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def _script(s: m.Script) -> str:
    cmd = s.cmd.replace("\\", "\\\\").replace('"', '\\"')
    out = f'"{cmd}"'
    if s.user is not None:
        out += f" {s.user}"
        if s.group is not None:
            out += f" {s.group}"
    return out


def _ipaddr(a: m.IpAddress) -> str:
    parts = [str(a.address)]
    for k in ("dev", "brd", "scope", "label"):
        v = getattr(a, k)
        if v is not None:
            parts += [k, _q(v)]
    if a.peer is not None:
        parts += ["peer", str(a.peer)]
    for k, word in (("use_vmac", "use_vmac"), ("no_track", "no_track"), ("home", "home"), ("nodad", "-nodad"),
                    ("mngtmpaddr", "mngtmpaddr"), ("noprefixroute", "noprefixroute"), ("autojoin", "autojoin")):
        if getattr(a, k):
            parts.append(word)
    if a.preferred_lft is not None and not (a.address.version == 6 and a.address.network.prefixlen == 128
                                            and a.preferred_lft == 0):
        parts += ["preferred_lft", "forever" if a.preferred_lft == 0xFFFFFFFF else str(a.preferred_lft)]
    if a.track_group is not None:
        parts += ["track_group", a.track_group]
    return " ".join(parts)


class _W:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, *words: object) -> None:
        self.lines.append("    " * self.depth + " ".join(str(w) for w in words))

    def open(self, *words: object) -> None:
        self.line(*words, "{")
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        self.line("}")

    def values(self, name: str, items: Iterable[str]) -> None:
        items = list(items)
        if not items:
            return
        self.open(name)
        for i in items:
            self.line(i)
        self.close()


_GLOBAL_SKIP = {"pos", "other", "vrrp_garp_extra_if_all", "dynamic_interfaces_allow_if_changes", "smtp_port",
                "script_group", "lvs_timeouts_tcp", "lvs_timeouts_tcpfin", "lvs_timeouts_udp"}


def _sync_daemon_words(sd: m.LvsSyncDaemon) -> list[object]:
    extra: list[object] = [sd.interface, sd.instance]
    for k in ("id", "maxlen", "ttl", "group"):
        if getattr(sd, k) is not None:
            extra += [k, getattr(sd, k)]
    if sd.port != 8848:
        extra += ["port", sd.port]
    return extra


# global_defs keywords written with more than their own value: (global_defs, value) -> words
_GLOBAL_WORDS: dict[str, Callable[[m.GlobalDefs, Any], list[object]]] = {
    "smtp_server": lambda g, v: [v, g.smtp_port],
    "script_user": lambda g, v: [v, *([g.script_group] if g.script_group else [])],
    "dynamic_interfaces": lambda g, v: ["allow_if_changes"] if g.dynamic_interfaces_allow_if_changes else [],
    "vrrp_garp_extra_if": lambda g, v: [*(["all"] if g.vrrp_garp_extra_if_all else []), int(v)],
    "lvs_flush_on_stop": lambda g, v: ["VS" if v == "vs" else ""],
    "lvs_sync_daemon": lambda g, v: _sync_daemon_words(v),
}


def _global_value(name: str, v: Any) -> list[object]:
    if isinstance(v, m.Script):
        return [_script(v)]
    if isinstance(v, bool):
        return ["true" if v else "false"]
    if isinstance(v, float):
        return [_num(v)]
    if isinstance(v, tuple):
        return list(v)
    if name == "umask":
        return [oct(v)]
    if name == "reload_check_config":
        return [v]
    return [_q(str(v))]


def _global_line(w: _W, g: m.GlobalDefs, name: str, v: Any) -> None:
    words = _GLOBAL_WORDS.get(name)
    if name == "notification_email":
        w.values(name, v)
    elif words is not None:
        w.line(name, *words(g, v))
    elif isinstance(v, m.Fifo):
        w.line(name, _q(v.name), *[x for x in (v.user, v.group) if x is not None])
        if v.script is not None:
            w.line(name + "_script", _script(v.script))
    else:
        w.line(name, *_global_value(name, v))


def _global(w: _W, g: m.GlobalDefs) -> None:
    w.open("global_defs")
    default = m.GlobalDefs()
    for name in m.GlobalDefs.__dataclass_fields__:
        v = getattr(g, name)
        if name not in _GLOBAL_SKIP and v != getattr(default, name):
            _global_line(w, g, name, v)
    to = [(k, getattr(g, "lvs_timeouts_" + k)) for k in ("tcp", "tcpfin", "udp")]
    if any(v is not None for _, v in to):
        w.line("lvs_timeouts", *[f"{k} {v}" for k, v in to if v is not None])
    for k, args in g.other:
        w.line(k, *args)
    w.close()


def _track(w: _W, name: str, refs: tuple[m.TrackRef, ...]) -> None:
    items = []
    for t in refs:
        s = t.name
        if t.weight is not None:
            s += f" weight {t.weight}"
        if t.reverse is not None:
            s += " reverse" if t.reverse else " noreverse"
        items.append(s)
    w.values(name, items)


def _track_if(w: _W, refs: tuple[m.TrackInterface, ...]) -> None:
    w.values("track_interface", [t.name + (f" weight {t.weight}" if t.weight else "") +
                                 (" reverse" if t.reverse else "") for t in refs])


def _instance_header(w: _W, vi: m.VrrpInstance) -> None:
    e = vi.effective
    w.line(f"# {vi.name} resolved: state {e.state}, priority {e.priority}, advert_int {_num(e.advert_int)}s, "
           f"version {e.version}, {e.family}, {'nopreempt' if e.nopreempt else 'preempt'}, "
           f"{'accept' if e.accept else 'no_accept'}{', strict' if e.strict else ''}, mcast {e.mcast_dst_ip}, "
           f"garp {_num(e.garp_master_delay)}s x{e.garp_master_repeat}")


def _instance_values(w: _W, vi: m.VrrpInstance) -> None:
    for k in ("state", "interface", "priority", "version", "unicast_ttl", "vrf", "down_timer_adverts",
              "kernel_rx_buf_size", "garp_master_repeat", "garp_master_refresh_repeat", "garp_lower_prio_repeat"):
        v = getattr(vi, k)
        if v is not None:
            w.line(k, v)
    w.line("virtual_router_id", vi.virtual_router_id)
    for k in ("advert_int", "preempt_delay", "garp_master_delay", "garp_master_refresh", "garp_lower_prio_delay"):
        v = getattr(vi, k)
        if v is not None:
            w.line(k, _num(v))
    if vi.garp_extra_if is not None:
        w.line("garp_extra_if", *(["all"] if vi.garp_extra_if_all else []), int(vi.garp_extra_if))
    for k in ("mcast_src_ip", "unicast_src_ip", "mcast_dst_ip"):
        v = getattr(vi, k)
        if v is not None:
            w.line(k, v)


def _instance_flags(w: _W, vi: m.VrrpInstance) -> None:
    for k in ("dont_track_primary", "nopreempt", "no_virtual_ipaddress", "promote_secondaries", "unicast_fault_no_peer",
              "track_src_ip", "use_vmac_addr", "vmac_xmit_base"):
        if getattr(vi, k):
            w.line(k)
    for k in ("strict_mode", "skip_check_adv_addr", "check_unicast_src", "lower_prio_no_advert",
              "higher_prio_send_advert", "owner_ignore_adverts", "v3_checksum_as_v2", "notify_priority_changes",
              "smtp_alert"):
        v = getattr(vi, k)
        if v is not None:
            w.line(k, "true" if v else "false")
    if vi.accept is not None:
        w.line("accept" if vi.accept else "no_accept")
    if vi.debug:
        w.line("debug", vi.debug)
    if vi.timer_expired_backup is not None:
        w.line("timer_expired_backup", *([vi.timer_expired_backup] if vi.timer_expired_backup else []))
    if vi.old_unicast_checksum != "auto":
        w.line("old_unicast_checksum", *(["never"] if vi.old_unicast_checksum == "never" else []))


def _instance_links(w: _W, vi: m.VrrpInstance) -> None:
    if vi.authentication is not None:
        w.open("authentication")
        w.line("auth_type", vi.authentication.auth_type)
        if vi.authentication.auth_pass:
            w.line("auth_pass", _q(vi.authentication.auth_pass.decode(errors="replace")))
        w.close()
    if vi.use_vmac is not None:
        v = vi.use_vmac
        w.line("use_vmac", *[x for x in (v.name, v.mac) if x is not None],
               *(["netlink_notify_msg"] if v.netlink_notify_msg else []),
               *(["group", v.group] if v.group is not None else []))
    if vi.use_ipvlan is not None:
        iv = vi.use_ipvlan
        w.line("use_ipvlan", *[str(x) for x in (iv.name, iv.address) if x is not None], iv.mode,
               *(["group", iv.group] if iv.group is not None else []))
    w.values("unicast_peer", [str(p.address) + (f" min_ttl {p.min_ttl}" if p.min_ttl is not None else "") +
                              (f" max_ttl {p.max_ttl}" if p.max_ttl is not None else "") for p in vi.unicast_peer])


def _instance_lists(w: _W, vi: m.VrrpInstance) -> None:
    w.values("virtual_ipaddress", [_ipaddr(a) for a in vi.virtual_ipaddress])
    w.values("virtual_ipaddress_excluded", [_ipaddr(a) for a in vi.virtual_ipaddress_excluded])
    w.values("virtual_routes", [r.text for r in vi.virtual_routes])
    w.values("virtual_rules", [r.text for r in vi.virtual_rules])
    _track_if(w, vi.track_interface)
    for k in ("track_script", "track_file", "track_process", "track_bfd"):
        _track(w, k, getattr(vi, k))
    for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify_deleted", "notify",
              "notify_master_rx_lower_pri"):
        v = getattr(vi, k)
        if v is not None:
            w.line(k, _script(v))
    if vi.notify_deleted_set and vi.notify_deleted is None:
        w.line("notify_deleted")


def _instance(w: _W, vi: m.VrrpInstance) -> None:
    _instance_header(w, vi)
    w.open("vrrp_instance", vi.name)
    _instance_values(w, vi)
    _instance_flags(w, vi)
    _instance_links(w, vi)
    _instance_lists(w, vi)
    w.close()


def _fields_block(w: _W, head: list[object], obj: object, skip: set[str], default: object) -> None:
    w.open(*head)
    for name in type(obj).__dataclass_fields__:  # type: ignore[attr-defined]
        if name in skip:
            continue
        v = getattr(obj, name)
        if v == getattr(default, name):
            continue
        if isinstance(v, m.Script):
            w.line(name, _script(v))
        elif isinstance(v, bool):
            w.line(name, "true" if v else "false")
        elif isinstance(v, float):
            w.line(name, _num(v))
        elif v is not None:
            w.line(name, _q(str(v)))
    w.close()


_CHECKER_KINDS = {"TcpCheck": "TCP_CHECK", "SmtpCheck": "SMTP_CHECK", "DnsCheck": "DNS_CHECK",
                  "MiscCheck": "MISC_CHECK", "UdpCheck": "UDP_CHECK", "PingCheck": "PING_CHECK",
                  "FileCheck": "FILE_CHECK", "BfdCheck": "BFD_CHECK"}
_NO_TIMING = ("delay_loop", "log_all_failures", "connect_timeout", "retry", "delay_before_retry")


def _checker_skips(c: m.Checker, name: str, v: object) -> bool:
    if name in ("pos", "ssl", "urls", "weight_reverse", "require_reply_mask"):
        return True
    if v is None or (isinstance(v, bool) and not v):
        return True
    if isinstance(c, (m.FileCheck, m.BfdCheck)) and name in _NO_TIMING:
        return True
    return isinstance(c, m.MiscCheck) and name == "connect_timeout"


def _checker_field(w: _W, c: m.Checker, name: str, v: Any) -> None:
    if name == "misc_path" and isinstance(v, m.Script):
        w.line(name, _script(v))
    elif name in ("payload", "require_reply"):
        if isinstance(c, m.UdpCheck) and v:
            mask = c.require_reply_mask if name == "require_reply" else None
            w.line(name, "".join("XX" if mask is not None and mask[i] == 0 else f"{b:02x}" for i, b in enumerate(v)))
    elif name == "weight":
        w.line(name, v, *(["reverse"] if getattr(c, "weight_reverse", False) else []))
    elif isinstance(v, bool):
        w.line(name)
    elif isinstance(v, float):
        w.line(name, _num(v))
    else:
        w.line(name, _q(str(v)))


def _url(w: _W, u: m.Url) -> None:
    w.open("url")
    w.line("path", _q(u.path))
    if u.digest:
        w.line("digest", u.digest)
    if u.status_code != ((200, 299),):
        w.line("status_code", *[f"{a}-{b}" if a != b else str(a) for a, b in u.status_code])
    for k in ("virtualhost", "regex", "regex_stack", "regex_min_offset", "regex_max_offset"):
        if getattr(u, k) is not None:
            w.line(k, _q(str(getattr(u, k))))
    if u.regex_no_match:
        w.line("regex_no_match")
    if u.regex_options:
        w.line("regex_options", *u.regex_options)
    w.close()


def _checker(w: _W, c: m.Checker) -> None:
    kind = _CHECKER_KINDS.get(type(c).__name__)
    if isinstance(c, m.HttpGet):
        kind = "SSL_GET" if c.ssl else "HTTP_GET"
    w.open(kind)
    for name in type(c).__dataclass_fields__:
        v = getattr(c, name)
        if not _checker_skips(c, name, v):
            _checker_field(w, c, name, v)
    if isinstance(c, m.HttpGet):
        for u in c.urls:
            _url(w, u)
    w.close()


def _vs_head(vs: m.VirtualServer) -> list[object]:
    if vs.group is not None:
        return ["virtual_server", "group", vs.group]
    if vs.fwmark is not None:
        return ["virtual_server", "fwmark", vs.fwmark]
    return ["virtual_server", vs.address, vs.port]


def _vs_options(w: _W, vs: m.VirtualServer) -> None:
    for k in ("lvs_sched", "persistence_granularity", "persistence_engine", "virtualhost", "snmp_name",
              "ip_family", "sorry_server_lvs_method"):
        v = getattr(vs, k)
        if v is not None:
            w.line(k, v)
    w.line("lvs_method", vs.lvs_method, *_tunnel(vs.tunnel))
    if vs.fwmark is None:
        w.line("protocol", vs.protocol)
    for f in vs.flags:
        w.line(f)
    for k in ("persistence_timeout", "retry"):
        if getattr(vs, k) is not None:
            w.line(k, getattr(vs, k))
    w.line("quorum", vs.quorum)
    w.line("hysteresis", vs.hysteresis)
    for k in ("delay_loop", "connect_timeout", "delay_before_retry", "warmup"):
        if getattr(vs, k) is not None:
            w.line(k, _num(getattr(vs, k)))
    for k in ("ha_suspend", "alpha", "omega", "sorry_server_inhibit", "inhibit_on_failure"):
        if getattr(vs, k):
            w.line(k)
    if vs.smtp_alert is not None:
        w.line("smtp_alert", "true" if vs.smtp_alert else "false")
    for k in ("quorum_up", "quorum_down"):
        if getattr(vs, k) is not None:
            w.line(k, _script(getattr(vs, k)))
    if vs.sorry_server is not None:
        w.line("sorry_server", vs.sorry_server[0], vs.sorry_server[1])


def _real_server(w: _W, rs: m.RealServer) -> None:
    w.open("real_server", rs.address, rs.port)
    w.line("weight", rs.weight)
    w.line("lvs_method", rs.lvs_method, *_tunnel(rs.tunnel))
    for k in ("uthreshold", "lthreshold"):
        if getattr(rs, k):
            w.line(k, getattr(rs, k))
    for k in ("inhibit_on_failure", "alpha"):
        if getattr(rs, k):
            w.line(k)
    if rs.smtp_alert is not None:
        w.line("smtp_alert", "true" if rs.smtp_alert else "false")
    if rs.virtualhost is not None:
        w.line("virtualhost", _q(rs.virtualhost))
    for k in ("notify_up", "notify_down"):
        if getattr(rs, k) is not None:
            w.line(k, _script(getattr(rs, k)))
    w.line("delay_loop", _num(rs.delay_loop))
    for k in ("connect_timeout", "delay_before_retry", "warmup"):
        if getattr(rs, k) is not None:
            w.line(k, _num(getattr(rs, k)))
    if rs.retry is not None:
        w.line("retry", rs.retry)
    for c in rs.checkers:
        _checker(w, c)
    w.close()


def _vs(w: _W, vs: m.VirtualServer) -> None:
    w.open(*_vs_head(vs))
    _vs_options(w, vs)
    for rs in vs.real_servers:
        _real_server(w, rs)
    w.close()


def _tunnel(t: m.Tunnel | None) -> list[object]:
    if t is None:
        return []
    out: list[object] = ["type", t.type]
    if t.port is not None:
        out += ["port", t.port]
    out.append(t.csum)
    return out


def _vsg_entry(e: m.VsgEntry) -> str:
    if e.fwmark is not None:
        return f"fwmark {e.fwmark}" + (f" {e.family}" if e.family else "")
    assert e.address is not None
    if e.address_end is not None:
        last = str(e.address_end).split("." if e.address.version == 4 else ":")[-1]
        return f"{e.address}-{last} {e.port}"
    return f"{e.address} {e.port}"


def _root(w: _W, cfg: m.Config) -> None:
    if cfg.files:
        w.line("# pykeepalived -d: the configuration as parsed from " + ", ".join(cfg.files))
    for k in ("net_namespace", "instance"):
        if getattr(cfg, k) is not None:
            w.line(k, getattr(cfg, k))
    if cfg.net_namespace_ipvs is not None:
        w.line("net_namespace_ipvs", cfg.net_namespace_ipvs)
    for k in ("namespace_with_ipsets", "use_pid_dir", "linkbeat_use_polling"):
        if getattr(cfg, k):
            w.line(k)
    if cfg.child_wait_time != 5.0:
        w.line("child_wait_time", _num(cfg.child_wait_time))


def _interfaces_and_static(w: _W, cfg: m.Config) -> None:
    if cfg.linkbeat_interfaces:
        w.values("linkbeat_interfaces", [f"{x.name} {x.type}" for x in cfg.linkbeat_interfaces])
    if cfg.interface_up_down_delays:
        w.values("interface_up_down_delays", [f"{x.interface} {_num(x.down)} {_num(x.up)}"
                                              for x in cfg.interface_up_down_delays])
    for tg in cfg.track_groups:
        w.open("track_group", tg.name)
        w.values("group", tg.group)
        w.close()
    for gg in cfg.garp_groups:
        w.open("garp_group")
        w.line("garp_interval", _num(gg.garp_interval))
        w.line("gna_interval", _num(gg.gna_interval))
        w.values("interfaces", gg.interfaces)
        w.close()
    w.values("static_ipaddress", [_ipaddr(a) for a in cfg.static_ipaddress])
    w.values("static_routes", [r.text for r in cfg.static_routes])
    w.values("static_rules", [r.text for r in cfg.static_rules])


def _vrrp_script(w: _W, sc: m.VrrpScript) -> None:
    w.open("vrrp_script", sc.name)
    if sc.script is not None:
        w.line("script", _script(sc.script))
    w.line("interval", _num(sc.interval))
    w.line("timeout", _num(sc.timeout))
    w.line("weight", sc.weight, *(["reverse"] if sc.weight_reverse else []))
    w.line("rise", sc.rise)
    w.line("fall", sc.fall)
    if sc.user is not None:
        w.line("user", sc.user, *([sc.group] if sc.group else []))
    if sc.init_fail:
        w.line("init_fail")
    w.close()


def _track_file(w: _W, tf: m.TrackFile) -> None:
    w.open("track_file", tf.name)
    if tf.file is not None:
        w.line("file", _q(tf.file))
    w.line("weight", tf.weight, *(["reverse"] if tf.weight_reverse else []))
    if tf.init_file is not None:
        w.line("init_file", tf.init_file, *(["overwrite"] if tf.init_file_overwrite else []))
    w.close()


def _track_process(w: _W, tp: m.TrackProcess) -> None:
    w.open("vrrp_track_process", tp.name)
    if tp.process is not None:
        w.line("process", _q(tp.process), *[_q(p) for p in tp.parameters])
    if tp.param_match != "exact":
        w.line("param_match", tp.param_match)
    w.line("weight", tp.weight, *(["reverse"] if tp.weight_reverse else []))
    w.line("quorum", tp.quorum)
    if tp.quorum_max is not None:
        w.line("quorum_max", tp.quorum_max)
    w.line("fork_delay", _num(tp.fork_delay))
    w.line("terminate_delay", _num(tp.terminate_delay))
    if tp.full_command:
        w.line("full_command")
    w.close()


def _bfd(w: _W, bfd: m.BfdInstance) -> None:
    w.open("bfd_instance", bfd.name)
    for k in ("neighbor_ip", "source_ip"):
        if getattr(bfd, k) is not None:
            w.line(k, getattr(bfd, k))
    for k in ("min_rx", "min_tx", "idle_tx"):
        w.line(k, int(round(getattr(bfd, k) * 1000)))
    for k in ("multiplier", "ttl", "hoplimit", "max_hops"):
        w.line(k, getattr(bfd, k))
    w.line("weight", bfd.weight, *(["reverse"] if bfd.weight_reverse else []))
    for k in ("passive", "multihop"):
        if getattr(bfd, k):
            w.line(k)
    if bfd.vrrp and not bfd.checker:
        w.line("vrrp")
    if bfd.checker and not bfd.vrrp:
        w.line("checker")
    w.close()


def _sync_group(w: _W, g: m.VrrpSyncGroup) -> None:
    w.open("vrrp_sync_group", g.name)
    w.values("group", g.group)
    _track_if(w, g.track_interface)
    for k in ("track_script", "track_file", "track_process", "track_bfd"):
        _track(w, k, getattr(g, k))
    for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"):
        if getattr(g, k) is not None:
            w.line(k, _script(getattr(g, k)))
    for k in ("smtp_alert", "notify_priority_changes"):
        if getattr(g, k) is not None:
            w.line(k, "true" if getattr(g, k) else "false")
    if g.sync_group_tracking_weight:
        w.line("sync_group_tracking_weight")
    w.close()


def dump_config(cfg: m.Config) -> str:
    w = _W()
    _root(w, cfg)
    _global(w, cfg.global_defs)
    _interfaces_and_static(w, cfg)
    for sc in cfg.vrrp_scripts:
        _vrrp_script(w, sc)
    for tf in cfg.track_files:
        _track_file(w, tf)
    for tp in cfg.track_processes:
        _track_process(w, tp)
    for bfd in cfg.bfd_instances:
        _bfd(w, bfd)
    for vi in cfg.vrrp_instances:
        _instance(w, vi)
    for g in cfg.vrrp_sync_groups:
        _sync_group(w, g)
    if cfg.ssl is not None:
        _fields_block(w, ["SSL"], cfg.ssl, {"pos"}, m.Ssl())
    for vsg in cfg.virtual_server_groups:
        w.open("virtual_server_group", vsg.name)
        for e in vsg.entries:
            w.line(_vsg_entry(e))
        w.close()
    for vs in cfg.virtual_servers:
        _vs(w, vs)
    return "\n".join(w.lines) + "\n"


__all__ = ["dump_config", "ipaddress"]
