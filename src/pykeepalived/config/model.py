"""The typed configuration model: frozen dataclasses, one per keepalived block.

Every node carries `pos` (file and line of the keyword that opened it) so that any
later error can name where it came from. Field names are keepalived's keywords where
possible. Timers are float seconds. Values are already defaulted the way keepalived
defaults them; where keepalived's completion rules change a configured value
(priority, state, nopreempt, advert_int rounding, ...), the configured value is kept
on the object and the resolved one is in `VrrpInstance.effective` (see
`resolve_instance`).

This module is plain data: it imports nothing of ours but the standard library.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

class _Value:
    """Base of the model's frozen dataclasses: value equality, hashing and repr over the fields.

    Written once here instead of generated per class: dataclasses compiles every generated
    method with exec at import, which was most of `-t`'s start-up time (45 classes)."""

    __slots__ = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in self.__dataclass_fields__)  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self is other or self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = self.__dataclass_fields__  # type: ignore[attr-defined]
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n, f in fields.items() if f.repr)
        return f"{type(self).__qualname__}({inner})"


State = Literal["MASTER", "BACKUP"]
Family = Literal["inet", "inet6"]


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Pos(_Value):
    """Where a node came from: the original file and 1-based line (after includes/macros)."""

    file: str = "<none>"
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


NOPOS = Pos()


class Level(int, Enum):
    """keepalived's config_err_t (lib/parser.h); the highest level seen decides the -t exit code."""

    OK = 0
    FILE_NOT_FOUND = 1
    BAD_IF = 2
    FATAL = 3
    MULTIPLE_FILES = 4
    UNKNOWN_KEYWORD = 5
    UNEXPECTED_BOB = 6
    MISSING_BOB = 7
    UNMATCHED_QUOTE = 8
    MISSING_PARAMETER = 9
    INVALID_NUMBER = 10
    GENERAL_ERROR = 11
    SECURITY_ERROR = 12


def exit_code_for(level: Level) -> int:
    """keepalived's config_test_exit(): 0 ok, 4 cannot run, 5 worked-around errors, 6 script security."""
    if level == Level.OK:
        return 0
    if level <= Level.FATAL:
        return 4
    if level == Level.SECURITY_ERROR:
        return 6
    return 5


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Diagnostic(_Value):
    """One message of the config load. `level` OK means informational/warning only."""

    level: Level
    file: str | None
    line: int | None
    message: str
    # keepalived reports it as a worked-around error (-t exit 5) but its VRRP child then stops
    # (chk_min_cfg: no VRID, no interface): the configuration cannot run
    stops: bool = False

    def format(self) -> str:
        """keepalived's form: `(FILE: Line N) message`, or the bare message without a position."""
        if self.line is not None and self.file is not None:
            return f"({self.file}: Line {self.line}) {self.message}"
        return self.message


