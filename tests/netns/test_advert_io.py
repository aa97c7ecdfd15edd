"""advert_io, compiled and pure twins: raw-socket round trips on loopback and the advert schedule.

Raw IPPROTO_VRRP sockets bound to `lo` in the test's own namespace view: nothing leaves the host.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import struct
import time
from collections.abc import Iterator
from types import ModuleType

import pytest
from pykeepalived._fastpath import codec

from pykeepalived.io.vrrp_socket import open_vrrp_socket

pytestmark = pytest.mark.privileged

LO4 = ipaddress.ip_address("127.0.0.1").packed
LO4B = ipaddress.ip_address("127.0.0.2").packed
LO6 = ipaddress.ip_address("::1").packed


@pytest.fixture
def lo4(aio: ModuleType) -> Iterator[object]:
    sock = open_vrrp_socket("lo", socket.if_nametoindex("lo"), socket.AF_INET)
    yield aio.AdvertSocket(sock, socket.if_nametoindex("lo"), 64)
    sock.close()


def _payload(vrid: int, prio: int, src: bytes = LO4, dst: bytes = LO4) -> bytes:
    return codec.encode_advert(3, vrid, prio, 10, [ipaddress.ip_address("192.0.2.100").packed], codec.AF_INET,
                               src, dst)


def _drain(sock: object, want: int, timeout: float = 1.0) -> list[tuple[bytes, bytes, bytes, int, int, float]]:
    out: list[tuple[bytes, bytes, bytes, int, int, float]] = []
    end = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < end:
        out += sock.recv_batch()  # type: ignore[attr-defined]
        time.sleep(0.001)
    return out


def test_ipv4_round_trip(aio: ModuleType, lo4: object) -> None:
    sender = aio.AdvertSender()
    sender.set_adverts(0, lo4, LO4, [(LO4, _payload(7, 100)), (LO4B, _payload(7, 100, dst=LO4B))], 255)
    sent_at = time.monotonic()
    assert sender.send_now(0) == 2
    time.sleep(0.02)
    got = _drain(lo4, 2)
    # the kernel's receive time, on the monotonic clock: before we read, after we sent
    assert all(sent_at <= g[5] <= sent_at + 0.01 for g in got), [g[5] - sent_at for g in got]
    assert [(g[1], g[2], g[3], g[4]) for g in got] == [(LO4, LO4, 255, socket.if_nametoindex("lo")),
                                                      (LO4, LO4B, 255, socket.if_nametoindex("lo"))]
    assert got[0][0] == _payload(7, 100)
    assert got[1][0] == _payload(7, 100, dst=LO4B)
    assert lo4.last_rx == got[1][5]        # type: ignore[attr-defined]  # the runtime's drain reads up to it
    advert, reason = codec.decode_advert(got[1][0], codec.AF_INET, got[1][1], got[1][2])
    assert reason == codec.OK and advert.vrid == 7
    assert sender.sent(0) == 1


def test_ipv4_header_and_ids(aio: ModuleType, lo4: object) -> None:
    """TOS 0xC0, no DF, the TTL asked for, protocol 112, IDs 1, 2, 3 ... per slot."""
    watch = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    watch.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
    watch.settimeout(1)
    sender = aio.AdvertSender()
    sender.set_adverts(3, lo4, LO4, [(LO4, _payload(9, 50))], 64)
    for _ in range(3):
        sender.send_now(3)
    headers = [watch.recv(200)[:20] for _ in range(3)]
    watch.close()
    for i, h in enumerate(headers, start=1):
        ver_ihl, tos, total, ident, frag, ttl, proto = struct.unpack_from("!BBHHHBB", h)
        assert (ver_ihl, tos, total, ident, frag, ttl, proto) == (0x45, 0xC0, 20 + 12, i, 0, 64, 112)
        assert h[12:16] == LO4 and h[16:20] == LO4


def test_ipv6_round_trip_kernel_checksum(aio: ModuleType) -> None:
    idx = socket.if_nametoindex("lo")
    sock = open_vrrp_socket("lo", idx, socket.AF_INET6)
    try:
        s6 = aio.AdvertSocket(sock, idx, 8)
        payload = codec.encode_advert(3, 12, 200, 100, [ipaddress.ip_address("fe80::100").packed], codec.AF_INET6)
        assert payload[6:8] == b"\0\0"   # left for the kernel (IPV6_CHECKSUM)
        sender = aio.AdvertSender()
        sender.set_adverts(1, s6, LO6, [(LO6, payload)], 255)
        assert sender.send_now(1) == 1
        got = _drain(s6, 1)
        assert len(got) == 1
        data, src, dst, hops, ifindex, _rx_time = got[0]
        assert (src, dst, hops, ifindex) == (LO6, LO6, 255, idx)
        assert data[6:8] != b"\0\0" and data[:6] == payload[:6] and data[8:] == payload[8:]
        advert, reason = codec.decode_advert(data, codec.AF_INET6, src, dst)
        assert reason == codec.OK and advert.priority == 200
    finally:
        sock.close()


def test_schedule_stays_on_ideal_grid(aio: ModuleType, lo4: object) -> None:
    sender = aio.AdvertSender(slack=0.0)
    for slot, vrid in ((0, 1), (1, 2), (5, 3)):
        sender.set_adverts(slot, lo4, LO4, [(LO4, _payload(vrid, 100))], 255)
    t0 = 1000.0
    sender.start(0, 0.01, t0)
    sender.start(1, 0.01, t0 + 0.005)
    sender.start(5, 0.02, t0)
    assert sender.next_due() == t0
    assert sender.fire(t0 - 0.001) == 0
    assert sender.fire(t0) == 2                       # slots 0 and 5, one batch
    assert sender.next_due() == pytest.approx(t0 + 0.005)
    assert sender.fire(t0 + 0.0073) == 1              # slot 1, late by 2.3 ms
    assert sender.next_due() == pytest.approx(t0 + 0.01)
    assert sender.fire(t0 + 0.0101) == 1              # slot 0 again, from its ideal time
    assert sender.next_due() == pytest.approx(t0 + 0.015)   # slot 1: t0+0.005+0.01, not 0.0173
    # a stall of several intervals sends each slot once and keeps the grid
    assert sender.fire(t0 + 0.0551) == 3
    assert sender.next_due() == pytest.approx(t0 + 0.06)
    assert [sender.sent(s) for s in (0, 1, 5)] == [3, 2, 2]
    sender.stop(0)
    sender.stop(1)
    assert not sender.is_running(0) and sender.is_running(5)
    assert sender.next_due() == pytest.approx(t0 + 0.06)
    sender.remove(5)
    assert sender.next_due() == math.inf
    assert sender.fire(t0 + 10) == 0
    got = _drain(lo4, 7)
    assert sorted(g[0][1] for g in got) == [1, 1, 1, 2, 2, 3, 3]


def test_restart_replaces_schedule_and_packets(aio: ModuleType, lo4: object) -> None:
    sender = aio.AdvertSender(slack=0.0)
    sender.set_adverts(2, lo4, LO4, [(LO4, _payload(4, 100))], 255)
    sender.start(2, 1.0, 50.0)
    sender.start(2, 0.5, 10.0)            # a new StartAdvertising replaces the old schedule
    assert sender.next_due() == 10.0
    assert sender.fire(10.0) == 1
    assert sender.next_due() == 10.5
    sender.set_adverts(2, lo4, LO4, [(LO4, _payload(4, 0))], 255)   # new priority, schedule kept
    assert sender.fire(10.5) == 1
    got = _drain(lo4, 2)
    assert [g[0][2] for g in got] == [100, 0]


def test_ip_id_skips_zero(aio: ModuleType, lo4: object) -> None:
    watch = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    watch.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
    watch.settimeout(1)
    sender = aio.AdvertSender()
    sender.set_adverts(0, lo4, LO4, [(LO4, _payload(1, 1))], 255)
    for _ in range(65534):                # IDs 1..65534 (nobody reads them: the queue drops)
        sender.send_now(0)
    while True:                           # empty the watcher's queue
        watch.setblocking(False)
        try:
            watch.recv(100)
        except BlockingIOError:
            break
    watch.settimeout(1)
    for _ in range(2):
        sender.send_now(0)
    ids = [struct.unpack_from("!H", watch.recv(100), 4)[0] for _ in range(2)]
    watch.close()
    assert ids == [65535, 1]


def test_steady_state_shortcut(aio: ModuleType, lo4: object) -> None:
    """Identical adverts for an armed VRID are absorbed (counted, receive time kept); the first
    different one disarms it and comes through, and so does everything after it."""
    sender = aio.AdvertSender()
    same, other = _payload(7, 100), _payload(7, 90)
    sender.set_adverts(0, lo4, LO4, [(LO4, same)], 255)
    sender.send_now(0)
    (first,) = _drain(lo4, 1)
    lo4.arm_shortcut(7, first[0], first[1], first[2], first[3], 0.5, first[5])  # type: ignore[attr-defined]
    assert lo4.next_expiry() == pytest.approx(first[5] + 0.5)  # type: ignore[attr-defined]
    for _ in range(3):
        sender.send_now(0)
    time.sleep(0.05)
    assert lo4.recv_batch() == []  # type: ignore[attr-defined]
    assert lo4.shortcut_count(7) == 3 and lo4.rx_absorbed == 3  # type: ignore[attr-defined]
    last = lo4.next_expiry() - 0.5  # type: ignore[attr-defined]
    assert first[5] < last <= time.monotonic()
    assert lo4.expired(last + 0.49) == [] and lo4.expired(last + 0.5) == [7]  # type: ignore[attr-defined]
    sender.set_adverts(0, lo4, LO4, [(LO4, other)], 255)
    sender.send_now(0)
    sender.set_adverts(0, lo4, LO4, [(LO4, same)], 255)
    sender.send_now(0)
    got = _drain(lo4, 2)
    assert [g[0] for g in got] == [other, same]      # disarmed by the change, in order
    assert lo4.next_expiry() == math.inf  # type: ignore[attr-defined]
    count, last_rx = lo4.disarm_shortcut(7)  # type: ignore[attr-defined]
    assert count == 3 and last_rx == pytest.approx(last)


def test_send_gap_histogram(aio: ModuleType, lo4: object) -> None:
    """Each scheduled advert after the first of a series adds its gap since the previous one,
    in multiples of the interval, to the histogram; one-off sends and a restart's first do not."""
    sender = aio.AdvertSender(0.0)
    sender.set_adverts(0, lo4, LO4, [(LO4, _payload(9, 100))], 255)
    sender.set_adverts(1, lo4, LO4, [(LO4, _payload(10, 100))], 255)
    t = 1000.0
    sender.start(0, 0.1, t)
    sender.start(1, 0.2, t)
    assert sender.gap_histogram() == (aio.GAP_BOUNDS, [0] * len(aio.GAP_BOUNDS), 0.0, 0)
    sender.fire(t)                     # first of each series: no gap yet
    sender.fire(t + 0.1)               # slot 0 on time: 1.0
    sender.send_now(1)                 # one-off: not a scheduled gap
    sender.fire(t + 0.26)              # slot 0 due at t+0.2, 0.06 late: 1.6; slot 1 due t+0.2: 1.3
    sender.stop(0)
    sender.start(0, 0.1, t + 0.3)
    sender.fire(t + 0.3)               # slot 0 restarted: a new series, no gap
    bounds, cumulative, total, count = sender.gap_histogram()
    assert bounds == aio.GAP_BOUNDS and bounds[3] == 1.001
    expect = [sum(1 for r in (1.0, 1.6, 1.3) if r <= b) for b in bounds]   # no ratio near a bound
    assert cumulative == expect and count == 3
    assert total == pytest.approx(1.0 + 1.6 + 1.3)
    _drain(lo4, 6, timeout=0.2)


def test_equal_due_times_go_in_slot_order(aio: ModuleType, lo4: object) -> None:
    """Adverts due at the same time leave in slot order in every round, so each instance keeps
    its place in the batch (the batch's duration does not become gap jitter)."""
    sender = aio.AdvertSender(0.0)
    slots = [7, 2, 11, 0, 5, 9, 3, 14, 1, 8]
    for slot in slots:
        sender.set_adverts(slot, lo4, LO4, [(LO4, _payload(slot + 1, 100))], 255)
        sender.start(slot, 0.1, 500.0)
    for k in range(3):
        sender.fire(500.0 + 0.1 * k + 1e-6)
        got = _drain(lo4, len(slots))
        assert [p[0][1] - 1 for p in got] == sorted(slots), f"round {k}"
