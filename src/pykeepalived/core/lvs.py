"""LVS decisions, sans-IO: configured virtual servers + health results -> the desired kernel table.

Three layers, each a pure function or a small state machine:

* `LvsConfig` (virtual servers, real servers, groups, lvs_* globals) is the LVS view of the
  configuration; `from_model()` builds it from the config model.
* `LvsState` holds what keepalived keeps per virtual server at run time (which real servers are
  alive, their dynamic weights, the quorum state with its hysteresis) and turns health results
  into notifications (`RsNotify`, `VsNotify`). `table()` is the kernel table this state wants.
* `diff(desired, actual)` lists the operations that turn one table into the other, so start-up
  adopts an existing kernel table and a reload touches only what changed.

The health interface for the checkers: `LvsState.update(vs_id, rs_id, RealServerHealth(...))`,
one result per real server (alive = every checker of that server is up; weight = a dynamic weight
from MISC_CHECK misc_dynamic or track_file, None for the configured weight).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum
from typing import Any

from pykeepalived.textbytes import ERRORS

# Address families and protocols as the kernel numbers them (no socket import in core).
AF_INET = 2
AF_INET6 = 10
PROTO_NONE = 0
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_SCTP = 132
PROTOCOL_NAMES = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_SCTP: "sctp"}

# Service flags (include/uapi/linux/ip_vs.h).
SVC_F_PERSISTENT = 0x0001
SVC_F_HASHED = 0x0002      # set by the kernel on every service it holds; never compared
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1 = 0x0008      # sh-fallback / mh-fallback / flag-1
SVC_F_SCHED2 = 0x0010      # sh-port / mh-port / flag-2
SVC_F_SCHED3 = 0x0020      # flag-3

IPVS_WEIGHT_MAX = 2**31 - 1
DEFAULT_PERSISTENCE_TIMEOUT = 360
SCHEDULERS = frozenset({"rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq",
                        "twos"})


class Fwd(IntEnum):
    """Forwarding method: the kernel's IP_VS_CONN_F_* value."""

    MASQ = 0
    LOCALNODE = 1
    TUNNEL = 2
    ROUTE = 3

    @property
    def keepalived_name(self) -> str:
        return {Fwd.MASQ: "NAT", Fwd.LOCALNODE: "LOCAL", Fwd.TUNNEL: "TUN", Fwd.ROUTE: "DR"}[self]


class TunType(IntEnum):
    IPIP = 0
    GUE = 1
    GRE = 2


TUN_F_NOCSUM = 0x0
TUN_F_CSUM = 0x1
TUN_F_REMCSUM = 0x2


class FlushOnStop(Enum):
    NO = "no"        # remove our real servers and services one by one
    FULL = "full"    # flush the whole IPVS table
    VS = "vs"        # remove our services, without removing their real servers first


# ---------------------------------------------------------------------------------------------
# The kernel table
# ---------------------------------------------------------------------------------------------

def normalise_addr(addr: str) -> str:
    """One spelling per address, so that keys compare equal ('2001:DB8::1' == '2001:db8::1')."""
    return ipaddress.ip_address(addr).compressed if addr else ""


def family_of(addr: str) -> int:
    return AF_INET6 if ":" in addr else AF_INET


@dataclass(frozen=True, slots=True, order=True)
class ServiceKey:
    """Identity of a kernel IPVS service (what IPVS_CMD_*_SERVICE matches on)."""

    af: int
    protocol: int    # 0 for fwmark services (the kernel matches them on af + mark only)
    addr: str        # "" for fwmark services
    port: int        # 0 for fwmark services
    fwmark: int = 0

    def __str__(self) -> str:
        if self.fwmark:
            return f"FWM {self.fwmark}{'/inet6' if self.af == AF_INET6 else ''}"
        return f"{PROTOCOL_NAMES.get(self.protocol, 'none').upper()} [{self.addr}]:{self.port}"


@dataclass(frozen=True, slots=True)
class ServiceAttrs:
    """What IPVS_CMD_SET_SERVICE can change in place."""

    sched: str
    flags: int = 0           # SVC_F_* without HASHED
    timeout: int = 0         # persistence timeout, seconds
    netmask: int = 0xFFFFFFFF  # IPv4: the mask as an integer (0xffffff00 = /24); IPv6: prefix length
    pe_name: str = ""


