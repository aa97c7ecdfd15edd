"""VRRP advertisement codec and GARP / unsolicited NA frame builders, in pure Python.

Twin of the compiled ``codec`` module: same names, same results, same reason codes (the
constants below are the single definition; the compiled module re-exports them).

The codec handles the VRRP message only (what follows the IPv4 header / the IPv6 payload).
Wire layout (RFC 3768 / RFC 5798)::

    0: version<<4 | type   1: vrid   2: priority   3: count of addresses
    4: v2: auth type, 5: v2: advert interval (seconds)
    4-5: v3: 4 reserved bits + 12-bit max advert interval (centiseconds)
    6-7: checksum   8..: count addresses (4 or 16 bytes)   v2/IPv4 only: 8 bytes auth data

Decoding checks, in this order, and reports the first failure:
ERR_LENGTH (shorter than 8 bytes or than the header announces, or over 65535 bytes),
ERR_VERSION (not 2 or 3, v2 over IPv6, or an unknown family), ERR_TYPE (not 1 =
ADVERTISEMENT), ERR_CHECKSUM, ERR_ADDR_COUNT (more bytes than the count announces),
ERR_AUTH (v2 auth type not 0, 1 or 2). Semantics (VRID, priority, interval, password, VIP
list, TTL) are the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from .checksum_py import IPPROTO_ICMPV6, Buffer, as_bytes, internet_checksum, pseudo_header_sum, vrrp_checksum

AF_INET: Final = 2  # Linux values; the codec must not import socket (the sans-IO core uses it)
AF_INET6: Final = 10

VRRP_TYPE_ADVERTISEMENT: Final = 1
AUTH_NONE: Final = 0
AUTH_PASS: Final = 1
AUTH_AH: Final = 2
AUTH_DATA_LEN: Final = 8
HEADER_LEN: Final = 8

OK: Final = 0
ERR_LENGTH: Final = 1
ERR_VERSION: Final = 2
ERR_TYPE: Final = 3
ERR_CHECKSUM: Final = 4
ERR_ADDR_COUNT: Final = 5
ERR_AUTH: Final = 6

REASON_NAMES: Final[dict[int, str]] = {
    OK: "ok", ERR_LENGTH: "length", ERR_VERSION: "version", ERR_TYPE: "type",
    ERR_CHECKSUM: "checksum", ERR_ADDR_COUNT: "address count", ERR_AUTH: "auth",
}

_FIELDS: Final = ("version", "type", "vrid", "priority", "count", "auth_type", "adver_int",
                  "checksum", "addresses", "auth_data")


class Advert:
    """One decoded VRRP advertisement (immutable).

    ``adver_int`` is the raw interval field: **seconds** for version 2, **centiseconds** for
    version 3 (``interval_seconds`` converts). ``count`` is the header's address count;
    ``addresses`` the packed addresses (4 or 16 bytes each). ``auth_type``/``auth_data`` are
    v2 only (0 and b"" for v3). ``checksum`` is the checksum field as received.
    """

    __slots__ = _FIELDS

    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int
    adver_int: int
    checksum: int
    addresses: tuple[bytes, ...]
    auth_data: bytes

    def __init__(self, version: int, type: int, vrid: int, priority: int, count: int, auth_type: int,
                 adver_int: int, checksum: int, addresses: tuple[bytes, ...], auth_data: bytes) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "version", version)
        setattr_(self, "type", type)
        setattr_(self, "vrid", vrid)
        setattr_(self, "priority", priority)
        setattr_(self, "count", count)
        setattr_(self, "auth_type", auth_type)
        setattr_(self, "adver_int", adver_int)
        setattr_(self, "checksum", checksum)
        setattr_(self, "addresses", tuple(addresses))
        setattr_(self, "auth_data", as_bytes(auth_data))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Advert is immutable (tried to set {name})")

    @property
    def interval_seconds(self) -> float:
        """The advert interval in seconds whatever the version."""
        return float(self.adver_int) if self.version == 2 else self.adver_int / 100.0

    def astuple(self) -> tuple[Any, ...]:
        return (self.version, self.type, self.vrid, self.priority, self.count, self.auth_type,
                self.adver_int, self.checksum, self.addresses, self.auth_data)

    def __eq__(self, other: object) -> bool:
        # Compares equal to the other twin's Advert too, so tests can mix them.
        if type(other).__name__ != "Advert" or not hasattr(other, "astuple"):
            return NotImplemented
        return bool(self.astuple() == other.astuple())

    def __hash__(self) -> int:
        return hash(self.astuple())

    def __repr__(self) -> str:
        return "Advert(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in _FIELDS) + ")"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Advert, self.astuple())


def _addr_len(family: int) -> int:
    if family == AF_INET:
        return 4
    if family == AF_INET6:
        return 16
    raise ValueError(f"unknown address family {family} (expected AF_INET=2 or AF_INET6=10)")


def decode_advert(buf: Buffer, family: int, src: Buffer = b"", dst: Buffer = b"",
                  v3_checksum_as_v2: bool = False) -> tuple[Advert | None, int]:
    """Decode and validate one VRRP message; returns ``(advert, OK)`` or ``(None, ERR_...)``.

    ``src``/``dst`` are the packed IP source and real destination (for the v3 pseudo-header).
    For IPv6 they may be empty: the kernel already verified the checksum (IPV6_CHECKSUM), so
    the check is skipped. ``v3_checksum_as_v2`` skips the v3 check, as keepalived does with
    that option (a v2 packet is always checked).
    Never raises for any bytes; an unknown ``family`` is reported as ERR_VERSION.
    """
    data = as_bytes(buf)
    n = len(data)
    if family == AF_INET:
        alen = 4
    elif family == AF_INET6:
        alen = 16
    else:
        return None, ERR_VERSION
    if n < HEADER_LEN or n > 0xFFFF:  # no IP packet carries more
        return None, ERR_LENGTH
    version = data[0] >> 4
    count = data[3]
    auth_len = AUTH_DATA_LEN if version == 2 and alen == 4 else 0
    expected = HEADER_LEN + count * alen + auth_len
    if n < expected:
        return None, ERR_LENGTH
    if version != 3 and (version != 2 or alen != 4):
        return None, ERR_VERSION
    if data[0] & 0x0F != VRRP_TYPE_ADVERTISEMENT:
        return None, ERR_TYPE
    if version == 2:
        if internet_checksum(data) != 0:
            return None, ERR_CHECKSUM
    elif not v3_checksum_as_v2:
        s = as_bytes(src)
        d = as_bytes(dst)
        if not (alen == 16 and not s and not d):
            if len(s) != alen or len(d) != alen:
                return None, ERR_CHECKSUM
            if internet_checksum(data, pseudo_header_sum(s, d, n)) != 0:
                return None, ERR_CHECKSUM
    if n != expected:
        return None, ERR_ADDR_COUNT
    end = HEADER_LEN + count * alen
    addresses = tuple(data[i:i + alen] for i in range(HEADER_LEN, end, alen))
    checksum = (data[6] << 8) | data[7]
    if version == 2:
        auth_type = data[4]
        if auth_type > AUTH_AH:
            return None, ERR_AUTH
        return Advert(2, 1, data[1], data[2], count, auth_type, data[5], checksum, addresses,
                      data[end:end + AUTH_DATA_LEN]), OK
    adver_int = ((data[4] << 8) | data[5]) & 0x0FFF
    return Advert(3, 1, data[1], data[2], count, 0, adver_int, checksum, addresses, b""), OK


def encode_advert(version: int, vrid: int, priority: int, adver_int: int, addresses: Sequence[Buffer],
                  family: int, src: Buffer = b"", dst: Buffer = b"", auth_type: int = AUTH_NONE,
                  auth_data: Buffer = b"", v3_checksum_as_v2: bool = False) -> bytes:
    """Build one VRRP message with its checksum filled in.

    ``adver_int``: seconds (v2, 0..255) or centiseconds (v3, 0..4095). v2 is IPv4 only and
    carries ``auth_type`` plus ``auth_data`` truncated or zero-padded to 8 bytes (the PASS
    password); v3 ignores both. v3 needs ``src`` and the real ``dst`` for its pseudo-header
    unless ``v3_checksum_as_v2``; for IPv6 with empty src/dst the checksum is left 0 (the
    kernel fills it in through IPV6_CHECKSUM). Bad arguments raise ValueError.
    """
    alen = _addr_len(family)
    if version not in (2, 3):
        raise ValueError(f"VRRP version {version} is not 2 or 3")
    if version == 2 and alen != 4:
        raise ValueError("VRRP version 2 is IPv4 only")
    max_int = 0xFF if version == 2 else 0x0FFF
    for name, value, top in (("vrid", vrid, 0xFF), ("priority", priority, 0xFF),
                             ("adver_int", adver_int, max_int), ("auth_type", auth_type, 0xFF),
                             ("address count", len(addresses), 0xFF)):
        if not 0 <= value <= top:
            raise ValueError(f"{name} {value} out of range 0..{top}")
    parts = [bytes((version << 4 | VRRP_TYPE_ADVERTISEMENT, vrid, priority, len(addresses)))]
    if version == 2:
        parts.append(bytes((auth_type, adver_int)))
    else:
        parts.append(adver_int.to_bytes(2, "big"))
    parts.append(b"\0\0")
    for addr in addresses:
        raw = as_bytes(addr)
        if len(raw) != alen:
            raise ValueError(f"address of {len(raw)} bytes in an {'IPv4' if alen == 4 else 'IPv6'} advert")
        parts.append(raw)
    if version == 2:
        parts.append(as_bytes(auth_data)[:AUTH_DATA_LEN].ljust(AUTH_DATA_LEN, b"\0"))
    msg = bytearray(b"".join(parts))
    if version == 3 and alen == 16 and not as_bytes(src) and not as_bytes(dst) and not v3_checksum_as_v2:
        return bytes(msg)
    msg[6:8] = vrrp_checksum(msg, version, src, dst, v3_checksum_as_v2).to_bytes(2, "big")
    return bytes(msg)


def encode(advert: Advert, family: int, src: Buffer = b"", dst: Buffer = b"",
           v3_checksum_as_v2: bool = False) -> bytes:
    """``encode_advert`` from an Advert's fields (its ``checksum`` and ``count`` are recomputed)."""
    return encode_advert(advert.version, advert.vrid, advert.priority, advert.adver_int, advert.addresses,
                         family, src, dst, advert.auth_type, advert.auth_data, v3_checksum_as_v2)


