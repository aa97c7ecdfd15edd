"""Gratuitous ARP and unsolicited neighbour advertisements over AF_PACKET (spec §4.6).

Frames come ready-made from the codec's builders (`build_garp`, `build_unsolicited_na`); this
module owns one AF_PACKET socket per interface and paces the packets: `vrrp_garp_interval`
between two GARPs and `vrrp_gna_interval` between two NAs on the same interface, with bursts
from several instances queued behind each other rather than interleaved.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from pykeepalived._fastpath import codec
from pykeepalived.core.params import VipSpec

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003




def ipv6_forwarding(ifname: str) -> bool:
    """The NA Router flag follows the interface's forwarding setting, as in keepalived."""
    try:
        return Path(f"/proc/sys/net/ipv6/conf/{ifname}/forwarding").read_text().strip() == "1"
    except OSError:
        return False


class _Port:
    """One interface: its AF_PACKET socket and the queue that paces what goes out on it."""

    def __init__(self, ifname: str, ifindex: int) -> None:
        self.ifname = ifname
        self.ifindex = ifindex
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0)
        self.sock.bind((ifname, 0))
        self.busy_until = 0.0      # loop time when the previous paced packet may be followed
        self.sent = 0
        self.errors = 0

    def send(self, frame: bytes) -> None:
        try:
            self.sock.send(frame)
            self.sent += 1
        except OSError as exc:
            self.errors += 1
            log.debug("%s: AF_PACKET send failed: %s", self.ifname, exc)


class L2Sender:
    """Sends paced GARP / NA bursts for VIPs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Callable[[], float]) -> None:
        self._loop = loop
        self._clock = clock
        self._ports: dict[int, _Port] = {}
        self._tasks: set[asyncio.Task[None]] = set()

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

    def burst(self, ifname: str, ifindex: int, frames: list[tuple[int, bytes]], count: int,
              garp_interval: float, gna_interval: float, after: asyncio.Future[object] | None = None) -> None:
        """Send `count` rounds of `frames` on the interface, paced; starts after `after` if given."""
        if not frames or count <= 0:
            return
        port = self._port(ifname, ifindex)
        if after is None and garp_interval <= 0 and gna_interval <= 0 and port.busy_until <= self._clock():
            for _ in range(count):       # nothing to pace and nothing queued: send right away
                for _fam, frame in frames:
                    port.send(frame)
            return
        task = self._loop.create_task(self._paced(port, frames, count, garp_interval, gna_interval, after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _paced(self, port: _Port, frames: list[tuple[int, bytes]], count: int, garp_interval: float,
                     gna_interval: float, after: asyncio.Future[object] | None) -> None:
        if after is not None:
            try:
                await after
            except Exception:  # noqa: BLE001 - a failed VIP add is logged where it happens
                pass
        for _ in range(count):
            for fam, frame in frames:
                gap = garp_interval if fam == 4 else gna_interval
                # the loop's timers round to milliseconds and may wake early: wait it out
                while (wait := port.busy_until - self._clock()) > 0:
                    await asyncio.sleep(wait)
                port.send(frame)
                port.busy_until = self._clock() + gap

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for port in self._ports.values():
            port.sock.close()
        self._ports.clear()
