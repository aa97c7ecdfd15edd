"""VRRP advert encode/decode, run against both twins (fixture `fastpath`).

ADVERT_CASES drives both directions: encode(fields) == bytes and decode(bytes) == fields;
every prefix of every case must be rejected as ERR_LENGTH.
"""

from __future__ import annotations

import random
import socket
from typing import Any, NamedTuple

import pytest
from fastpath_reference import ref_decode, ref_message, ref_vrrp_checksum
from pykeepalived._fastpath import codec_py

AF4, AF6 = codec_py.AF_INET, codec_py.AF_INET6
A = socket.inet_aton


def A6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


class Case(NamedTuple):
    name: str
    family: int
    src: bytes
    dst: bytes
    as_v2: bool
    fields: tuple[Any, ...]  # version, type, vrid, priority, count, auth_type, adver_int, checksum, addresses, auth_data
    wire: bytes


def _v3_ipv4_many(n: int) -> Case:
    addrs = [bytes((10, 1, i // 256, i % 256)) for i in range(n)]
    src, dst = A("192.0.2.1"), A("224.0.0.18")
    wire = ref_message(3, 9, 200, 100, addrs, src, dst)
    return Case(f"v3_ipv4_{n}addr", AF4, src, dst, False,
                (3, 1, 9, 200, n, 0, 100, int.from_bytes(wire[6:8], "big"), tuple(addrs), b""), wire)


def _v3_ipv6_many(n: int) -> Case:
    addrs = [A6(f"2001:db8::{i + 1:x}") for i in range(n)]
    src, dst = A6("fe80::1"), A6("ff02::12")
    wire = ref_message(3, 250, 100, 300, addrs, src, dst)
    return Case(f"v3_ipv6_{n}addr", AF6, src, dst, False,
                (3, 1, 250, 100, n, 0, 300, int.from_bytes(wire[6:8], "big"), tuple(addrs), b""), wire)


ADVERT_CASES = [
    # Hand-assembled literals (checksums from the spec or the RFC 1071 reference).
    Case("spec_v2", AF4, A("192.168.77.100"), A("224.0.0.18"), False,
         (2, 1, 51, 110, 1, 0, 1, 0x62BD, (A("192.168.77.100"),), b"\0" * 8),
         bytes.fromhex("21336e01000162bdc0a84d64" + "00" * 8)),
    Case("spec_v3_unicast", AF4, A("192.168.77.1"), A("192.168.77.2"), False,
         (3, 1, 60, 110, 1, 0, 100, 0x364E, (A("192.168.77.150"),), b""),
         bytes.fromhex("313c6e010064364ec0a84d96")),
    Case("v3_checksum_as_v2", AF4, A("192.168.77.1"), A("192.168.77.2"), True,
         (3, 1, 60, 110, 1, 0, 100, 0x521F, (A("192.168.77.150"),), b""),
         bytes.fromhex("313c6e010064521fc0a84d96")),
    Case("v2_pass_2addr", AF4, A("198.51.100.9"), A("224.0.0.18"), False,
         (2, 1, 1, 255, 2, 1, 3, 0xBCE4, (A("198.51.100.1"), A("198.51.100.2")), b"password"),
         bytes.fromhex("2101ff020103bce4c6336401c633640270617373776f7264")),
    Case("v3_ipv4_0addr_max_interval", AF4, A("192.0.2.1"), A("224.0.0.18"), False,
         (3, 1, 7, 100, 0, 0, 4095, 0xB86C, (), b""),
         bytes.fromhex("310764000fffb86c")),
    Case("v3_ipv6_1addr", AF6, A6("fe80::1"), A6("ff02::12"), False,
         (3, 1, 200, 1, 1, 0, 25, 0xA144, (A6("2001:db8::1"),), b""),
         bytes.fromhex("31c801010019a14420010db8000000000000000000000001")),
    # Built by the reference encoder.
    _v3_ipv4_many(10), _v3_ipv4_many(255), _v3_ipv6_many(100), _v3_ipv6_many(255),
]
IDS = [c.name for c in ADVERT_CASES]


def _encode(codec, case: Case) -> bytes:
    version, _type, vrid, prio, _count, auth_type, adver_int, _csum, addrs, auth = case.fields
    return codec.encode_advert(version, vrid, prio, adver_int, list(addrs), case.family, case.src, case.dst,
                               auth_type, auth, case.as_v2)


@pytest.mark.parametrize("case", ADVERT_CASES, ids=IDS)
def test_encode_matches_wire(fastpath, case):
    assert _encode(fastpath.codec, case) == case.wire


@pytest.mark.parametrize("case", ADVERT_CASES, ids=IDS)
def test_decode_matches_fields(fastpath, case):
    advert, reason = fastpath.codec.decode_advert(case.wire, case.family, case.src, case.dst, case.as_v2)
    assert reason == codec_py.OK
    assert advert.astuple() == case.fields
    assert isinstance(advert, fastpath.codec.Advert)
    # The same bytes through any buffer type.
    for buf in (bytearray(case.wire), memoryview(case.wire)):
        assert fastpath.codec.decode_advert(buf, case.family, case.src, case.dst, case.as_v2)[0] == advert
    # Round trip through the Advert itself.
    assert fastpath.codec.encode(advert, case.family, case.src, case.dst, case.as_v2) == case.wire


@pytest.mark.parametrize("case", ADVERT_CASES, ids=IDS)
def test_every_truncation_is_a_length_error(fastpath, case):
    decode = fastpath.codec.decode_advert
    for cut in range(len(case.wire)):
        assert decode(case.wire[:cut], case.family, case.src, case.dst, case.as_v2) == (None, codec_py.ERR_LENGTH)


def test_advert_object(fastpath):
    case = ADVERT_CASES[3]
    advert, _ = fastpath.codec.decode_advert(case.wire, case.family, case.src, case.dst)
    assert advert.interval_seconds == 3.0
    v3, _ = fastpath.codec.decode_advert(ADVERT_CASES[1].wire, AF4, ADVERT_CASES[1].src, ADVERT_CASES[1].dst)
    assert v3.interval_seconds == 1.0 and v3.adver_int == 100
    with pytest.raises(AttributeError):
        advert.priority = 1
    assert advert == fastpath.codec.Advert(*case.fields)
    assert advert == codec_py.Advert(*case.fields)  # equal across twins
    assert hash(advert) == hash(codec_py.Advert(*case.fields))
    assert advert != v3
    assert "priority=255" in repr(advert)


def ref_message_like(msg: bytes, version: int, src: bytes, dst: bytes) -> bytes:
    """``msg`` with its checksum field set by the reference."""
    return msg[:6] + ref_vrrp_checksum(msg, version, src, dst).to_bytes(2, "big") + msg[8:]


S4, D4 = A("192.0.2.1"), A("224.0.0.18")
V4 = A("192.0.2.100")


@pytest.mark.parametrize(("name", "wire", "family", "src", "dst", "reason"), [
    ("version 4", ref_message_like(b"\x41\x01\x64\x01\x00\x64\0\0" + V4, 3, S4, D4), AF4, S4, D4, codec_py.ERR_VERSION),
    ("version 1", b"\x11\x01\x64\x01\x00\x01\0\0" + V4, AF4, S4, D4, codec_py.ERR_VERSION),
    ("v2 over IPv6", b"\x21\x01\x64\x00\x00\x01\0\0", AF6, b"", b"", codec_py.ERR_VERSION),
    ("unknown family", ref_message(3, 1, 100, 100, [V4], S4, D4), 99, S4, D4, codec_py.ERR_VERSION),
    ("version before type", b"\x52\x01\x64\x01\x00\x01\0\0" + V4, AF4, S4, D4, codec_py.ERR_VERSION),
    ("type 2 bad checksum", b"\x32\x01\x64\x01\x00\x64\0\0" + V4, AF4, S4, D4, codec_py.ERR_TYPE),
    ("type 0", b"\x20\x01\x64\x00\x00\x01\0\0" + b"\0" * 8, AF4, S4, D4, codec_py.ERR_TYPE),
    ("v3 bad checksum", b"\x31\x01\x64\x01\x00\x64\x12\x34" + V4, AF4, S4, D4, codec_py.ERR_CHECKSUM),
    ("v3 wrong pseudo dst", ref_message(3, 1, 100, 100, [V4], S4, A("192.0.2.2")), AF4, S4, D4, codec_py.ERR_CHECKSUM),
    ("v3 IPv4 without addresses", ref_message(3, 1, 100, 100, [V4], S4, D4), AF4, b"", b"", codec_py.ERR_CHECKSUM),
    ("v2 bad checksum and auth", b"\x21\x01\x64\x01\x07\x01\0\0" + V4 + b"\0" * 8, AF4, S4, D4, codec_py.ERR_CHECKSUM),
    ("v2 extra bytes before auth", ref_message(2, 1, 100, 1, [V4, V4], auth_type=7, count=1), AF4, S4, D4,
     codec_py.ERR_ADDR_COUNT),
    ("v3 two addresses counted as one", ref_message(3, 1, 100, 100, [V4, V4], S4, D4, count=1), AF4, S4, D4,
     codec_py.ERR_ADDR_COUNT),
    ("v2 auth type 3", ref_message(2, 1, 100, 1, [V4], auth_type=3), AF4, S4, D4, codec_py.ERR_AUTH),
    ("v2 AH accepted", ref_message(2, 1, 100, 1, [V4], auth_type=2), AF4, S4, D4, codec_py.OK),
    ("over 65535 bytes", b"\x31\x01\x64\x00" + b"\0" * 65532, AF6, b"", b"", codec_py.ERR_LENGTH),
])
def test_rejection_reasons_in_order(fastpath, name, wire, family, src, dst, reason):
    advert, got = fastpath.codec.decode_advert(wire, family, src, dst)
    assert got == reason, codec_py.REASON_NAMES[got]
    assert (advert is None) == (reason != codec_py.OK)


def test_ipv6_checksum_skipped_without_addresses_and_as_v2(fastpath):
    decode = fastpath.codec.decode_advert
    case = next(c for c in ADVERT_CASES if c.name == "v3_ipv6_1addr")
    broken = case.wire[:6] + b"\x12\x34" + case.wire[8:]
    assert decode(broken, AF6, case.src, case.dst)[1] == codec_py.ERR_CHECKSUM
    advert, reason = decode(broken, AF6, b"", b"")  # the kernel verified it (IPV6_CHECKSUM)
    assert reason == codec_py.OK and advert.checksum == 0x1234
    # keepalived's v3_checksum_as_v2 skips the v3 check on receive.
    assert decode(ADVERT_CASES[1].wire, AF4, S4, D4, True)[1] == codec_py.OK
    assert decode(ADVERT_CASES[2].wire, AF4, ADVERT_CASES[2].src, ADVERT_CASES[2].dst)[1] == codec_py.ERR_CHECKSUM
    # ... but never a v2 check.
    bad_v2 = ADVERT_CASES[0].wire[:6] + b"\0\0" + ADVERT_CASES[0].wire[8:]
    assert decode(bad_v2, AF4, S4, D4, True)[1] == codec_py.ERR_CHECKSUM


def test_v3_reserved_bits_are_ignored(fastpath):
    wire = ref_message(3, 5, 100, 0xF000 | 100, [V4], S4, D4)
    advert, reason = fastpath.codec.decode_advert(wire, AF4, S4, D4)
    assert reason == codec_py.OK and advert.adver_int == 100


def test_random_mutations_match_reference(fastpath):
    """Seeded random buffers (mutated valid packets and noise) against the plain reference decoder."""
    rng = random.Random(3768)
    decode = fastpath.codec.decode_advert
    for i in range(4000):
        case = ADVERT_CASES[i % len(ADVERT_CASES)]
        data = bytearray(case.wire)
        choice = rng.random()
        if choice < 0.6:
            for _ in range(rng.randrange(1, 4)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.8:
            data = data[:rng.randrange(len(data) + 1)] + rng.randbytes(rng.randrange(0, 40))
        else:
            data = bytearray(rng.randbytes(rng.randrange(0, 64)))
            if data and rng.random() < 0.7:
                data[0] = rng.choice((0x21, 0x31))
        src, dst = (b"", b"") if rng.random() < 0.1 else (case.src, case.dst)
        as_v2 = rng.random() < 0.1
        got_adv, got_reason = decode(bytes(data), case.family, src, dst, as_v2)
        exp_fields, exp_reason = ref_decode(bytes(data), case.family, src, dst, as_v2)
        assert got_reason == exp_reason, (data.hex(), got_reason, exp_reason)
        assert (got_adv.astuple() if got_adv else None) == exp_fields


def test_twins_agree_on_noise(both_twins):
    py, c = both_twins
    rng = random.Random(7)
    for _ in range(3000):
        data = rng.randbytes(rng.randrange(0, 48))
        if data and rng.random() < 0.8:
            data = bytes((rng.choice((0x21, 0x31, 0x22)),)) + data[1:]
        family = rng.choice((AF4, AF6))
        src, dst = (S4, D4) if family == AF4 else (A6("fe80::1"), A6("ff02::12"))
        assert py.codec.decode_advert(data, family, src, dst) == c.codec.decode_advert(data, family, src, dst)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"version": 4}, "version"),
    ({"version": 2, "family": AF6, "addresses": []}, "IPv4 only"),
    ({"vrid": 256}, "vrid"),
    ({"priority": -1}, "priority"),
    ({"adver_int": 4096}, "adver_int"),
    ({"version": 2, "adver_int": 256}, "adver_int"),
    ({"addresses": [V4] * 256}, "address count"),
    ({"addresses": [b"\0" * 16]}, "address of 16 bytes"),
    ({"family": 3}, "family"),
    ({"dst": b""}, "pseudo-header"),
])
def test_encode_rejects_bad_arguments(fastpath, kwargs, message):
    args = {"version": 3, "vrid": 1, "priority": 100, "adver_int": 100, "addresses": [V4], "family": AF4,
            "src": S4, "dst": D4}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fastpath.codec.encode_advert(**args)