# ---------------------------------------------------------------------------------------------
# Shared small types


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Script(_Value):
    """A script command: `"path arg1 'arg 2'" [user [group]]`. `args[0]` is the program.

    `cmd` is the command string as configured (after quote/escape decoding). `user`/`group`
    are None when not given (the global script_user applies)."""

    cmd: str
    args: tuple[str, ...]
    user: str | None = None
    group: str | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Fifo(_Value):
    """`notify_fifo NAME [user [group]]` and its optional `*_fifo_script`."""

    name: str
    user: str | None = None
    group: str | None = None
    script: Script | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class IpAddress(_Value):
    """One line of virtual_ipaddress / virtual_ipaddress_excluded / static_ipaddress."""

    address: IPInterface  # prefix defaults to /32 or /128
    dev: str | None = None  # None: the instance's interface (VIPs) or default_interface (static)
    brd: str | None = None  # an address, "+" or "-"
    scope: str | None = None
    label: str | None = None
    peer: IPInterface | None = None
    use_vmac: bool = False
    no_track: bool = False
    home: bool = False
    nodad: bool = False
    mngtmpaddr: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    preferred_lft: int | None = None  # None: kernel default; 0 for IPv6 /128 unless "forever"
    track_group: str | None = None
    pos: Pos = NOPOS

    @property
    def family(self) -> Family:
        return "inet" if self.address.version == 4 else "inet6"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Nexthop(_Value):
    via: IPAddress | None = None
    dev: str | None = None
    weight: int | None = None
    onlink: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Route(_Value):
    """One line of virtual_routes / static_routes, in `ip route` syntax.

    `text` keeps the tokens as written; the common attributes are parsed out, every
    other option is in `options` (name -> value string, "" for flags)."""

    type: str = "unicast"  # unicast, blackhole, unreachable, prohibit, throw, local, ...
    dst: IPNetwork | None = None  # None with type "default"? no: "default" is 0.0.0.0/0
    src: IPAddress | None = None
    via: IPAddress | None = None
    dev: str | None = None
    table: str | None = None
    metric: int | None = None
    scope: str | None = None
    protocol: str | None = None
    nexthops: tuple[Nexthop, ...] = ()
    no_track: bool = False
    track_group: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    text: str = ""
    pos: Pos = NOPOS

    @property
    def family(self) -> Family:
        if self.dst is not None:
            return "inet" if self.dst.version == 4 else "inet6"
        return "inet"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Rule(_Value):
    """One line of virtual_rules / static_rules, in `ip rule` syntax."""

    from_: IPNetwork | None = None  # "from all" is None
    to: IPNetwork | None = None
    table: str | None = None
    action: str | None = None  # goto/blackhole/unreachable/prohibit/nop when not a table lookup
    goto: int | None = None
    preference: int | None = None
    iif: str | None = None
    oif: str | None = None
    tos: int | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    no_track: bool = False
    track_group: str | None = None
    family: Family = "inet"
    options: tuple[tuple[str, str], ...] = ()
    text: str = ""
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TrackInterface(_Value):
    name: str
    weight: int = 0
    reverse: bool = False
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TrackRef(_Value):
    """A reference from an instance/sync group to a vrrp_script, track_file, track_process or bfd.

    `weight` None means: use the tracked object's own weight."""

    name: str
    weight: int | None = None
    reverse: bool | None = None
    pos: Pos = NOPOS


