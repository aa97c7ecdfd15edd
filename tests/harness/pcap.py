"""A tiny pcap reader and decoder for the frames our tests look at: VRRP, ARP, neighbour adverts.

Independent of pykeepalived's codec on purpose: it is the oracle tests compare against.
Timestamps are the kernel's receive times as tcpdump wrote them (nanoseconds when captured
with --time-stamp-precision=nano, which the harness always asks for).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
IPPROTO_VRRP = 112
IPPROTO_ICMPV6 = 58
ICMPV6_NA = 136
_IPV6_EXT_HEADERS = {0, 43, 60}  # hop-by-hop, routing, destination options

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276


class PcapError(ValueError):
    pass


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


@dataclass(frozen=True)
class Vrrp:
    """A decoded VRRP message. adver_int is raw: seconds for v2, centiseconds for v3."""

    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int
    adver_int: int
    checksum: int
    addresses: tuple[str, ...]
    auth_data: bytes

    @classmethod
    def parse(cls, msg: bytes, family: int) -> Vrrp:
        if len(msg) < 8:
            raise PcapError(f"VRRP message too short: {len(msg)} bytes")
        version, vtype = msg[0] >> 4, msg[0] & 0x0F
        vrid, priority, count = msg[1], msg[2], msg[3]
        (checksum,) = struct.unpack_from("!H", msg, 6)
        alen = 4 if family == 4 else 16
        if version == 2:
            auth_type, adver_int = msg[4], msg[5]
        else:
            auth_type, adver_int = 0, ((msg[4] & 0x0F) << 8) | msg[5]
        end = 8 + alen * count
        if len(msg) < end:
            raise PcapError(f"VRRP message of {len(msg)} bytes cannot hold {count} addresses")
        addrs = tuple(str(ipaddress.ip_address(msg[o:o + alen])) for o in range(8, end, alen))
        auth = msg[end:end + 8] if version == 2 else b""
        return cls(version, vtype, vrid, priority, count, auth_type, adver_int, checksum, addrs, auth)


@dataclass(frozen=True)
class Arp:
    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str

    @classmethod
    def parse(cls, body: bytes) -> Arp:
        if len(body) < 28:
            raise PcapError(f"ARP body too short: {len(body)} bytes")
        op = struct.unpack_from("!H", body, 6)[0]
        return cls(op, _mac(body[8:14]), str(ipaddress.IPv4Address(body[14:18])),
                   _mac(body[18:24]), str(ipaddress.IPv4Address(body[24:28])))


@dataclass(frozen=True)
class NeighborAdvert:
    router: bool
    solicited: bool
    override: bool
    target: str
    target_mac: str | None  # from the Target Link-Layer Address option, if present

    @classmethod
    def parse(cls, icmp: bytes) -> NeighborAdvert:
        if len(icmp) < 24 or icmp[0] != ICMPV6_NA:
            raise PcapError("not a neighbour advertisement")
        flags = icmp[4]
        tlla = None
        off = 24
        while off + 2 <= len(icmp):
            otype, olen = icmp[off], icmp[off + 1] * 8
            if olen == 0:
                break
            if otype == 2 and olen >= 8:
                tlla = _mac(icmp[off + 2:off + 8])
            off += olen
        return cls(bool(flags & 0x80), bool(flags & 0x40), bool(flags & 0x20),
                   str(ipaddress.IPv6Address(icmp[8:24])), tlla)


@dataclass(frozen=True)
class Frame:
    """One captured frame, decoded down to the layer-4 payload."""

    ts_ns: int
    raw: bytes  # the whole Ethernet frame (rebuilt for cooked captures)
    src_mac: str
    dst_mac: str
    ethertype: int
    family: int | None = None  # 4 or 6 for IP packets
    src: str | None = None
    dst: str | None = None
    ttl: int | None = None  # TTL or hop limit
    proto: int | None = None
    payload: bytes = b""  # IP payload (padding removed) or the ARP body

    @property
    def ts(self) -> float:
        return self.ts_ns / 1e9

    @property
    def vrrp(self) -> Vrrp | None:
        if self.proto != IPPROTO_VRRP or self.family is None:
            return None
        return Vrrp.parse(self.payload, self.family)

    @property
    def arp(self) -> Arp | None:
        return Arp.parse(self.payload) if self.ethertype == ETH_P_ARP else None

    @property
    def na(self) -> NeighborAdvert | None:
        if self.proto == IPPROTO_ICMPV6 and self.payload[:1] == bytes([ICMPV6_NA]):
            return NeighborAdvert.parse(self.payload)
        return None


def parse_ethernet(raw: bytes, ts_ns: int = 0) -> Frame:
    if len(raw) < 14:
        raise PcapError(f"frame too short: {len(raw)} bytes")
    dst_mac, src_mac = _mac(raw[0:6]), _mac(raw[6:12])
    ethertype, off = struct.unpack_from("!H", raw, 12)[0], 14
    if ethertype == ETH_P_8021Q and len(raw) >= 18:
        ethertype, off = struct.unpack_from("!H", raw, 16)[0], 18
    base = dict(ts_ns=ts_ns, raw=raw, src_mac=src_mac, dst_mac=dst_mac, ethertype=ethertype)
    pkt = raw[off:]
    if ethertype == ETH_P_IP and len(pkt) >= 20:
        ihl = (pkt[0] & 0x0F) * 4
        total = struct.unpack_from("!H", pkt, 2)[0]
        return Frame(**base, family=4, src=str(ipaddress.IPv4Address(pkt[12:16])),
                     dst=str(ipaddress.IPv4Address(pkt[16:20])), ttl=pkt[8], proto=pkt[9],
                     payload=pkt[ihl:total])
    if ethertype == ETH_P_IPV6 and len(pkt) >= 40:
        plen, nxt, hlim = struct.unpack_from("!HBB", pkt, 4)
        body, pos = pkt[40:40 + plen], 0
        while nxt in _IPV6_EXT_HEADERS and pos + 8 <= len(body):
            nxt, pos = body[pos], pos + (body[pos + 1] + 1) * 8
        return Frame(**base, family=6, src=str(ipaddress.IPv6Address(pkt[8:24])),
                     dst=str(ipaddress.IPv6Address(pkt[24:40])), ttl=hlim, proto=nxt, payload=body[pos:])
    if ethertype == ETH_P_ARP:
        return Frame(**base, payload=pkt[:28])
    return Frame(**base, payload=pkt)


def _to_ethernet(linktype: int, data: bytes) -> bytes:
    if linktype == LINKTYPE_ETHERNET:
        return data
    if linktype == LINKTYPE_LINUX_SLL and len(data) >= 16:
        halen, proto = struct.unpack_from("!H", data, 4)[0], data[14:16]
        src = data[6:6 + min(halen, 6)].ljust(6, b"\0")
        return b"\0" * 6 + src + proto + data[16:]
    if linktype == LINKTYPE_LINUX_SLL2 and len(data) >= 20:
        halen, proto = data[11], data[0:2]
        src = data[12:12 + min(halen, 6)].ljust(6, b"\0")
        return b"\0" * 6 + src + proto + data[20:]
    raise PcapError(f"unsupported pcap link type {linktype}")


def iter_pcap(path: str | Path) -> Iterator[Frame]:
    """Yield every frame in a classic pcap file (micro- or nanosecond, either byte order).

    A truncated last record (tcpdump killed mid-write) ends the iteration quietly.
    """
    data = Path(path).read_bytes()
    if len(data) < 24:
        return
    magic = data[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
             b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic not in table:
        raise PcapError(f"{path}: not a pcap file (magic {magic.hex()})")
    endian, frac_to_ns = table[magic]
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from(endian + "IIII", data, off)
        off += 16
        if off + caplen > len(data):
            return
        yield parse_ethernet(_to_ethernet(linktype, data[off:off + caplen]), sec * 1_000_000_000 + frac * frac_to_ns)
        off += caplen


def read_pcap(path: str | Path) -> list[Frame]:
    return list(iter_pcap(path))


def vrrp_frames(frames: Iterable[Frame], *, vrid: int | None = None, src: str | None = None) -> list[Frame]:
    """The VRRP frames, optionally only those of one VRID and/or one source address."""
    out = []
    for f in frames:
        v = f.vrrp
        if v is None or (vrid is not None and v.vrid != vrid) or (src is not None and f.src != src):
            continue
        out.append(f)
    return out