def test_encode_pads_and_truncates_the_password(fastpath):
    enc = fastpath.codec.encode_advert
    assert enc(2, 1, 100, 1, [V4], AF4, auth_type=1, auth_data=b"abc")[-8:] == b"abc\0\0\0\0\0"
    assert enc(2, 1, 100, 1, [V4], AF4, auth_type=1, auth_data=b"0123456789")[-8:] == b"01234567"
    # v3 has no auth field: auth arguments are ignored.
    assert enc(3, 1, 100, 100, [V4], AF4, S4, D4, 1, b"secret") == ref_message(3, 1, 100, 100, [V4], S4, D4)


def test_ipv6_encode_without_addresses_leaves_checksum_to_kernel(fastpath):
    wire = fastpath.codec.encode_advert(3, 1, 100, 100, [A6("2001:db8::1")], AF6)
    assert wire[6:8] == b"\0\0"
    assert wire == b"\x31\x01\x64\x01\x00\x64\0\0" + A6("2001:db8::1")


def test_patch_priority_equals_full_encode(fastpath):
    rng = random.Random(8)
    codec = fastpath.codec
    for case in ADVERT_CASES:
        version, _t, vrid, _p, _c, auth_type, adver_int, _cs, addrs, auth = case.fields
        ip_header = rng.randbytes(20)
        buf = bytearray(ip_header + case.wire)
        for prio in (0, 255, rng.randrange(256), rng.randrange(256)):
            codec.patch_priority(buf, prio, 20)
            want = codec.encode_advert(version, vrid, prio, adver_int, list(addrs), case.family, case.src, case.dst,
                                       auth_type, auth, case.as_v2)
            assert bytes(buf) == ip_header + want
    view = memoryview(bytearray(ADVERT_CASES[0].wire))
    codec.patch_priority(view, 1)
    assert view[2] == 1
    with pytest.raises(ValueError):
        codec.patch_priority(bytearray(7), 1)
    with pytest.raises(ValueError):
        codec.patch_priority(bytearray(ADVERT_CASES[0].wire), 256)
    with pytest.raises((TypeError, BufferError)):
        codec.patch_priority(ADVERT_CASES[0].wire, 1)  # bytes are immutable


