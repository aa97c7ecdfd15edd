"""Every pyroute2 call, on one dedicated thread with a stock asyncio loop.

pyroute2 cannot run on uvloop (its netlink sockets are datagram endpoints uvloop refuses, and
its sync API calls run_until_complete), so the VRRP process keeps one thread for it. The
uvloop side awaits `Netlink` coroutine methods; each one is submitted to the thread's loop and
its result comes back through a future (`asyncio.wrap_future`). Link up/down and address
deletions seen by the monitor are handed to the uvloop loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import errno
import ipaddress
import logging
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pykeepalived.core.params import VipSpec

log = logging.getLogger(__name__)

T = TypeVar("T")

IFF_UP = 0x1
IFF_RUNNING = 0x40
IFA_F_NODAD = 0x02
IFA_F_HOMEADDRESS = 0x10
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_NEWADDR = 20
RTM_DELADDR = 21
SO_ATTACH_FILTER = 26
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


@dataclass(slots=True)
class Interface:
    """What the VRRP side needs to know about one interface."""

    index: int
    name: str
    mac: bytes
    up: bool
    ipv4: list[str] = field(default_factory=list)       # in kernel order; the first is the primary
    ipv6_ll: list[str] = field(default_factory=list)    # fe80::/10 addresses

    @property
    def primary_ipv4(self) -> str | None:
        return self.ipv4[0] if self.ipv4 else None

    @property
    def link_local(self) -> str | None:
        return self.ipv6_ll[0] if self.ipv6_ll else None


def _link_up(flags: int) -> bool:
    return bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)


def vip_request(vip: VipSpec, index: int) -> dict[str, Any]:
    """pyroute2 `addr()` arguments for a VIP with keepalived's options (vrrp_ipaddress.c)."""
    req: dict[str, Any] = {"index": index, "address": vip.address, "prefixlen": vip.prefix}
    flags = 0
    extra = 0
    if vip.family == 6:
        flags |= IFA_F_NODAD   # keepalived never runs DAD on a VIP
    if vip.nodad:
        flags |= IFA_F_NODAD
    if vip.home:
        flags |= IFA_F_HOMEADDRESS
    if vip.mngtmpaddr:
        extra |= IFA_F_MANAGETEMPADDR
    if vip.noprefixroute:
        extra |= IFA_F_NOPREFIXROUTE
    if flags:
        req["flags"] = flags
    if extra:
        req["IFA_FLAGS"] = flags | extra
    if vip.peer:
        req["local"] = vip.address
        req["address"] = vip.peer.split("/")[0]
    if vip.brd and vip.family == 4:
        if vip.brd == "+":
            net = ipaddress.ip_network(f"{vip.address}/{vip.prefix}", strict=False)
            req["broadcast"] = str(net.broadcast_address)
        elif vip.brd == "-":
            pass
        else:
            req["broadcast"] = vip.brd
    if vip.scope:
        req["scope"] = SCOPES.get(vip.scope, None) if not vip.scope.isdigit() else int(vip.scope)
        if req["scope"] is None:
            raise ValueError(f"unknown scope {vip.scope!r}")
    if vip.label:
        req["label"] = vip.label
    if vip.preferred_lft is not None:
        req["preferred_lft"] = 0xFFFFFFFF if vip.preferred_lft == "forever" else int(vip.preferred_lft)
    elif vip.family == 6 and vip.prefix == 128:
        req["preferred_lft"] = 0   # keepalived deprecates an IPv6 /128 VIP unless "forever"
    return req


def vip_error(command: str, vip: VipSpec, code: int, text: str) -> str | None:
    """The error text of a VIP request the kernel answered with `code` (an errno), as logged
    after "(instance) "; None when there is nothing to say: done, an address to add already
    there, or one to remove already gone."""
    if code == 0 or (command == "add" and code == errno.EEXIST) or \
            (command == "del" and code in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ENODEV)):
        return None
    return f"{command} {vip.address}/{vip.prefix}: {(code, text)}"


def drop_new_addresses(sock: Any) -> None:
    """A socket filter on the monitor that drops RTM_NEWADDR notifications (only deletions
    matter to it). Without it, each VIP a takeover adds wakes this thread, which takes the
    GIL from the loop while the loop is in the address request's send() and holds it to
    parse the notification: the takeover's GARP then waits for it (~0.6 ms measured)."""
    new_addr = int.from_bytes(struct.pack("=H", RTM_NEWADDR), "big")   # BPF loads big-endian
    program = [
        (0x28, 0, 0, 4),               # ldh [4]: nlmsg_type
        (0x15, 0, 1, new_addr),        # jeq RTM_NEWADDR ? next : accept
        (0x06, 0, 0, 0),               # ret 0: drop
        (0x06, 0, 0, 0xFFFFFFFF),      # ret all: keep
    ]
    code = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *i) for i in program))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(code))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError as exc:      # the monitor works without it, only costlier
        log.debug("netlink monitor filter: %s", exc)


