"""DNS_CHECK: a query over UDP answered with RCODE 0 (keepalived's check_dns.c).

The query is built and parsed by dnspython; like keepalived, the answer section is not
inspected, only the header (matching id, QR set, RCODE)."""

from __future__ import annotations

import asyncio
import logging
import socket

import dns.exception
import dns.flags
import dns.message
import dns.rdatatype

from pykeepalived.check.base import Checker, Outcome
from pykeepalived.check.common import Target, make_socket
from pykeepalived.check.hub import HealthHub
from pykeepalived.config import model

log = logging.getLogger("pykeepalived.check")


class DnsChecker(Checker):
    kind = "DNS_CHECK"
    alert_up = "=> DNS_CHECK: succeed on service <="
    alert_down = "=> DNS_CHECK: failed on service <="

    def __init__(self, spec: model.DnsCheck, target: Target, hub: HealthHub, *,
                 log_all_failures: bool = False) -> None:
        super().__init__(spec, target, hub, log_all_failures=log_all_failures)
        self.qtype = dns.rdatatype.from_text(spec.type)
        self.qname = spec.name or "."

    def query(self) -> dns.message.Message:
        q = dns.message.make_query(self.qname, self.qtype)
        q.flags = dns.flags.RD
        return q

    async def attempt(self) -> Outcome:
        loop = asyncio.get_running_loop()
        try:
            sock = make_socket(self.co, socket.SOCK_DGRAM)
        except OSError:
            return Outcome(False, "failed to create socket.")
        try:
            try:
                sock.connect(self.co.sockaddr)
            except OSError:
                return Outcome(False, f"network unreachable for {self.co.pair}")
            q = self.query()
            try:
                sock.send(q.to_wire())
            except OSError:
                return Outcome(False, "failed to write socket.")
            deadline = loop.time() + self.co.timeout
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return Outcome(False, "read timeout from socket", True)
                try:
                    async with asyncio.timeout(remaining):
                        data = await loop.sock_recv(sock, 4096)
                except TimeoutError:
                    return Outcome(False, "read timeout from socket", True)
                except OSError as e:
                    return Outcome(False, f"failed to read socket; errno {e.errno} ({e.strerror})")
                if len(data) < 12 or data[:2] != q.to_wire()[:2] or not data[2] & 0x80:
                    continue  # too short, another id, or not a response: keep waiting
                rcode = data[3] & 0x0F
                if rcode != 0:
                    return Outcome(False, f"read error occurred. (rcode = {rcode})")
                return Outcome(True)
        finally:
            sock.close()

    def epilog(self, outcome: Outcome) -> float:
        """keepalived's dns_final()."""
        if not outcome.ok:
            if self.is_up or not self.has_run:
                if outcome.detail and (self.log_all or self.retry_it >= self.retry):
                    text = outcome.detail
                    if self.has_run and self.retry_it >= self.retry:
                        text += f" after {self.retry} retries"
                    log.info("DNS_CHECK (%s) %s", self.target.fmt_rs, text)
                if self.retry_it < self.retry:
                    self.retry_it += 1
                    self.has_run = True
                    return self.delay_before_retry
                self.set_state(False)
        elif not self.is_up or not self.has_run:
            self.set_state(True)
        self.retry_it = 0
        self.has_run = True
        return self.delay_loop