def test_patch_checksum_per_unicast_peer(fastpath):
    codec = fastpath.codec
    peers = [A("192.0.2.2"), A("192.0.2.3"), A("203.0.113.77")]
    buf = bytearray(b"\xaa" * 20) + bytearray(codec.encode_advert(3, 4, 150, 100, [V4], AF4, S4, peers[0]))
    n = len(buf) - 20
    for peer in peers:
        value = codec.patch_checksum(buf, n, 3, S4, peer, offset=20)
        assert bytes(buf[20:]) == codec.encode_advert(3, 4, 150, 100, [V4], AF4, S4, peer)
        assert value == int.from_bytes(buf[26:28], "big")
        assert codec.decode_advert(bytes(buf[20:]), AF4, S4, peer)[1] == codec_py.OK
    codec.patch_checksum(buf, n, 3, v3_checksum_as_v2=True, offset=20)
    assert bytes(buf[20:]) == codec.encode_advert(3, 4, 150, 100, [V4], AF4, v3_checksum_as_v2=True)
    with pytest.raises(ValueError):
        codec.patch_checksum(buf, n + 1, 3, S4, peers[0], offset=20)


def test_reason_constants_are_one_definition(fastpath):
    for name in ("OK", "ERR_LENGTH", "ERR_VERSION", "ERR_TYPE", "ERR_CHECKSUM", "ERR_ADDR_COUNT", "ERR_AUTH",
                 "REASON_NAMES", "AF_INET", "AF_INET6"):
        assert getattr(fastpath.codec, name) is getattr(codec_py, name)
    assert [codec_py.OK, codec_py.ERR_LENGTH, codec_py.ERR_VERSION, codec_py.ERR_TYPE, codec_py.ERR_CHECKSUM,
            codec_py.ERR_ADDR_COUNT, codec_py.ERR_AUTH] == list(range(7))