@dataclass(frozen=True, slots=True, order=True)
class DestKey:
    addr: str
    port: int


@dataclass(frozen=True, slots=True)
class DestAttrs:
    fwd: Fwd = Fwd.MASQ
    weight: int = 1
    u_thresh: int = 0
    l_thresh: int = 0
    tun_type: int = 0
    tun_port: int = 0
    tun_flags: int = 0


@dataclass(frozen=True, slots=True)
class Service:
    attrs: ServiceAttrs
    dests: Mapping[DestKey, DestAttrs] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """lvs_timeouts in seconds; 0 means 'leave the kernel's value alone' (as in IPVS_CMD_SET_CONFIG)."""

    tcp: int = 0
    tcpfin: int = 0
    udp: int = 0

    def differs_from(self, actual: Timeouts) -> bool:
        return any(want and want != have for want, have in
                   ((self.tcp, actual.tcp), (self.tcpfin, actual.tcpfin), (self.udp, actual.udp)))


@dataclass(frozen=True, slots=True)
class Table:
    services: Mapping[ServiceKey, Service] = field(default_factory=dict)
    timeouts: Timeouts | None = None

    def dest_count(self) -> int:
        return sum(len(s.dests) for s in self.services.values())


# Operations, in the order diff() emits them.
@dataclass(frozen=True, slots=True)
class Flush:
    pass


@dataclass(frozen=True, slots=True)
class SetTimeouts:
    timeouts: Timeouts


@dataclass(frozen=True, slots=True)
class AddService:
    key: ServiceKey
    attrs: ServiceAttrs


@dataclass(frozen=True, slots=True)
class EditService:
    key: ServiceKey
    attrs: ServiceAttrs


@dataclass(frozen=True, slots=True)
class DelService:
    key: ServiceKey


@dataclass(frozen=True, slots=True)
class AddDest:
    service: ServiceKey
    dest: DestKey
    attrs: DestAttrs


@dataclass(frozen=True, slots=True)
class EditDest:
    service: ServiceKey
    dest: DestKey
    attrs: DestAttrs


@dataclass(frozen=True, slots=True)
class DelDest:
    service: ServiceKey
    dest: DestKey


Op = Flush | SetTimeouts | AddService | EditService | DelService | AddDest | EditDest | DelDest


def diff(desired: Table, actual: Table, *, managed: Collection[ServiceKey] = ()) -> list[Op]:
    """Operations that make `actual` equal to `desired`, touching nothing that already matches.

    Services present only in `actual` are deleted only when listed in `managed` (services we
    programmed before): at start-up nothing is managed yet, so services that another tool owns
    are left alone, as keepalived leaves them. Within a service, additions come before edits and
    deletions, so a pool being swapped (sorry server in, real servers out) is never empty.
    """
    ops: list[Op] = []
    if desired.timeouts is not None and desired.timeouts.differs_from(actual.timeouts or Timeouts()):
        ops.append(SetTimeouts(desired.timeouts))
    for key in sorted(desired.services):
        want = desired.services[key]
        have = actual.services.get(key)
        if have is None:
            ops.append(AddService(key, want.attrs))
            ops.extend(AddDest(key, d, a) for d, a in sorted(want.dests.items()))
            continue
        if want.attrs != have.attrs:
            ops.append(EditService(key, want.attrs))
        ops.extend(AddDest(key, d, a) for d, a in sorted(want.dests.items()) if d not in have.dests)
        ops.extend(EditDest(key, d, a) for d, a in sorted(want.dests.items())
                   if d in have.dests and have.dests[d] != a)
        ops.extend(DelDest(key, d) for d in sorted(have.dests) if d not in want.dests)
    managed_set = set(managed)
    ops.extend(DelService(key) for key in sorted(actual.services)
               if key not in desired.services and key in managed_set)
    return ops


