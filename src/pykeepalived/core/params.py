"""The resolved per-instance parameters the VRRP state machine needs.

`RouterParams` is plain, already-validated data: global defaults applied, strict mode
applied, advert interval rounded.  The config layer reports errors with file:line; the
checks here only guard the core against impossible values.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pykeepalived.config.model import GlobalDefs, IpAddress, Route, Rule, VrrpInstance

VRRP_MCAST_GROUP4 = "224.0.0.18"
VRRP_MCAST_GROUP6 = "ff02::12"
AUTH_NONE = 0
AUTH_PASS = 1
AUTH_AH = 2
PRIORITY_OWNER = 255


INFINITY_LIFE_TIME = 0xFFFFFFFF


def _lifetime(value: int | None) -> str | None:
    if value is None:
        return None
    return "forever" if value == INFINITY_LIFE_TIME else str(value)


@dataclass(frozen=True, slots=True)
class VipSpec:
    """One `virtual_ipaddress` / `virtual_ipaddress_excluded` entry with its options."""

    address: str                       # without prefix, e.g. "192.168.1.10" or "fe80::10"
    prefixlen: int | None = None       # None: /32 or /128
    dev: str | None = None             # None: the instance's interface
    brd: str | None = None             # address, "+" or "-"
    scope: str | None = None
    label: str | None = None
    peer: str | None = None
    preferred_lft: str | None = None   # None (default), a number as text, or "forever"
    no_track: bool = False             # external deletion does not make us leave MASTER
    home: bool = False
    nodad: bool = False
    mngtmpaddr: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    use_vmac: bool = False

    @classmethod
    def from_model(cls, ip: IpAddress) -> VipSpec:
        """From a config-model `virtual_ipaddress` line."""
        return cls(address=str(ip.address.ip), prefixlen=ip.address.network.prefixlen, dev=ip.dev, brd=ip.brd,
                   scope=ip.scope, label=ip.label, peer=None if ip.peer is None else str(ip.peer),
                   preferred_lft=_lifetime(ip.preferred_lft), no_track=ip.no_track, home=ip.home, nodad=ip.nodad,
                   mngtmpaddr=ip.mngtmpaddr, noprefixroute=ip.noprefixroute, autojoin=ip.autojoin,
                   use_vmac=ip.use_vmac)

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4

    @property
    def packed(self) -> bytes:
        return ipaddress.ip_address(self.address).packed

    @property
    def prefix(self) -> int:
        if self.prefixlen is not None:
            return self.prefixlen
        return 128 if self.family == 6 else 32


@dataclass(frozen=True, slots=True)
class UnicastPeer:
    """A `unicast_peer` entry; min/max_ttl enable the receive TTL check for this peer."""

    address: str
    min_ttl: int = 0
    max_ttl: int = 255

    @property
    def packed(self) -> bytes:
        return ipaddress.ip_address(self.address).packed


@dataclass(frozen=True, slots=True)
class RouterParams:
    """Everything one `VirtualRouter` needs, resolved.  Times are in seconds."""

    name: str
    vrid: int
    priority: int = 100                     # base priority; 255 = address owner
    version: int = 2
    family: int = 4
    advert_int: float = 1.0                 # v2: whole seconds; v3: multiple of 0.01
    interface: str | None = None
    # Tie-break address: unicast_src_ip / mcast_src_ip or the interface's primary address.
    # The IO layer fills it in (dataclasses.replace) when the config does not give one.
    source_address: str | None = None
    mcast_group: str | None = None          # None: 224.0.0.18 / ff02::12
    unicast_peers: tuple[UnicastPeer, ...] = ()
    check_unicast_src: bool = False         # vrrp_check_unicast_src / check_unicast_src / min,max_ttl
    nopreempt: bool = False
    preempt_delay: float = 0.0
    down_timer_adverts: int = 3
    accept: bool = True                     # resolved accept mode (strict: owner only)
    auth_type: int = AUTH_NONE
    auth_data: bytes = b""                  # PASS: the password (first 8 bytes are used)
    vips: tuple[VipSpec, ...] = ()
    evips: tuple[VipSpec, ...] = ()
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay: float = 5.0
    garp_lower_prio_repeat: int = 5
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    owner_ignore_adverts: bool = False
    v3_checksum_as_v2: bool = False
    strict: bool = False
    skip_check_adv_addr: bool = False
    dont_track_primary: bool = False
    notify_priority_changes: bool = False
    notify_deleted: bool = False            # else a deleted instance notifies FAULT
    log_detail: bool = False                # keepalived -D: the extra "detail" log lines
    virtual_routes: tuple[Route, ...] = ()  # installed while MASTER (InstallRoutes / RemoveRoutes)
    virtual_rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.vrid <= 255:
            problems.append(f"virtual_router_id {self.vrid} not in 1..255")
        if not 1 <= self.priority <= 255:
            problems.append(f"priority {self.priority} not in 1..255")
        if self.version not in (2, 3):
            problems.append(f"version {self.version} not 2 or 3")
        if self.family not in (4, 6):
            problems.append(f"family {self.family} not 4 or 6")
        if self.advert_int <= 0:
            problems.append(f"advert_int {self.advert_int} not positive")
        if not 1 <= self.down_timer_adverts <= 100:
            problems.append(f"down_timer_adverts {self.down_timer_adverts} not in 1..100")
        if problems:
            raise ValueError(f"vrrp_instance {self.name}: " + "; ".join(problems))

    @classmethod
    def from_model(cls, vi: VrrpInstance, gd: GlobalDefs, *, log_detail: bool = False) -> RouterParams:
        """The parameters of one configured `vrrp_instance` of a loaded configuration whose
        global_defs are `gd`.

        `vi.effective` holds keepalived's completion rules, resolved once by the config
        (config/complete.py: defaults, strict mode, rounding; authentication is dropped for
        VRRPv3 and strict mode); this adds vrrp_min_garp and the strict-mode GARP rules (not yet
        in `effective`: the -d dump shows the unminimised GARP values) and the unicast peer TTL
        range. `log_detail` is keepalived's -D.
        """
        eff = vi.effective
        source = vi.unicast_src_ip if vi.unicast_src_ip is not None else vi.mcast_src_ip
        auth_type, auth_data = AUTH_NONE, b""
        if vi.authentication is not None:
            auth_type = AUTH_PASS if vi.authentication.auth_type == "PASS" else AUTH_AH
            auth_data = vi.authentication.auth_pass[:8]
        garp_repeat, garp_delay = eff.garp_master_repeat, eff.garp_master_delay
        lower_repeat, lower_delay = eff.garp_lower_prio_repeat, eff.garp_lower_prio_delay
        if gd.vrrp_min_garp:
            # vrrp_min_garp: one GARP and no second burst, unless the instance says otherwise.
            garp_repeat = garp_repeat if vi.garp_master_repeat is not None else 1
            garp_delay = garp_delay if vi.garp_master_delay is not None else 0.0
            lower_repeat = lower_repeat if vi.garp_lower_prio_repeat is not None else 1
            lower_delay = lower_delay if vi.garp_lower_prio_delay is not None else 0.0
        if eff.strict:
            lower_repeat, lower_delay = 0, 0.0
        return cls(
            name=vi.name,
            vrid=vi.virtual_router_id,
            priority=eff.priority,
            version=eff.version,
            family=6 if eff.family == "inet6" else 4,
            advert_int=eff.advert_int,
            interface=vi.interface,
            source_address=None if source is None else str(source),
            mcast_group=str(eff.mcast_dst_ip),
            unicast_peers=tuple(UnicastPeer(str(u.address), 0 if u.min_ttl is None else u.min_ttl,
                                            255 if u.max_ttl is None else u.max_ttl) for u in vi.unicast_peer),
            check_unicast_src=eff.check_unicast_src,
            nopreempt=eff.nopreempt,
            preempt_delay=eff.preempt_delay,
            down_timer_adverts=eff.down_timer_adverts,
            accept=eff.accept,
            auth_type=auth_type,
            auth_data=auth_data,
            vips=tuple(VipSpec.from_model(v) for v in vi.virtual_ipaddress),
            evips=tuple(VipSpec.from_model(v) for v in vi.virtual_ipaddress_excluded),
            garp_master_delay=garp_delay,
            garp_master_repeat=garp_repeat,
            garp_master_refresh=eff.garp_master_refresh,
            garp_master_refresh_repeat=eff.garp_master_refresh_repeat,
            garp_lower_prio_delay=lower_delay,
            garp_lower_prio_repeat=lower_repeat,
            lower_prio_no_advert=eff.lower_prio_no_advert,
            higher_prio_send_advert=False if eff.strict else eff.higher_prio_send_advert,
            owner_ignore_adverts=eff.owner_ignore_adverts,
            v3_checksum_as_v2=eff.v3_checksum_as_v2,
            strict=eff.strict,
            skip_check_adv_addr=eff.skip_check_adv_addr,
            dont_track_primary=vi.dont_track_primary,
            notify_priority_changes=eff.notify_priority_changes,
            notify_deleted=vi.notify_deleted is not None or vi.notify_deleted_set,
            log_detail=log_detail,
            virtual_routes=vi.virtual_routes,
            virtual_rules=vi.virtual_rules,
        )

    @property
    def is_owner(self) -> bool:
        return self.priority == PRIORITY_OWNER

    @property
    def is_unicast(self) -> bool:
        return bool(self.unicast_peers)

    @property
    def group(self) -> str:
        if self.mcast_group:
            return self.mcast_group
        return VRRP_MCAST_GROUP6 if self.family == 6 else VRRP_MCAST_GROUP4

    @property
    def auth_bytes(self) -> bytes:
        """The 8-byte auth field of a VRRPv2 PASS advert (truncated or zero-padded)."""
        return self.auth_data[:8].ljust(8, b"\0") if self.auth_type == AUTH_PASS else b"\0" * 8

    @property
    def source_packed(self) -> bytes | None:
        if self.source_address is None:
            return None
        return ipaddress.ip_address(self.source_address).packed