# ---------------------------------------------------------------------------------------------
# global_defs


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class LvsSyncDaemon(_Value):
    interface: str
    instance: str
    id: int | None = None
    maxlen: int | None = None
    port: int = 8848
    ttl: int | None = None
    group: IPAddress | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class GlobalDefs(_Value):
    """global_defs with keepalived's defaults already applied."""

    router_id: str | None = None  # None: the host name
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None
    smtp_server: str | None = None
    smtp_port: int = 25
    smtp_helo_name: str | None = None
    smtp_connect_timeout: float = 30.0
    smtp_alert: bool | None = None
    smtp_alert_vrrp: bool | None = None
    smtp_alert_checker: bool | None = None
    no_email_faults: bool = False
    checker_log_all_failures: bool = False
    rs_init_notifies: bool = False
    no_checker_emails: bool = False
    script_user: str | None = None  # None: keepalived_script if it exists, else root
    script_group: str | None = None
    enable_script_security: bool = False
    set_supplementary_groups: bool = False
    use_symlink_paths: bool = False
    startup_script: Script | None = None
    startup_script_timeout: int = 10
    shutdown_script: Script | None = None
    shutdown_script_timeout: int = 10
    vrrp_mcast_group4: ipaddress.IPv4Address = ipaddress.IPv4Address("224.0.0.18")
    vrrp_mcast_group6: ipaddress.IPv6Address = ipaddress.IPv6Address("ff02::12")
    default_interface: str = "eth0"
    vrrp_version: int = 2
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_master_refresh: float = 0.0  # 0 = off
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_lower_prio_delay: float | None = None  # None: = vrrp_garp_master_delay
    vrrp_garp_lower_prio_repeat: int | None = None  # None: = vrrp_garp_master_repeat
    vrrp_garp_interval: float = 0.0
    vrrp_gna_interval: float = 0.0
    vrrp_min_garp: bool = False
    vrrp_garp_extra_if: float = 0.0
    vrrp_garp_extra_if_all: bool = False
    vrrp_down_timer_adverts: int = 3
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_owner_ignore_adverts: bool = False
    v3_checksum_as_v2: bool = False
    vrrp_check_unicast_src: bool = False
    vrrp_skip_check_adv_addr: bool = False
    vrrp_strict: bool = False
    vrrp_notify_priority_changes: bool = False
    nftables: str | None = None  # table name when nftables is configured ("keepalived" by default)
    nftables_priority: int = -1
    nftables_counters: bool = False
    nftables_ifindex: bool = False
    nftables_ipvs: str | None = None
    nftables_ipvs_priority: int = -1
    nftables_ipvs_start_fwmark: int = 1000
    vrrp_iptables: tuple[str, ...] | None = None
    vrrp_ipsets: tuple[str, ...] | None = None
    disable_local_igmp: bool = False
    dynamic_interfaces: bool = False
    dynamic_interfaces_allow_if_changes: bool = False
    vrrp_startup_delay: float = 0.0
    vrrp_delay_after_boot: float = 0.0
    log_unknown_vrids: bool = False
    vmac_prefix: str = "vrrp"
    vmac_addr_prefix: str = "vrrp"
    lvs_sync_daemon: LvsSyncDaemon | None = None
    lvs_timeouts_tcp: int | None = None
    lvs_timeouts_tcpfin: int | None = None
    lvs_timeouts_udp: int | None = None
    lvs_flush: bool = False
    lvs_flush_on_stop: Literal["off", "all", "vs"] = "off"
    max_auto_priority: int | None = None
    min_auto_priority_delay: float | None = None
    notify_fifo: Fifo | None = None
    vrrp_notify_fifo: Fifo | None = None
    lvs_notify_fifo: Fifo | None = None
    fifo_write_vrrp_states_on_reload: bool = False
    umask: int | None = None  # None: 0o177
    process_names: bool = False
    process_name: str | None = None
    vrrp_process_name: str | None = None
    checker_process_name: str | None = None
    bfd_process_name: str | None = None
    tmp_config_directory: str | None = None
    config_save_dir: str | None = None
    reload_check_config: str | None = None  # "" = check without log file
    reload_time_file: str | None = None
    reload_repeat: bool = False
    reload_file: str | None = None
    random_seed: int | None = None
    data_use_instance: bool = True
    state_dump_file: str | None = None
    stats_dump_file: str | None = None
    json_dump_file: str | None = None
    iproute_usr_dir: str | None = None
    iproute_etc_dir: str | None = None
    enable_snmp_vrrp: bool = False
    enable_snmp_checker: bool = False
    enable_snmp_rfcv2: bool = False
    enable_snmp_rfcv3: bool = False
    enable_traps: bool = False
    enable_dbus: bool = False
    # Keywords accepted and validated but with no modelled meaning (process priorities,
    # socket buffer sizes, snmp/dbus details, ...): keyword -> its arguments.
    other: tuple[tuple[str, tuple[str, ...]], ...] = ()
    pos: Pos = NOPOS


DEFAULT_GLOBAL_DEFS = GlobalDefs()