def apply_ops(table: Table, ops: Iterable[Op]) -> Table:
    """What a kernel holding `table` holds after `ops` (the model a backend is tested against)."""
    services: dict[ServiceKey, dict[DestKey, DestAttrs]] = {k: dict(s.dests) for k, s in table.services.items()}
    attrs: dict[ServiceKey, ServiceAttrs] = {k: s.attrs for k, s in table.services.items()}
    timeouts = table.timeouts
    for op in ops:
        match op:
            case Flush():
                services.clear()
                attrs.clear()
            case SetTimeouts(timeouts=t):
                old = timeouts or Timeouts()
                timeouts = Timeouts(t.tcp or old.tcp, t.tcpfin or old.tcpfin, t.udp or old.udp)
            case AddService(key=k, attrs=a):
                if k in services:
                    raise KeyError(f"service {k} exists")
                services[k], attrs[k] = {}, a
            case EditService(key=k, attrs=a):
                attrs[k] = a if k in attrs else _missing(k)
            case DelService(key=k):
                del services[k], attrs[k]
            case AddDest(service=k, dest=d, attrs=a):
                if d in services[k]:
                    raise KeyError(f"dest {d} exists in {k}")
                services[k][d] = a
            case EditDest(service=k, dest=d, attrs=a):
                services[k][d] = a if d in services[k] else _missing(d)
            case DelDest(service=k, dest=d):
                del services[k][d]
    return Table({k: Service(attrs[k], services[k]) for k in services}, timeouts)


def _missing(key: object) -> Any:
    raise KeyError(f"{key} does not exist")


# ---------------------------------------------------------------------------------------------
# The LVS view of the configuration
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RealServerSpec:
    addr: str
    port: int                      # the virtual server's port when the config gives none
    weight: int = 1
    fwd: Fwd = Fwd.MASQ
    tun_type: int = 0
    tun_port: int = 0
    tun_flags: int = 0
    u_thresh: int = 0
    l_thresh: int = 0
    inhibit: bool = False          # inhibit_on_failure
    alpha: bool = False            # starts down until a check succeeds (RS, VS or checker alpha)
    has_checkers: bool = False     # a real server without checkers is always alive
    notify_up: str | None = None
    notify_down: str | None = None
    source: str = ""               # file:line

    @property
    def rs_id(self) -> RsId:
        return RsId(normalise_addr(self.addr), self.port)


@dataclass(frozen=True, slots=True, order=True)
class RsId:
    addr: str
    port: int


@dataclass(frozen=True, slots=True)
class GroupEntry:
    """One line of a virtual_server_group: an address range (first == last for one address) or a fwmark."""

    first: str = ""
    last: str = ""
    port: int = 0
    fwmark: int = 0
    fwmark_af: int = 0             # `fwmark N inet|inet6`; 0 = not given
    source: str = ""

    def addresses(self) -> Iterator[str]:
        first, last = ipaddress.ip_address(self.first), ipaddress.ip_address(self.last or self.first)
        for value in range(int(first), int(last) + 1):
            yield type(first)(value).compressed


@dataclass(frozen=True, slots=True)
class VirtualServerSpec:
    """One virtual_server block: exactly one of addr, fwmark or group identifies it."""

    addr: str = ""
    port: int = 0
    protocol: int = PROTO_TCP
    fwmark: int = 0
    group: str = ""
    group_entries: tuple[GroupEntry, ...] = ()
    af: int = 0                    # ip_family, or the family of addr; 0 = unknown (fwmark, group)
    sched: str = "wlc"
    sched_flags: int = 0           # SVC_F_ONEPACKET | SVC_F_SCHED1..3
    persistence_timeout: int = 0   # 0 = not persistent
    persistence_granularity: int | None = None   # IPv4 mask as an integer, IPv6 prefix length
    pe_name: str = ""
    real_servers: tuple[RealServerSpec, ...] = ()
    sorry_server: RealServerSpec | None = None
    sorry_server_inhibit: bool = False
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: str | None = None
    quorum_down: str | None = None
    omega: bool = False
    ha_suspend: bool = False
    source: str = ""

    @property
    def vs_id(self) -> VsId:
        return VsId(normalise_addr(self.addr), self.port, self.protocol, self.fwmark, self.group,
                    self.af if self.fwmark else 0)

    def family(self) -> int:
        """keepalived's rule: the given family, else the address's, else the real servers', else IPv4."""
        if self.af:
            return self.af
        if self.addr:
            return family_of(self.addr)
        for rs in self.real_servers:
            return family_of(rs.addr)
        return AF_INET

    def service_keys(self) -> list[ServiceKey]:
        """The kernel services this virtual server stands for (one per group address and fwmark)."""
        if self.group:
            keys: list[ServiceKey] = []
            for entry in self.group_entries:
                if entry.fwmark:
                    af = entry.fwmark_af or self.af or self.family()
                    keys.append(ServiceKey(af, PROTO_NONE, "", 0, entry.fwmark))
                else:
                    port = entry.port or self.port
                    keys.extend(ServiceKey(family_of(a), self.protocol, a, port) for a in entry.addresses())
            return keys
        if self.fwmark:
            return [ServiceKey(self.family(), PROTO_NONE, "", 0, self.fwmark)]
        return [ServiceKey(family_of(self.addr), self.protocol, normalise_addr(self.addr), self.port)]

    def service_attrs(self, af: int) -> ServiceAttrs:
        flags = self.sched_flags & ~(SVC_F_PERSISTENT | SVC_F_HASHED)
        netmask = 128 if af == AF_INET6 else 0xFFFFFFFF
        if not self.persistence_timeout:
            return ServiceAttrs(self.sched, flags, 0, netmask, "")
        if self.persistence_granularity is not None:
            netmask = self.persistence_granularity
        return ServiceAttrs(self.sched, flags | SVC_F_PERSISTENT, self.persistence_timeout, netmask, self.pe_name)


