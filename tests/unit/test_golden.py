"""Real keepalived 2.2.7 packets (tests/golden, captured in namespaces): decode to the recorded
fields and re-encode to the captured bytes, in both twins."""

from __future__ import annotations

import ipaddress

import pytest
from pykeepalived._fastpath import codec_py

from harness.golden import GoldenCase, golden_cases

VRRP = golden_cases("vrrp")
GARP = golden_cases("garp")
NA = golden_cases("na")


def _packed(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _expected(case: GoldenCase) -> tuple:
    f = case.fields
    return (f["version"], f["type"], f["vrid"], f["priority"], f["count"], f["auth_type"], f["adver_int"],
            f["checksum"], tuple(_packed(a) for a in f["addresses"]), bytes.fromhex(f["auth_data"]))


def _family(case: GoldenCase) -> int:
    return codec_py.AF_INET if case.fields["family"] == 4 else codec_py.AF_INET6


def test_golden_set_is_there():
    assert len(VRRP) >= 5 and GARP and NA, "tests/golden is missing captures"
    kinds = {(c.fields["version"], c.fields["family"]) for c in VRRP}
    assert {(2, 4), (3, 4), (3, 6)} <= kinds
    assert any(c.fields["auth_type"] == 1 for c in VRRP)


@pytest.mark.parametrize("case", VRRP, ids=[c.name for c in VRRP])
def test_golden_advert_decodes(fastpath, case):
    src, dst = _packed(case.fields["src"]), _packed(case.fields["dst"])
    advert, reason = fastpath.codec.decode_advert(case.data, _family(case), src, dst)
    assert reason == codec_py.OK, codec_py.REASON_NAMES[reason]
    assert advert.astuple() == _expected(case)
    if _family(case) == codec_py.AF_INET6:  # as the runtime passes IPv6 (kernel-checked)
        assert fastpath.codec.decode_advert(case.data, _family(case), b"", b"")[0] == advert


@pytest.mark.parametrize("case", VRRP, ids=[c.name for c in VRRP])
def test_golden_advert_reencodes(fastpath, case):
    f = case.fields
    src, dst = _packed(f["src"]), _packed(f["dst"])
    wire = fastpath.codec.encode_advert(f["version"], f["vrid"], f["priority"], f["adver_int"],
                                        [_packed(a) for a in f["addresses"]], _family(case), src, dst,
                                        f["auth_type"], bytes.fromhex(f["auth_data"]))
    assert wire == case.data


def test_golden_unicast_peers_differ_only_by_checksum(fastpath):
    peers = sorted((c for c in VRRP if "unicast" in c.name), key=lambda c: c.name)
    if len(peers) < 2:
        pytest.skip("needs two unicast golden captures")
    a, b = peers[0], peers[1]
    assert a.data[:6] + a.data[8:] == b.data[:6] + b.data[8:] and a.data != b.data
    # One prebuilt advert, re-checksummed for the second peer, is exactly what keepalived sent it.
    buf = bytearray(a.data)
    fastpath.codec.patch_checksum(buf, len(buf), 3, _packed(b.fields["src"]), _packed(b.fields["dst"]))
    assert bytes(buf) == b.data


@pytest.mark.parametrize("case", GARP, ids=[c.name for c in GARP])
def test_golden_garp(fastpath, case):
    f = case.fields
    assert fastpath.codec.build_garp(_mac(f["sender_mac"]), _packed(f["sender_ip"])) == case.data


@pytest.mark.parametrize("case", NA, ids=[c.name for c in NA])
def test_golden_na(fastpath, case):
    f = case.fields
    frame = fastpath.codec.build_unsolicited_na(_mac(f["target_mac"]), _packed(f["target"]), f["router"])
    assert frame == case.data
