"""Internet checksum (RFC 1071) and the VRRP variants, in pure Python.

Twin of the compiled ``checksum`` module: same names, same results. Buffers are anything
that supports the buffer protocol (bytes, bytearray, memoryview), of any length.

Sums are "partial one's complement sums": 16-bit folded, not complemented (0..0xffff).
A partial sum can be fed as ``initial`` to combine a pseudo-header with a message.
"""

from __future__ import annotations

from typing import Final, TypeAlias

Buffer: TypeAlias = bytes | bytearray | memoryview

IPPROTO_VRRP: Final = 112
IPPROTO_ICMPV6: Final = 58


def as_bytes(data: Buffer) -> bytes:
    """The raw bytes of any buffer (``bytes(5)`` would be five zeros; a memoryview refuses an int)."""
    return data if type(data) is bytes else memoryview(data).tobytes()


def _fold(total: int) -> int:
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _check_initial(initial: int) -> None:
    if not 0 <= initial <= 0xFFFF:
        raise ValueError(f"initial partial sum {initial} out of range 0..65535")


def ones_sum(data: Buffer, initial: int = 0) -> int:
    """Folded one's complement sum of ``data`` as big-endian 16-bit words (odd tail padded with 0)."""
    _check_initial(initial)
    raw = as_bytes(data)
    if len(raw) & 1:
        raw += b"\0"
    # 2**16 == 1 (mod 0xffff), so the big integer's residue is the end-around-carry sum;
    # the one case it cannot tell apart is a non-zero sum of 0xffff, which the residue shows as 0.
    value = int.from_bytes(raw, "big")
    total = value % 0xFFFF
    if total == 0 and value:
        total = 0xFFFF
    return _fold(total + initial) if initial else total


def internet_checksum(data: Buffer, initial: int = 0) -> int:
    """RFC 1071 checksum of ``data`` (plus a partial sum ``initial``): the value a header carries."""
    return ~ones_sum(data, initial) & 0xFFFF


def pseudo_header_sum(src: Buffer, dst: Buffer, length: int, proto: int = IPPROTO_VRRP) -> int:
    """Partial sum of the IPv4 (4-byte addresses) or IPv6 (16-byte) upper-layer pseudo-header."""
    s = as_bytes(src)
    d = as_bytes(dst)
    if len(s) != len(d) or len(s) not in (4, 16):
        raise ValueError(f"pseudo-header needs two IPv4 or two IPv6 addresses, got {len(s)} and {len(d)} bytes")
    if not 0 <= length <= 0xFFFFFFFF or not 0 <= proto <= 0xFF:
        raise ValueError(f"pseudo-header length {length} or protocol {proto} out of range")
    if len(s) == 4:
        if length > 0xFFFF:
            raise ValueError(f"IPv4 pseudo-header length {length} does not fit 16 bits")
        extra = bytes((0, proto)) + length.to_bytes(2, "big")
    else:
        extra = length.to_bytes(4, "big") + bytes((0, 0, 0, proto))
    return ones_sum(s + d + extra)


def vrrp_checksum(msg: Buffer, version: int, src: Buffer = b"", dst: Buffer = b"",
                  v3_checksum_as_v2: bool = False) -> int:
    """Checksum a VRRP message should carry; its own checksum field (bytes 6-7) counts as zero.

    v2, and v3 with ``v3_checksum_as_v2``: the message only. v3: the IPv4 or IPv6 pseudo-header
    of ``src`` and the real destination ``dst`` (group or unicast peer), protocol 112.
    """
    raw = as_bytes(msg)
    if len(raw) < 8:
        raise ValueError(f"VRRP message of {len(raw)} bytes is shorter than its 8-byte header")
    initial = 0
    if version != 2 and not v3_checksum_as_v2:
        initial = pseudo_header_sum(src, dst, len(raw))
    return internet_checksum(raw[:6] + b"\0\0" + raw[8:], initial)


def update_checksum(checksum: int, old_word: int, new_word: int) -> int:
    """RFC 1624 eqn. 3: the checksum after one 16-bit word of the covered data changed.

    Exact for any data that does not become all zero (a VRRP message never does).
    """
    total = (~checksum & 0xFFFF) + (~old_word & 0xFFFF) + (new_word & 0xFFFF)
    return ~_fold(total) & 0xFFFF