@dataclass(frozen=True, slots=True, order=True)
class VsId:
    """Identity of a virtual server across reloads (keepalived's vs_iseq)."""

    addr: str
    port: int
    protocol: int
    fwmark: int
    group: str
    af: int

    def __str__(self) -> str:
        """keepalived's FMT_VS: what log lines and FIFO lines print."""
        if self.group:
            return f"[{self.group}]:{self.port}"
        if self.fwmark:
            return f"FWM {self.fwmark}"
        return trio(self.addr, self.protocol, self.port)


def trio(addr: str, protocol: int, port: int) -> str:
    """keepalived's inet_sockaddrtotrio: `[addr]:proto:port`."""
    return f"[{addr}]:{PROTOCOL_NAMES.get(protocol, 'none')}:{port}"


@dataclass(frozen=True, slots=True)
class LvsConfig:
    virtual_servers: tuple[VirtualServerSpec, ...] = ()
    flush: bool = False                          # lvs_flush: flush the kernel table at start
    flush_on_stop: FlushOnStop = FlushOnStop.NO
    timeouts: Timeouts | None = None             # lvs_timeouts
    rs_init_notifies: bool = False
    notify_fifos: tuple[str, ...] = ()           # notify_fifo and lvs_notify_fifo paths


# ---------------------------------------------------------------------------------------------
# Run-time state: health -> alive set -> quorum -> table, with keepalived's notifications
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RealServerHealth:
    """One checker-side verdict for a real server: all its checkers up, and its dynamic weight."""

    alive: bool
    weight: int | None = None


@dataclass(frozen=True, slots=True)
class RsNotify:
    vs: VsId
    rs: RsId
    protocol: int
    up: bool
    script: str | None

    def fifo_line(self) -> bytes:
        """`RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 UP\\n` plus keepalived's trailing NUL."""
        rs = trio(self.rs.addr, self.protocol, self.rs.port)
        return f"RS {rs} {self.vs} {'UP' if self.up else 'DOWN'}\n\0".encode("utf-8", ERRORS)


@dataclass(frozen=True, slots=True)
class VsNotify:
    vs: VsId
    up: bool
    script: str | None
    # for keepalived's log lines: "Gained quorum 2+0=2 <= 3 for VS ...", "Lost quorum 2-0=2 > 1 ..."
    quorum: int = 0
    hysteresis: int = 0
    threshold: int = 0
    weight_sum: int = 0
    init: bool = False
    sorry_server: str | None = None     # FMT_RS of the sorry server, when there is one
    sorry_inhibit: bool = False

    def log_lines(self) -> list[str]:
        """What keepalived logs for this quorum change (ipwrapper.c update_quorum_state)."""
        if self.up:
            lines = [f"Gained quorum {self.quorum}+{self.hysteresis}={self.threshold} <= {self.weight_sum} "
                     f"for VS {self.vs}"]
            if self.sorry_server and not self.init:
                lines += [f"{'Disabling' if self.sorry_inhibit else 'Removing'} sorry server {self.sorry_server} "
                          f"from VS {self.vs}", f"Adding alive servers to the pool for VS {self.vs}"]
            return lines
        lines = [f"{'Starting with quorum down' if self.init else 'Lost quorum'} {self.quorum}-{self.hysteresis}="
                 f"{self.threshold} > {self.weight_sum} for VS {self.vs}"]
        if self.sorry_server:
            lines += [f"{'Enabling' if self.sorry_inhibit else 'Adding'} sorry server {self.sorry_server} "
                      f"to VS {self.vs}", f"Removing alive servers from the pool for VS {self.vs}"]
        return lines

    def fifo_line(self) -> bytes:
        return f"VS {self.vs} {'UP' if self.up else 'DOWN'}\n\0".encode("utf-8", ERRORS)


