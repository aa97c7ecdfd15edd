"""Actions returned by `VirtualRouter.handle()` (the core's side of the contract with io/).

The IO layer performs them in list order; the order is meaningful (keepalived sends the
advert *before* adding VIPs and sending GARPs, so the old master drops them first).

After every `handle()` call the IO layer re-reads `VirtualRouter.deadline()` and re-arms the
instance's timer; there is no "set deadline" action.

Log lines are not actions: the core logs keepalived's exact texts itself through
`logging.getLogger("pykeepalived.core.vrrp")` (INFO), so the IO layer only has to route
that logger to syslog/stderr like any other.

Every effect of the VRRP side is one of these (the VIPs, their no_accept drop rules, virtual
routes and rules, adverts, GARP/NA, notifications): what `core/vrrp.py` returns is the whole
list of what the IO layer does. Don't subclass these: the IO layer dispatches on the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykeepalived.core.params import VipSpec

if TYPE_CHECKING:
    from pykeepalived.config.model import Route, Rule


@dataclass(frozen=True, slots=True)
class StartAdvertising:
    """Become (or stay) the advertiser: send adverts with `priority` every `interval_s`.

    The IO layer sends them itself from ideal times (t0, t0 + interval, ...), without calling
    the core per advert.  It is emitted on entering MASTER and again whenever the priority
    or interval changes; a repeated StartAdvertising replaces the previous schedule, and the
    first advert of the new schedule goes out one interval after it (the core sends the
    immediate one with SendAdvert).
    """

    interval_s: float
    priority: int


@dataclass(frozen=True, slots=True)
class StopAdvertising:
    """Stop the periodic adverts started by StartAdvertising."""


@dataclass(frozen=True, slots=True)
class SendAdvert:
    """Send one advert now with this priority (0 = 'I am leaving'), to every peer/group."""

    priority: int


@dataclass(frozen=True, slots=True)
class AddVips:
    """Add the VIPs and excluded VIPs.  `accept` is the instance's accept mode; a non-accept
    master's drop rules are their own action (AddNoAcceptRules, just before this one)."""

    vips: tuple[VipSpec, ...]
    evips: tuple[VipSpec, ...]
    accept: bool


@dataclass(frozen=True, slots=True)
class RemoveVips:
    """Remove the VIPs and excluded VIPs (a non-accept instance's drop rules go with
    RemoveNoAcceptRules, just before this one)."""

    vips: tuple[VipSpec, ...]
    evips: tuple[VipSpec, ...]
    accept: bool


@dataclass(frozen=True, slots=True)
class AddNoAcceptRules:
    """A non-accept master must neither answer nor send from its VIPs: put these addresses in
    the no_accept drop set (nftables, io/firewall.py), as keepalived does (vrrp_nftables.c)."""

    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoveNoAcceptRules:
    """Take these addresses out of the no_accept drop set."""

    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InstallRoutes:
    """Install the instance's virtual_routes / virtual_rules (entering MASTER, or the ones a
    reload added while MASTER). keepalived adds rules after routes (a rule may name a table)."""

    routes: tuple[Route, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class RemoveRoutes:
    """Remove these virtual_routes / virtual_rules (leaving MASTER, or the ones a reload
    removed or changed while MASTER). Rules go before routes."""

    routes: tuple[Route, ...]
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class SendGratuitous:
    """Send `count` gratuitous ARPs (IPv4) / unsolicited NAs (IPv6) for each address, paced
    per interface by its garp_group or vrrp_garp_interval / vrrp_gna_interval (io.l2).  The
    core schedules later bursts itself."""

    count: int
    addresses: tuple[VipSpec, ...]


@dataclass(frozen=True, slots=True)
class Notify:
    """Run notify scripts and write the FIFO line for a state or event.

    `kind` is "INSTANCE" or "GROUP"; `state` one of MASTER, BACKUP, FAULT, STOP, DELETED or
    the instance-only events MASTER_RX_LOWER_PRI, MASTER_PRIORITY, BACKUP_PRIORITY;
    `priority` is the effective priority (always 0 for a group).
    """

    kind: str
    name: str
    state: str
    priority: int


Action = (
    StartAdvertising
    | StopAdvertising
    | SendAdvert
    | AddVips
    | RemoveVips
    | AddNoAcceptRules
    | RemoveNoAcceptRules
    | InstallRoutes
    | RemoveRoutes
    | SendGratuitous
    | Notify
)
