"""The VRRP child's effects: one `match` over the actions the engine returns.

    executor = Executor(loop, clock, interfaces, sender, addrs, l2)
    executor.execute(instance, actions, now)      # in list order, as core/actions.py says

Where each action goes:

* SendAdvert / StartAdvertising / StopAdvertising: `advert_io.AdvertSender`, adverts prebuilt
  per instance (`build`) and sent from ideal times without calling the core per advert;
* AddVips / RemoveVips: prebuilt RTM_NEWADDR / RTM_DELADDR requests (`rtnl.AddrRequests`), sent
  from the loop (the kernel has added the address when `send` returns), ACKs read later;
* SendGratuitous: `l2.L2Sender` (GARP / unsolicited NA, paced per interface);
* AddNoAcceptRules / RemoveNoAcceptRules: the no_accept drop set (`io/firewall.py`);
* InstallRoutes / RemoveRoutes: virtual routes and rules (`io/routes.py`, netlink thread);
* Notify: notify scripts, FIFOs, SMTP alerts (`io/notify.py`).

The last three go through `services` (vrrp/services.py), made when the instances start.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
from collections.abc import Callable
from typing import Any, assert_never

from pykeepalived._fastpath import codec
from pykeepalived.core.actions import (
    Action,
    AddNoAcceptRules,
    AddVips,
    InstallRoutes,
    Notify,
    RemoveNoAcceptRules,
    RemoveRoutes,
    RemoveVips,
    SendAdvert,
    SendGratuitous,
    StartAdvertising,
    StopAdvertising,
)
from pykeepalived.core.params import AUTH_NONE, VipSpec
from pykeepalived.core.vrrp import State
from pykeepalived.io.l2 import L2Sender
from pykeepalived.io.netlink import Interface
from pykeepalived.io.rtnl import AddrRequests, vip_error
from pykeepalived.vrrp.instance import Instance, VipPlan
from pykeepalived.vrrp.services import Services

log = logging.getLogger(__name__)


def _wire_interval(version: int, seconds: float) -> int:
    return int(seconds + 0.5) if version == 2 else max(1, int(seconds * 100 + 0.5))


class Executor:
    """Performs actions; owns what they leave on the kernel (`installed`: our VIPs)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float], interfaces: dict[str, Interface],
                 sender: Any, addrs: AddrRequests, l2: L2Sender) -> None:
        self.loop = loop
        self.clock = clock
        self.interfaces = interfaces          # the runtime's, kept up to date by it
        self.sender = sender                  # advert_io.AdvertSender
        self.addrs = addrs
        self.l2 = l2
        self.services: Services | None = None     # notify, routes, firewall: set when instances start
        self.installed: dict[tuple[int, str], tuple[Instance, str]] = {}  # our VIPs on the kernel
        self.iface_gen = 0                    # bumped when `interfaces` is re-read (VIP plans)
        self._warned: set[str] = set()

    def execute(self, inst: Instance, actions: list[Action], now: float) -> None:
        prod = self.services
        sent = False
        for action in actions:
            match action:
                case SendAdvert():
                    self.send_advert(inst, action.priority)
                    sent = True
                case StartAdvertising():
                    # A master's new priority (a tracker) with no advert sent now: the adverts go
                    # on at their times with it, as keepalived's do.  Restarting the schedule an
                    # interval from now left a gap of up to two intervals on the wire (issue 23,
                    # histories seeds 80004, 130627: a backup timed out at the next stall).
                    keep = (not sent and inst.periodic_priority != -1 and self.sender.is_running(inst.slot)
                            and inst.built_wire == _wire_interval(inst.params.version, action.interval_s))
                    self.build(inst, action.priority, action.interval_s)
                    inst.periodic_priority = action.priority
                    if not keep:
                        self.sender.start(inst.slot, action.interval_s, now + action.interval_s)
                case StopAdvertising():
                    self.sender.stop(inst.slot)
                    inst.periodic_priority = -1
                case AddVips() | RemoveVips():
                    self.vips(inst, action)
                case SendGratuitous():
                    self.gratuitous(inst, action)
                case AddNoAcceptRules():
                    if prod is not None:
                        prod.firewall.add(action.addresses)
                case RemoveNoAcceptRules():
                    if prod is not None:
                        prod.firewall.remove(action.addresses)
                case InstallRoutes():
                    if prod is not None:
                        prod.routes_apply(inst.params.name, action.routes, action.rules, add=True)
                case RemoveRoutes():
                    if prod is not None:
                        prod.routes_apply(inst.params.name, action.routes, action.rules, add=False)
                case Notify():
                    if prod is not None:
                        prod.notifier.notify(action)
                case _:
                    assert_never(action)

    def build(self, inst: Instance, priority: int, interval_s: float | None = None, *, force: bool = False) -> None:
        """Prebuild `inst`'s adverts with `priority`: one packet per destination. Nothing to
        do when they are built with that priority and interval already (a takeover's
        StartAdvertising, between its first advert and its VIPs), unless `force`d (the
        addresses, source or destinations changed)."""
        p = inst.params
        wire = _wire_interval(p.version, p.advert_int if interval_s is None else interval_s)
        if not force and inst.built_priority == priority and inst.built_wire == wire:
            return
        packets = []
        for dst in inst.dests:
            if p.family == 6:   # the kernel fills in the checksum (IPV6_CHECKSUM)
                payload = codec.encode_advert(3, p.vrid, priority, wire, inst.vips_packed, codec.AF_INET6)
            else:
                payload = codec.encode_advert(p.version, p.vrid, priority, wire, inst.vips_packed, codec.AF_INET,
                                              inst.src, dst, p.auth_type if p.version == 2 else AUTH_NONE,
                                              p.auth_bytes if p.version == 2 else b"", p.v3_checksum_as_v2)
                if inst.ah is not None:      # AH header in front; seal() completes it per send
                    inst.ah.src = inst.src
                    payload = inst.ah.header() + payload
            packets.append((dst, payload))
        self.sender.set_adverts(inst.slot, inst.sock, inst.src, packets, inst.hoplimit,
                                None if inst.ah is None else inst.ah.seal)
        inst.built_priority = priority
        inst.built_wire = wire

    def send_advert(self, inst: Instance, priority: int) -> None:
        if inst.built_priority != priority:
            self.build(inst, priority)
        self.sender.send_now(inst.slot)
        inst.one_off_sent += 1
        if inst.periodic_priority not in (-1, priority):
            self.build(inst, inst.periodic_priority)

    def _vip_targets(self, inst: Instance, vips: tuple[VipSpec, ...]) -> list[tuple[int, VipSpec]]:
        out = []
        for vip in vips:
            iface = inst.iface if vip.dev is None else self.interfaces.get(vip.dev)
            if iface is None:
                self.warn_once(f"dev:{vip.dev}", "(%s) VIP %s: interface %s does not exist",
                                inst.params.name, vip.address, vip.dev)
                continue
            out.append((iface.index, vip))
        return out

    def vip_plan(self, inst: Instance, command: str, vips: tuple[VipSpec, ...],
                  evips: tuple[VipSpec, ...]) -> VipPlan:
        """What `command` ("add" / "del") does for these VIPs: made once (at start for adding)
        and kept on the instance until its VIPs or the interfaces change."""
        items: list[tuple[tuple[int, str], VipSpec, bytes | None, str]] = []
        for index, vip in self._vip_targets(inst, vips + evips):
            key = (index, ipaddress.ip_address(vip.address).compressed)
            try:
                items.append((key, vip, self.addrs.message(command, index, vip), ""))
            except ValueError as exc:
                items.append((key, vip, None, f"{command} {vip.address}/{vip.prefix}: {exc}"))
        plan = inst.vip_plans[command] = (vips, evips, self.iface_gen, items)
        return plan

    def vips(self, inst: Instance, action: AddVips | RemoveVips) -> None:
        """Add or remove the VIPs now: their prebuilt requests go to the kernel from here (it
        has added / removed them when this returns); refusals are logged when the ACKs are
        read, and an address the kernel did not add is no longer counted as ours."""
        adding = type(action) is AddVips
        command = "add" if adding else "del"
        plan = inst.vip_plans.get(command)
        if plan is None or plan[0] is not action.vips or plan[1] is not action.evips or plan[2] != self.iface_gen:
            plan = self.vip_plan(inst, command, action.vips, action.evips)
        name = inst.params.name
        requests = []
        for key, vip, msg, error in plan[3]:
            entry: tuple[Instance, str] | None = None
            if adding:
                entry = self.installed[key] = (inst, vip.address)
            else:
                self.installed.pop(key, None)
            if msg is None:
                log.error("(%s) %s", name, error)
                if entry is not None:
                    self._vip_refused(key, entry)
                continue
            requests.append((msg, functools.partial(self._vip_acked, name, command, vip, key, entry)))
        self.addrs.send(requests)

    def _vip_acked(self, name: str, command: str, vip: VipSpec, key: tuple[int, str],
                   entry: tuple[Instance, str] | None, code: int, text: str) -> None:
        err = vip_error(command, vip, code, text)
        if err is None:
            return
        log.error("(%s) %s", name, err)
        if entry is not None:
            self._vip_refused(key, entry)

    def _vip_refused(self, key: tuple[int, str], entry: tuple[Instance, str]) -> None:
        """The kernel did not add this VIP: unless a later add claimed it again, it is not ours
        on the interface (its deletion by someone else must not look like ours)."""
        if self.installed.get(key) is entry:
            del self.installed[key]

    def gratuitous(self, inst: Instance, action: SendGratuitous) -> None:
        by_iface: dict[int, tuple[Interface, list[VipSpec]]] = {}
        for vip in action.addresses:
            iface = inst.iface if vip.dev is None else self.interfaces.get(vip.dev)
            if iface is not None:
                by_iface.setdefault(iface.index, (iface, []))[1].append(vip)
        for iface, vips in by_iface.values():
            frames = self.l2.frames(iface.name, iface.mac, vips)
            try:
                self.l2.burst(iface.name, iface.index, frames, action.count, order=inst.slot,
                              wanted=lambda: inst.router.state == State.MASTER)
            except OSError as exc:       # the interface went away since start-up
                self.warn_once(f"garp:{iface.name}", "(%s) cannot send gratuitous ARP/NA on %s: %s",
                                inst.params.name, iface.name, exc)

    def warn_once(self, key: str, fmt: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(fmt, *args)

    def release_unowned(self, inst: Instance) -> None:
        """-X/--release-vips: an instance that is not MASTER removes its VIPs, routes and rules
        all the same (copies a reload or another run left behind would otherwise stay)."""
        p = inst.params
        if p.vips or p.evips:
            self.vips(inst, RemoveVips(p.vips, p.evips, True))   # no_accept rules exist only on a master
        if (p.virtual_routes or p.virtual_rules) and self.services is not None:   # not MASTER: not installed by us
            self.services.routes_apply(p.name, p.virtual_routes, p.virtual_rules, add=False)


__all__ = ["Executor"]
