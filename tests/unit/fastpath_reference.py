"""Tiny, obviously-correct references the fast path is checked against (slow on purpose)."""

from __future__ import annotations

import struct


def ref_sum(data: bytes) -> int:
    """RFC 1071 section 4.1 loop: 16-bit big-endian words, end-around carry."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ref_checksum(data: bytes) -> int:
    return ~ref_sum(data) & 0xFFFF


def ref_pseudo4(src: bytes, dst: bytes, length: int, proto: int = 112) -> bytes:
    return src + dst + bytes((0, proto)) + length.to_bytes(2, "big")


def ref_pseudo6(src: bytes, dst: bytes, length: int, proto: int = 112) -> bytes:
    return src + dst + length.to_bytes(4, "big") + bytes((0, 0, 0, proto))


def ref_vrrp_checksum(msg: bytes, version: int, src: bytes = b"", dst: bytes = b"", as_v2: bool = False) -> int:
    body = msg[:6] + b"\0\0" + msg[8:]
    if version == 2 or as_v2:
        return ref_checksum(body)
    pseudo = ref_pseudo4 if len(src) == 4 else ref_pseudo6
    return ref_checksum(pseudo(src, dst, len(msg)) + body)


def ref_message(version: int, vrid: int, priority: int, adver_int: int, addresses: list[bytes],
                src: bytes = b"", dst: bytes = b"", auth_type: int = 0, auth_data: bytes = b"",
                as_v2: bool = False, count: int | None = None) -> bytes:
    """A VRRP message assembled field by field, checksum from the reference."""
    n = len(addresses) if count is None else count
    head = bytes((version << 4 | 1, vrid, priority, n))
    head += bytes((auth_type, adver_int)) if version == 2 else adver_int.to_bytes(2, "big")
    msg = head + b"\0\0" + b"".join(addresses)
    if version == 2:
        msg += auth_data[:8].ljust(8, b"\0")
    csum = ref_vrrp_checksum(msg, version, src, dst, as_v2)
    return msg[:6] + csum.to_bytes(2, "big") + msg[8:]


OK, LENGTH, VERSION, TYPE, CHECKSUM, ADDR_COUNT, AUTH = range(7)


def ref_decode(data: bytes, family: int, src: bytes, dst: bytes, as_v2: bool = False) -> tuple[tuple | None, int]:
    """The codec contract written as plainly as possible: (fields tuple, reason)."""
    alen = {2: 4, 10: 16}.get(family)
    if alen is None:
        return None, VERSION
    if len(data) < 8 or len(data) > 65535:
        return None, LENGTH
    version, count = data[0] >> 4, data[3]
    expected = 8 + count * alen + (8 if version == 2 and alen == 4 else 0)
    if len(data) < expected:
        return None, LENGTH
    if version not in (2, 3) or (version == 2 and alen != 4):
        return None, VERSION
    if data[0] & 0xF != 1:
        return None, TYPE
    if version == 2:
        if ref_sum(data) != 0xFFFF:
            return None, CHECKSUM
    elif not as_v2 and not (alen == 16 and not src and not dst):
        if len(src) != alen or len(dst) != alen:
            return None, CHECKSUM
        pseudo = ref_pseudo4 if alen == 4 else ref_pseudo6
        if ref_sum(pseudo(src, dst, len(data)) + data) != 0xFFFF:
            return None, CHECKSUM
    if len(data) != expected:
        return None, ADDR_COUNT
    addrs = tuple(data[8 + i * alen: 8 + (i + 1) * alen] for i in range(count))
    csum = int.from_bytes(data[6:8], "big")
    if version == 2:
        if data[4] > 2:
            return None, AUTH
        return (2, 1, data[1], data[2], count, data[4], data[5], csum, addrs, data[-8:]), OK
    return (3, 1, data[1], data[2], count, 0, int.from_bytes(data[4:6], "big") & 0xFFF, csum, addrs, b""), OK
