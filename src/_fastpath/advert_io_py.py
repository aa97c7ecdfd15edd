"""Batched VRRP advert receive and send on raw IPPROTO_VRRP sockets (pure-Python twin).

`AdvertSocket` wraps one raw socket (one interface and family, shared by every VRID on it):
`recv_batch()` drains it and returns one tuple per packet,
``(payload, src, dst, ttl, ifindex, rx_time)`` with packed addresses and the kernel's
receive time on the time.monotonic() clock.  For IPv4 the IP header is
parsed here (the raw socket delivers it), for IPv6 the destination, interface and hop limit
come from the IPV6_PKTINFO / IPV6_HOPLIMIT ancillary data.

`AdvertSender` owns the periodic master adverts: per instance ("slot") a set of prebuilt
packets (one per destination), an interval and the ideal time of the next advert.
`fire(now)` sends every advert that is due, grouped per socket, and moves each slot's next
time forward by whole intervals from its previous *ideal* time, so the period never drifts.
The compiled twin (advert_io.pyx) does the same with recvmmsg/sendmmsg and no per-advert
Python objects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno as _errno
import heapq
import math
import os
import select
import socket
import struct
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

IMPLEMENTATION = "pure"

IPPROTO_VRRP = 112
RX_BUFFER_SIZE = 4608
# Upper bounds of the send-gap histogram: gap between two scheduled adverts of one instance
# as a multiple of its interval (1.0 = on time; the last bucket, +Inf, is implicit).
GAP_BOUNDS = (0.5, 0.9, 0.99, 1.001, 1.01, 1.02, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0)
_IPV4_TOS = 0xC0  # IPTOS_PREC_INTERNETCONTROL
SCM_TIMESTAMPNS = 35   # SO_TIMESTAMPNS on 64-bit Linux; not exported by the socket module


def is_multicast(addr: bytes) -> bool:
    """Packed IPv4/IPv6 address is multicast (224.0.0.0/4, ff00::/8)."""
    return (addr[0] & 0xF0) == 0xE0 if len(addr) == 4 else addr[0] == 0xFF


def ipv4_header(src: bytes, dst: bytes, payload_len: int, ttl: int) -> bytes:
    """keepalived's advert IPv4 header: TOS 0xC0, no DF, protocol 112, ID patched per send.

    The kernel fills in the header checksum (IP_HDRINCL always does)."""
    return struct.pack("!BBHHHBBH4s4s", 0x45, _IPV4_TOS, 20 + payload_len, 0, 0, ttl & 0xFF,
                       IPPROTO_VRRP, 0, src, dst)


class AdvertSocket:
    """One raw VRRP socket for an interface and family, shared by all VRIDs on it."""

    def __init__(self, sock: socket.socket, ifindex: int, batch: int = 64) -> None:
        self.sock = sock
        self.family = int(sock.family)
        self.ifindex = ifindex
        self.batch = batch
        self.rx_packets = 0
        self.rx_errors = 0
        self.tx_packets = 0
        self.tx_errors = 0
        self.last_errno = 0
        self.last_rx = 0.0      # kernel receive time of the last packet read (0: none yet)
        self._ancbufsize = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4) + socket.CMSG_SPACE(16) + 16
        self.rx_absorbed = 0
        # vrid -> [armed, payload, src, dst, ttl, hold, last_rx, count]
        self._shortcuts: dict[int, list[Any]] = {}

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv_batch(self) -> list[tuple[bytes, bytes, bytes, int, int, float]]:
        """Everything readable now (at most `batch` packets):
        (payload, src, dst, ttl, ifindex, rx_time), rx_time the kernel's receive time on the
        time.monotonic() clock (SO_TIMESTAMPNS), or the time of this call without one."""
        out: list[tuple[bytes, bytes, bytes, int, int, float]] = []
        v4 = self.family == socket.AF_INET
        now = time.monotonic()
        offset = time.time() - now
        for _ in range(self.batch):
            try:
                data, anc, _flags, addr = self.sock.recvmsg(RX_BUFFER_SIZE, self._ancbufsize,
                                                            socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self.rx_errors += 1
                self.last_errno = exc.errno or 0
                break
            dst = b""
            ifindex = self.ifindex
            ttl = -1
            rx_time = now
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack_from("=qq", value)
                    rx_time = min(now, sec + nsec * 1e-9 - offset)
                elif level != socket.IPPROTO_IPV6:
                    continue
                elif kind == socket.IPV6_PKTINFO and len(value) >= 20:
                    dst = value[:16]
                    ifindex = struct.unpack_from("=i", value, 16)[0]
                elif kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
                    ttl = struct.unpack_from("=i", value)[0]
            self.last_rx = rx_time
            if v4:
                pkt = _parse_ipv4(data, self.ifindex, rx_time)
                if pkt is None:
                    self.rx_errors += 1
                    continue
            else:
                src = socket.inet_pton(socket.AF_INET6, addr[0].split("%", 1)[0])
                pkt = (data, src, dst, ttl, ifindex, rx_time)
            self.rx_packets += 1
            sc = self._shortcuts.get(pkt[0][1]) if len(pkt[0]) >= 2 else None
            if sc is not None and sc[0]:
                if pkt[0] == sc[1] and pkt[1] == sc[2] and pkt[2] == sc[3] and pkt[3] == sc[4]:
                    sc[6] = pkt[5]
                    sc[7] += 1
                    self.rx_absorbed += 1
                    continue
                sc[0] = False     # anything else goes to the core, in order
            out.append(pkt)
        return out

    def arm_shortcut(self, vrid: int, payload: bytes, src: bytes, dst: bytes, ttl: int, hold: float,
                     last_rx: float) -> None:
        """Steady state of a backup: from now on, packets for `vrid` identical to this one
        (payload, source, destination, TTL) are absorbed here, only counted with their
        receive time; `hold` (the master-down interval) after the last one, `expired()`
        reports the VRID. Any other packet for the VRID disarms it and is returned."""
        if not 0 <= vrid <= 255:
            raise ValueError(f"vrid {vrid} not in 0..255")
        if len(src) != len(dst) or len(src) not in (4, 16):
            raise ValueError("src and dst must both be 4 or 16 bytes")
        self._shortcuts[vrid] = [True, bytes(payload), bytes(src), bytes(dst), ttl, hold, last_rx, 0]

    def disarm_shortcut(self, vrid: int) -> tuple[int, float]:
        """Stop absorbing for `vrid`; returns (packets absorbed, last receive time)."""
        sc = self._shortcuts.pop(vrid & 0xFF, None)
        return (0, 0.0) if sc is None else (sc[7], sc[6])

    def shortcut_count(self, vrid: int) -> int:
        """Packets absorbed for `vrid` since it was armed."""
        sc = self._shortcuts.get(vrid & 0xFF)
        return 0 if sc is None else int(sc[7])

    def next_expiry(self) -> float:
        """Earliest last receive time + hold over the armed VRIDs (math.inf when none)."""
        return min((sc[6] + sc[5] for sc in self._shortcuts.values() if sc[0]), default=math.inf)

    def expired(self, now: float) -> list[int]:
        """The armed VRIDs whose hold has run out at `now` (they stay armed)."""
        return sorted(v for v, sc in self._shortcuts.items() if sc[0] and sc[6] + sc[5] <= now)


def _parse_ipv4(data: bytes, ifindex: int, rx_time: float) -> tuple[bytes, bytes, bytes, int, int, float] | None:
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    if ihl < 20 or ihl > len(data):
        return None
    total = (data[2] << 8) | data[3]
    end = min(total, len(data)) if total >= ihl else len(data)
    return (data[ihl:end], data[12:16], data[16:20], data[8], ifindex, rx_time)


class _Packet:
    __slots__ = ("data", "address", "ancillary", "flags")

    def __init__(self, data: bytearray, address: tuple[str, int] | tuple[str, int, int, int],
                 ancillary: list[tuple[int, int, bytes]], flags: int) -> None:
        self.data = data
        self.address = address
        self.ancillary = ancillary
        self.flags = flags


TX_FULL_WAITS = 20
TX_FULL_WAIT_S = 0.001


def _send_waiting(sock: socket.socket, p: _Packet) -> None:
    """sendmsg, waiting briefly while the socket buffer is full (a burst of many instances)."""
    for _ in range(TX_FULL_WAITS):
        try:
            sock.sendmsg([p.data], p.ancillary, p.flags, p.address)
            return
        except (BlockingIOError, InterruptedError):
            select.select([], [sock], [], TX_FULL_WAIT_S)
        except OSError as exc:
            if exc.errno != _errno.ENOBUFS:
                raise
            select.select([], [sock], [], TX_FULL_WAIT_S)
    sock.sendmsg([p.data], p.ancillary, p.flags, p.address)


class _Slot:
    __slots__ = ("sock", "packets", "ip_id", "interval", "due", "running", "sent", "generation", "last_fire",
                 "seal")

    def __init__(self) -> None:
        self.sock: AdvertSocket | None = None
        self.seal: Callable[[bytes], bytes] | None = None
        self.packets: list[_Packet] = []
        self.ip_id = 0
        self.interval = 0.0
        self.due = math.inf
        self.running = False
        self.sent = 0
        self.generation = 0
        self.last_fire = -1.0      # when fire() last sent it (< 0: not since start)


class AdvertSender:
    """Periodic and one-off advert sending from prebuilt packets, batched per socket.

    `slack` lets `fire(now)` also send adverts due within that many seconds, so adverts of
    many instances that fall into the same timer tick leave in one batch.
    """

    def __init__(self, slack: float = 0.0005) -> None:
        self.slack = slack
        self._slots: dict[int, _Slot] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._gap_counts = [0] * (len(GAP_BOUNDS) + 1)
        self._gap_sum = 0.0

    def set_adverts(self, slot: int, sock: AdvertSocket, src: bytes,
                    packets: Sequence[tuple[bytes, bytes]], hoplimit: int = 255,
                    seal: Callable[[bytes], bytes] | None = None) -> None:
        """Prebuild the packets of `slot`: one (destination, VRRP payload) per destination.

        IPv4 packets get the IP header (source `src`, TTL `hoplimit`); IPv6 packets carry
        `src` and `hoplimit` as IPV6_PKTINFO / IPV6_HOPLIMIT ancillary data.  Multicast
        destinations are sent with MSG_DONTROUTE.  The schedule and IP ID counter are kept.
        `seal` (IPv4 only) rewrites each packet just before it is sent, after the IP ID is
        set, into the bytes to send (same length): the IPsec AH instances' hook (ipsec_ah).
        """
        s = self._slots.get(slot)
        if s is None:
            s = self._slots[slot] = _Slot()
        s.sock = sock
        s.seal = seal if sock.family == socket.AF_INET else None
        built: list[_Packet] = []
        for dst, payload in packets:
            flags = socket.MSG_DONTROUTE if is_multicast(dst) else 0
            if sock.family == socket.AF_INET:
                data = bytearray(ipv4_header(src, dst, len(payload), hoplimit) + payload)
                built.append(_Packet(data, (socket.inet_ntop(socket.AF_INET, dst), 0), [], flags))
            else:
                anc = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, src + struct.pack("=i", sock.ifindex)),
                       (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("=i", hoplimit))]
                addr = (socket.inet_ntop(socket.AF_INET6, dst), 0, 0, sock.ifindex)
                built.append(_Packet(bytearray(payload), addr, anc, flags))
        s.packets = built

    def start(self, slot: int, interval: float, first_due: float) -> None:
        """Send `slot`'s adverts every `interval` seconds, the first at `first_due`."""
        s = self._slots[slot]
        s.interval = interval
        s.due = first_due
        s.running = True
        s.generation += 1
        s.last_fire = -1.0
        heapq.heappush(self._heap, (first_due, slot, s.generation))

    def stop(self, slot: int) -> None:
        s = self._slots.get(slot)
        if s is not None and s.running:
            s.running = False
            s.due = math.inf
            s.generation += 1

    def remove(self, slot: int) -> None:
        self.stop(slot)
        self._slots.pop(slot, None)

    def is_running(self, slot: int) -> bool:
        s = self._slots.get(slot)
        return s is not None and s.running

    def sent(self, slot: int) -> int:
        """Adverts sent for `slot` (each counts once, whatever the number of destinations)."""
        s = self._slots.get(slot)
        return 0 if s is None else s.sent

    def next_due(self) -> float:
        """Ideal time of the earliest scheduled advert (math.inf when none)."""
        heap = self._heap
        while heap:
            due, slot, gen = heap[0]
            s = self._slots.get(slot)
            if s is not None and s.running and s.generation == gen:
                return due
            heapq.heappop(heap)
        return math.inf

    def send_now(self, slot: int) -> int:
        """Send `slot`'s adverts once, now, outside the schedule. Returns packets sent."""
        s = self._slots[slot]
        s.sent += 1
        return self._send(s)

    def fire(self, now: float) -> int:
        """Send every advert due by `now` (+ slack) and schedule the next ones. Returns packets sent."""
        limit = now + self.slack
        heap = self._heap
        total = 0
        while heap and heap[0][0] <= limit:
            due, slot, gen = heapq.heappop(heap)
            s = self._slots.get(slot)
            if s is None or not s.running or s.generation != gen:
                continue
            total += self._send(s)
            s.sent += 1
            if s.last_fire >= 0:
                self._count_gap((now - s.last_fire) / s.interval)
            s.last_fire = now
            nxt = due + s.interval
            if nxt <= now:  # stalled for a whole interval: stay on the ideal grid, skip the missed ones
                nxt += math.floor((now - nxt) / s.interval + 1) * s.interval
            s.due = nxt
            heapq.heappush(heap, (nxt, slot, gen))
        return total

    def _count_gap(self, ratio: float) -> None:
        i = 0
        while i < len(GAP_BOUNDS) and ratio > GAP_BOUNDS[i]:
            i += 1
        self._gap_counts[i] += 1
        self._gap_sum += ratio

    def gap_histogram(self) -> tuple[tuple[float, ...], list[int], float, int]:
        """Gaps between consecutive scheduled adverts of each instance, in multiples of its
        interval, measured at the `now` given to fire(): (GAP_BOUNDS, cumulative count per
        bound, sum of the ratios, count). Restarting a schedule starts a new series."""
        cumulative, acc = [], 0
        for c in self._gap_counts[:-1]:
            acc += c
            cumulative.append(acc)
        return GAP_BOUNDS, cumulative, self._gap_sum, acc + self._gap_counts[-1]

    def _send(self, s: _Slot) -> int:
        sock = s.sock
        if sock is None:
            return 0
        n = 0
        for p in s.packets:
            if sock.family == socket.AF_INET:
                s.ip_id = (s.ip_id + 1) & 0xFFFF or 1
                struct.pack_into("!H", p.data, 4, s.ip_id)
                if s.seal is not None:
                    sealed = s.seal(bytes(p.data))
                    if len(sealed) != len(p.data):
                        raise ValueError("seal must keep the packet length")
                    p.data[:] = sealed
            try:
                _send_waiting(sock.sock, p)
            except OSError as exc:
                sock.tx_errors += 1
                sock.last_errno = exc.errno or _errno.EIO
                continue
            sock.tx_packets += 1
            n += 1
        return n


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class DeadlineTimer:
    """A CLOCK_MONOTONIC timerfd armed at an absolute time (time.monotonic() seconds).

    The event loop's own timers round to whole milliseconds; this one wakes the loop (through
    `add_reader` on `fileno()`) within microseconds of the deadline.
    """

    def __init__(self) -> None:
        fd = _libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_create failed: {os.strerror(err)}")
        self._fd: int = fd

    def fileno(self) -> int:
        return self._fd

    def arm(self, when: float) -> None:
        """Fire at monotonic time `when` (at once if it has passed); inf disarms."""
        spec = _Itimerspec()
        if when != math.inf:
            when = max(when, 1e-9)
            sec = int(when)
            spec.it_value.tv_sec = sec
            spec.it_value.tv_nsec = max(1, int((when - sec) * 1e9)) if sec == 0 else int((when - sec) * 1e9)
        if _libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime failed: {os.strerror(err)}")

    def ack(self) -> int:
        """Consume the expiry so the fd stops being readable. Returns the expirations read."""
        try:
            return int.from_bytes(os.read(self._fd, 8), sys.byteorder)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


__all__ = ["GAP_BOUNDS", "IMPLEMENTATION", "IPPROTO_VRRP", "AdvertSender", "AdvertSocket", "DeadlineTimer", "ipv4_header",
           "is_multicast"]
