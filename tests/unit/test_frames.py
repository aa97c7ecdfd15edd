"""Gratuitous ARP and unsolicited NA frames (spec section 4.6), against both twins."""

from __future__ import annotations

import socket

import pytest
from fastpath_reference import ref_pseudo6, ref_sum

MAC = bytes.fromhex("020000000001")
VMAC = bytes.fromhex("00005e000133")


def A6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def test_garp_layout(fastpath):
    vip = socket.inet_aton("192.0.2.131")
    frame = fastpath.codec.build_garp(VMAC, vip)
    assert frame == (
        b"\xff" * 6 + VMAC + b"\x08\x06"        # Ethernet broadcast, ARP
        + b"\x00\x01\x08\x00\x06\x04\x00\x01"   # Ethernet/IPv4, op 1 = request
        + VMAC + vip                             # sender MAC = VMAC, sender IP = VIP
        + b"\xff" * 6 + vip                      # target MAC broadcast, target IP = VIP
    )
    assert len(frame) == fastpath.codec.GARP_LEN == 42


def _na_expected(mac: bytes, vip: bytes, flags: int) -> bytes:
    icmp = bytes((136, 0, 0, 0, flags, 0, 0, 0)) + vip + b"\x02\x01" + mac
    csum = ~ref_sum(ref_pseudo6(vip, A6("ff02::1"), len(icmp), 58) + icmp) & 0xFFFF
    icmp = icmp[:2] + csum.to_bytes(2, "big") + icmp[4:]
    ip6 = b"\x60\0\0\0" + len(icmp).to_bytes(2, "big") + b"\x3a\xff" + vip + A6("ff02::1")
    return bytes.fromhex("333300000001") + mac + b"\x86\xdd" + ip6 + icmp


@pytest.mark.parametrize(("router", "flags"), [(False, 0x20), (True, 0xA0)])
def test_unsolicited_na_layout(fastpath, router, flags):
    vip = A6("2001:db8::161")
    frame = fastpath.codec.build_unsolicited_na(MAC, vip, router)
    assert frame == _na_expected(MAC, vip, flags)
    assert len(frame) == fastpath.codec.NA_LEN == 86
    assert frame[21] == 255  # hop limit
    # The ICMPv6 checksum verifies (sums to all ones with the pseudo-header).
    assert ref_sum(ref_pseudo6(vip, A6("ff02::1"), 32, 58) + frame[54:]) == 0xFFFF


def test_builders_reject_bad_lengths(fastpath):
    with pytest.raises(ValueError, match="MAC"):
        fastpath.codec.build_garp(b"\0" * 5, b"\0" * 4)
    with pytest.raises(ValueError, match="IPv4"):
        fastpath.codec.build_garp(MAC, b"\0" * 16)
    with pytest.raises(ValueError, match="IPv6"):
        fastpath.codec.build_unsolicited_na(MAC, b"\0" * 4)
