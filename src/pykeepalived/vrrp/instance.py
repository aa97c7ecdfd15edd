"""The VRRP child's record of one vrrp_instance: its router plus everything IO needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pykeepalived.config.model import VrrpInstance
from pykeepalived.core.events import AdvertReceived
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.core.vrrp import VirtualRouter
from pykeepalived.io.ipsec_ah import IpsecAh
from pykeepalived.io.netlink import Interface

# (vips, evips, interfaces generation) it was made for, then per target: (installed key, VIP,
# the packed request or None, the error if it cannot be packed)
VipPlan = tuple[tuple[VipSpec, ...], tuple[VipSpec, ...], int,
                list[tuple[tuple[int, str], VipSpec, "bytes | None", str]]]


@dataclass(slots=True)
class StartWatch:
    """A backup's first master-down timer, started while the process was starting: it must
    not run out on adverts the process was too busy to read (see VrrpRuntime._hold)."""

    deadline: float        # the core's deadline when the timer started
    interval: float        # its master-down interval
    drops: int             # the socket's drop counter then
    until: float = 0.0     # DeadlineReached held back until
    holds: int = 0



@dataclass(slots=True, eq=False)
class Instance:
    """The runtime's record of one vrrp_instance: its router plus everything IO needs."""

    slot: int
    model: VrrpInstance
    router: VirtualRouter
    iface: Interface
    sock: Any                      # advert_io.AdvertSocket
    src: bytes                     # packed advert source address
    dests: list[bytes]             # packed destinations: the group, or every unicast peer
    hoplimit: int
    vips_packed: list[bytes]
    built_priority: int = -1       # priority of the packets prebuilt in the sender
    built_wire: int = -1           # and their advert interval field
    periodic_priority: int = -1    # priority of the running schedule (-1: not advertising)
    deadline: float | None = None
    one_off_sent: int = 0          # SendAdvert adverts (the core counts those itself)
    periodic_counted: int = 0      # periodic adverts already added to router.stats
    shortcut: AdvertReceived | None = None   # the advert the socket absorbs copies of (BACKUP)
    shortcut_counted: int = 0      # absorbed copies already added to router.stats
    ah: IpsecAh | None = None      # auth_type AH (IPv4 v2): key and sequence counter (io/ipsec_ah.py)
    vip_plans: dict[str, VipPlan] = field(default_factory=dict)   # "add" / "del": see Executor.vip_plan
    watch: StartWatch | None = None   # the master-down timer started at Startup (see VrrpRuntime._hold)

    @property
    def params(self) -> RouterParams:
        return self.router.params


__all__ = ["Instance", "StartWatch", "VipPlan"]
