"""Plain rtnetlink, without pyroute2: the wire vocabulary (constants, headers, attributes)
used by the VRRP process's monitor and interface dump (io/netlink.py), what a VIP's address
request carries (`vip_request`, for pyroute2 and packed alike), and the VIPs on the takeover
path: hand-packed address requests sent from the loop.

    addrs = AddrRequests(loop)
    addrs.open()                                   # in the VRRP process, in its namespace
    addrs.send([(addrs.message("add", ifindex, vip), on_ack), ...])

A takeover's VIPs must be on the interface, and its GARPs out, right after its first advert.
pyroute2 builds each request in Python on its own thread (`netlink.Netlink`): a thread hop,
then a millisecond or more of encoding with the GIL. Here, the RTM_NEWADDR / RTM_DELADDR
message of each (command, ifindex, VIP) is packed once (as the adverts are prebuilt) and sent
on a plain non-blocking NETLINK_ROUTE socket from the loop; the requests of one action go in
one send(). rtnetlink handles a request inside that send() (the address is on the interface
when it returns), so the GARP / NA burst can follow at once. The ACKs are read later by the
loop (`add_reader`) and matched to their requests by sequence number; each request's callback
gets (0, "") or (errno, os.strerror(errno)).

The messages set exactly what pyroute2's `addr()` sets for `vip_request()` (tested
against the kernel's resulting addresses, tests/netns/test_rtnl_vips.py): family, prefix
length, ifa_flags (nodad for IPv6, home), IFA_FLAGS (with mngtmpaddr / noprefixroute), scope,
IFA_LOCAL (IPv4 always, as pyroute2 injects it; IPv6 with a peer), IFA_ADDRESS (the peer if
any), IFA_BROADCAST, IFA_LABEL and IFA_CACHEINFO (preferred_lft; valid forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Callable, Sequence
from typing import Any

from pykeepalived.core.params import VipSpec

log = logging.getLogger(__name__)

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_ACK_TLVS = 0x200          # on an ACK: TLVs (the extended ACK) follow
NLM_F_CAPPED = 0x100            # on an ACK: only the request's header is echoed
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_CACHEINFO = 6
IFA_FLAGS = 8
IFA_F_NODAD = 0x02
IFA_F_HOMEADDRESS = 0x10
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NLMSGERR_ATTR_MSG = 1
SO_RCVBUFFORCE = 33
RCVBUF = 4 << 20
DRAIN_AT = 512                  # unread ACKs: read them before sending more (never fill the buffer)
FOREVER = 0xFFFFFFFF
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}

HDR = struct.Struct("=IHHII")           # nlmsghdr: len, type, flags, seq, pid
IFINFOMSG = struct.Struct("=BxHiII")    # ifinfomsg: family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")     # ifaddrmsg: family, prefixlen, flags, scope, index
NLA = struct.Struct("=HH")              # nlattr: len, type
_SEQ_AT = 8


def parse_attrs(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """The attributes between `start` and `end` by type (the first of each type)."""
    out: dict[int, bytes] = {}
    while start + NLA.size <= end:
        size, kind = NLA.unpack_from(data, start)
        if size < NLA.size:
            break
        out.setdefault(kind & 0x3FFF, data[start + NLA.size:start + size])
        start += (size + 3) & ~3
    return out


def address_of(family: int, attrs: dict[int, bytes]) -> str | None:
    """An RTM_*ADDR message's address as text: IPv4 its local address, IPv6 its address."""
    raw = attrs.get(IFA_ADDRESS) if family == socket.AF_INET6 else attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if raw is None or family not in (socket.AF_INET, socket.AF_INET6):
        return None
    return socket.inet_ntop(family, raw)


Ack = Callable[[int, str], None]


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


def _nla(kind: int, payload: bytes) -> bytes:
    size = NLA.size + len(payload)
    return NLA.pack(size, kind) + payload + b"\0" * (-size % 4)


def addr_message(command: str, index: int, vip: VipSpec) -> bytes:
    """The RTM_NEWADDR ("add") or RTM_DELADDR ("del") request for `vip` on `index`, with
    sequence number 0 (`AddrRequests` writes the real one). ValueError for a VIP option the
    kernel cannot take (an unknown scope name), as `vip_request` raises it."""
    req = vip_request(vip, index)
    if command == "del":         # what a deletion needs to match the address, as Netlink._vips
        req = {k: v for k, v in req.items() if k in ("index", "address", "prefixlen", "local")}
    elif command != "add":
        raise ValueError(f"unknown address command {command!r}")
    family = socket.AF_INET6 if vip.family == 6 else socket.AF_INET
    address = socket.inet_pton(family, req["address"])
    local = req.get("local")
    attrs = [_nla(IFA_ADDRESS, address)]
    if local is not None:
        attrs.append(_nla(IFA_LOCAL, socket.inet_pton(family, local)))
    elif family == socket.AF_INET:      # pyroute2 injects IFA_LOCAL = the address for IPv4
        attrs.append(_nla(IFA_LOCAL, address))
    if "broadcast" in req:
        attrs.append(_nla(IFA_BROADCAST, socket.inet_pton(family, req["broadcast"])))
    if "label" in req:
        attrs.append(_nla(IFA_LABEL, req["label"].encode() + b"\0"))
    if "IFA_FLAGS" in req:
        attrs.append(_nla(IFA_FLAGS, struct.pack("=I", req["IFA_FLAGS"])))
    if "preferred_lft" in req:
        attrs.append(_nla(IFA_CACHEINFO, struct.pack("=IIII", req["preferred_lft"], FOREVER, 0, 0)))
    body = IFADDRMSG.pack(family, req["prefixlen"], req.get("flags", 0) & 0xFF, req.get("scope", 0) or 0, index) \
        + b"".join(attrs)
    if command == "add":
        kind, flags = RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    else:
        kind, flags = RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK
    return HDR.pack(HDR.size + len(body), kind, flags, 0, 0) + body


