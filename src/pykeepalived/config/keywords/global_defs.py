"""global_defs: keyword -> handler, with keepalived 2.2.7's ranges and messages."""

from __future__ import annotations

import ipaddress
import os
import re

from pykeepalived.config import model as m
from pykeepalived.config.blocks import (
    Ctx,
    Fields,
    Handler,
    at_least_one,
    block,
    deprecated,
    flag,
    ignored,
    ignored_with_value,
    integer,
    keyword_rules,
    optional_integer,
    optional_string,
    pos,
    rest_text,
    script,
    string,
    switch,
    timer,
    value_lines,
)
from pykeepalived.config.grammar import Node


def _h_notification_email(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    emails = tuple(x for _, ws in value_lines(ctx, node) for x in ws)
    if not emails:
        ctx.warn(node, "Warning - empty notification_email block")
    f["notification_email"] = emails


def _h_smtp_connect_timeout(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0, 4294.967295)
    if v is None:
        ctx.warn(node, f"smtp_connect_timeout '{w[1]}' must be in [0, 4294] - ignoring")
    elif v == 0:
        ctx.warn(node, "smtp_conect_timeout must be greater than 0, setting to 1")  # sic, 2.2.7's text
        f["smtp_connect_timeout"] = 1.0
    else:
        f["smtp_connect_timeout"] = v


def _h_smtp_server(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["smtp_server"] = w[1]
    if len(w) > 2:
        p = ctx.int_(node, w[2], 1, 65535)
        if p is not None:
            f["smtp_port"] = p


def _h_script_user(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    # 2.2.7 takes `user [group]`; "user:group" is one (unknown) user name there
    user = w[1]
    f["script_user"] = user
    if len(w) > 2:
        f["script_group"] = w[2]
    if not user_exists(user, f.get("script_group")):
        ctx.warn(node, "Error setting global script uid/gid")
        f["_default_user_bad"] = True


def user_exists(user: str, group: str | None) -> bool:
    """The user (and group, if given) resolve on this host, as keepalived's set_uid_gid needs."""
    import grp
    import pwd

    try:
        pwd.getpwnam(user)
        if group is not None:
            grp.getgrnam(group)
    except KeyError:
        return False
    return True


def _h_mcast_group(field: str, version: int) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        try:
            a = ipaddress.ip_address(w[1])
            if a.version != version or not a.is_multicast:
                raise ValueError
            f[field] = a
        except ValueError:
            ctx.warn(node, f"{w[0]} [{w[1]}] is not multicast. Skipping")
    return h


def _h_fifo(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        prev = f.get(field)
        f[field] = m.Fifo(name=w[1], user=w[2] if len(w) > 2 else None, group=w[3] if len(w) > 3 else None,
                          script=prev.script if prev is not None else None, pos=pos(node))
    return h


def _h_fifo_script(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        s = ctx.script(node, rest_text(node))
        if s is None:
            ctx.need(node, w, 1)
            return
        prev = f.get(field)
        if prev is None:
            f[field + "_pending_script"] = s
        else:
            f[field] = m.Fifo(name=prev.name, user=prev.user, group=prev.group, script=s, pos=prev.pos)
    return h


def _h_lvs_sync_daemon(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 2)
    kw: Fields = {"interface": w[1], "instance": w[2], "pos": pos(node)}
    i = 3
    while i + 1 < len(w):
        k, v = w[i], w[i + 1]
        if k in ("id", "maxlen", "port", "ttl"):
            n = ctx.int_(node, v, 0, 65535)
            if n is not None:
                kw[k] = n
        elif k == "group":
            kw["group"] = ctx.ip(node, v)
        else:
            ctx.warn(node, f"Unknown lvs_sync_daemon option {k}")
        i += 2
    f["lvs_sync_daemon"] = m.LvsSyncDaemon(**kw)


def _h_lvs_timeouts(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        ctx.warn(node, "lvs_timeouts requires at least one option")
        return
    i = 1
    while i + 1 < len(w):
        if w[i] in ("tcp", "tcpfin", "udp"):
            n = ctx.int_(node, w[i + 1], 0, 86400 * 31)
            if n is not None:
                f["lvs_timeouts_" + w[i]] = n
        else:
            ctx.warn(node, f"Unknown option {w[i]} specified for lvs_timeouts")
        i += 2


def _h_lvs_flush_on_stop(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    """Alone: flush everything; `VS` (exactly): only the configured services; anything else is
    an error, the setting unchanged (2.2.7's lvs_flush_on_stop_handler)."""
    if len(w) == 1:
        f["lvs_flush_on_stop"] = "all"
    elif w[1] == "VS":
        f["lvs_flush_on_stop"] = "vs"
    else:
        ctx.warn(node, f"Unknown lvs_flush_on_stop type {w[1]}")


def garp_extra_if(prefix: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        args = w[1:]
        if args and args[0] == "all":
            f[prefix + "garp_extra_if_all"] = True
            args = args[1:]
        if not args:
            ctx.need(node, w, len(w))
        v = ctx.int_(node, args[0], 0, 86400)
        if v is not None:
            f[prefix + "garp_extra_if"] = float(v)
    return h


def _h_nftables(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        f[field] = w[1] if len(w) > 1 else "keepalived"
    return h


def _c_strtoul(text: str) -> int:
    """strtoul(text, NULL, 0): 0x.. hex, 0.. octal, else decimal."""
    t = text.strip().lower()
    if t.startswith("0x"):
        return int(t[2:], 16)
    if t.startswith("0") and len(t) > 1:
        return int(t[1:], 8)
    return int(t, 10)


def _h_umask(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    # 2.2.7 knows the nine single-bit names only (not IRWXU etc.), joined by '|'
    bits = {"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRGRP": 0o40, "IWGRP": 0o20, "IXGRP": 0o10,
            "IROTH": 0o4, "IWOTH": 0o2, "IXOTH": 0o1}
    text = "".join(w[1:])
    if text[:1].isdigit():
        try:
            f["umask"] = _c_strtoul(text)
        except ValueError:
            ctx.warn(node, f"Invalid umask value {text}")
        return
    val = 0
    for part in text.split("|"):
        if part not in bits:
            ctx.warn(node, f"Unknown umask bit {part}")
            return
        val |= bits[part]
    f["umask"] = val


def _h_dynamic_interfaces(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["dynamic_interfaces"] = True
    if len(w) > 1 and w[1] == "allow_if_changes":
        f["dynamic_interfaces_allow_if_changes"] = True


def _h_reload_check_config(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["reload_check_config"] = w[1] if len(w) > 1 else ""


def _h_include_check(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    for a in w[1:]:
        if a.lstrip("+-") not in ("read", "match", "wildcard_match", "brace_match"):
            ctx.warn(node, f"Unknown include_check type '{a}'")


def _h_vrrp_iptables(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        if field == "vrrp_iptables":
            ctx.warn(node, "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and "
                           "'vrrp_ipsets' with 'nftables' config option")
            f.setdefault("nftables", "keepalived")
        f[field] = tuple(w[1:])
    return h


GLOBAL_DEFS: dict[str, Handler] = {
    "router_id": string("router_id"),
    "notification_email": block(_h_notification_email),
    "notification_email_from": string("notification_email_from"),
    "smtp_server": _h_smtp_server,
    "smtp_helo_name": optional_string("smtp_helo_name"),
    "smtp_connect_timeout": _h_smtp_connect_timeout,
    "smtp_alert": flag("smtp_alert"),
    "smtp_alert_vrrp": flag("smtp_alert_vrrp"),
    "smtp_alert_checker": flag("smtp_alert_checker"),
    "no_email_faults": switch("no_email_faults"),
    "no_checker_emails": flag("no_checker_emails"),
    "checker_log_all_failures": flag("checker_log_all_failures"),
    "rs_init_notifies": flag("rs_init_notifies"),
    "script_user": _h_script_user,
    "enable_script_security": switch("enable_script_security"),
    "set_supplementary_groups": flag("set_supplementary_groups"),
    "use_symlink_paths": flag("use_symlink_paths"),
    "startup_script": script("startup_script"),
    "startup_script_timeout": integer("startup_script_timeout", 1, 1000),
    "shutdown_script": script("shutdown_script"),
    "shutdown_script_timeout": integer("shutdown_script_timeout", 1, 1000),
    "vrrp_mcast_group4": _h_mcast_group("vrrp_mcast_group4", 4),
    "vrrp_mcast_group6": _h_mcast_group("vrrp_mcast_group6", 6),
    "default_interface": string("default_interface"),
    "vrrp_version": integer("vrrp_version", 2, 3, "VRRP Error: Version must be either 2 or 3"),
    "vrrp_garp_master_delay": timer("vrrp_garp_master_delay", 0, 4294.967295),
    "vrrp_garp_master_repeat": at_least_one(integer("vrrp_garp_master_repeat", 0, 2147483647)),
    "vrrp_garp_master_refresh": timer("vrrp_garp_master_refresh", 0, 4294.967295),
    "vrrp_garp_master_refresh_repeat": at_least_one(integer("vrrp_garp_master_refresh_repeat", 0, 2147483647)),
    "vrrp_garp_lower_prio_delay": timer("vrrp_garp_lower_prio_delay", 0, 4294.967295),
    "vrrp_garp_lower_prio_repeat": integer("vrrp_garp_lower_prio_repeat", 0, 2147483647),
    "vrrp_garp_interval": timer("vrrp_garp_interval", 0.000001, 4294.967295, "{kw} '{v}' is invalid"),
    "vrrp_gna_interval": timer("vrrp_gna_interval", 0.000001, 4294.967295, "{kw} '{v}' is invalid"),
    "vrrp_min_garp": flag("vrrp_min_garp"),
    "vrrp_garp_extra_if": garp_extra_if("vrrp_"),
    "vrrp_vmac_garp_intvl": deprecated(garp_extra_if("vrrp_"), 'Keyword "vrrp_vmac_garp_intvl" is deprecated'
                                                                   ' - please use "vrrp_garp_extra_if"'),
    "vrrp_down_timer_adverts": integer("vrrp_down_timer_adverts", 1, 100),
    "vrrp_lower_prio_no_advert": flag("vrrp_lower_prio_no_advert"),
    "vrrp_higher_prio_send_advert": flag("vrrp_higher_prio_send_advert"),
    "vrrp_owner_ignore_adverts": flag("vrrp_owner_ignore_adverts"),
    "v3_checksum_as_v2": flag("v3_checksum_as_v2"),
    "vrrp_check_unicast_src": switch("vrrp_check_unicast_src"),
    "vrrp_skip_check_adv_addr": switch("vrrp_skip_check_adv_addr"),
    "vrrp_strict": switch("vrrp_strict"),
    "vrrp_notify_priority_changes": flag("vrrp_notify_priority_changes"),
    "nftables": _h_nftables("nftables"),
    "nftables_priority": integer("nftables_priority", -2147483648, 2147483647, "invalid nftables chain priority '{v}'"),
    "nftables_counters": switch("nftables_counters"),
    "nftables_ifindex": switch("nftables_ifindex"),
    "nftables_ipvs": _h_nftables("nftables_ipvs"),
    "nftables_ipvs_priority": integer("nftables_ipvs_priority", -2147483648, 2147483647),
    "nftables_ipvs_start_fwmark": integer("nftables_ipvs_start_fwmark", 1, 4294967295),
    "vrrp_iptables": _h_vrrp_iptables("vrrp_iptables"),
    "vrrp_ipsets": _h_vrrp_iptables("vrrp_ipsets"),
    "disable_local_igmp": switch("disable_local_igmp"),
    "dynamic_interfaces": _h_dynamic_interfaces,
    "vrrp_startup_delay": timer("vrrp_startup_delay", 0.001, 4294.967295, "{kw} '{v}' is invalid"),
    "vrrp_delay_after_boot": timer("vrrp_delay_after_boot", 0, 4294.967295),
    "log_unknown_vrids": switch("log_unknown_vrids"),
    "vmac_prefix": string("vmac_prefix"),
    "vmac_addr_prefix": string("vmac_addr_prefix"),
    "lvs_sync_daemon": _h_lvs_sync_daemon,
    "lvs_timeouts": _h_lvs_timeouts,
    "lvs_flush": switch("lvs_flush"),
    "lvs_flush_on_stop": _h_lvs_flush_on_stop,
    "lvs_flush_onstop": _h_lvs_flush_on_stop,
    "max_auto_priority": optional_integer("max_auto_priority", -1, 99, 99,
                                          "max_auto_priority '{v}' must be in [0, 99] (or -1 to disable) - ignoring"),
    "min_auto_priority_delay": timer("min_auto_priority_delay", 0, 4294.967295),
    "notify_fifo": _h_fifo("notify_fifo"),
    "notify_fifo_script": _h_fifo_script("notify_fifo"),
    "vrrp_notify_fifo": _h_fifo("vrrp_notify_fifo"),
    "vrrp_notify_fifo_script": _h_fifo_script("vrrp_notify_fifo"),
    "lvs_notify_fifo": _h_fifo("lvs_notify_fifo"),
    "lvs_notify_fifo_script": _h_fifo_script("lvs_notify_fifo"),
    "fifo_write_vrrp_states_on_reload": switch("fifo_write_vrrp_states_on_reload"),
    "umask": _h_umask,
    "process_names": switch("process_names"),
    "process_name": string("process_name"),
    "vrrp_process_name": string("vrrp_process_name"),
    "checker_process_name": string("checker_process_name"),
    "lvs_process_name": string("checker_process_name"),
    "bfd_process_name": string("bfd_process_name"),
    "tmp_config_directory": string("tmp_config_directory"),
    "config_save_dir": string("config_save_dir"),
    "reload_check_config": _h_reload_check_config,
    "reload_time_file": string("reload_time_file"),
    "reload_repeat": switch("reload_repeat"),
    "reload_file": optional_string("reload_file", "/run/keepalived.reload"),
    "random_seed": integer("random_seed", 0, 4294967295, "random_seed {v} invalid"),
    "data_use_instance": flag("data_use_instance"),
    "state_dump_file": string("state_dump_file"),
    "stats_dump_file": string("stats_dump_file"),
    "json_dump_file": string("json_dump_file"),
    "iproute_usr_dir": string("iproute_usr_dir"),
    "iproute_etc_dir": string("iproute_etc_dir"),
    "enable_snmp_vrrp": switch("enable_snmp_vrrp"),
    "enable_snmp_keepalived": switch("enable_snmp_vrrp"),
    "enable_snmp_checker": switch("enable_snmp_checker"),
    "enable_snmp_rfc": switch("enable_snmp_rfcv2"),
    "enable_snmp_rfcv2": switch("enable_snmp_rfcv2"),
    "enable_snmp_rfcv3": switch("enable_snmp_rfcv3"),
    "enable_traps": switch("enable_traps"),
    "enable_dbus": switch("enable_dbus"),
    "include_check": _h_include_check,
}


# Process tuning, validated as keepalived 2.2.7's global_parser.c does (value kept raw in `other`).
def _h_process_priority(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    proc = w[0].split("_", 1)[0]
    if len(w) < 2:
        ctx.warn(node, f"No {proc} process priority specified")
    elif ctx.int_(node, w[1], -20, 19) is None:
        ctx.warn(node, f"Invalid {proc} process priority specified")
    else:
        ignored(ctx, node, w, f)


def _h_rt_priority(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    proc = w[0].split("_", 1)[0]
    if len(w) < 2:
        ctx.warn(node, f"No {proc} process real-time priority specified")
        return
    v = ctx.int_(node, w[1], -2147483648, 2147483647)
    if v is None:
        ctx.warn(node, f"{proc} process real-time priority '{w[1]}' invalid")
        return
    lo, hi = os.sched_get_priority_min(os.SCHED_RR), os.sched_get_priority_max(os.SCHED_RR)
    if v < lo:
        ctx.warn(node, f"{proc} process real-time priority {v} less than minimum {lo} - setting to minimum")
    elif v > hi:
        ctx.warn(node, f"{proc} process real-time priority {v} greater than maximum {hi} - setting to maximum")
    ignored(ctx, node, w, f)


def _h_cpu_affinity(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    proc = w[0].split("_", 1)[0]
    if len(w) < 2:
        ctx.warn(node, f"No {proc} cpu_id set specified")
        return
    ncpus = os.sysconf("SC_NPROCESSORS_ONLN")
    for s in w[1:]:
        v = ctx.int_(node, s, 0, ncpus - 1)
        if v is None:
            ctx.warn(node, f"Invalid cpu_id:{_c_strtol(s)} specified for {proc} process")
            return
    ignored(ctx, node, w, f)


def _c_strtol(s: str) -> int:
    """What C's strtol makes of `s` (the value keepalived prints after a failed read)."""
    mt = re.match(r"\s*([+-]?\d+)", s)
    v = int(mt.group(1)) if mt else 0
    return max(-2147483648, min(2147483647, v))


def _h_rt_rlimit(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    proc = w[0].split("_", 1)[0]  # *_rlimit_rtime: deprecated, logged (not in -t's output) by keepalived
    ctx.need(node, w, 1)
    if ctx.int_(node, w[1], 1, 4294967295) is None:
        ctx.warn(node, f"Invalid {proc} real-time limit - {w[1]}")
        return
    ignored(ctx, node, w, f)


def _h_rcv_bufs(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    kind = w[0].removesuffix("_rcv_bufs")
    if len(w) < 2:
        ctx.warn(node, f"{kind}_rcv_bufs size missing")
    elif ctx.int_(node, w[1], 0, 4294967295) is None:
        ctx.warn(node, f"{kind}_rcv_bufs size ({w[1]}) invalid")
    else:
        ignored(ctx, node, w, f)


def _h_rcv_bufs_force(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) >= 2 and w[1] not in ("true", "on", "yes", "false", "off", "no"):
        ctx.warn(node, f"Invalid value '{w[1]}' for global {w[0]} specified")
        return
    ignored(ctx, node, w, f)


def _h_rx_bufs_policy(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        ctx.warn(node, "vrrp_rx_bufs_policy missing")
        return
    size = mtu = advert = False
    for s in w[1:]:
        if s.upper() == "MTU":
            mtu = True
        elif s.upper() == "ADVERT":
            advert = True
        elif ctx.int_(node, w[1], 0, 4294967295) is None:  # keepalived reads word 1 here, whichever is bad
            ctx.warn(node, f"Invalid vrrp_rx_bufs_policy {s}")
        else:
            size = True
    if size and (mtu or advert):
        ctx.warn(node, "Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy")
    elif mtu and advert:
        ctx.warn(node, "Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT")
    ignored(ctx, node, w, f)


def _h_rx_bufs_multiplier(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) != 2:
        ctx.warn(node, "Invalid vrrp_rx_bufs_multiplier")
    elif ctx.int_(node, w[1], 1, 4294967295) is None:
        ctx.warn(node, f"Invalid vrrp_rx_bufs_multiplier {w[1]}")
    else:
        ignored(ctx, node, w, f)


for _k in ("vrrp", "checker", "bfd"):
    GLOBAL_DEFS[f"{_k}_priority"] = _h_process_priority
    GLOBAL_DEFS[f"{_k}_rt_priority"] = _h_rt_priority
    GLOBAL_DEFS[f"{_k}_cpu_affinity"] = _h_cpu_affinity
    GLOBAL_DEFS[f"{_k}_rlimit_rttime"] = _h_rt_rlimit
    GLOBAL_DEFS[f"{_k}_rlimit_rtime"] = _h_rt_rlimit
for _k in ("vrrp_netlink_cmd", "vrrp_netlink_monitor", "lvs_netlink_cmd", "lvs_netlink_monitor", "process_monitor"):
    GLOBAL_DEFS[f"{_k}_rcv_bufs"] = _h_rcv_bufs
    GLOBAL_DEFS[f"{_k}_rcv_bufs_force"] = _h_rcv_bufs_force
GLOBAL_DEFS["vrrp_rx_bufs_policy"] = _h_rx_bufs_policy
GLOBAL_DEFS["vrrp_rx_bufs_multiplier"] = _h_rx_bufs_multiplier

# SNMP and D-Bus tuning: validated for presence, kept raw in `other`.
for _k in ("snmp_socket", "snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval", "dbus_service_name",
           "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs", "lvs_netlink_cmd_rcv_bufs",
           "lvs_netlink_monitor_rcv_bufs", "process_monitor_rcv_bufs", "vrrp_rx_bufs_policy",
           "vrrp_rx_bufs_multiplier", "vrrp_priority", "checker_priority", "bfd_priority", "vrrp_rt_priority",
           "checker_rt_priority", "bfd_rt_priority", "vrrp_cpu_affinity", "checker_cpu_affinity",
           "bfd_cpu_affinity", "vrrp_rlimit_rttime", "checker_rlimit_rttime", "bfd_rlimit_rttime",
           "vrrp_rlimit_rtime", "checker_rlimit_rtime", "bfd_rlimit_rtime", "vrrp_socket_priority",
           "network_timeout"):
    GLOBAL_DEFS.setdefault(_k, ignored_with_value)


for _k in ("dbus_no_interface_name", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs_force",
           "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs_force",
           "vrrp_no_swap", "checker_no_swap", "bfd_no_swap", "linkbeat_use_polling", "thread_timer_expired"):
    GLOBAL_DEFS.setdefault(_k, ignored)


keyword_rules(GLOBAL_DEFS, stops={
    "bfd_process_name", "bfd_rlimit_rtime", "bfd_rlimit_rttime", "checker_process_name", "checker_rlimit_rtime",
    "checker_rlimit_rttime", "config_save_dir", "lvs_process_name", "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark", "nftables_priority", "process_name", "random_seed", "smtp_connect_timeout",
    "smtp_server", "umask", "vmac_addr_prefix", "vmac_prefix", "vrrp_down_timer_adverts", "vrrp_garp_interval",
    "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_garp_master_delay",
    "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat", "vrrp_garp_master_repeat",
    "vrrp_gna_interval", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_process_name", "vrrp_rlimit_rtime",
    "vrrp_rlimit_rttime", "vrrp_startup_delay", "vrrp_version"}, newer={
    "iproute_etc_dir", "iproute_usr_dir", "json_dump_file", "state_dump_file", "stats_dump_file",
    "network_timeout", "set_supplementary_groups", "use_symlink_paths", "v3_checksum_as_v2",
    "vrrp_delay_after_boot", "vrrp_owner_ignore_adverts", "vrrp_socket_priority", "thread_timer_expired",
    "dbus_no_interface_name", "snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval",
    "linkbeat_use_polling", "vrrp_ipsets"})
