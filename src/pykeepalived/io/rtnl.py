"""VIPs on the takeover path: hand-packed rtnetlink address requests sent from the loop.

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

The messages set exactly what pyroute2's `addr()` sets for `netlink.vip_request()` (tested
against the kernel's resulting addresses, tests/netns/test_rtnl_vips.py): family, prefix
length, ifa_flags (nodad for IPv6, home), IFA_FLAGS (with mngtmpaddr / noprefixroute), scope,
IFA_LOCAL (IPv4 always, as pyroute2 injects it; IPv6 with a peer), IFA_ADDRESS (the peer if
any), IFA_BROADCAST, IFA_LABEL and IFA_CACHEINFO (preferred_lft; valid forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable, Sequence

from pykeepalived.core.params import VipSpec
from pykeepalived.io.netlink import vip_request

log = logging.getLogger(__name__)

NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_ACK_TLVS = 0x200          # on an ACK: TLVs (the extended ACK) follow
NLM_F_CAPPED = 0x100            # on an ACK: only the request's header is echoed
RTM_NEWADDR = 20
RTM_DELADDR = 21
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_CACHEINFO = 6
IFA_FLAGS = 8
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NLMSGERR_ATTR_MSG = 1
SO_RCVBUFFORCE = 33
RCVBUF = 4 << 20
DRAIN_AT = 512                  # unread ACKs: read them before sending more (never fill the buffer)
FOREVER = 0xFFFFFFFF

_HDR = struct.Struct("=IHHII")          # nlmsghdr: len, type, flags, seq, pid
_IFA = struct.Struct("=BBBBI")          # ifaddrmsg: family, prefixlen, flags, scope, index
_NLA = struct.Struct("=HH")
_SEQ_AT = 8

Ack = Callable[[int, str], None]


def _nla(kind: int, payload: bytes) -> bytes:
    size = _NLA.size + len(payload)
    return _NLA.pack(size, kind) + payload + b"\0" * (-size % 4)


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
    body = _IFA.pack(family, req["prefixlen"], req.get("flags", 0) & 0xFF, req.get("scope", 0) or 0, index) \
        + b"".join(attrs)
    if command == "add":
        kind, flags = RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    else:
        kind, flags = RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK
    return _HDR.pack(_HDR.size + len(body), kind, flags, 0, 0) + body


def parse_acks(data: bytes) -> list[tuple[int, int, str]]:
    """(seq, errno, text) of each NLMSG_ERROR message in `data` (errno 0: done); `text` is the
    kernel's extended-ACK message, or os.strerror(errno)."""
    out = []
    off = 0
    while off + _HDR.size <= len(data):
        length, kind, flags, seq, _pid = _HDR.unpack_from(data, off)
        if length < _HDR.size or off + length > len(data):
            break
        if kind == NLMSG_ERROR and length >= _HDR.size + 4:
            (code,) = struct.unpack_from("=i", data, off + _HDR.size)
            code = -code
            text = ""
            if code and flags & NLM_F_ACK_TLVS:
                # after the error: the request's header (capped) or the whole request
                echoed = _HDR.size if flags & NLM_F_CAPPED else struct.unpack_from("=I", data, off + 20)[0]
                a = off + _HDR.size + 4 + ((echoed + 3) & ~3)
                while a + _NLA.size <= off + length:
                    alen, atype = _NLA.unpack_from(data, a)
                    if alen < _NLA.size:
                        break
                    if atype & 0x3FFF == NLMSGERR_ATTR_MSG:
                        text = data[a + 4:a + alen].split(b"\0", 1)[0].decode(errors="replace")
                    a += (alen + 3) & ~3
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