def parse_acks(data: bytes) -> list[tuple[int, int, str]]:
    """(seq, errno, text) of each NLMSG_ERROR message in `data` (errno 0: done); `text` is the
    kernel's extended-ACK message, or os.strerror(errno)."""
    out = []
    off = 0
    while off + HDR.size <= len(data):
        length, kind, flags, seq, _pid = HDR.unpack_from(data, off)
        if length < HDR.size or off + length > len(data):
            break
        if kind == NLMSG_ERROR and length >= HDR.size + 4:
            (code,) = struct.unpack_from("=i", data, off + HDR.size)
            code = -code
            text = ""
            if code and flags & NLM_F_ACK_TLVS:
                # after the error: the request's header (capped) or the whole request
                echoed = HDR.size if flags & NLM_F_CAPPED else struct.unpack_from("=I", data, off + 20)[0]
                tlvs = parse_attrs(data, off + HDR.size + 4 + ((echoed + 3) & ~3), off + length)
                text = tlvs.get(NLMSGERR_ATTR_MSG, b"").split(b"\0", 1)[0].decode(errors="replace")
            out.append((seq, code, text or (os.strerror(code) if code else "")))
        off += (length + 3) & ~3
    return out


class AddrRequests:
    """One NETLINK_ROUTE socket in the loop for VIP add / delete (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._sock: socket.socket | None = None
        self._seq = 0
        self._pending: dict[int, Ack] = {}
        self._messages: dict[tuple[str, int, VipSpec], bytes] = {}

    def open(self) -> None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                             socket.NETLINK_ROUTE)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        # ACKs echo only the request's header. No NETLINK_EXT_ACK: the logged texts stay
        # os.strerror's, as pyroute2's errors give them (the kernel's would read differently).
        with contextlib.suppress(OSError):       # old kernels echo the whole request: parse_acks copes
            sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        sock.bind((0, 0))
        self._sock = sock
        self._loop.add_reader(sock.fileno(), self.read_acks)

    def message(self, command: str, index: int, vip: VipSpec) -> bytes:
        """The packed request (built once per command, interface and VIP); see addr_message."""
        key = (command, index, vip)
        msg = self._messages.get(key)
        if msg is None:
            msg = self._messages[key] = addr_message(command, index, vip)
        return msg

    @property
    def pending(self) -> int:
        return len(self._pending)

    def send(self, requests: Sequence[tuple[bytes, Ack]]) -> None:
        """Send the requests (in one send()); each callback runs when its ACK is read, or at
        once with the errno if the send itself fails."""
        sock = self._sock
        if not requests:
            return
        if sock is None:
            for _msg, ack in requests:
                ack(errno.EBADF, "netlink socket not open")
            return
        if len(self._pending) >= DRAIN_AT:
            self.read_acks()
        buf = bytearray()
        seqs = []
        for msg, ack in requests:
            self._seq = self._seq + 1 if self._seq < 0xFFFFFFFF else 1
            at = len(buf)
            buf += msg
            struct.pack_into("=I", buf, at + _SEQ_AT, self._seq)
            self._pending[self._seq] = ack
            seqs.append(self._seq)
        try:
            sock.send(buf)
        except OSError as exc:
            code = exc.errno or errno.EIO
            for seq in seqs:
                if seq in self._pending:
                    self._pending.pop(seq)(code, os.strerror(code))

    def read_acks(self) -> None:
        """Read every ACK the socket holds and run its request's callback."""
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    # ACKs were lost (the buffer overflowed): the requests were carried out
                    # or refused, we cannot tell which; nothing else will answer them.
                    log.warning("netlink: %d address ACKs lost (%s)", len(self._pending), exc)
                    lost, self._pending = self._pending, {}
                    for ack in lost.values():
                        ack(0, "")
                    continue
                log.debug("netlink ACK read: %s", exc)
                return
            for seq, code, text in parse_acks(data):
                if seq in self._pending:
                    self._pending.pop(seq)(code, text)
            sock = self._sock

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with contextlib.suppress(Exception):
            self._loop.remove_reader(sock.fileno())
        sock.close()


__all__ = ["AddrRequests", "addr_message", "parse_acks"]