Notify = RsNotify | VsNotify


def real_weight(weight: int) -> int:
    return max(0, min(weight, IPVS_WEIGHT_MAX))


@dataclass(slots=True)
class _RsState:
    spec: RealServerSpec
    alive: bool
    weight: int


@dataclass(slots=True)
class _VsState:
    spec: VirtualServerSpec
    rs: dict[RsId, _RsState]
    quorum_up: bool = True

    def weight_sum(self) -> int:
        return sum(real_weight(r.weight) for r in self.rs.values() if r.alive)


class LvsState:
    """The checker process's LVS state. Feed it health results; read `table()` and the notifications."""

    def __init__(self, config: LvsConfig) -> None:
        self.config = config
        self._vs: dict[VsId, _VsState] = {}
        for spec in config.virtual_servers:
            state = _VsState(spec, {rs.rs_id: _new_rs(rs) for rs in spec.real_servers})
            state.quorum_up = state.weight_sum() >= spec.quorum + spec.hysteresis
            self._vs[spec.vs_id] = state

    # -- events -------------------------------------------------------------------------------
    def start(self) -> list[Notify]:
        """Notifications keepalived gives at start: quorum down with a sorry server, rs_init_notifies."""
        out: list[Notify] = []
        for state in self._vs.values():
            if self.config.rs_init_notifies:
                out.extend(self._rs_notify(state, r) for r in state.rs.values() if r.alive)
            if not state.quorum_up and state.spec.sorry_server is not None:
                out.append(self._vs_notify(state, init=True))
        return out

    def update(self, vs: VsId, rs: RsId, health: RealServerHealth) -> list[Notify]:
        """A new verdict for one real server; returns the notifications it causes (maybe none).

        An RsNotify comes only when `alive` changes; a first result that merely confirms the
        start-up state is the checkers' business (check.hub notifies it; see `rs_notify`)."""
        r = self._rs(vs, rs)
        if health.weight is not None:
            r.weight = health.weight
        out: list[Notify] = []
        if health.alive != r.alive:
            r.alive = health.alive
            out.append(self._rs_notify(self._vs[vs], r))
        out.extend(self._update_quorum(self._vs[vs]))
        return out

    def seed(self, vs: VsId, rs: RsId, health: RealServerHealth) -> None:
        """Set a real server's state without notifications (start-up, reload); see `requorum`."""
        r = self._rs(vs, rs)
        r.alive = health.alive
        if health.weight is not None:
            r.weight = health.weight

    def requorum(self, initial: bool = False) -> list[Notify]:
        """Re-evaluate every quorum after `seed`; `initial` sets it as keepalived's set_quorum_states does."""
        out: list[Notify] = []
        for state in self._vs.values():
            if initial:
                state.quorum_up = state.weight_sum() >= state.spec.quorum + state.spec.hysteresis
            else:
                out.extend(self._update_quorum(state))
        return out

    def rs_notify(self, vs: VsId, rs: RsId) -> RsNotify:
        """The notification for a real server's current state (e.g. a first result confirming it)."""
        return self._rs_notify(self._vs[vs], self._rs(vs, rs))

    def weight(self, vs: VsId, rs: RsId) -> int:
        return self._rs(vs, rs).weight

    def _rs(self, vs: VsId, rs: RsId) -> _RsState:
        state = self._vs.get(vs)
        r = state.rs.get(rs) if state else None
        if r is None:
            raise KeyError(f"unknown real server {rs} of {vs}")
        return r

    def reload(self, config: LvsConfig) -> list[Notify]:
        """Adopt a new configuration, keeping the state of every virtual and real server that stays."""
        old, self.config = self._vs, config
        self._vs = {}
        out: list[Notify] = []
        for spec in config.virtual_servers:
            prev = old.get(spec.vs_id)
            rs: dict[RsId, _RsState] = {}
            for rs_spec in spec.real_servers:
                before = prev.rs.get(rs_spec.rs_id) if prev else None
                if before is None:
                    rs[rs_spec.rs_id] = _new_rs(rs_spec)
                else:
                    weight = before.weight if before.weight != before.spec.weight else rs_spec.weight
                    rs[rs_spec.rs_id] = _RsState(rs_spec, before.alive or not rs_spec.has_checkers, weight)
            state = _VsState(spec, rs)
            if prev is None:
                state.quorum_up = state.weight_sum() >= spec.quorum + spec.hysteresis
                if not state.quorum_up and spec.sorry_server is not None:
                    out.append(self._vs_notify(state, init=True))
            else:
                state.quorum_up = prev.quorum_up
                out.extend(self._update_quorum(state))
            self._vs[spec.vs_id] = state
        return out

    def stop(self, release: bool = True, programmed: Table | None = None) -> tuple[list[Op], list[Notify]]:
        """Shutdown: the operations keepalived performs (per lvs_flush_on_stop) and the omega notifies.

        `programmed` is what the kernel holds (default: this state's table); only that is removed."""
        ops: list[Op] = []
        out: list[Notify] = []
        table = self.table() if programmed is None else programmed
        if release and self.config.flush_on_stop is FlushOnStop.FULL:
            ops.append(Flush())
        for state in self._vs.values():
            omega = state.spec.omega
            keys = state.spec.service_keys()
            keys = [k for k in keys if k in table.services]
            if release and self.config.flush_on_stop is FlushOnStop.NO:
                for key in keys:
                    ops.extend(DelDest(key, d) for d in sorted(table.services[key].dests))
            if omega:
                out.extend(self._rs_notify(state, r, up=False) for r in state.rs.values()
                           if r.alive and self.config.flush_on_stop is FlushOnStop.NO)
                out.append(VsNotify(state.spec.vs_id, False, state.spec.quorum_down))
            if release and self.config.flush_on_stop is not FlushOnStop.FULL:
                ops.extend(DelService(k) for k in keys)
        return ops, out

    # -- the table ------------------------------------------------------------------------------
    def table(self) -> Table:
        services: dict[ServiceKey, Service] = {}
        for state in self._vs.values():
            spec = state.spec
            for key in spec.service_keys():
                if key in services:
                    continue            # two virtual servers on one service: the first wins (config warns)
                services[key] = Service(spec.service_attrs(key.af), self._dests(state, key))
        return Table(services, self.config.timeouts)

    def vs_ids(self) -> list[VsId]:
        return list(self._vs)

    def quorum_up(self, vs: VsId) -> bool:
        return self._vs[vs].quorum_up

    def alive(self, vs: VsId, rs: RsId) -> bool:
        return self._vs[vs].rs[rs].alive

    def _dests(self, state: _VsState, key: ServiceKey) -> dict[DestKey, DestAttrs]:
        spec = state.spec
        sorry = spec.sorry_server
        sorry_in_use = sorry is not None and not state.quorum_up
        dests: dict[DestKey, DestAttrs] = {}
        for r in state.rs.values():
            if r.alive and not sorry_in_use:
                dests[dest_key(key, r.spec)] = dest_attrs(r.spec, real_weight(r.weight))
            elif r.spec.inhibit:
                dests[dest_key(key, r.spec)] = dest_attrs(r.spec, 0)
        if sorry is not None and (sorry_in_use or spec.sorry_server_inhibit):
            dests[dest_key(key, sorry)] = dest_attrs(sorry, real_weight(sorry.weight) if sorry_in_use else 0)
        return dests

    # -- keepalived's quorum rule -----------------------------------------------------------------
    def _update_quorum(self, state: _VsState) -> list[Notify]:
        spec = state.spec
        total = state.weight_sum()
        threshold = spec.quorum + (-spec.hysteresis if state.quorum_up else spec.hysteresis)
        if not state.quorum_up and total >= threshold:
            state.quorum_up = True
            return [self._vs_notify(state, threshold, total)]
        if state.quorum_up and (total == 0 or total < threshold):
            state.quorum_up = False
            return [self._vs_notify(state, threshold, total)]
        return []

    def _vs_notify(self, state: _VsState, threshold: int | None = None, total: int | None = None,
                   init: bool = False) -> VsNotify:
        spec = state.spec
        sorry = spec.sorry_server
        if threshold is None:
            threshold = spec.quorum + spec.hysteresis
        return VsNotify(spec.vs_id, state.quorum_up, spec.quorum_up if state.quorum_up else spec.quorum_down,
                        spec.quorum, spec.hysteresis, threshold, state.weight_sum() if total is None else total,
                        init, trio(normalise_addr(sorry.addr), spec.protocol, sorry.port) if sorry else None,
                        spec.sorry_server_inhibit)

    def _rs_notify(self, state: _VsState, r: _RsState, up: bool | None = None) -> RsNotify:
        up = r.alive if up is None else up
        return RsNotify(state.spec.vs_id, r.spec.rs_id, state.spec.protocol, up,
                        r.spec.notify_up if up else r.spec.notify_down)