# ---------------------------------------------------------------------------------------------
# vrrp_instance


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class UnicastPeer(_Value):
    address: IPAddress
    min_ttl: int | None = None
    max_ttl: int | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Authentication(_Value):
    auth_type: Literal["PASS", "AH"]
    auth_pass: bytes = b""  # at most the first 8 bytes are used (kept truncated)
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Vmac(_Value):
    """`use_vmac [[name] IF] [MAC] [netlink_notify_msg] [group G]`; name None = vrrp.VRID."""

    name: str | None = None
    mac: str | None = None
    netlink_notify_msg: bool = False
    group: int | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Ipvlan(_Value):
    name: str | None = None
    address: IPInterface | None = None
    mode: Literal["bridge", "private", "vepa"] = "bridge"
    group: int | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VrrpEffective(_Value):
    """An instance's values after keepalived's completion rules (vrrp_complete_instance)."""

    state: State
    priority: int
    address_owner: bool  # priority 255
    advert_int: float  # seconds: v2 whole seconds 1..255, v3 multiple of 0.01 in 0.01..40.95
    version: int  # 2 or 3 (IPv6 always 3)
    family: Family
    nopreempt: bool
    preempt_delay: float
    accept: bool
    strict: bool
    mcast_dst_ip: IPAddress
    unicast_ttl: int
    garp_master_delay: float
    garp_master_repeat: int
    garp_master_refresh: float
    garp_master_refresh_repeat: int
    garp_lower_prio_delay: float
    garp_lower_prio_repeat: int
    garp_interval: float
    gna_interval: float
    down_timer_adverts: int
    lower_prio_no_advert: bool
    higher_prio_send_advert: bool
    owner_ignore_adverts: bool
    check_unicast_src: bool
    skip_check_adv_addr: bool
    v3_checksum_as_v2: bool
    notify_priority_changes: bool
    smtp_alert: bool


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VrrpInstance(_Value):
    """vrrp_instance NAME. Fields hold what was configured (None = not given);
    `effective` holds the resolved values, computed once by the config (config/complete.py)
    against the file's global_defs: consumers read them, never recompute them. When
    `effective` is not passed it is computed against default global_defs (tests); after
    `dataclasses.replace`, complete.resolve_instance(vi, gd) gives the new values."""

    name: str
    pos: Pos = NOPOS
    state: State | None = None
    interface: str | None = None
    virtual_router_id: int = 0
    priority: int | None = None
    advert_int: float | None = None
    version: int | None = None
    virtual_ipaddress: tuple[IpAddress, ...] = ()
    virtual_ipaddress_excluded: tuple[IpAddress, ...] = ()
    no_virtual_ipaddress: bool = False
    virtual_routes: tuple[Route, ...] = ()
    virtual_rules: tuple[Rule, ...] = ()
    track_interface: tuple[TrackInterface, ...] = ()
    track_script: tuple[TrackRef, ...] = ()
    track_file: tuple[TrackRef, ...] = ()
    track_process: tuple[TrackRef, ...] = ()
    track_bfd: tuple[TrackRef, ...] = ()
    dont_track_primary: bool = False
    nopreempt: bool = False
    preempt_delay: float | None = None
    accept: bool | None = None
    strict_mode: bool | None = None
    skip_check_adv_addr: bool | None = None
    check_unicast_src: bool | None = None
    unicast_src_ip: IPAddress | None = None
    unicast_peer: tuple[UnicastPeer, ...] = ()
    unicast_ttl: int | None = None
    unicast_fault_no_peer: bool = False
    mcast_src_ip: IPAddress | None = None
    mcast_dst_ip: IPAddress | None = None
    track_src_ip: bool = False
    vrf: str | None = None
    promote_secondaries: bool = False
    authentication: Authentication | None = None
    use_vmac: Vmac | None = None
    use_vmac_addr: bool = False
    vmac_xmit_base: bool = False
    use_ipvlan: Ipvlan | None = None
    garp_master_delay: float | None = None
    garp_master_repeat: int | None = None
    garp_master_refresh: float | None = None
    garp_master_refresh_repeat: int | None = None
    garp_lower_prio_delay: float | None = None
    garp_lower_prio_repeat: int | None = None
    garp_extra_if: float | None = None
    garp_extra_if_all: bool = False
    down_timer_adverts: int | None = None
    timer_expired_backup: int | None = None  # priority, 0 when given without one
    lower_prio_no_advert: bool | None = None
    higher_prio_send_advert: bool | None = None
    owner_ignore_adverts: bool | None = None
    old_unicast_checksum: Literal["auto", "never", "always"] = "auto"
    v3_checksum_as_v2: bool | None = None
    notify_master: Script | None = None
    notify_backup: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify_deleted: Script | None = None
    notify_deleted_set: bool = False  # notify_deleted given without a script: send DELETED to notify
    notify: Script | None = None
    notify_master_rx_lower_pri: Script | None = None
    notify_priority_changes: bool | None = None
    smtp_alert: bool | None = None
    kernel_rx_buf_size: int | None = None
    debug: int = 0
    sync_group: str | None = None  # filled by the loader from vrrp_sync_group membership
    effective: VrrpEffective = None  # type: ignore[assignment]  # computed in __post_init__ when None

    def __post_init__(self) -> None:
        if self.effective is None:
            from pykeepalived.config.complete import resolve_instance

            object.__setattr__(self, "effective", resolve_instance(self, DEFAULT_GLOBAL_DEFS))

    @property
    def family(self) -> Family:
        return self.effective.family


