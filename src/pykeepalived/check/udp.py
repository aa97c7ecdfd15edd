"""UDP_CHECK (keepalived's check_udp.c): send the payload; an ICMP unreachable is a failure;
with `require_reply`, a reply must come within connect_timeout and match the pattern
(X nibbles are wildcards: the model's mask has 0 bits there) within the length bounds."""

from __future__ import annotations

import asyncio
import socket

from pykeepalived.check.base import OK, Checker, Outcome
from pykeepalived.check.common import Target, make_socket
from pykeepalived.check.hub import HealthHub
from pykeepalived.config import model


def reply_matches(reply: bytes, spec: model.UdpCheck) -> bool:
    """keepalived's check_udp_reply (only used when a reply pattern is configured)."""
    if len(reply) < spec.min_reply_length or len(reply) > spec.max_reply_length:
        return False
    want = spec.require_reply or b""
    mask = spec.require_reply_mask
    for i in range(min(len(reply), len(want))):
        m = mask[i] if mask is not None and i < len(mask) else 0xFF
        if (reply[i] ^ want[i]) & m:
            return False
    return True


class UdpChecker(Checker):
    kind = "UDP_CHECK"
    alert_up = "=> UDP CHECK succeed on service <="
    alert_down = "=> UDP CHECK failed on service <="
    success_text = "UDP connection to {rs} success."
    failed_retries_text = "UDP_CHECK on service {rs} failed after {retry} retries."
    failed_text = "UDP_CHECK on service {rs} failed."

    def __init__(self, spec: model.UdpCheck, target: Target, hub: HealthHub, *,
                 log_all_failures: bool = False) -> None:
        super().__init__(spec, target, hub, log_all_failures=log_all_failures)
        self.udp = spec
        self.require_reply = spec.require_reply is not None

    async def attempt(self) -> Outcome:
        loop = asyncio.get_running_loop()
        try:
            sock = make_socket(self.co, socket.SOCK_DGRAM)
        except OSError as e:
            self.log_failure("UDP connection to {rs} failed.")
            return Outcome(False, e.strerror)
        try:
            try:
                sock.connect(self.co.sockaddr)
                sock.send(self.udp.payload)
            except OSError as e:
                self.log_failure("UDP connection to {rs} failed.")
                return Outcome(False, e.strerror)
            try:
                async with asyncio.timeout(self.co.timeout):
                    reply = await loop.sock_recv(sock, self.udp.max_reply_length + 1)
            except TimeoutError:
                if not self.require_reply:
                    return OK  # silence is fine unless a reply is required
                self.log_failure("UDP connection to {rs} failed.")
                return Outcome(False, "timeout", True)
            except OSError as e:  # ECONNREFUSED etc.: the ICMP unreachable came back
                self.log_failure("UDP connection to {rs} failed.")
                return Outcome(False, e.strerror)
        finally:
            sock.close()
        if self.udp.require_reply and not reply_matches(reply, self.udp):
            self.log_failure("UDP check to {rs} reply data mismatch.")
            return Outcome(False, "reply data mismatch")
        return OK