def patch_priority(buf: bytearray | memoryview, priority: int, offset: int = 0) -> None:
    """Set the priority of a prebuilt advert in place and update its checksum incrementally.

    ``offset`` is where the VRRP message starts in ``buf`` (e.g. 20 after an IPv4 header).
    """
    if not 0 <= priority <= 0xFF:
        raise ValueError(f"priority {priority} out of range 0..255")
    if offset < 0 or len(buf) < offset + HEADER_LEN:
        raise ValueError("buffer too short for a VRRP header at that offset")
    old_word = (buf[offset + 2] << 8) | buf[offset + 3]
    new_word = (priority << 8) | buf[offset + 3]
    old_sum = (buf[offset + 6] << 8) | buf[offset + 7]
    total = (~old_sum & 0xFFFF) + (~old_word & 0xFFFF) + new_word  # RFC 1624 eqn. 3
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    new_sum = ~total & 0xFFFF
    buf[offset + 2] = priority
    buf[offset + 6] = new_sum >> 8
    buf[offset + 7] = new_sum & 0xFF


def patch_checksum(buf: bytearray | memoryview, length: int, version: int, src: Buffer = b"",
                   dst: Buffer = b"", v3_checksum_as_v2: bool = False, offset: int = 0) -> int:
    """Recompute the checksum of the ``length``-byte VRRP message at ``offset`` in place.

    For a unicast sender: the same prebuilt advert, a new ``dst`` per peer. Returns the checksum.
    """
    if offset < 0 or length < HEADER_LEN or len(buf) < offset + length:
        raise ValueError("buffer too short for a VRRP message of that length at that offset")
    value = vrrp_checksum(bytes(buf[offset:offset + length]), version, src, dst, v3_checksum_as_v2)
    buf[offset + 6] = value >> 8
    buf[offset + 7] = value & 0xFF
    return value