# ---------------------------------------------------------------------------------------------
# vrrp_sync_group, trackers


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VrrpSyncGroup(_Value):
    name: str
    group: tuple[str, ...] = ()
    track_interface: tuple[TrackInterface, ...] = ()
    track_script: tuple[TrackRef, ...] = ()
    track_file: tuple[TrackRef, ...] = ()
    track_process: tuple[TrackRef, ...] = ()
    track_bfd: tuple[TrackRef, ...] = ()
    notify_master: Script | None = None
    notify_backup: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify: Script | None = None
    smtp_alert: bool | None = None
    notify_priority_changes: bool | None = None
    sync_group_tracking_weight: bool = False
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VrrpScript(_Value):
    """vrrp_script NAME."""

    name: str
    script: Script | None = None
    interval: float = 1.0
    timeout: float = 1.0  # defaults to interval
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TrackFile(_Value):
    """track_file NAME (alias vrrp_track_file)."""

    name: str
    file: str | None = None
    weight: int = 1
    weight_reverse: bool = False
    init_file: int | None = None  # value written when the file is created at start
    init_file_overwrite: bool = False
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TrackProcess(_Value):
    """vrrp_track_process NAME."""

    name: str
    process: str | None = None
    parameters: tuple[str, ...] = ()
    param_match: Literal["exact", "initial", "partial"] = "exact"
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: int | None = None
    fork_delay: float = 0.0
    terminate_delay: float = 0.0
    full_command: bool = False
    pos: Pos = NOPOS


