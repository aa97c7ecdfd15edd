"""smtp_alert for checkers (keepalived's smtp.c): one e-mail per real server state change,
sent to `notification_email` through `smtp_server` by the one SMTP dialogue (smtp.py).
Sending never blocks a checker: each mail is its own short task."""

from __future__ import annotations

import asyncio
import logging
import socket

from pykeepalived import smtp
from pykeepalived.check.common import Target
from pykeepalived.config import model

log = logging.getLogger(__name__)


def rs_subject(router_id: str, target: Target, alive: bool) -> str:
    return f"[{router_id}] Realserver {target.fmt_rs} of virtual server {target.fmt_vs} - {'UP' if alive else 'DOWN'}"


def smtp_alert_enabled(gd: model.GlobalDefs, vs: model.VirtualServer, rs: model.RealServer) -> bool:
    """The real server's smtp_alert, else the virtual server's, else the global ones."""
    for value in (rs.smtp_alert, vs.smtp_alert, gd.smtp_alert_checker, gd.smtp_alert):
        if value is not None:
            return value
    return False


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
        return await smtp.send_alert(self.gd, subject, body)