ETH_BROADCAST: Final = b"\xff" * 6
ETH_P_ARP: Final = 0x0806
ETH_P_IP: Final = 0x0800
ETH_P_IPV6: Final = 0x86DD
ALL_NODES: Final = bytes.fromhex("ff020000000000000000000000000001")
ALL_NODES_MAC: Final = bytes.fromhex("333300000001")
GARP_LEN: Final = 42
NA_LEN: Final = 86
ND_NEIGHBOR_ADVERT: Final = 136
NA_FLAG_ROUTER: Final = 0x80
NA_FLAG_OVERRIDE: Final = 0x20


def _check_len(name: str, value: Buffer, size: int) -> bytes:
    raw = as_bytes(value)
    if len(raw) != size:
        raise ValueError(f"{name} must be {size} bytes, got {len(raw)}")
    return raw


def build_garp(mac: Buffer, ip: Buffer) -> bytes:
    """Gratuitous ARP as keepalived sends it: a complete 42-byte Ethernet frame for AF_PACKET.

    Broadcast ARP request (op 1), sender = target IP = the VIP, sender MAC = the interface or
    VMAC, target MAC ff:ff:ff:ff:ff:ff inside the ARP body.
    """
    m = _check_len("MAC", mac, 6)
    a = _check_len("IPv4 address", ip, 4)
    return (ETH_BROADCAST + m + ETH_P_ARP.to_bytes(2, "big")
            + bytes((0, 1, 0x08, 0x00, 6, 4, 0, 1)) + m + a + ETH_BROADCAST + a)


def build_unsolicited_na(mac: Buffer, ip6: Buffer, router: bool = False) -> bytes:
    """Unsolicited neighbour advertisement: a complete 86-byte Ethernet+IPv6+ICMPv6 frame.

    From the VIP to ff02::1 (33:33:00:00:00:01), hop limit 255, Override flag (Router too if
    ``router``, i.e. forwarding is on), Target Link-Layer Address option = ``mac``, with the
    ICMPv6 checksum filled in.
    """
    m = _check_len("MAC", mac, 6)
    a = _check_len("IPv6 address", ip6, 16)
    flags = NA_FLAG_OVERRIDE | (NA_FLAG_ROUTER if router else 0)
    icmp = bytearray(bytes((ND_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0)) + a + bytes((2, 1)) + m)
    csum = internet_checksum(icmp, pseudo_header_sum(a, ALL_NODES, len(icmp), IPPROTO_ICMPV6))
    icmp[2:4] = csum.to_bytes(2, "big")
    ip6_header = (bytes((0x60, 0, 0, 0)) + len(icmp).to_bytes(2, "big") + bytes((IPPROTO_ICMPV6, 255))
                  + a + ALL_NODES)
    return ALL_NODES_MAC + m + ETH_P_IPV6.to_bytes(2, "big") + ip6_header + bytes(icmp)