# ---------------------------------------------------------------------------------------------
# LVS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Ssl(_Value):
    """The root SSL block used by SSL_GET."""

    password: str | None = None
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VsgEntry(_Value):
    """virtual_server_group member: address (or range first..last) + port, or fwmark."""

    address: IPAddress | None = None
    address_end: IPAddress | None = None  # last address of a range, None for a single address
    port: int = 0
    fwmark: int | None = None
    family: Family | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VirtualServerGroup(_Value):
    name: str
    entries: tuple[VsgEntry, ...] = ()
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Url(_Value):
    path: str
    digest: str | None = None
    status_code: tuple[tuple[int, int], ...] = ((200, 299),)  # inclusive ranges
    virtualhost: str | None = None
    regex: str | None = None
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()
    regex_stack: int | None = None
    regex_min_offset: int | None = None
    regex_max_offset: int | None = None
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Checker(_Value):
    """Common checker options, resolved: checker value, else real_server, else virtual_server, else default."""

    connect_ip: IPAddress | None = None  # None: the real server address
    connect_port: int | None = None  # None: the real server port
    bindto: IPAddress | None = None
    bind_if: str | None = None
    bind_port: int | None = None
    fwmark: int | None = None
    connect_timeout: float = 5.0
    retry: int = 1
    delay_before_retry: float = 1.0
    warmup: float | None = None  # None: random up to delay_loop
    delay_loop: float = 60.0
    alpha: bool = False
    log_all_failures: bool = False
    pos: Pos = NOPOS

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TcpCheck(Checker):
    pass


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class HttpGet(Checker):
    """HTTP_GET, and SSL_GET when `ssl` is true."""

    ssl: bool = False
    urls: tuple[Url, ...] = ()
    http_protocol: Literal["1.0", "1.0C", "1.1"] = "1.0"
    virtualhost: str | None = None
    fast_recovery: bool = False
    enable_sni: bool = False
    sni_name: str | None = None
    tls_compliant: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class SmtpCheck(Checker):
    helo_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class DnsCheck(Checker):
    type: Literal["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"] = "SOA"
    name: str = "."


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class MiscCheck(Checker):
    misc_path: Script | None = None
    misc_timeout: float | None = None  # None: delay_loop
    misc_dynamic: bool = False
    user: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class UdpCheck(Checker):
    payload: bytes = b""
    require_reply: bytes | None = None
    require_reply_mask: bytes | None = None  # 0x00 where the reply pattern had an X wildcard
    min_reply_length: int = 0
    max_reply_length: int = 255


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class PingCheck(Checker):
    pass


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class FileCheck(Checker):
    track_file: str | None = None
    dynamic: bool = False
    weight: int | None = None
    weight_reverse: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BfdCheck(Checker):
    name: str | None = None


