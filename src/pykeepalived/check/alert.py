"""smtp_alert for checkers (keepalived's smtp.c): one e-mail per real server state change,
sent to `notification_email` through `smtp_server` with keepalived's exact dialogue and
headers. Sending never blocks a checker: each mail is its own short task."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from pykeepalived.check.common import Target
from pykeepalived.config import model
from pykeepalived.textbytes import ERRORS, to_bytes

log = logging.getLogger(__name__)


def rs_subject(router_id: str, target: Target, alive: bool) -> str:
    return f"[{router_id}] Realserver {target.fmt_rs} of virtual server {target.fmt_vs} - {'UP' if alive else 'DOWN'}"


def smtp_alert_enabled(gd: model.GlobalDefs, vs: model.VirtualServer, rs: model.RealServer) -> bool:
    """The real server's smtp_alert, else the virtual server's, else the global ones."""
    for value in (rs.smtp_alert, vs.smtp_alert, gd.smtp_alert_checker, gd.smtp_alert):
        if value is not None:
            return value
    return False


def message(gd: model.GlobalDefs, subject: str, body: str) -> bytes:
    """SMTP_HEADERS_CMD SMTP_BODY_CMD SMTP_SEND_CMD."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S %z", time.localtime())
    to = ", ".join(gd.notification_email)
    return (f"Date: {date}\r\nFrom: {gd.notification_email_from}\r\nSubject: {subject}\r\n"
            f"X-Mailer: Keepalived\r\nTo: {to}\r\n\r\n{body}\r\n\r\n.\r\n").encode("utf-8", ERRORS)


class Alerter:
    """Sends checker alerts for one configuration's global_defs."""

    def __init__(self, gd: model.GlobalDefs) -> None:
        self.gd = gd
        self.router_id = gd.router_id or socket.gethostname()
        self.no_checker_emails = gd.no_checker_emails
        self._tasks: set[asyncio.Task[bool]] = set()

    @property
    def configured(self) -> bool:
        return bool(self.gd.notification_email and self.gd.smtp_server)

    def rs_alert(self, target: Target, alive: bool, body: str) -> None:
        if not self.configured:
            return
        task = asyncio.get_running_loop().create_task(
            self.send(rs_subject(self.router_id, target, alive), body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def send(self, subject: str, body: str) -> bool:
        gd = self.gd
        server = f"[{gd.smtp_server}]:{gd.smtp_port}"
        try:
            async with asyncio.timeout(gd.smtp_connect_timeout):
                reader, writer = await asyncio.open_connection(gd.smtp_server, gd.smtp_port)
        except (OSError, TimeoutError):
            log.info("SMTP connection ERROR to %s.", server)
            return False
        try:
            async with asyncio.timeout(gd.smtp_connect_timeout):
                steps: list[tuple[bytes | None, int, str]] = [
                    (None, 220, ""),
                    (to_bytes(f"HELO {gd.smtp_helo_name or 'localhost'}\r\n"), 250, "HELO"),
                    (to_bytes(f"MAIL FROM:<{gd.notification_email_from}>\r\n"), 250, "MAIL"),
                    *[(to_bytes(f"RCPT TO:<{a}>\r\n"), 250, "RCPT") for a in gd.notification_email],
                    (b"DATA\r\n", 354, "DATA"),
                    (message(gd, subject, body), 250, "BODY"),
                    (b"QUIT\r\n", 221, "QUIT"),
                ]
                for data, expected, name in steps:
                    if data is not None:
                        writer.write(data)
                        await writer.drain()
                    code = await self._reply(reader)
                    if code != expected:
                        if name:
                            log.info("Error processing %s cmd on SMTP server %s. SMTP status code = %d",
                                     name, server, code)
                        return False
                return True
        except TimeoutError:
            log.info("Timeout reading data to remote SMTP server %s.", server)
            return False
        except OSError:
            log.info("Error reading data from remote SMTP server %s.", server)
            return False
        finally:
            writer.close()

    @staticmethod
    async def _reply(reader: asyncio.StreamReader) -> int:
        """The code of the last line of a (possibly multi-line) reply; -1 when unreadable."""
        while True:
            line = await reader.readline()
            if not line:
                return -1
            if len(line) >= 4 and line[3:4] == b"-":
                continue
            return int(line[:3]) if line[:3].isdigit() else -1