def _new_rs(spec: RealServerSpec) -> _RsState:
    return _RsState(spec, alive=not (spec.alpha and spec.has_checkers), weight=spec.weight)


def dest_key(service: ServiceKey, rs: RealServerSpec) -> DestKey:
    """keepalived's rule: only NAT keeps the real server's port; DR/TUN use the service's port (0 for fwmark)."""
    port = rs.port if rs.fwd is Fwd.MASQ else service.port
    return DestKey(normalise_addr(rs.addr), port)


def dest_attrs(rs: RealServerSpec, weight: int) -> DestAttrs:
    tunnel = rs.fwd is Fwd.TUNNEL
    return DestAttrs(rs.fwd, weight, rs.u_thresh, rs.l_thresh,
                     rs.tun_type if tunnel else 0, rs.tun_port if tunnel else 0, rs.tun_flags if tunnel else 0)


def with_weight(attrs: DestAttrs, weight: int) -> DestAttrs:
    return replace(attrs, weight=weight)


# ---------------------------------------------------------------------------------------------
# From the config model
# ---------------------------------------------------------------------------------------------

_PROTOCOLS = {"TCP": PROTO_TCP, "UDP": PROTO_UDP, "SCTP": PROTO_SCTP}
_METHODS = {"NAT": Fwd.MASQ, "DR": Fwd.ROUTE, "TUN": Fwd.TUNNEL}
_TUN_TYPES = {"ipip": TunType.IPIP, "gue": TunType.GUE, "gre": TunType.GRE}
_TUN_FLAGS = {"nocsum": TUN_F_NOCSUM, "csum": TUN_F_CSUM, "remcsum": TUN_F_REMCSUM}
_SCHED_FLAGS = {"flag-1": SVC_F_SCHED1, "flag-2": SVC_F_SCHED2, "flag-3": SVC_F_SCHED3,
                "sh-fallback": SVC_F_SCHED1, "sh-port": SVC_F_SCHED2,
                "mh-fallback": SVC_F_SCHED1, "mh-port": SVC_F_SCHED2, "ops": SVC_F_ONEPACKET}
