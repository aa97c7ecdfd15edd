"""keepalived's dump files: SIGUSR1 data, SIGUSR2 stats, the JSON dump (spec §3.3-§3.5).

The formatting functions are pure: they take the live `VirtualRouter` objects of the VRRP
child (core/vrrp.py: `.name .params .state .wantstate .stats .effective_priority
.base_priority .master_priority .master_adver_int_us .last_transition ...`) and the loaded
`Config`, and return the file's text. The writers put the text where keepalived puts it:

* `<tmp>/keepalived.data` (VRRP), `keepalived_parent.data`, `keepalived_check.data`;
  `<tmp>` is $TMPDIR when it is an absolute directory, else /tmp. `data_use_instance`
  inserts `.<netns>_<instance>` (or `.<instance>`) before `.data`; `state_dump_file`
  overrides the VRRP data file's directory and/or name.
* `<tmp>/keepalived.stats` and `<tmp>/keepalived.json` (fixed names, as in keepalived;
  `stats_dump_file` / `json_dump_file` have no effect there either). JSON is written to a
  temporary file and renamed, so a reader never sees half a file.
* Every file is created mode 0600.

The VRRP child wires the signals with `install_signal_handlers(loop, routers, config)`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pykeepalived.osutil import SIGJSON, SIGSTATS_CLEAR
from pykeepalived.textbytes import to_bytes

log = logging.getLogger(__name__)

STATE_NAMES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "DELETED", 98: "STOP"}
AUTH_NAMES = {0: "none", 1: "PASS", 2: "AH"}

# (title, [(label, counter)]) in keepalived 2.2.7's vrrp_print_stats() order.
STATS_LAYOUT: tuple[tuple[str | None, tuple[tuple[str, str], ...]], ...] = (
    ("Advertisements", (("Received", "advert_rcvd"), ("Sent", "advert_sent"))),
    (None, (("Became master", "become_master"), ("Released master", "release_master"))),
    ("Packet Errors", (("Length", "packet_len_err"), ("TTL", "ip_ttl_err"),
                       ("Invalid Type", "invalid_type_rcvd"),
                       ("Advertisement Interval", "advert_interval_err"),
                       ("Address List", "addr_list_err"))),
    ("Authentication Errors", (("Invalid Type", "invalid_authtype"), ("Type Mismatch", "authtype_mismatch"),
                               ("Failure", "auth_failure"))),
    ("Priority Zero", (("Received", "pri_zero_rcvd"), ("Sent", "pri_zero_sent"))),
)
STATS_KEYS = ("advert_rcvd", "advert_sent", "become_master", "release_master", "packet_len_err",
              "advert_interval_err", "ip_ttl_err", "invalid_type_rcvd", "addr_list_err", "invalid_authtype",
              "authtype_mismatch", "auth_failure", "pri_zero_rcvd", "pri_zero_sent")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --------------------------------------------------------------------------------------------
# Paths


def tmp_dir() -> str:
    """`$TMPDIR` when it names an absolute directory, else /tmp (keepalived's get_tmp_dir)."""
    t = os.environ.get("TMPDIR")
    if t and t.startswith("/") and os.path.isdir(t):
        return t.rstrip("/") or "/"
    return "/tmp"


def _gd(config: Any, name: str, default: Any = None) -> Any:
    gd = getattr(config, "global_defs", None)
    value = getattr(gd, name, None) if gd is not None else None
    if value is None and gd is not None:
        for key, args in getattr(gd, "other", ()):
            if key == name:
                return args[0] if len(args) == 1 else True
    return default if value is None else value


def _instance_tag(config: Any) -> str:
    """`.<netns>_<instance>` when data_use_instance applies, else ''."""
    if config is None or not _gd(config, "data_use_instance", False):
        return ""
    parts = [p for p in (getattr(config, "net_namespace", None), getattr(config, "instance", None)) if p]
    return "." + "_".join(parts) if parts else ""


def data_path(config: Any, which: str = "vrrp") -> str:
    """Path of the SIGUSR1 file of `which` ("vrrp", "parent", "check")."""
    stem = {"vrrp": "keepalived", "parent": "keepalived_parent", "check": "keepalived_check"}[which]
    directory = tmp_dir()
    state = _gd(config, "state_dump_file", None) if config is not None else None
    if state:
        state = str(state)
        if state.endswith("/") or os.path.isdir(state):
            directory = state.rstrip("/") or "/"
        elif which == "vrrp":
            return state if state.startswith("/") else f"{directory}/{state}"
        else:
            directory = os.path.dirname(state) or directory
    return f"{directory}/{stem}{_instance_tag(config)}.data"


def stats_path() -> str:
    return f"{tmp_dir()}/keepalived.stats"


def json_path() -> str:
    return f"{tmp_dir()}/keepalived.json"


def write_file(path: str, text: str, *, atomic: bool = False) -> None:
    """Create/replace `path` with mode 0600 whatever the umask."""
    target = f"{path}.tmp{os.getpid()}" if atomic else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        data = to_bytes(text)
        while data:
            n = os.write(fd, data)
            data = data[n:]
    finally:
        os.close(fd)
    if atomic:
        os.replace(target, path)


# --------------------------------------------------------------------------------------------
# Small formatting helpers


def wall_time(t: float) -> float:
    """A router timestamp as wall-clock seconds. The core's `now` is the loop's monotonic
    clock; values that already look like epoch seconds are taken as they are."""
    if t <= 0:
        return 0.0
    if t > 1e9:
        return t
    return t + (time.time() - time.monotonic())


def format_timestamp(t: float) -> str:
    """`1795605761.858119 (Wed Nov 25 11:22:41.858119 2026)`."""
    usec = int(round((t - math.floor(t)) * 1e6))
    sec = int(math.floor(t))
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    tm = time.localtime(sec)
    return (f"{sec}.{usec:06d} ({_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{usec:06d} {tm.tm_year})")


def _num(value: float) -> int | float:
    """Whole numbers as ints (keepalived prints `1`, not `1.0`)."""
    f = float(value)
    return int(f) if f.is_integer() else f


def _state(value: Any) -> int:
    return int(value)


def _bool_word(value: bool, yes: str = "enabled", no: str = "disabled") -> str:
    return yes if value else no


def vip_text(vip: Any, router: Any, is_set: bool) -> str:
    """A VIP as keepalived prints it: `192.168.77.100/24 dev ka1e scope global set`."""
    prefix = vip.prefix if hasattr(vip, "prefix") else (vip.prefixlen or 32)
    dev = vip.dev or router.params.interface or "?"
    scope = vip.scope or ("link" if vip.address.lower().startswith("fe80") else "global")
    text = f"{vip.address}/{prefix} dev {dev} scope {scope}"
    if getattr(vip, "label", None):
        text += f" label {vip.label}"
    return text + (" set" if is_set else "")


def _vips_set(router: Any) -> bool:
    return _state(router.state) == 2


def _down_timer_us(router: Any) -> int:
    p = router.params
    adv = int(router.master_adver_int_us)
    return int(p.down_timer_adverts) * adv + ((256 - int(router.effective_priority)) * adv) // 256


def _script_text(script: Any) -> str:
    return " ".join(f"'{a}'" for a in (script.args or (script.cmd,)))


def _instance_config(config: Any, name: str) -> Any:
    if config is None:
        return None
    lookup = getattr(config, "vrrp_instance", None)
    return lookup(name) if callable(lookup) else None


# --------------------------------------------------------------------------------------------
# SIGUSR2: stats


def format_stats(routers: Iterable[Any]) -> str:
    """`keepalived.stats`, field for field as keepalived 2.2.7's vrrp_print_stats()."""
    out: list[str] = []
    for r in routers:
        s = r.stats
        out.append(f"VRRP Instance: {r.name}")
        for title, fields in STATS_LAYOUT:
            indent = "  "
            if title is not None:
                out.append(f"  {title}:")
                indent = "    "
            for label, key in fields:
                out.append(f"{indent}{label}: {getattr(s, key)}")
    return "".join(line + "\n" for line in out)


# --------------------------------------------------------------------------------------------
# JSON


class _Raw(str):
    """A pre-rendered JSON number."""


def _json_float(value: float, decimals: int | None = None) -> _Raw:
    if decimals is not None:
        return _Raw(f"{value:.{decimals}f}")
    v = _num(value)
    return _Raw(str(v) if isinstance(v, int) else repr(v))


def _encode(value: Any) -> str:
    """json-c's compact output, including its escaping of '/' as '\\/'."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("/", "\\/")
    if isinstance(value, dict):
        return "{" + ",".join(f"{_encode(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if value is None:
        return "null"
    return _encode(str(value))


def instance_json(router: Any, config: Any = None) -> dict[str, Any]:
    """One `{"data": {...}, "stats": {...}}` element of keepalived's JSON dump."""
    p = router.params
    vi = _instance_config(config, router.name)
    state = _state(router.state)
    data: dict[str, Any] = {
        "iname": router.name,
        "dont_track_primary": int(bool(p.dont_track_primary)),
        "skip_check_adv_addr": int(bool(p.skip_check_adv_addr)),
        "strict_mode": int(bool(p.strict)),
        "vmac_ifname": "",
        "ifp_ifname": p.interface or "",
        "master_priority": int(router.master_priority) if state == 1 else 0,
        "last_transition": _json_float(wall_time(router.last_transition), 6),
        "garp_delay": _num(p.garp_master_delay),
        "garp_refresh": _num(p.garp_master_refresh),
        "garp_rep": int(p.garp_master_repeat),
        "garp_refresh_rep": int(p.garp_master_refresh_repeat),
        "garp_lower_prio_delay": _num(p.garp_lower_prio_delay),
        "garp_lower_prio_rep": int(p.garp_lower_prio_repeat),
        "lower_prio_no_advert": int(bool(p.lower_prio_no_advert)),
        "higher_prio_send_advert": int(bool(p.higher_prio_send_advert)),
        "vrid": int(p.vrid),
        "base_priority": int(router.base_priority),
        "effective_priority": int(router.effective_priority),
        "vipset": _vips_set(router),
        "promote_secondaries": bool(getattr(vi, "promote_secondaries", False)),
        "adver_int": _json_float(int(router.adver_int_us) / 1e6),
        "master_adver_int": _json_float(int(router.master_adver_int_us) / 1e6),
        "accept": int(bool(p.accept)),
        "nopreempt": bool(p.nopreempt),
        "preempt_delay": _num(p.preempt_delay),
        "state": state,
        "wantstate": _state(router.wantstate),
        "version": int(p.version),
        "smtp_alert": bool(getattr(getattr(vi, "effective", None), "smtp_alert", False)),
        "notify_deleted": bool(p.notify_deleted),
    }
    if vi is not None:
        for key, attr in (("script_backup", "notify_backup"), ("script_master", "notify_master"),
                          ("script_fault", "notify_fault"), ("script_stop", "notify_stop"),
                          ("script_deleted", "notify_deleted"), ("script", "notify"),
                          ("script_master_rx_lower_pri", "notify_master_rx_lower_pri")):
            script = getattr(vi, attr, None)
            if script is not None:
                data[key] = _script_text(script)
    is_set = _vips_set(router)
    if p.vips:
        data["vips"] = [vip_text(v, router, is_set) for v in p.vips]
    if p.evips:
        data["evips"] = [vip_text(v, router, is_set) for v in p.evips]
    if vi is not None:
        if vi.virtual_routes:
            data["vroutes"] = [r.text for r in vi.virtual_routes]
        if vi.virtual_rules:
            data["vrules"] = [r.text for r in vi.virtual_rules]
        if vi.track_interface:
            data["track_ifp"] = [t.name for t in vi.track_interface]
        if vi.track_script:
            data["track_script"] = [t.name for t in vi.track_script]
        if vi.track_process:
            data["track_process"] = [t.name for t in vi.track_process]
    data["auth_type"] = int(p.auth_type)
    if int(p.auth_type):
        data["auth_data"] = "********"
    stats = {key: int(getattr(router.stats, key)) for key in STATS_KEYS}
    return {"data": data, "stats": stats}


def format_json(routers: Iterable[Any], config: Any = None, version: int | None = None) -> str:
    """`keepalived.json`: v1 a top-level array; v2 `{"vrrp": [...], "track_process": [...]}`."""
    items = [instance_json(r, config) for r in routers]
    if version is None:
        version = int(_gd(config, "json_version", 1)) if config is not None else 1
    if version == 2:
        return _encode({"vrrp": items, "track_process": []}) + "\n"
    return _encode(items) + "\n"


# --------------------------------------------------------------------------------------------
# SIGUSR1: data


def format_global_defs(config: Any, *, parent: bool = False) -> list[str]:
    gd = getattr(config, "global_defs", None)

    def g(name: str, default: Any = None) -> Any:
        return _gd(config, name, default)

    def bool_word(v: Any) -> str:
        return "true" if v else "false"

    def unset(v: Any) -> str:
        return "unset" if v is None else bool_word(v)

    ns = getattr(config, "net_namespace", None)
    ns_ipvs = getattr(config, "net_namespace_ipvs", None)
    lines = ["------< Global definitions >------",
             f" Network namespace = {ns or '(default)'}",
             f" Network namespace ipvs = {ns_ipvs or '(main namespace)'}"]
    if getattr(config, "instance", None):
        lines.append(f" Instance name = {config.instance}")
    lines += [
        f" Router ID = {g('router_id') or os.uname().nodename}",
        f" Default smtp_alert = {unset(g('smtp_alert'))}",
        f" Default smtp_alert_vrrp = {unset(g('smtp_alert_vrrp'))}",
        f" Default smtp_alert_checker = {unset(g('smtp_alert_checker'))}",
        f" Checkers log all failures = {bool_word(g('checker_log_all_failures', False))}",
    ]
    check = g("reload_check_config")
    lines.append(" No test config before reload" if check is None else
                 f" Test config before reload{', log to ' + str(check) if check else ''}")
    lines.append(f" Dynamic interfaces = {bool_word(g('dynamic_interfaces', False))}")
    if not parent:
        lines.append(f" Default interface = {g('default_interface', 'eth0')}")
    lines += [
        f" Disable local IGMP = {'yes' if g('disable_local_igmp', False) else 'no'}",
        f" LVS flush = {bool_word(g('lvs_flush', False))}",
        f" LVS flush on stop = {'disabled' if g('lvs_flush_on_stop', 'off') == 'off' else g('lvs_flush_on_stop')}",
        f" FIFO write vrrp states on reload = {bool_word(g('fifo_write_vrrp_states_on_reload', False))}",
        f" VRRP notify priority changes = {bool_word(g('vrrp_notify_priority_changes', False))}",
        f" VRRP IPv4 mcast group = {g('vrrp_mcast_group4', '224.0.0.18')}",
        f" VRRP IPv6 mcast group = {g('vrrp_mcast_group6', 'ff02::12')}",
        f" Gratuitous ARP delay = {_num(g('vrrp_garp_master_delay', 5))}",
        f" Gratuitous ARP repeat = {g('vrrp_garp_master_repeat', 5)}",
        f" Gratuitous ARP refresh timer = {_num(g('vrrp_garp_master_refresh', 0))}",
        f" Gratuitous ARP refresh repeat = {g('vrrp_garp_master_refresh_repeat', 1)}",
        f" Gratuitous ARP lower priority delay = "
        f"{_num(getattr(gd, 'garp_lower_prio_delay', 5)) if gd is not None else 5}",
        f" Gratuitous ARP lower priority repeat = "
        f"{getattr(gd, 'garp_lower_prio_repeat', 5) if gd is not None else 5}",
        f" Num adverts before down = {g('vrrp_down_timer_adverts', 3)}",
        f" Gratuitous ARP for each secondary VMAC = {_num(g('vrrp_garp_extra_if', 0))}s",
        f" Send advert after receive lower priority advert = {bool_word(not g('vrrp_lower_prio_no_advert', False))}",
        f" Send advert after receive higher priority advert = "
        f"{bool_word(g('vrrp_higher_prio_send_advert', False))}",
        f" Gratuitous ARP interval = {float(g('vrrp_garp_interval', 0.0)):.6f}",
        f" Gratuitous NA interval = {float(g('vrrp_gna_interval', 0.0)):.6f}",
        f" VRRP default protocol version = {g('vrrp_version', 2)}",
        f" VRRP check unicast_src = {bool_word(g('vrrp_check_unicast_src', False))}",
        f" VRRP skip check advert addresses = {bool_word(g('vrrp_skip_check_adv_addr', False))}",
        f" VRRP strict mode = {bool_word(g('vrrp_strict', False))}",
        f" Max auto priority = {g('max_auto_priority', 0)}",
        f" Script security {'enabled' if g('enable_script_security', False) else 'disabled'}",
        f" umask = 0{int(g('umask', 0o177)):o}",
    ]
    return lines


def _instance_lines(r: Any, config: Any) -> list[str]:
    p = r.params
    vi = _instance_config(config, r.name)
    state = _state(r.state)
    lines = [f" VRRP Instance = {r.name}", f"   VRRP Version = {p.version}"]
    group = getattr(vi, "sync_group", None)
    if group:
        lines.append(f"   Sync group = {group}")
    lines += [
        f"   State = {STATE_NAMES.get(state, str(state))}",
        f"   Wantstate = {STATE_NAMES.get(_state(r.wantstate), str(r.wantstate))}",
        f"   Number of interface and track script faults = {len(getattr(r, 'faults', ()))}",
        f"   Last transition = {format_timestamp(wall_time(r.last_transition))}",
    ]
    if state == 1 and r.master_address_text:
        lines.append(f"   Master router = {r.master_address_text}")
        lines.append(f"   Master priority = {r.master_priority}")
    lines.append(f"   Master down timer = {_down_timer_us(r)} usecs")
    lines.append(f"   Interface = {p.interface or '(none)'}")
    if p.source_address:
        lines.append(f"   Using src_ip = {p.source_address}")
    if p.unicast_peers:
        lines.append("   Unicast Peer(s):")
        lines += [f"     {peer.address}" for peer in p.unicast_peers]
    else:
        lines.append(f"   Multicast address {p.group}")
    adv = int(r.adver_int_us)
    adv_text = f"{adv // 1_000_000} sec" if adv % 1_000_000 == 0 else f"{adv // 1000} milli-sec"
    lines += [
        f"   Gratuitous ARP delay = {_num(p.garp_master_delay)}",
        f"   Gratuitous ARP repeat = {p.garp_master_repeat}",
        f"   Gratuitous ARP refresh = {_num(p.garp_master_refresh)}",
        f"   Gratuitous ARP refresh repeat = {p.garp_master_refresh_repeat}",
        f"   Gratuitous ARP lower priority delay = {_num(p.garp_lower_prio_delay)}",
        f"   Gratuitous ARP lower priority repeat = {p.garp_lower_prio_repeat}",
        f"   Down timer adverts = {p.down_timer_adverts}",
        f"   Send advert after receive lower priority advert = {'false' if p.lower_prio_no_advert else 'true'}",
        f"   Send advert after receive higher priority advert = "
        f"{'true' if p.higher_prio_send_advert else 'false'}",
        f"   Virtual Router ID = {p.vrid}",
        f"   Priority = {r.base_priority}",
        f"   Effective priority = {r.effective_priority}",
        f"   Total priority = {r.effective_priority}",
        f"   Advert interval = {adv_text}",
        f"   Accept = {_bool_word(p.accept)}",
        f"   Preempt = {_bool_word(not p.nopreempt)}",
    ]
    if p.preempt_delay:
        lines.append(f"   Preempt delay = {_num(p.preempt_delay)} secs")
    lines.append(f"   Promote_secondaries = {_bool_word(bool(getattr(vi, 'promote_secondaries', False)))}")
    lines.append(f"   Authentication type = {AUTH_NAMES.get(int(p.auth_type), str(p.auth_type))}")
    is_set = _vips_set(r)
    if p.vips:
        lines.append(f"   Virtual IP ({len(p.vips)}):")
        lines += [f"     {vip_text(v, r, is_set)}" for v in p.vips]
    if p.evips:
        lines.append(f"   Virtual IP Excluded ({len(p.evips)}):")
        lines += [f"     {vip_text(v, r, is_set)}" for v in p.evips]
    if vi is not None:
        if vi.virtual_routes:
            lines.append(f"   Virtual Routes ({len(vi.virtual_routes)}):")
            lines += [f"     {rt.text}" for rt in vi.virtual_routes]
        if vi.virtual_rules:
            lines.append(f"   Virtual Rules ({len(vi.virtual_rules)}):")
            lines += [f"     {ru.text}" for ru in vi.virtual_rules]
        if vi.track_interface:
            lines.append("   Tracked interfaces :")
            lines += [f"     {t.name} weight {t.weight}" for t in vi.track_interface]
        if vi.track_script:
            lines.append("   Tracked scripts :")
            lines += [f"     {t.name}" for t in vi.track_script]
        for label, attr in (("Backup", "notify_backup"), ("Master", "notify_master"), ("Fault", "notify_fault"),
                            ("Stop", "notify_stop"), ("Deleted", "notify_deleted"), ("Generic", "notify"),
                            ("Master rx lower pri", "notify_master_rx_lower_pri")):
            script = getattr(vi, attr, None)
            if script is not None:
                lines.append(f"   {label} state transition script = {_script_text(script)}")
    lines.append(f"   Using smtp notification = {'yes' if getattr(getattr(vi, 'effective', None), 'smtp_alert', False) else 'no'}")
    lines.append(f"   Notify deleted = {'Deleted' if p.notify_deleted else 'Fault'}")
    lines.append(f"   Notify priority changes = {'true' if p.notify_priority_changes else 'false'}")
    return lines


def format_data(routers: Sequence[Any], config: Any = None, *, sync_group_states: dict[str, int] | None = None,
                interfaces: Sequence[str] = ()) -> str:
    """`keepalived.data` of the VRRP process: global definitions, topology, sync groups."""
    lines = format_global_defs(config)
    lines.append("------< VRRP Topology >------")
    for r in routers:
        lines += _instance_lines(r, config)
    lines.append("------< VRRP Sockpool >------")
    groups = getattr(config, "vrrp_sync_groups", ()) if config is not None else ()
    if groups:
        lines.append("------< VRRP Sync groups >------")
        by_name = {r.name: r for r in routers}
        for g in groups:
            state = (sync_group_states or {}).get(g.name)
            if state is None:
                members = [by_name[m] for m in getattr(g, "group", ()) if m in by_name]
                state = max((_state(m.state) for m in members), default=0) if members else 0
            lines.append(f" VRRP Sync Group = {g.name}, {STATE_NAMES.get(state, str(state))}")
            lines += [f"   monitor = {m}" for m in getattr(g, "group", ())]
    if interfaces:
        lines.append("------< Interfaces >------")
        lines += [f" Name = {name}" for name in interfaces]
    return "".join(line + "\n" for line in lines)


def format_parent_data(config: Any) -> str:
    return "".join(line + "\n" for line in format_global_defs(config, parent=True))


# --------------------------------------------------------------------------------------------
# Writers and the VRRP child's signal wiring


def write_parent_data(config: Any) -> str:
    path = data_path(config, "parent")
    write_file(path, format_parent_data(config))
    return path


def write_vrrp_data(routers: Sequence[Any], config: Any) -> str:
    path = data_path(config, "vrrp")
    write_file(path, format_data(routers, config))
    return path


def write_vrrp_stats(routers: Sequence[Any], *, clear: bool = False) -> str:
    """Write the stats file; with `clear` (SIGRTMAX-1) zero the counters afterwards."""
    path = stats_path()
    write_file(path, format_stats(routers))
    if clear:
        for r in routers:
            r.stats.clear()
    return path


def write_vrrp_json(routers: Sequence[Any], config: Any) -> str:
    path = json_path()
    write_file(path, format_json(routers, config), atomic=True)
    return path


def install_signal_handlers(loop: asyncio.AbstractEventLoop, routers: Callable[[], Sequence[Any]],
                            config: Callable[[], Any]) -> None:
    """VRRP child: SIGUSR1 data, SIGUSR2 stats, SIGRTMIN+2 JSON, SIGRTMAX-1 stats + clear.

    `routers()` returns the live VirtualRouter objects in config order, `config()` the
    running Config; both are called at signal time, so reloads are picked up."""
    pid = os.getpid()

    def guarded(what: str, fn: Callable[[], object]) -> Callable[[], None]:
        def handler() -> None:
            log.info("Printing VRRP %s for process(%d) on signal", what, pid)
            try:
                fn()
            except OSError as exc:
                log.info("Unable to write VRRP %s: %s", what, exc.strerror or exc)
        return handler

    loop.add_signal_handler(signal.SIGUSR1, guarded("data", lambda: write_vrrp_data(routers(), config())))
    loop.add_signal_handler(signal.SIGUSR2, guarded("stats", lambda: write_vrrp_stats(routers())))
    loop.add_signal_handler(SIGSTATS_CLEAR, guarded("stats", lambda: write_vrrp_stats(routers(), clear=True)))
    loop.add_signal_handler(SIGJSON, guarded("as json", lambda: write_vrrp_json(routers(), config())))
