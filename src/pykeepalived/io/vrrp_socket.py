"""Raw IPPROTO_VRRP sockets, opened as keepalived opens them (spec §4.1).

One socket per interface and family receives for every VRID on that interface and also
sends (IPv4 with IP_HDRINCL, so the header we prebuild carries source, TOS and TTL; IPv6 with
IPV6_PKTINFO / IPV6_HOPLIMIT ancillary data per packet). `VrrpSockets` keeps them, joins the
multicast groups the instances use and registers each fd with `loop.add_reader`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pykeepalived._fastpath import advert_io

if TYPE_CHECKING:   # the compiled twin has the same API (advert_io.pyi)
    from pykeepalived._fastpath.advert_io_py import AdvertSocket

log = logging.getLogger(__name__)

IPPROTO_VRRP = 112
IP_MULTICAST_ALL = 49          # linux/in.h; not exported by the socket module
IPV6_MULTICAST_ALL = 29        # linux/in6.h
IPV6_CHECKSUM = 7
IPTOS_PREC_INTERNETCONTROL = 0xC0
RCVBUF = 4 << 20
SNDBUF = 4 << 20
SO_SNDBUFFORCE = 32            # asm-generic/socket.h
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35            # asm-generic/socket.h (64-bit); receive times for the down timer


def open_vrrp_socket(ifname: str, ifindex: int, family: int, protocol: int = IPPROTO_VRRP) -> socket.socket:
    """A non-blocking raw VRRP socket bound to `ifname`, set up for send and receive
    (`protocol` 51: the IPPROTO_AH socket of auth_type AH instances, see ipsec_ah)."""
    sock = socket.socket(family, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, os.fsencode(ifname))
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # Room for the adverts of every instance on the interface falling due together
        # (raw sockets are charged ~1 KiB per small packet); FORCE passes rmem/wmem_max as root.
        for force, plain, size in ((SO_RCVBUFFORCE, socket.SO_RCVBUF, RCVBUF), (SO_SNDBUFFORCE, socket.SO_SNDBUF, SNDBUF)):
            try:
                sock.setsockopt(socket.SOL_SOCKET, force, size)
            except OSError:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, plain, size)
                except OSError:
                    pass
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, IPTOS_PREC_INTERNETCONTROL)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
            # struct ip_mreqn: multiaddr, address, ifindex
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            struct.pack("=4s4si", b"\0" * 4, b"\0" * 4, ifindex))
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 6)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, IPTOS_PREC_INTERNETCONTROL)
    except OSError:
        sock.close()
        raise
    return sock


def join_group(sock: socket.socket, group: bytes, ifindex: int) -> None:
    """Join multicast `group` (packed) on the interface the socket is bound to."""
    if sock.family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("=4s4si", group, b"\0" * 4, ifindex))
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, struct.pack("=16si", group, ifindex))


class VrrpSockets:
    """The shared raw sockets, keyed by (ifindex, family), each watched by the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 on_readable: Callable[[AdvertSocket], object], batch: int = 64) -> None:
        self._loop = loop
        self._on_readable = on_readable
        self._batch = batch
        self._socks: dict[tuple[int, int], AdvertSocket] = {}
        self._groups: dict[tuple[int, int], set[bytes]] = {}

    def get(self, ifname: str, ifindex: int, family: int) -> AdvertSocket:
        key = (ifindex, family)
        asock = self._socks.get(key)
        if asock is None:
            sock = open_vrrp_socket(ifname, ifindex, family)
            asock = advert_io.AdvertSocket(sock, ifindex, self._batch)
            self._socks[key] = asock
            self._groups[key] = set()
            self._loop.add_reader(sock.fileno(), self._on_readable, asock)
        return asock

    def join(self, asock: AdvertSocket, group: bytes) -> None:
        key = (asock.ifindex, asock.family)
        joined = self._groups[key]
        if group not in joined:
            join_group(asock.sock, group, asock.ifindex)
            joined.add(group)

    def __iter__(self) -> Iterator[AdvertSocket]:
        return iter(self._socks.values())

    def close(self) -> None:
        for asock in self._socks.values():
            try:
                self._loop.remove_reader(asock.fileno())
            except (ValueError, RuntimeError):
                pass
            asock.sock.close()
        self._socks.clear()
        self._groups.clear()
