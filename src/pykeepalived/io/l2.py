"""Gratuitous ARP and unsolicited neighbour advertisements over AF_PACKET (spec §4.6).

Frames come ready-made from the codec's builders (`build_garp`, `build_unsolicited_na`); this
module owns one AF_PACKET socket per interface and paces the packets as keepalived 2.2.7 does
(vrrp_arp.c / vrrp_ndisc.c, garp_delay):

* a `Pacing` is one garp_delay: a `garp_group` (shared by all its interfaces, so their GARPs
  are paced together) or, for an interface in no group, `vrrp_garp_interval` /
  `vrrp_gna_interval`; a VMAC is paced by its base interface's;
* a GARP (NA) goes out at once unless the previous one of its pacing went out less than
  garp_interval (gna_interval) ago; then the address is marked pending, once: asking again
  for an address already pending adds nothing, so a burst of `garp_master_repeat` collapses
  to one immediate GARP and one paced one;
* when the interval has passed, pending addresses go out one per interval, in instance
  order then address order, and only while their instance is still MASTER.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pykeepalived._fastpath import codec
from pykeepalived.config.model import Config
from pykeepalived.core.params import VipSpec

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003


def ipv6_forwarding(ifname: str) -> bool:
    """The NA Router flag follows the interface's forwarding setting, as in keepalived."""
    try:
        return Path(f"/proc/sys/net/ipv6/conf/{ifname}/forwarding").read_text().strip() == "1"
    except OSError:
        return False


@dataclass(slots=True, eq=False)
class Pacing:
    """One keepalived garp_delay: the intervals and when the next GARP / NA may go out."""

    garp_interval: float = 0.0
    gna_interval: float = 0.0
    garp_next: float = 0.0      # 0: none sent yet, the first goes at once
    gna_next: float = 0.0

    def interval(self, family: int) -> float:
        return self.garp_interval if family == 4 else self.gna_interval

    def next_at(self, family: int) -> float:
        return self.garp_next if family == 4 else self.gna_next

    def sent(self, family: int, now: float) -> None:
        if family == 4:
            self.garp_next = now + self.garp_interval
        else:
            self.gna_next = now + self.gna_interval


def pacings(config: Config) -> dict[str, Pacing]:
    """interface name -> the Pacing of its garp_group (one object per group)."""
    out: dict[str, Pacing] = {}
    for group in config.garp_groups:
        pacing = Pacing(group.garp_interval, group.gna_interval)
        for ifname in group.interfaces:
            out.setdefault(ifname, pacing)
    return out


class _Port:
    """One interface's AF_PACKET socket."""

    def __init__(self, ifname: str, ifindex: int) -> None:
        self.ifname = ifname
        self.ifindex = ifindex
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0)
        self.sock.bind((ifname, 0))
        self.sent = 0
        self.errors = 0

    def send(self, frame: bytes) -> None:
        try:
            self.sock.send(frame)
            self.sent += 1
        except OSError as exc:
            self.errors += 1
            log.debug("%s: AF_PACKET send failed: %s", self.ifname, exc)


@dataclass(slots=True, eq=False)
class _Pending:
    """An address waiting for its pacing's interval (keepalived's garp_gna_pending)."""

    order: tuple[int, int]          # (instance order, address order)
    port: _Port
    family: int
    frame: bytes
    pacing: Pacing
    wanted: Callable[[], bool]      # still MASTER?