_FLUSH_ON_STOP = {"off": FlushOnStop.NO, "all": FlushOnStop.FULL, "vs": FlushOnStop.VS}
_FAMILIES = {"inet": AF_INET, "inet6": AF_INET6}


def granularity(value: str, af: int) -> int:
    """persistence_granularity: an IPv4 mask (255.255.255.0) or a prefix length -> ServiceAttrs.netmask."""
    if "." in value:
        return int(ipaddress.IPv4Address(value))
    prefix = int(value)
    if af == AF_INET6:
        return prefix
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF


def from_model(config: Any) -> LvsConfig:
    """The LVS view of a `pykeepalived.config.model.Config` (typed as Any: core reads, never builds, it)."""
    gd = config.global_defs
    groups = {g.name: g for g in config.virtual_server_groups}
    vss = tuple(_vs_from_model(vs, groups) for vs in config.virtual_servers)
    tcp, tcpfin, udp = gd.lvs_timeouts_tcp, gd.lvs_timeouts_tcpfin, gd.lvs_timeouts_udp
    timeouts = Timeouts(tcp or 0, tcpfin or 0, udp or 0) if (tcp or tcpfin or udp) else None
    fifos = tuple(f.name for f in (gd.notify_fifo, gd.lvs_notify_fifo) if f is not None)
    return LvsConfig(vss, flush=gd.lvs_flush, flush_on_stop=_FLUSH_ON_STOP[gd.lvs_flush_on_stop],
                     timeouts=timeouts, rs_init_notifies=gd.rs_init_notifies, notify_fifos=fifos)


