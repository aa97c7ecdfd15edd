"""VRRPv2 `auth_type AH` (IPv4 only): everything about the IPsec AH header lives here.

keepalived 2.2.7 does not use the kernel's IPsec; it builds and checks the AH header itself
(vrrp.c, vrrp_ipsecah.h), and so do we:

* wire: IP protocol 51, then a 24-byte AH header (next header 112, payload length 4,
  reserved 0, SPI = the IPv4 source, sequence number, 12-byte ICV), then the VRRP message
  (auth type 2, auth data zero);
* ICV: HMAC-MD5 truncated to 96 bits, keyed by the 8-byte password (zero-padded), over the
  IPv4 header with TOS, fragment offset and header checksum zeroed (the TTL too, but only for
  unicast instances), the AH header with a zero ICV, and the VRRP message;
* sequence number: one counter per instance, shared by sending and receiving as keepalived's
  `ipsecah_counter` is: each advert sent uses counter+1; an advert received must carry a
  number above the counter, which then becomes that number. So a backup that takes over
  continues from its old master's numbers, and a returning node learns them as a backup.

Sending goes through the prebuilt advert path: the payload handed to `AdvertSender` is
`IpsecAh.header() + VRRP message`, and `IpsecAh.seal` is the sender's per-packet hook that
sets protocol 51, the next sequence number and the ICV after the IP ID has been patched.
Receiving uses one raw IPPROTO_AH socket per interface (`AhSockets`), which delivers the
whole IPv4 packet; `IpsecAh.check` verifies it before the inner VRRP message goes to the
usual decode / validate path. As in keepalived, whose socket pool is per protocol, an AH
instance never sees plain VRRP adverts and other instances never see AH ones (so its "No AH
header but auth type is AH" / "Received AH header but auth type not AH" are not reached;
observed with 2.2.7: a plain master leaves an AH backup silent, it just times out).
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import struct
from collections.abc import Callable, Iterator

from pykeepalived.io.vrrp_socket import join_group, open_vrrp_socket

IPPROTO_AH = 51
IPPROTO_VRRP = 112
AH_LEN = 24                  # next header, payload length, reserved, SPI, sequence, 96-bit ICV
AH_PAYLOAD_LEN = 4           # AH length in 32-bit words minus 2 (RFC 2402 2.2)
ICV_LEN = 12                 # HMAC-MD5-96
SEQ_MAX = 0xFFFFFFFD         # keepalived stops counting here ("cycled")
KEY_LEN = 8                  # keepalived's auth_data: the first 8 bytes of auth_pass

# keepalived's log text (the core prefixes "(instance) ").
BAD_ICV = "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"


def hmac_key(password: bytes) -> bytes:
    """keepalived's 8-byte auth_data: the password truncated or zero-padded."""
    return password[:KEY_LEN].ljust(KEY_LEN, b"\0")


def icv(packet: bytes, key: bytes, unicast: bool) -> bytes:
    """The 96-bit ICV of an IPv4 AH packet (whatever its ICV field holds)."""
    ihl = (packet[0] & 0x0F) * 4
    buf = bytearray(packet)
    buf[1] = 0                            # TOS
    buf[6:8] = b"\0\0"                    # flags + fragment offset
    buf[10:12] = b"\0\0"                  # header checksum
    if unicast:
        buf[8] = 0                        # TTL (keepalived zeroes it only for unicast)
    buf[ihl + 12:ihl + AH_LEN] = bytes(ICV_LEN)
    return hmac.digest(hmac_key(key), bytes(buf), "md5")[:ICV_LEN]


