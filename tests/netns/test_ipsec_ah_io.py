"""The advert sender's per-packet `seal` hook (both advert_io twins) with io/ipsec_ah, on
loopback raw sockets: every periodic and one-off AH advert leaves sealed (protocol 51, the next
sequence number, an ICV over the IP ID that was patched just before), and a raw IPPROTO_AH
socket hands back whole packets that IpsecAh.check accepts in order and refuses replayed."""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Iterator
from types import ModuleType

import pytest
from pykeepalived._fastpath import codec

from pykeepalived.io.ipsec_ah import IPPROTO_AH, AhSockets, IpsecAh, icv, split
from pykeepalived.io.vrrp_socket import open_vrrp_socket

pytestmark = pytest.mark.privileged

LO4 = ipaddress.ip_address("127.0.0.1").packed
KEY = b"ah-test1"


@pytest.fixture
def socks(private_netns: None) -> Iterator[tuple[socket.socket, socket.socket]]:
    lo = socket.if_nametoindex("lo")
    tx = open_vrrp_socket("lo", lo, socket.AF_INET)
    rx = open_vrrp_socket("lo", lo, socket.AF_INET, IPPROTO_AH)
    yield tx, rx
    tx.close()
    rx.close()


def _receive(rx: socket.socket, want: int, timeout: float = 1.0) -> list[bytes]:
    out: list[bytes] = []
    end = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < end:
        out += AhSockets.drain(rx)
        time.sleep(0.001)
    return out


def test_seal_hook_sends_sealed_ah_adverts(aio: ModuleType, socks: tuple[socket.socket, socket.socket]) -> None:
    tx, rx = socks
    lo = socket.if_nametoindex("lo")
    asock = aio.AdvertSocket(tx, lo, 64)
    ah = IpsecAh(KEY, LO4, unicast=True)
    vrrp = codec.encode_advert(2, 41, 150, 1, [ipaddress.ip_address("192.0.2.141").packed], codec.AF_INET,
                               LO4, LO4, 2, b"")
    sender = aio.AdvertSender(0.0)
    sender.set_adverts(7, asock, LO4, [(LO4, ah.header() + vrrp)], 255, ah.seal)
    now = time.monotonic()
    sender.start(7, 0.01, now)
    sender.fire(now)
    sender.send_now(7)
    sender.fire(now + 0.01)
    packets = _receive(rx, 3)
    assert len(packets) == 3
    receiver = IpsecAh(KEY, b"", unicast=True)
    for n, packet in enumerate(packets, 1):
        assert packet[9] == IPPROTO_AH
        assert struct.unpack_from("!H", packet, 4)[0] == n                # IP ID patched first ...
        assert struct.unpack_from("!I", packet, 28)[0] == n               # ... then the sequence
        assert packet[32:44] == icv(packet, KEY, unicast=True)           # ... and the ICV over both
        assert packet[24:28] == LO4 and packet[20] == 112
        assert split(packet) == (vrrp, LO4, LO4, 255)
        assert receiver.check(packet) is None
    assert receiver.seq == ah.seq == 3
    assert receiver.check(packets[1]) is not None                         # a replay
    # set_adverts without a hook: plain packets again (nothing arrives on the AH socket)
    sender.set_adverts(7, asock, LO4, [(LO4, vrrp)], 255)
    sender.send_now(7)
    assert _receive(rx, 1, timeout=0.2) == []