LvsMethod = Literal["NAT", "DR", "TUN"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Tunnel(_Value):
    type: Literal["ipip", "gue", "gre"] = "ipip"
    port: int | None = None
    csum: Literal["nocsum", "csum", "remcsum"] = "nocsum"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RealServer(_Value):
    address: IPAddress
    port: int = 0
    weight: int = 1
    lvs_method: LvsMethod = "NAT"  # inherits the virtual server's
    tunnel: Tunnel | None = None
    uthreshold: int = 0
    lthreshold: int = 0
    inhibit_on_failure: bool = False
    alpha: bool = False
    notify_up: Script | None = None
    notify_down: Script | None = None
    smtp_alert: bool | None = None
    virtualhost: str | None = None
    delay_loop: float = 60.0
    connect_timeout: float | None = None
    retry: int | None = None
    delay_before_retry: float | None = None
    warmup: float | None = None
    checkers: tuple[Checker, ...] = ()
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class VirtualServer(_Value):
    """virtual_server IP PORT | fwmark N | group NAME."""

    address: IPAddress | None = None
    port: int = 0
    fwmark: int | None = None
    group: str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    ip_family: Family | None = None
    lvs_sched: str = "wlc"
    lvs_method: LvsMethod = "NAT"
    tunnel: Tunnel | None = None
    flags: tuple[str, ...] = ()  # flag-1/2/3, sh-port, sh-fallback, mh-port, mh-fallback, ops
    persistence_timeout: int | None = None
    persistence_granularity: str | None = None
    persistence_engine: str | None = None
    ha_suspend: bool = False
    alpha: bool = False
    omega: bool = False
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: Script | None = None
    quorum_down: Script | None = None
    sorry_server: tuple[IPAddress, int] | None = None
    sorry_server_inhibit: bool = False
    sorry_server_lvs_method: LvsMethod | None = None
    inhibit_on_failure: bool = False
    delay_loop: float = 60.0
    connect_timeout: float | None = None
    retry: int | None = None
    delay_before_retry: float | None = None
    warmup: float | None = None
    smtp_alert: bool | None = None
    virtualhost: str | None = None
    snmp_name: str | None = None
    real_servers: tuple[RealServer, ...] = ()
    pos: Pos = NOPOS

    @property
    def key(self) -> str:
        """Identity of the service for diffs and logs: `IP:PORT/PROTO`, `FWM N` or `group NAME`."""
        if self.group is not None:
            return f"group {self.group}"
        if self.fwmark is not None:
            return f"FWM {self.fwmark}"
        a = f"[{self.address}]" if self.address is not None and self.address.version == 6 else str(self.address)
        return f"{a}:{self.port}/{self.protocol}"


# ---------------------------------------------------------------------------------------------
# BFD and small root blocks


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BfdInstance(_Value):
    name: str
    neighbor_ip: IPAddress | None = None
    source_ip: IPAddress | None = None
    min_rx: float = 0.010  # seconds
    min_tx: float = 0.010
    idle_tx: float = 1.0
    multiplier: int = 5
    passive: bool = False
    ttl: int = 255
    hoplimit: int = 64
    max_hops: int = 0
    multihop: bool = False
    weight: int = 0
    weight_reverse: bool = False
    vrrp: bool = True
    checker: bool = True
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class GarpGroup(_Value):
    garp_interval: float = 0.0
    gna_interval: float = 0.0
    interfaces: tuple[str, ...] = ()
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TrackGroup(_Value):
    name: str
    group: tuple[str, ...] = ()
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class LinkbeatInterface(_Value):
    name: str
    type: Literal["MII", "ETHTOOL", "IOCTL"] = "MII"
    pos: Pos = NOPOS


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class InterfaceUpDownDelay(_Value):
    interface: str
    down: float = 0.0
    up: float = 0.0
    pos: Pos = NOPOS


# ---------------------------------------------------------------------------------------------
# The root


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Config(_Value):
    """A whole keepalived.conf. Named blocks are tuples in file order; use the lookup helpers."""

    global_defs: GlobalDefs = DEFAULT_GLOBAL_DEFS
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    vrrp_sync_groups: tuple[VrrpSyncGroup, ...] = ()
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    track_files: tuple[TrackFile, ...] = ()
    track_processes: tuple[TrackProcess, ...] = ()
    static_ipaddress: tuple[IpAddress, ...] = ()
    static_routes: tuple[Route, ...] = ()
    static_rules: tuple[Rule, ...] = ()
    virtual_server_groups: tuple[VirtualServerGroup, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    ssl: Ssl | None = None
    bfd_instances: tuple[BfdInstance, ...] = ()
    garp_groups: tuple[GarpGroup, ...] = ()
    track_groups: tuple[TrackGroup, ...] = ()
    linkbeat_use_polling: bool = False
    linkbeat_interfaces: tuple[LinkbeatInterface, ...] = ()
    interface_up_down_delays: tuple[InterfaceUpDownDelay, ...] = ()
    net_namespace: str | None = None
    net_namespace_ipvs: str | None = None  # "" = the default namespace
    namespace_with_ipsets: bool = False
    instance: str | None = None
    use_pid_dir: bool = False
    child_wait_time: float = 5.0
    files: tuple[str, ...] = ()  # every file read, main file first

    def vrrp_instance(self, name: str) -> VrrpInstance | None:
        return next((v for v in self.vrrp_instances if v.name == name), None)

    def vrrp_script(self, name: str) -> VrrpScript | None:
        return next((s for s in self.vrrp_scripts if s.name == name), None)

    def sync_group(self, name: str) -> VrrpSyncGroup | None:
        return next((g for g in self.vrrp_sync_groups if g.name == name), None)

    @property
    def has_vrrp(self) -> bool:
        return bool(self.vrrp_instances or self.static_ipaddress or self.static_routes or self.static_rules)

    @property
    def has_checker(self) -> bool:
        return bool(self.virtual_servers)

    @property
    def has_bfd(self) -> bool:
        return bool(self.bfd_instances)
