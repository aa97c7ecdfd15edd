"""The one SMTP dialogue (keepalived's core/smtp.c), used by the VRRP notifier (smtp_alert on
state changes) and by the checkers (smtp_alert on real server changes).

keepalived's defaults (core/global_data.c, init_global_data): with an smtp_server and no
`notification_email_from`, the sender is `<login of the running user>@<local name>`; with no
`smtp_helo_name`, HELO names the local name; the local name is the canonical name of the
host's uname nodename (getaddrinfo AI_CANONNAME), and HELO says "localhost" when it has none.

A leaf module beside config (its only layer): the checkers (`check/`) may not import `io/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import socket
import time
from typing import TYPE_CHECKING

from pykeepalived import log as kalog
from pykeepalived.textbytes import ERRORS, to_bytes

if TYPE_CHECKING:
    from pykeepalived.config.model import GlobalDefs

log = logging.getLogger(__name__)


_local_name: list[str | None] = []     # resolved once per process (keepalived: once at start)


async def local_name() -> str | None:
    """keepalived's get_local_name(): the canonical name of uname's nodename, None if unknown.

    Resolved with the loop's getaddrinfo (a worker thread): a slow or dead resolver must not
    stall the loop that sends adverts or runs checks; the answer is kept for the process."""
    if not _local_name:
        name = None
        with contextlib.suppress(OSError):
            infos = await asyncio.get_running_loop().getaddrinfo(os.uname().nodename, None,
                                                                 flags=socket.AI_CANONNAME)
            name = infos[0][3] or None if infos else None
        _local_name[:] = [name]
    return _local_name[0]


def email_from(gd: GlobalDefs, local: str | None) -> str:
    """`notification_email_from`, else keepalived's default `user@local_name`."""
    if gd.notification_email_from:
        return gd.notification_email_from
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    return f"{user}@{local or socket.gethostname()}"


def helo_name(gd: GlobalDefs, local: str | None) -> str:
    return gd.smtp_helo_name or local or "localhost"


def message(gd: GlobalDefs, sender: str, subject: str, body: str) -> bytes:
    """SMTP_HEADERS_CMD SMTP_BODY_CMD SMTP_SEND_CMD, byte for byte."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S %z", time.localtime())
    to = ", ".join(gd.notification_email)
    return (f"Date: {date}\r\nFrom: {sender}\r\nSubject: {subject}\r\n"
            f"X-Mailer: Keepalived\r\nTo: {to}\r\n\r\n{body}\r\n\r\n.\r\n").encode("utf-8", ERRORS)


async def send_alert(gd: GlobalDefs, subject: str, body: str) -> bool:
    """One mail to every notification_email through smtp_server; True when the server took
    it. Failures are logged with keepalived's lines, never raised."""
    server = f"[{gd.smtp_server}]:{gd.smtp_port}"
    try:
        async with asyncio.timeout(gd.smtp_connect_timeout):
            reader, writer = await asyncio.open_connection(gd.smtp_server, gd.smtp_port)
    except OSError as exc:                      # TimeoutError is one
        timeout = isinstance(exc, TimeoutError)
        log.info("Timeout connecting SMTP server %s." if timeout else "SMTP connection ERROR to %s.", server)
        return False
    if kalog.detail():
        log.info("Remote SMTP server %s connected.", server)
    local = None if gd.notification_email_from and gd.smtp_helo_name else await local_name()
    sender = email_from(gd, local)
    try:
        async with asyncio.timeout(gd.smtp_connect_timeout):
            steps: list[tuple[bytes | None, int, str]] = [
                (None, 220, ""),
                (to_bytes(f"HELO {helo_name(gd, local)}\r\n"), 250, "HELO"),
                (to_bytes(f"MAIL FROM:<{sender}>\r\n"), 250, "MAIL"),
                *[(to_bytes(f"RCPT TO:<{a}>\r\n"), 250, "RCPT") for a in gd.notification_email],
                (b"DATA\r\n", 354, "DATA"),
                (message(gd, sender, subject, body), 250, "BODY"),
                (b"QUIT\r\n", 221, "QUIT"),
            ]
            for data, expected, name in steps:
                if data is not None:
                    writer.write(data)
                    await writer.drain()
                code = await _reply(reader)
                if code != expected:
                    if name:
                        log.info("Error processing %s cmd on SMTP server %s. SMTP status code = %d",
                                 name, server, code)
                    return False
            if kalog.detail():
                log.info("SMTP alert successfully sent.")
            return True
    except OSError as exc:
        log.info("Timeout reading data to remote SMTP server %s." if isinstance(exc, TimeoutError)
                 else "Error reading data from remote SMTP server %s.", server)
        return False
    finally:
        writer.close()


async def _reply(reader: asyncio.StreamReader) -> int:
    """The code of the last line of a (possibly multi-line) reply; -1 when unreadable."""
    while True:
        line = await reader.readline()
        if not line:
            return -1
        if len(line) >= 4 and line[3:4] == b"-":
            continue
        return int(line[:3]) if line[:3].isdigit() else -1
