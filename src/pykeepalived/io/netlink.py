"""Netlink for the VRRP process: pyroute2 on one dedicated thread, and the plain rtnetlink
work that needs no pyroute2.

pyroute2 cannot run on uvloop (its netlink sockets are datagram endpoints uvloop refuses, and
its sync API calls run_until_complete), so the VRRP process keeps one thread for it. The
uvloop side awaits `Netlink` coroutine methods; each one is submitted to the thread's loop and
its result comes back through a future (`asyncio.wrap_future`).

Start-up cost: pyroute2 takes 60-160 ms to import, and nothing of it is needed to start the
instances. The interface list is one plain RTM_GETLINK / RTM_GETADDR dump from the calling
thread (`dump_interfaces`); link up/down and address deletions come from a plain rtnetlink
socket subscribed to those groups and read by the uvloop loop itself (`start_monitor`); the
thread starts, and imports pyroute2, only when something first needs it (VMACs, routes,
rules, VIPs through pyroute2).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import errno
import logging
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pykeepalived.core.params import VipSpec
from pykeepalived.io.rtnl import (
    HDR,
    IFADDRMSG,
    IFINFOMSG,
    IFLA_ADDRESS,
    IFLA_IFNAME,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    SO_RCVBUFFORCE,
    address_of,
    parse_attrs,
    vip_error,
    vip_request,
)

if TYPE_CHECKING:      # imported on the netlink thread only (start-up cost, see above)
    from pyroute2 import AsyncIPRoute

log = logging.getLogger(__name__)

T = TypeVar("T")

IFF_UP = 0x1
IFF_RUNNING = 0x40
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
SO_ATTACH_FILTER = 26
MONITOR_RCVBUF = 1 << 20
MONITOR_BATCH = 16              # receives per wake-up of the monitor


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


def _dump(sock: socket.socket, msg_type: int, body: bytes, seq: int) -> list[tuple[int, bytes, int]]:
    """One NLM_F_DUMP request; returns (type, message, offset of its body) for every answer."""
    sock.send(HDR.pack(HDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
    out: list[tuple[int, bytes, int]] = []
    while True:
        data = sock.recv(1 << 16)
        off = 0
        while off + HDR.size <= len(data):
            length, kind, _flags, got_seq, _pid = HDR.unpack_from(data, off)
            if length < HDR.size:
                return out
            if got_seq == seq:
                if kind == NLMSG_DONE:
                    return out
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, off + HDR.size)[0]
                    if code:
                        raise OSError(code, f"rtnetlink dump: {errno.errorcode.get(code, code)}")
                else:
                    out.append((kind, data[off:off + length], HDR.size))
            off += (length + 3) & ~3


def dump_interfaces() -> dict[str, Interface]:
    """Every interface by name, with MAC, state, IPv4 addresses and IPv6 link-locals (in the
    kernel's order): one RTM_GETLINK and one RTM_GETADDR dump on a plain rtnetlink socket,
    in the calling thread (what pyroute2's get_links() / addr("dump") report, without it)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        by_index: dict[int, Interface] = {}
        for _kind, msg, at in _dump(sock, RTM_GETLINK, IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0), 1):
            _family, _type, index, flags, _change = IFINFOMSG.unpack_from(msg, at)
            attrs = parse_attrs(msg, at + IFINFOMSG.size, len(msg))
            name = attrs.get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            by_index[index] = Interface(index=index, name=name, mac=attrs.get(IFLA_ADDRESS) or bytes(6),
                                        up=_link_up(flags))
        for _kind, msg, at in _dump(sock, RTM_GETADDR, IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0), 2):
            family, _plen, _flags, _scope, index = IFADDRMSG.unpack_from(msg, at)
            owner = by_index.get(index)
            if owner is None or family not in (socket.AF_INET, socket.AF_INET6):
                continue
            addr = address_of(family, parse_attrs(msg, at + IFADDRMSG.size, len(msg)))
            if addr is None:
                continue
            if family == socket.AF_INET:
                owner.ipv4.append(addr)
            elif addr.lower().startswith("fe80:"):
                owner.ipv6_ll.append(addr)
    return {i.name: i for i in by_index.values()}