class IpsecAh:
    """One AH instance's key, SPI and sequence counter."""

    def __init__(self, key: bytes, src: bytes, unicast: bool) -> None:
        self.key = hmac_key(key)
        self.src = src
        self.unicast = unicast
        self.seq = 0

    def header(self) -> bytes:
        """The AH header put in front of the VRRP message: SPI = source, sequence and ICV 0."""
        return struct.pack("!BBH4sI", IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, self.src, 0) + bytes(ICV_LEN)

    def seal(self, packet: bytes) -> bytes:
        """`packet` (IPv4 header + `header()` + VRRP, IP ID set) as it goes on the wire:
        protocol 51, the next sequence number, the ICV."""
        if self.seq <= SEQ_MAX:
            self.seq += 1
        ihl = (packet[0] & 0x0F) * 4
        buf = bytearray(packet)
        buf[9] = IPPROTO_AH
        struct.pack_into("!I", buf, ihl + 8, self.seq)
        buf[ihl + 12:ihl + AH_LEN] = icv(bytes(buf), self.key, self.unicast)
        return bytes(buf)

    def check(self, packet: bytes) -> str | None:
        """None if the AH packet (a whole IPv4 packet, see `split`) is authentic and new
        (the counter moves to its number); otherwise keepalived's log text for it."""
        ihl = (packet[0] & 0x0F) * 4
        if not hmac.compare_digest(packet[ihl + 12:ihl + AH_LEN], icv(packet, self.key, self.unicast)):
            return BAD_ICV
        spi = packet[ihl + 4:ihl + 8]
        if spi != packet[12:16]:
            # keepalived prints both as raw (network-order) 32-bit values, source first
            saddr, spi_value = struct.unpack("=I", packet[12:16])[0], struct.unpack("=I", spi)[0]
            return f"IPSEC AH : invalid IPSEC SPI value. {saddr} and expect {spi_value}"
        seq = struct.unpack_from("!I", packet, ihl + 8)[0]
        if seq <= self.seq:
            return f"IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({self.seq})"
        self.seq = seq
        return None


def split(packet: bytes) -> tuple[bytes, bytes, bytes, int] | None:
    """(VRRP message, packed source, packed destination, TTL) of a received IPv4 AH packet
    carrying VRRP, or None for anything else (too short, not AH, AH for another protocol)."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != IPPROTO_AH:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = min((packet[2] << 8) | packet[3], len(packet))
    if ihl < 20 or total < ihl + AH_LEN + 8 or packet[ihl] != IPPROTO_VRRP:
        return None
    return packet[ihl + AH_LEN:total], packet[12:16], packet[16:20], packet[8]


class AhSockets:
    """Raw IPPROTO_AH sockets, one per interface with an AH instance, watched by the loop.

    `on_readable(ifindex, sock)` is called when one has data; `drain(sock)` reads it."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 on_readable: Callable[[int, socket.socket], object]) -> None:
        self._loop = loop
        self._on_readable = on_readable
        self._socks: dict[int, socket.socket] = {}
        self._groups: dict[int, set[bytes]] = {}

    def get(self, ifname: str, ifindex: int) -> socket.socket:
        sock = self._socks.get(ifindex)
        if sock is None:
            sock = open_vrrp_socket(ifname, ifindex, socket.AF_INET, IPPROTO_AH)
            self._socks[ifindex] = sock
            self._groups[ifindex] = set()
            self._loop.add_reader(sock.fileno(), self._on_readable, ifindex, sock)
        return sock

    def join(self, ifindex: int, group: bytes) -> None:
        joined = self._groups[ifindex]
        if group not in joined:
            join_group(self._socks[ifindex], group, ifindex)
            joined.add(group)

    def __iter__(self) -> Iterator[tuple[int, socket.socket]]:
        return iter(list(self._socks.items()))

    @staticmethod
    def drain(sock: socket.socket, limit: int = 64) -> list[bytes]:
        """The packets readable now (at most `limit`), each a whole IPv4 packet."""
        out: list[bytes] = []
        for _ in range(limit):
            try:
                out.append(sock.recv(65535, socket.MSG_DONTWAIT))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
        return out

    def close(self) -> None:
        for sock in self._socks.values():
            try:
                self._loop.remove_reader(sock.fileno())
            except (ValueError, RuntimeError):
                pass
            sock.close()
        self._socks.clear()
        self._groups.clear()
