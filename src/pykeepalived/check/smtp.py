"""SMTP_CHECK: the 220 banner, HELO answered by 250, QUIT (keepalived's check_smtp.c)."""

from __future__ import annotations

import asyncio
import logging

from pykeepalived.check.base import OK, Checker, Outcome
from pykeepalived.check.common import ConnectError, Target, tcp_connect
from pykeepalived.check.hub import HealthHub
from pykeepalived.config import model
from pykeepalived.textbytes import to_bytes

log = logging.getLogger("pykeepalived.check")

DEFAULT_HELO = "smtpchecker.keepalived.org"
LINE_MAX = 512


def smtp_status(line: bytes) -> int:
    """keepalived's smtp_get_status: three digits followed by a space or the end."""
    if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3:4] in (b" ", b"\r")):
        return int(line[:3])
    return -1


class SmtpChecker(Checker):
    kind = "SMTP_CHECK"

    def __init__(self, spec: model.SmtpCheck, target: Target, hub: HealthHub, *,
                 log_all_failures: bool = False) -> None:
        super().__init__(spec, target, hub, log_all_failures=log_all_failures)
        self.helo_name = spec.helo_name or DEFAULT_HELO

    async def attempt(self) -> Outcome:
        host = self.co.pair
        try:
            sock = await tcp_connect(self.co)
        except ConnectError as e:
            if e.immediate:
                return Outcome(False, f"Could not connect to server {host}")
            if e.timeout:
                return Outcome(False, f"Connection timeout to server {host}", True)
            return Outcome(False, f"Error connecting to server {host}")
        except OSError:
            return Outcome(False, f"Could not connect to server {host}")
        reader, writer = await asyncio.open_connection(sock=sock, limit=LINE_MAX * 4)
        try:
            banner = await self._line(reader)
            if isinstance(banner, Outcome):
                return banner
            if smtp_status(banner) != 220:
                return Outcome(False, f"Bad greeting banner from server {host}")
            if (err := await self._put(writer, to_bytes(f"HELO {self.helo_name}\r\n"))) is not None:
                return err
            helo = await self._line(reader)
            if isinstance(helo, Outcome):
                return helo
            if smtp_status(helo) != 250:
                return Outcome(False, f"Bad HELO response from server {host}")
            if (err := await self._put(writer, b"QUIT\r\n")) is not None:
                return err
            quit_reply = await self._line(reader)
            if isinstance(quit_reply, Outcome):
                return quit_reply
            return OK
        finally:
            writer.close()

    async def _line(self, reader: asyncio.StreamReader) -> bytes | Outcome:
        host = self.co.pair
        try:
            async with asyncio.timeout(self.co.timeout):
                line = await reader.readline()
        except TimeoutError:
            return Outcome(False, f"Read timeout from server {host}", True)
        except (OSError, ValueError):
            return Outcome(False, f"Read failure from server {host}")
        if not line.endswith(b"\n"):
            return Outcome(False, f"Read failure from server {host}")
        return line.rstrip(b"\r\n")

    async def _put(self, writer: asyncio.StreamWriter, data: bytes) -> Outcome | None:
        try:
            writer.write(data)
            async with asyncio.timeout(self.co.timeout):
                await writer.drain()
        except TimeoutError:
            return Outcome(False, f"Write timeout to server {self.co.pair}", True)
        except OSError:
            return Outcome(False, f"Write failure to server {self.co.pair}")
        return None

    def epilog(self, outcome: Outcome) -> float:
        """keepalived's smtp_final()."""
        if not outcome.ok:
            if (self.is_up or not self.has_run) and (self.log_all or self.retry_it >= self.retry):
                log.info("SMTP_CHECK %s", outcome.detail)
            self.retry_it += 1
            if self.retry_it <= self.retry:
                return self.delay_before_retry
            if self.is_up or not self.has_run:
                self.set_state(False, f"=> CHECK failed on service : {outcome.detail} <=")
            return self.delay_loop
        self.retry_it = 0
        if not self.is_up or not self.has_run:
            log.info("Remote SMTP server %s succeed on service.", self.target.fmt_rs)
            self.set_state(True)
        self.has_run = True
        return self.delay_loop
