"""Events fed into a `VirtualRouter` (the IO layer's side of the contract).

Every event is a frozen dataclass; `VirtualRouter.handle(event, now)` takes one and returns
the actions to perform.  Addresses are *packed* bytes (4 bytes for IPv4, 16 for IPv6),
exactly what the advert codec and recvmmsg give, so that the hot receive path allocates no
`ipaddress` objects; the core converts them to text only when it logs.

Don't subclass these: the core dispatches on the exact type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol


class AdvertLike(Protocol):
    """The decoded advert, as produced by `pykeepalived._fastpath` (`decode_advert`).

    `adver_int` is in the wire unit: seconds for VRRPv2, centiseconds for VRRPv3.
    `addresses` holds the packed addresses in packet order; `auth_data` the 8 raw auth
    bytes of a VRRPv2 IPv4 packet (empty otherwise).
    """

    @property
    def version(self) -> int: ...
    @property
    def type(self) -> int: ...
    @property
    def vrid(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def auth_type(self) -> int: ...
    @property
    def adver_int(self) -> int: ...
    @property
    def addresses(self) -> tuple[bytes, ...]: ...
    @property
    def auth_data(self) -> bytes: ...


class RejectReason(IntEnum):
    """Why the codec (or the socket layer) refused a packet before the core saw it.

    Values 1-6 are the fast-path codec's reason codes (`codec.ERR_*`, returned by
    `decode_advert`), so the IO layer passes them straight through; TTL and AH are found by
    the socket layer.  The core maps each one to the keepalived counter it bumps (see
    `vrrp.REJECT_COUNTERS`).
    """

    LENGTH = 1        # codec ERR_LENGTH (or IP total length mismatch) -> packet_len_err
    VERSION = 2       # codec ERR_VERSION (keepalived has no counter)
    TYPE = 3          # codec ERR_TYPE -> invalid_type_rcvd
    CHECKSUM = 4      # codec ERR_CHECKSUM (keepalived has no counter)
    ADDR_COUNT = 5    # codec ERR_ADDR_COUNT: more bytes than the count announces -> packet_len_err
    AUTH = 6          # codec ERR_AUTH: v2 auth type not 0/1/2 -> invalid_authtype
    TTL = 20          # multicast TTL/hop limit != 255 (if the IO layer checks it) -> ip_ttl_err
    AH = 21           # AH header presence differs from auth_type AH -> authtype_mismatch
    AH_ICV = 22       # the AH HMAC-MD5-96 ICV does not verify (checked by the IO layer) -> auth_failure


@dataclass(frozen=True, slots=True)
class Startup:
    """The instance starts (daemon start or instance added on reload)."""


@dataclass(frozen=True, slots=True)
class AdvertReceived:
    """A decoded VRRP advert addressed to this instance's VRID.

    `src`/`dst` are the packed IP source and destination of the packet (`dst=b""` when the
    socket could not report it: the multicast/unicast destination check is then skipped),
    `ttl` the received TTL / hop limit (-1 when unknown: the TTL checks are skipped).  `checksum_ok` is the codec's
    verdict on the standard checksum (v3 over IPv4 with the pseudo-header of the actual
    destination); the core ignores it when `v3_checksum_as_v2` is set.
    """

    advert: AdvertLike
    src: bytes
    dst: bytes
    ttl: int = 255
    checksum_ok: bool = True


@dataclass(frozen=True, slots=True)
class AdvertRejected:
    """A packet for this VRID that the codec refused; the core counts and logs it."""

    reason: RejectReason    # or the codec's int code; handle() accepts both
    src: bytes
    detail: str = ""    # optional text for the log line (e.g. "length 40 and expect 48")


@dataclass(frozen=True, slots=True)
class DeadlineReached:
    """`now` has reached (or passed) `VirtualRouter.deadline()`."""


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """The instance's own interface went up or down (ignored with `dont_track_primary`)."""

    up: bool


@dataclass(frozen=True, slots=True)
class FaultChanged:
    """A fault source (tracked interface, weight-0 script, sync group, ...) set or cleared.

    The instance is in FAULT while any source is set.  `source` names it for the log, e.g.
    `"script:chk_haproxy"`.
    """

    source: str
    fault: bool
    # A weight-0 vrrp_script that has not reported yet: keepalived starts such an instance
    # in FAULT without logging or notifying it.
    initial: bool = False


@dataclass(frozen=True, slots=True)
class PriorityChanged:
    """Trackers moved the effective priority (already clamped to [1, 254] by core.track)."""

    priority: int


@dataclass(frozen=True, slots=True)
class VipDeleted:
    """One of our VIPs was deleted by someone else (netlink RTM_DELADDR), as text."""

    address: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    """The daemon stops (SIGTERM): priority 0 advert, VIPs removed, STOP notified."""


@dataclass(frozen=True, slots=True)
class InstanceDeleted:
    """The instance disappeared from the config on reload: like Shutdown, notifies DELETED."""


Event = (
    Startup
    | AdvertReceived
    | AdvertRejected
    | DeadlineReached
    | LinkChanged
    | FaultChanged
    | PriorityChanged
    | VipDeleted
    | Shutdown
    | InstanceDeleted
)

EVENT_TYPES: tuple[type, ...] = (
    Startup,
    AdvertReceived,
    AdvertRejected,
    DeadlineReached,
    LinkChanged,
    FaultChanged,
    PriorityChanged,
    VipDeleted,
    Shutdown,
    InstanceDeleted,
)