def drop_new_addresses(sock: Any) -> None:
    """A socket filter on the monitor that drops RTM_NEWADDR notifications (only deletions
    matter to it). Without it, each VIP a takeover adds is reported to the monitor, which the
    loop would read and parse right after the takeover's adverts and GARPs."""
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
        self._mon: socket.socket | None = None       # the link / address monitor (start_monitor)
        self._link_state: dict[int, bool] = {}

    # -- thread plumbing ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once; `_submit` starts it when first needed)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="netlink", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("netlink thread did not start")

    def warm_up(self) -> None:
        """Start the thread and have it import pyroute2 and open its socket now, in the
        background (the runtime calls this once its instances run: the first VIPs, routes or
        rules then find it ready)."""
        self._submit(self._iproute())

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
        if self._loop is None:
            self.start()
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self._submit(coro), loop=asyncio.get_running_loop())

    async def run(self, fn: Callable[[AsyncIPRoute], Coroutine[Any, Any, T]]) -> T:
        """Run `fn(ipr)` on the netlink thread with its AsyncIPRoute (routes, rules, links)."""

        async def call() -> T:
            return await fn(await self._iproute())

        return await self._call(call())

    def stop(self) -> None:
        self.close_monitor()
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
        self._thread = None

    async def _close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def _iproute(self) -> AsyncIPRoute:
        if self._ipr is None:
            from pyroute2 import AsyncIPRoute

            ipr = AsyncIPRoute()
            await ipr.setup_endpoint()
            self._ipr = ipr
        return self._ipr

    # -- queries ---------------------------------------------------------------------------

    async def interfaces(self) -> dict[str, Interface]:
        """Every interface by name, with MAC, state, IPv4 addresses and IPv6 link-locals
        (`dump_interfaces`, on a worker thread: the dump waits for the kernel's RTNL lock, which
        other namespaces' and links' changes may hold for hundreds of milliseconds, and the loop
        must go on sending adverts meanwhile, e.g. during a reload)."""
        found = await asyncio.to_thread(dump_interfaces)
        for iface in found.values():
            self._link_state[iface.index] = iface.up
        return found

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
        from pyroute2.netlink.exceptions import NetlinkError

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
    #
    # Links and address deletions are few and small: one plain rtnetlink socket subscribed to
    # the link and address groups, read by the uvloop loop itself (no pyroute2, no thread hop;
    # every other group would be parsed only to be thrown away).

    async def start_monitor(self) -> None:
        """Watch link state and address deletions from now on; a link whose state changed
        since `interfaces()` read it is reported now."""
        if self._mon is not None:
            return
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                             socket.NETLINK_ROUTE)
        try:
            for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, opt, MONITOR_RCVBUF)
                    break
                except OSError:
                    continue
            sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        except OSError:
            sock.close()
            raise
        drop_new_addresses(sock)
        self._mon = sock
        self._uv_loop.add_reader(sock.fileno(), self._on_monitor)
        self._relink()

    def _relink(self) -> None:
        """Report every link whose state differs from the last one seen (monitor start, or
        events lost to a full socket)."""
        for iface in dump_interfaces().values():
            if self._link_state.get(iface.index) != iface.up:
                self._link_state[iface.index] = iface.up
                if self._on_link is not None:
                    self._uv_loop.call_soon(self._on_link, iface.index, iface.up)

    def _on_monitor(self) -> None:
        sock = self._mon
        for _ in range(MONITOR_BATCH):       # bounded: the adverts come first
            if sock is None:
                return
            try:
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:   # events were lost: read the links again
                    log.warning("Netlink monitor: receive buffer overrun - re-reading link states")
                    self._relink()
                    continue
                log.error("Netlink monitor: %s", exc.strerror)
                return
            try:
                self._dispatch(data)
            except (struct.error, ValueError, IndexError) as exc:   # one odd message must not stop it
                log.error("Netlink monitor: unreadable message (%s)", exc)

    def _dispatch(self, data: bytes) -> None:
        off = 0
        while off + HDR.size <= len(data):
            length, kind = HDR.unpack_from(data, off)[:2]
            if length < HDR.size:
                return
            body = off + HDR.size
            if kind in (RTM_NEWLINK, RTM_DELLINK):
                index, flags = IFINFOMSG.unpack_from(data, body)[2:4]
                up = kind == RTM_NEWLINK and _link_up(flags)
                if self._link_state.get(index) != up:
                    self._link_state[index] = up
                    if self._on_link is not None:
                        self._on_link(index, up)
            elif kind == RTM_DELADDR and self._on_addr_deleted is not None:
                family, _plen, _flags, _scope, index = IFADDRMSG.unpack_from(data, body)
                addr = address_of(family, parse_attrs(data, body + IFADDRMSG.size, off + length))
                if addr is not None:
                    self._on_addr_deleted(index, addr)
            off += (length + 3) & ~3

    def close_monitor(self) -> None:
        if self._mon is not None:
            with contextlib.suppress(ValueError, RuntimeError, OSError):
                self._uv_loop.remove_reader(self._mon.fileno())
            self._mon.close()
            self._mon = None