class Netlink:
    """The netlink thread and its small async API for the uvloop side."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 on_link: Callable[[int, bool], None] | None = None,
                 on_addr_deleted: Callable[[int, str], None] | None = None) -> None:
        self._uv_loop = loop
        self._on_link = on_link
        self._on_addr_deleted = on_addr_deleted
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._ipr: AsyncIPRoute | None = None
        self._monitor_task: asyncio.Task[None] | None = None
        self._link_state: dict[int, bool] = {}

    # -- thread plumbing ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="netlink", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("netlink thread did not start")

    def _run(self) -> None:
        loop = asyncio.SelectorEventLoop()     # a stock loop, whatever the main thread runs
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        assert self._loop is not None, "Netlink.start() first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self._submit(coro), loop=asyncio.get_running_loop())

    async def run(self, fn: Callable[[AsyncIPRoute], Coroutine[Any, Any, T]]) -> T:
        """Run `fn(ipr)` on the netlink thread with its AsyncIPRoute (routes, rules, links)."""

        async def call() -> T:
            return await fn(await self._iproute())

        return await self._call(call())

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self._submit(self._close()).result(5)
        except Exception as exc:  # noqa: BLE001 - closing must not raise
            log.debug("netlink close: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    async def _close(self) -> None:
        if self._monitor_task is not None:
            self._monitor_task.cancel()
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def _iproute(self) -> AsyncIPRoute:
        if self._ipr is None:
            ipr = AsyncIPRoute()
            await ipr.setup_endpoint()
            self._ipr = ipr
        return self._ipr

    # -- queries ---------------------------------------------------------------------------

    async def interfaces(self) -> dict[str, Interface]:
        """Every interface by name, with MAC, state, IPv4 addresses and IPv6 link-locals."""
        return await self._call(self._interfaces())

    async def _interfaces(self) -> dict[str, Interface]:
        ipr = await self._iproute()
        by_index: dict[int, Interface] = {}
        async for link in await ipr.get_links():
            mac = link.get("address") or "00:00:00:00:00:00"
            iface = Interface(index=link["index"], name=link.get("ifname"),
                              mac=bytes.fromhex(mac.replace(":", "")), up=_link_up(link["flags"]))
            by_index[iface.index] = iface
            self._link_state[iface.index] = iface.up
        async for a in await ipr.addr("dump"):
            owner = by_index.get(a["index"])
            addr = a.get("address") if a["family"] == socket.AF_INET6 else (a.get("local") or a.get("address"))
            if owner is None or addr is None:
                continue
            if a["family"] == socket.AF_INET:
                owner.ipv4.append(addr)
            elif a["family"] == socket.AF_INET6 and addr.lower().startswith("fe80:"):
                owner.ipv6_ll.append(addr)
        return {i.name: i for i in by_index.values()}

    # -- VIPs --------------------------------------------------------------------------------

    # The runtime adds and removes VIPs with prebuilt requests from its loop (io/rtnl.py);
    # these pyroute2 ones are the reference that path is tested against.

    async def add_vips(self, vips: list[tuple[int, VipSpec]]) -> list[str]:
        """Add each (ifindex, VIP); an address already present is fine. Returns error texts."""
        return await self._call(self._vips("add", vips))

    async def remove_vips(self, vips: list[tuple[int, VipSpec]]) -> list[str]:
        """Delete each (ifindex, VIP); an address not present is fine. Returns error texts."""
        return await self._call(self._vips("del", vips))

    async def _vips(self, command: str, vips: list[tuple[int, VipSpec]]) -> list[str]:
        ipr = await self._iproute()
        errors = []
        for index, vip in vips:
            req = vip_request(vip, index)
            if command == "del":
                req = {k: v for k, v in req.items() if k in ("index", "address", "prefixlen", "local")}
            try:
                await ipr.addr(command, **req)
            except NetlinkError as exc:
                err = vip_error(command, vip, exc.code, exc.args[1] if len(exc.args) > 1 else str(exc))
                if err is not None:
                    errors.append(err)
            except (ValueError, TypeError) as exc:
                errors.append(f"{command} {vip.address}/{vip.prefix}: {exc}")
        return errors

    # -- monitor -----------------------------------------------------------------------------

    async def start_monitor(self) -> None:
        """Watch link state and address deletions from now on."""
        await self._call(self._start_monitor())

    async def _start_monitor(self) -> None:
        mon = AsyncIPRoute()
        # Only links and addresses: every other message would be parsed (in Python, holding
        # the GIL the advert loop needs) just to be thrown away.
        await mon.bind(groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)
        drop_new_addresses(mon.socket)
        self._monitor_task = asyncio.get_running_loop().create_task(self._monitor(mon))

    async def _monitor(self, mon: AsyncIPRoute) -> None:
        try:
            while True:   # each get() yields what one receive returned, then ends
                got = 0
                async for msg in mon.get():
                    got += 1
                    try:
                        self._dispatch(msg)
                    except Exception:  # noqa: BLE001 - one odd message must not stop the monitor
                        log.exception("netlink monitor message")
                if not got:
                    await asyncio.sleep(0.05)   # never spin on a socket that returns nothing
        except asyncio.CancelledError:
            pass
        finally:
            mon.close()

    def _dispatch(self, msg: Any) -> None:
        kind = msg["header"]["type"]
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            index = msg["index"]
            up = kind == RTM_NEWLINK and _link_up(msg["flags"])
            if self._link_state.get(index) != up:
                self._link_state[index] = up
                if self._on_link is not None:
                    self._uv_loop.call_soon_threadsafe(self._on_link, index, up)
        elif kind == RTM_DELADDR and self._on_addr_deleted is not None:
            addr = msg.get("local") or msg.get("address") if msg["family"] == socket.AF_INET else msg.get("address")
            if addr:
                self._uv_loop.call_soon_threadsafe(self._on_addr_deleted, msg["index"], addr)
