"""io/ipsec_ah against a real keepalived 2.2.7 AH advert (tests/golden/v2_ipv4_mcast_ah.*):
the ICV, sealing our own packet into the same bytes, and the receive checks (ICV, SPI,
sequence number) with keepalived's log texts."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from harness.golden import GoldenCase, golden_cases
from pykeepalived.io import ipsec_ah
from pykeepalived.io.ipsec_ah import IpsecAh, icv, split

CASES = golden_cases("ah")


@pytest.fixture
def case() -> GoldenCase:
    assert CASES, "tests/golden has no AH capture"
    return CASES[0]


def _key(case: GoldenCase) -> bytes:
    return str(case.fields["auth_pass"]).encode()


def _src(case: GoldenCase) -> bytes:
    return ipaddress.ip_address(case.fields["src"]).packed


def test_golden_layout(case: GoldenCase) -> None:
    ip, f = case.data, case.fields
    assert ip[9] == ipsec_ah.IPPROTO_AH and len(ip) == struct.unpack_from("!H", ip, 2)[0]
    assert (ip[20], ip[21], ip[22:24]) == (112, 4, b"\0\0") == (f["next_header"], f["payload_len"], b"\0\0")
    assert ip[24:28] == _src(case) == bytes.fromhex(f["spi"])
    assert ip[44:].hex() == f["vrrp"] and ip[44 + 4] == 2          # VRRP auth type 2, auth data zero
    assert ip[44 + 12:] == bytes(8)


def test_icv_matches_keepalived(case: GoldenCase) -> None:
    ip = case.data
    assert icv(ip, _key(case), unicast=False) == ip[32:44] == bytes.fromhex(case.fields["icv"])
    # mutable fields do not count: TOS, fragment offset, header checksum
    mutated = bytearray(ip)
    mutated[1], mutated[6], mutated[10:12] = 0x10, 0x40, b"\x12\x34"
    assert icv(bytes(mutated), _key(case), unicast=False) == ip[32:44]
    # the TTL does for multicast, not for unicast
    mutated[8] = 64
    assert icv(bytes(mutated), _key(case), unicast=False) != ip[32:44]
    assert icv(bytes(mutated), _key(case), unicast=True) == icv(ip, _key(case), unicast=True)
    # the key: only the first 8 bytes, zero-padded
    assert icv(ip, _key(case) + b"ignored", unicast=False) == ip[32:44]
    assert icv(ip, b"secret1", unicast=False) != ip[32:44]


def test_seal_builds_keepalived_bytes(case: GoldenCase) -> None:
    """Our send path: IPv4 header (protocol 112, checksum 0 as the kernel fills it in, the IP
    ID already set) + header() + VRRP message, sealed with the counter one below the capture."""
    ip, f = case.data, case.fields
    ah = IpsecAh(_key(case), _src(case), unicast=False)
    ah.seq = int(f["seq"]) - 1
    unsealed = bytearray(ip[:20] + ah.header() + ip[44:])
    unsealed[9] = 112
    unsealed[10:12] = b"\0\0"
    sealed = ah.seal(bytes(unsealed))
    expected = bytearray(ip)
    expected[10:12] = b"\0\0"
    assert sealed == bytes(expected)
    assert ah.seq == f["seq"]
    # the next one carries the next number
    assert struct.unpack_from("!I", ah.seal(bytes(unsealed)), 28)[0] == f["seq"] + 1


def test_check_accepts_then_rejects_replay(case: GoldenCase) -> None:
    ip = case.data
    ah = IpsecAh(_key(case), b"\0" * 4, unicast=False)
    assert ah.check(ip) is None
    assert ah.seq == case.fields["seq"]
    seq = case.fields["seq"]
    assert ah.check(ip) == (f"IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({seq})")


def test_check_rejects_bad_password_and_keeps_the_counter(case: GoldenCase) -> None:
    ah = IpsecAh(b"wrongpwd", b"\0" * 4, unicast=False)
    assert ah.check(case.data) == ("IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or "
                                   "bad password !")
    assert ah.seq == 0
    tampered = bytearray(case.data)
    tampered[44 + 2] = 1                       # priority changed in flight
    assert IpsecAh(_key(case), b"", unicast=False).check(bytes(tampered)) == ipsec_ah.BAD_ICV


def test_check_rejects_spi_other_than_source(case: GoldenCase) -> None:
    ah = IpsecAh(_key(case), b"", unicast=False)
    forged = bytearray(case.data)
    forged[24:28] = bytes([10, 0, 0, 1])
    forged[32:44] = icv(bytes(forged), _key(case), unicast=False)   # a sender that knows the key
    saddr, spi = struct.unpack("=I", case.data[12:16])[0], struct.unpack("=I", bytes([10, 0, 0, 1]))[0]
    assert ah.check(bytes(forged)) == f"IPSEC AH : invalid IPSEC SPI value. {saddr} and expect {spi}"


def test_seq_stops_at_keepalived_limit() -> None:
    ah = IpsecAh(b"k", bytes(4), unicast=False)
    ah.seq = ipsec_ah.SEQ_MAX
    packet = bytes([0x45]) + bytes(19) + ah.header() + bytes(20)
    ah.seal(packet)
    ah.seal(packet)
    assert ah.seq == ipsec_ah.SEQ_MAX + 1


def test_split(case: GoldenCase) -> None:
    ip = case.data
    parts = split(ip)
    assert parts is not None
    payload, src, dst, ttl = parts
    assert payload == ip[44:] and src == _src(case) and dst == ipaddress.ip_address(case.fields["dst"]).packed
    assert ttl == case.fields["ttl"]
    other = bytearray(ip)
    other[20] = 6                               # AH for TCP: not ours
    assert split(bytes(other)) is None
    assert split(ip[:50]) is None               # truncated
    plain = bytearray(ip)
    plain[9] = 112
    assert split(bytes(plain)) is None