def _script(script: Any) -> str | None:
    return None if script is None else str(script.cmd)


def _vs_from_model(vs: Any, groups: Mapping[str, Any]) -> VirtualServerSpec:
    # keepalived ignores the protocol of a fwmark service (service_type 0: FIFO/log lines say "none")
    protocol = PROTO_NONE if vs.fwmark is not None else _PROTOCOLS.get(vs.protocol or "UDP", PROTO_UDP)
    af = _FAMILIES[vs.ip_family] if vs.ip_family else (family_of(str(vs.address)) if vs.address else 0)
    entries: tuple[GroupEntry, ...] = ()
    if vs.group is not None:
        group = groups.get(vs.group)
        entries = tuple(
            GroupEntry(first=str(e.address) if e.address is not None else "",
                       last=str(e.address_end or e.address) if e.address is not None else "",
                       port=e.port, fwmark=e.fwmark or 0,
                       fwmark_af=_FAMILIES[e.family] if e.family else 0, source=str(e.pos))
            for e in (group.entries if group is not None else ()))
    flags = 0
    for name in vs.flags:
        flags |= _SCHED_FLAGS.get(name, 0)
    if protocol != PROTO_UDP:
        flags &= ~SVC_F_ONEPACKET       # one-packet scheduling is UDP only (keepalived drops it too)
    vs_port = vs.port

    def rs_spec(rs: Any, method: str, tunnel: Any, weight: int, inhibit: bool, alpha: bool,
                has_checkers: bool, source: str) -> RealServerSpec:
        tun = tunnel or None
        return RealServerSpec(
            addr=str(rs[0]) if isinstance(rs, tuple) else str(rs.address),
            port=(rs[1] if isinstance(rs, tuple) else rs.port) or vs_port,
            weight=weight, fwd=_METHODS[method],
            tun_type=_TUN_TYPES[tun.type] if tun else 0, tun_port=(tun.port or 0) if tun else 0,
            tun_flags=_TUN_FLAGS[tun.csum] if tun else 0,
            u_thresh=0 if isinstance(rs, tuple) else rs.uthreshold,
            l_thresh=0 if isinstance(rs, tuple) else rs.lthreshold,
            inhibit=inhibit, alpha=alpha, has_checkers=has_checkers,
            notify_up=None if isinstance(rs, tuple) else _script(rs.notify_up),
            notify_down=None if isinstance(rs, tuple) else _script(rs.notify_down),
            source=source)

    real_servers = tuple(
        rs_spec(rs, rs.lvs_method, rs.tunnel or vs.tunnel, rs.weight,
                rs.inhibit_on_failure or vs.inhibit_on_failure,
                vs.alpha or rs.alpha or any(c.alpha for c in rs.checkers), bool(rs.checkers), str(rs.pos))
        for rs in vs.real_servers)
    sorry = None
    if vs.sorry_server is not None:
        sorry = rs_spec(vs.sorry_server, vs.sorry_server_lvs_method or vs.lvs_method, vs.tunnel, 1,
                        False, False, False, str(vs.pos))
    timeout = vs.persistence_timeout or 0
    af_for_mask = af or (family_of(real_servers[0].addr) if real_servers else AF_INET)
    return VirtualServerSpec(
        addr=str(vs.address) if vs.address is not None and vs.group is None else "",
        port=vs.port, protocol=protocol, fwmark=vs.fwmark or 0, group=vs.group or "", group_entries=entries,
        af=af, sched=vs.lvs_sched, sched_flags=flags, persistence_timeout=timeout,
        persistence_granularity=(granularity(vs.persistence_granularity, af_for_mask)
                                 if vs.persistence_granularity else None),
        pe_name=vs.persistence_engine or "", real_servers=real_servers, sorry_server=sorry,
        sorry_server_inhibit=vs.sorry_server_inhibit, quorum=vs.quorum, hysteresis=vs.hysteresis,
        quorum_up=_script(vs.quorum_up), quorum_down=_script(vs.quorum_down), omega=vs.omega,
        ha_suspend=vs.ha_suspend, source=str(vs.pos))
