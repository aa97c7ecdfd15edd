"""RFC 1071 and VRRP checksums, run against both twins (fixture `fastpath`)."""

from __future__ import annotations

import random
import socket

import pytest
from fastpath_reference import ref_checksum, ref_pseudo4, ref_pseudo6, ref_sum, ref_vrrp_checksum

A = socket.inet_aton


def A6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


# Spec section 4.2 [obs 2.2.7]: 192.168.77.1 -> 192.168.77.2, VRRPv3 VRID 60 prio 110.
SPEC_V3 = bytes.fromhex("313c6e010064364ec0a84d96")
# Spec section 4.1 example v2 advert (VRID 51, prio 110, 1 addr, auth 0, int 1).
SPEC_V2 = bytes.fromhex("21336e01000162bdc0a84d64" + "00" * 8)


def test_spec_v3_vector_needs_the_unicast_destination(fastpath):
    cs = fastpath.checksum
    assert cs.vrrp_checksum(SPEC_V3, 3, A("192.168.77.1"), A("192.168.77.2")) == 0x364E
    assert cs.vrrp_checksum(SPEC_V3, 3, A("192.168.77.1"), A("224.0.0.18")) == 0x63E6
    assert cs.vrrp_checksum(SPEC_V3, 3, v3_checksum_as_v2=True) == 0x521F
    # A version-2 computation never uses the pseudo-header, whatever addresses are passed.
    assert cs.vrrp_checksum(SPEC_V3, 2, A("192.168.77.1"), A("192.168.77.2")) == 0x521F


def test_spec_v2_example(fastpath):
    assert fastpath.checksum.vrrp_checksum(SPEC_V2, 2) == 0x62BD
    assert fastpath.checksum.internet_checksum(SPEC_V2) == 0  # a correct message sums to zero


@pytest.mark.parametrize(("data", "expected"), [
    (b"", 0xFFFF),
    (b"\x00", 0xFFFF),
    (b"\xff\xff", 0x0000),
    (b"\x01", 0xFEFF),                            # odd tail is the high byte of a padded word
    (bytes.fromhex("0001f203f4f5f6f7"), 0x220D),  # RFC 1071 section 3 example (sum 0xddf2)
    (bytes.fromhex("4500003c1c4640004006" "0000ac100a63ac100a0c"), 0xB1E6),  # classic IPv4 header
])
def test_rfc1071_vectors(fastpath, data, expected):
    assert fastpath.checksum.internet_checksum(data) == expected
    assert fastpath.checksum.internet_checksum(memoryview(data)) == expected
    assert fastpath.checksum.internet_checksum(bytearray(data)) == expected


def test_random_buffers_match_reference(fastpath):
    rng = random.Random(1071)
    cs = fastpath.checksum
    for _ in range(3000):
        size = rng.choice((rng.randrange(0, 80), rng.randrange(0, 3000)))
        data = rng.randbytes(size)
        if rng.random() < 0.1:
            data = b"\xff" * size  # sums that are all ones
        expect = ref_checksum(data)
        assert cs.internet_checksum(data) == expect
        assert cs.ones_sum(data) == ref_sum(data)
        # Split at an odd or even boundary: memoryview slices must work like bytes.
        cut = rng.randrange(0, size + 1)
        view = memoryview(data)
        assert cs.internet_checksum(view[cut:]) == ref_checksum(data[cut:])
        # Partial sums chain: even-length head + tail == whole.
        head = cut & ~1
        assert cs.internet_checksum(data[head:], cs.ones_sum(data[:head])) == expect


def test_pseudo_headers_match_reference(fastpath):
    rng = random.Random(6)
    cs = fastpath.checksum
    for _ in range(300):
        s4, d4, s6, d6 = rng.randbytes(4), rng.randbytes(4), rng.randbytes(16), rng.randbytes(16)
        length = rng.randrange(0, 65536)
        assert cs.pseudo_header_sum(s4, d4, length) == ref_sum(ref_pseudo4(s4, d4, length))
        big = rng.randrange(0, 2**32)
        assert cs.pseudo_header_sum(s6, d6, big, 58) == ref_sum(ref_pseudo6(s6, d6, big, 58))


def test_vrrp_checksum_random_messages(fastpath):
    rng = random.Random(112)
    cs = fastpath.checksum
    for _ in range(500):
        v6 = rng.random() < 0.5
        alen = 16 if v6 else 4
        msg = rng.randbytes(8 + alen * rng.randrange(0, 20))
        src, dst = rng.randbytes(alen), rng.randbytes(alen)
        assert cs.vrrp_checksum(msg, 3, src, dst) == ref_vrrp_checksum(msg, 3, src, dst)
        assert cs.vrrp_checksum(msg, 3, src, dst, True) == ref_vrrp_checksum(msg, 2)
        assert cs.vrrp_checksum(msg, 2) == ref_vrrp_checksum(msg, 2)


def test_update_checksum_matches_recompute(fastpath):
    rng = random.Random(1624)
    cs = fastpath.checksum
    for _ in range(2000):
        data = bytearray(rng.randbytes(2 * rng.randrange(1, 20)))
        if rng.random() < 0.05:
            data = bytearray(len(data))  # all zero: the -0/+0 corner of RFC 1624
        old = cs.internet_checksum(data)
        i = 2 * rng.randrange(len(data) // 2)
        old_word = int.from_bytes(data[i:i + 2], "big")
        new_word = rng.choice((0, 0xFFFF, rng.randrange(0x10000)))
        data[i:i + 2] = new_word.to_bytes(2, "big")
        if not any(data):
            continue  # all-zero data has no one's complement sum but +0; eqn. 3 gives -0 (never a VRRP message)
        assert cs.update_checksum(old, old_word, new_word) == cs.internet_checksum(data)


def test_bad_arguments_raise_value_error(fastpath):
    cs = fastpath.checksum
    with pytest.raises(ValueError):
        cs.pseudo_header_sum(b"\0" * 4, b"\0" * 16, 8)
    with pytest.raises(ValueError):
        cs.pseudo_header_sum(b"\0" * 4, b"\0" * 4, 70000)
    with pytest.raises(ValueError):
        cs.vrrp_checksum(b"\0" * 7, 2)
    with pytest.raises(ValueError):
        cs.vrrp_checksum(SPEC_V3, 3)  # v3 without a pseudo-header
    with pytest.raises(ValueError):
        cs.internet_checksum(b"", 0x10000)
    with pytest.raises(TypeError):
        cs.internet_checksum(5)  # an int is not a buffer (bytes(5) would be five zeros)