class L2Sender:
    """Sends GARP / NA bursts for VIPs, paced per garp_group / interface."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float]) -> None:
        self._loop = loop
        self._clock = clock
        self._ports: dict[int, _Port] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._groups: dict[str, Pacing] = {}
        self._own: dict[str, Pacing] = {}           # interfaces in no group: global intervals
        self._default = (0.0, 0.0)
        self._bases: Mapping[str, str] = {}
        self._pending: dict[tuple[int, bytes], _Pending] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def configure(self, config: Config, vmac_bases: Mapping[str, str]) -> None:
        """Pacing from the config (again on reload); `vmac_bases` maps a VMAC to its base."""
        gd = config.global_defs
        self._groups = pacings(config)
        self._default = (gd.vrrp_garp_interval, gd.vrrp_gna_interval)
        self._own = {}
        self._bases = dict(vmac_bases)
        for p in self._pending.values():
            p.pacing = self.pacing(p.port.ifname) or Pacing()

    def pacing(self, ifname: str) -> Pacing | None:
        """The Pacing that applies to `ifname`; None when nothing paces it."""
        base = self._bases.get(ifname, ifname)
        found = self._groups.get(base) or self._own.get(base)
        if found is None and self._default != (0.0, 0.0):
            found = self._own[base] = Pacing(*self._default)
        return found

    def prepare(self, ifname: str, ifindex: int) -> None:
        """Open the interface's socket now, not at the first takeover (OSError if it cannot)."""
        self._port(ifname, ifindex)

    def _port(self, ifname: str, ifindex: int) -> _Port:
        port = self._ports.get(ifindex)
        if port is None:
            port = self._ports[ifindex] = _Port(ifname, ifindex)
        return port

    def frames(self, ifname: str, mac: bytes, vips: Sequence[VipSpec]) -> list[tuple[int, bytes]]:
        """(family, frame) for each VIP: a GARP for IPv4, an unsolicited NA for IPv6."""
        router = None
        out = []
        for vip in vips:
            if vip.family == 4:
                out.append((4, codec.build_garp(mac, vip.packed)))
            else:
                if router is None:
                    router = ipv6_forwarding(ifname)
                out.append((6, codec.build_unsolicited_na(mac, vip.packed, router)))
        return out

    def burst(self, ifname: str, ifindex: int, frames: list[tuple[int, bytes]], count: int, *,
              order: int = 0, wanted: Callable[[], bool] = lambda: True,
              after: asyncio.Future[object] | None = None) -> None:
        """`count` rounds of `frames` on the interface, paced; starts once `after` is done.
        `order` ranks the sender (its instance) for the pending queue; `wanted` says whether
        addresses still pending may go out."""
        if not frames or count <= 0:
            return
        port = self._port(ifname, ifindex)
        if after is None or after.done():
            self._rounds(port, frames, count, order, wanted)
            return

        async def later() -> None:
            try:
                await after
            except Exception:  # noqa: BLE001 - a failed VIP add is logged where it happens
                pass
            self._rounds(port, frames, count, order, wanted)

        task = self._loop.create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _rounds(self, port: _Port, frames: list[tuple[int, bytes]], count: int, order: int,
                wanted: Callable[[], bool]) -> None:
        pacing = self.pacing(port.ifname)
        for _ in range(count):
            for index, (family, frame) in enumerate(frames):
                now = self._clock()
                if pacing is None or pacing.interval(family) <= 0:
                    port.send(frame)
                elif now >= pacing.next_at(family):
                    port.send(frame)
                    pacing.sent(family, now)
                else:
                    key = (port.ifindex, frame)
                    if key not in self._pending:
                        self._pending[key] = _Pending((order, index), port, family, frame, pacing, wanted)
                    self._schedule(pacing.next_at(family))

    def _schedule(self, at: float) -> None:
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._flush)

    def _flush(self) -> None:
        """keepalived's vrrp_arp_thread: send what is due, keep the rest for later."""
        self._timer = None
        now = self._clock()
        earliest = None
        for key, p in sorted(self._pending.items(), key=lambda kv: kv[1].order):
            if not p.wanted():
                del self._pending[key]
                continue
            # the loop's timers round to milliseconds and may wake early: never send early
            if now >= p.pacing.next_at(p.family):
                p.port.send(p.frame)
                p.pacing.sent(p.family, now)
                del self._pending[key]
                continue
            at = p.pacing.next_at(p.family)
            earliest = at if earliest is None else min(earliest, at)
        if earliest is not None:
            self._schedule(earliest)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
        for task in self._tasks:
            task.cancel()
        for port in self._ports.values():
            port.sock.close()
        self._ports.clear()
