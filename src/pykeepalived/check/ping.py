"""PING_CHECK (keepalived's check_ping.c): one ICMP/ICMPv6 echo on an unprivileged datagram
socket; an echo reply within connect_timeout is success.

Datagram ICMP sockets need the process's group inside net.ipv4.ping_group_range; like
keepalived, the range is widened to start at 0 when it does not include us."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct

from pykeepalived.check.base import OK, Checker, Outcome
from pykeepalived.check.common import make_socket

log = logging.getLogger("pykeepalived.check")

PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"
ICMP_ECHO, ICMP_ECHOREPLY = 8, 0
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
PAYLOAD = bytes(range(128))

_seq = 0


def ensure_ping_group_range(path: str = PING_GROUP_RANGE) -> bool:
    """Let our group open ICMP datagram sockets (keepalived's set_ping_group_range)."""
    try:
        with open(path) as f:
            lo, hi = (int(v) for v in f.read().split())
    except (OSError, ValueError):
        return False
    gid = os.getegid()
    if lo <= gid <= hi:
        return True
    high = hi if hi >= gid else 2147483647
    if lo > 1 and hi > 1:
        log.info("Warning: %s being expanded from %d %d to 0 %d", path, lo, hi, high)
    try:
        with open(path, "w") as f:
            f.write(f"0\t{high}\n")
    except OSError as e:
        log.info("Write %s failed - errno %d", path, e.errno)
        return False
    return True


def echo_request(v6: bool) -> bytes:
    """The kernel fills in the identifier (and the ICMPv6 checksum) on ping sockets."""
    global _seq
    _seq = (_seq + 1) & 0xFFFF
    body = struct.pack("!BBHHH", ICMP6_ECHO_REQUEST if v6 else ICMP_ECHO, 0, 0, 0, _seq) + PAYLOAD
    if v6:
        return body
    csum = 0
    for i in range(0, len(body), 2):
        csum += (body[i] << 8) + (body[i + 1] if i + 1 < len(body) else 0)
    csum = (csum >> 16) + (csum & 0xFFFF)
    csum += csum >> 16
    return body[:2] + struct.pack("!H", ~csum & 0xFFFF) + body[4:]


class PingChecker(Checker):
    kind = "PING_CHECK"
    alert_up = "=> ICMP CHECK succeed on service <="
    alert_down = "=> ICMP CHECK failed on service <="
    success_text = "ICMP connection to {rs} success."
    failed_retries_text = "ICMP CHECK on service {rs} of {vs} failed after {retry} retries."
    failed_text = "ICMP CHECK on service {rs} failed."

    async def attempt(self) -> Outcome:
        loop = asyncio.get_running_loop()
        v6 = self.co.dst.version == 6
        try:
            sock = make_socket(self.co, socket.SOCK_DGRAM,
                               socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
        except PermissionError:
            if not ensure_ping_group_range():
                log.info("ICMP%s connect fail to create socket. Rescheduling.", "v6" if v6 else "")
                return Outcome(False, "socket")
            try:
                sock = make_socket(self.co, socket.SOCK_DGRAM,
                                   socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
            except OSError:
                log.info("ICMP%s connect fail to create socket. Rescheduling.", "v6" if v6 else "")
                return Outcome(False, "socket")
        except OSError:
            log.info("ICMP%s connect fail to create socket. Rescheduling.", "v6" if v6 else "")
            return Outcome(False, "socket")
        try:
            try:
                sock.connect((str(self.co.dst), 0))
                sock.send(echo_request(v6))
            except OSError:
                log.info("send ICMP%s packet fail", "v6" if v6 else "")
                self.log_failure("ICMP connection to {rs} of {vs} failed.")
                return Outcome(False, "send")
            deadline = loop.time() + self.co.timeout
            while True:
                try:
                    async with asyncio.timeout(max(0.0, deadline - loop.time())):
                        data = await loop.sock_recv(sock, 2048)
                except TimeoutError:
                    self.log_failure("ICMP connection to address {rs} timeout.")
                    return Outcome(False, "timeout", True)
                except OSError:
                    self.log_failure("ICMP connection to {rs} of {vs} failed.")
                    return Outcome(False, "recv")
                if len(data) < 8:
                    log.info("Error, got short ICMP%s packet, %d bytes", "v6" if v6 else "", len(data))
                    return Outcome(False, "short")
                if data[0] == (ICMP6_ECHO_REPLY if v6 else ICMP_ECHOREPLY):
                    return OK
                log.info("Got ICMP%s packet with type 0x%x", "v6" if v6 else "", data[0])
                self.log_failure("ICMP connection to {rs} of {vs} failed.")
                return Outcome(False, "type")
        finally:
            sock.close()
