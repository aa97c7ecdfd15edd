"""smtp.py: the one SMTP dialogue, with keepalived 2.2.7's defaults (core/global_data.c): no
notification_email_from -> `<user>@<local name>`, no smtp_helo_name -> HELO <local name>.
Both senders (checker alerts, VRRP state-change alerts) speak it; a sink on loopback records."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import time
from dataclasses import replace

import pytest

from pykeepalived import smtp
from pykeepalived.check.alert import Alerter
from pykeepalived.config.model import GlobalDefs
from pykeepalived.core.actions import Notify
from pykeepalived.io.notify import SmtpAlerter


async def _sink(lines: list[bytes], reply: dict[bytes, bytes] | None = None) -> asyncio.Server:
    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        while line := await reader.readline():
            lines.append(line)
            verb = line.split(b" ")[0].split(b":")[0].strip()
            if reply and verb in reply:
                writer.write(reply[verb])
            elif line == b"DATA\r\n":
                writer.write(b"354 go on\r\n")
                while (body := await reader.readline()) not in (b".\r\n", b""):
                    lines.append(body)
                writer.write(b"250 queued\r\n")
            elif line == b"QUIT\r\n":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0)


def _gd(port: int, **kw: object) -> GlobalDefs:
    return replace(GlobalDefs(), smtp_server="127.0.0.1", smtp_port=port, smtp_connect_timeout=5.0,
                   notification_email=("ops@example.test",), **kw)  # type: ignore[arg-type]


def _expected_from() -> str:
    return f"{pwd.getpwuid(os.getuid()).pw_name}@{asyncio.run(smtp.local_name()) or os.uname().nodename}"


def _run_checker(gd_kw: dict[str, object]) -> list[bytes]:
    async def main() -> list[bytes]:
        lines: list[bytes] = []
        server = await _sink(lines)
        port = server.sockets[0].getsockname()[1]
        ok = await Alerter(_gd(port, **gd_kw)).send("[r1] Realserver up", "=> CHECK succeed <=")
        server.close()
        assert ok
        return lines

    return asyncio.run(main())


def test_checker_alert_without_email_from_uses_keepalived_default() -> None:
    """It sent `MAIL FROM:<None>` (and `From: None`) before."""
    lines = _run_checker({})
    sender = _expected_from()
    assert f"MAIL FROM:<{sender}>\r\n".encode() in lines, lines
    assert f"From: {sender}\r\n".encode() in lines
    assert f"HELO {asyncio.run(smtp.local_name()) or 'localhost'}\r\n".encode() == lines[0]


def test_configured_sender_and_helo_are_sent_as_given() -> None:
    lines = _run_checker({"notification_email_from": "lb@example.test", "smtp_helo_name": "lb.example.test"})
    assert lines[:3] == [b"HELO lb.example.test\r\n", b"MAIL FROM:<lb@example.test>\r\n",
                         b"RCPT TO:<ops@example.test>\r\n"]
    assert lines[-1] == b"QUIT\r\n"


def test_vrrp_alert_speaks_the_same_dialogue() -> None:
    """The VRRP notifier's mail: same default sender, same bytes after the Date header."""
    async def main() -> list[bytes]:
        lines: list[bytes] = []
        server = await _sink(lines)
        port = server.sockets[0].getsockname()[1]
        alerter = SmtpAlerter(_gd(port, router_id="lb1"))
        alerter.vrrp_alert(Notify(kind="INSTANCE", name="VI_1", state="MASTER", priority=100))
        await alerter.drain()
        server.close()
        return lines

    lines = asyncio.run(main())
    sender = _expected_from()
    assert f"MAIL FROM:<{sender}>\r\n".encode() in lines, lines
    assert [ln for ln in lines if not ln.startswith(b"Date: ")][4:] == [
        f"From: {sender}\r\n".encode(), b"Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state\r\n",
        b"X-Mailer: Keepalived\r\n", b"To: ops@example.test\r\n", b"\r\n",
        b"=> VRRP Instance is now owning VRRP VIPs <=\r\n", b"\r\n", b"QUIT\r\n"]


def test_refused_command_is_logged_as_keepalived_does(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> bool:
        server = await _sink([], {b"MAIL": b"550 no\r\n"})
        port = server.sockets[0].getsockname()[1]
        ok = await smtp.send_alert(_gd(port), "s", "b")
        server.close()
        return ok

    caplog.set_level("INFO")
    assert not asyncio.run(main())
    assert "Error processing MAIL cmd on SMTP server [127.0.0.1]:" in caplog.text
    assert "SMTP status code = 550" in caplog.text


def test_unreachable_server_is_logged_as_keepalived_does(caplog: pytest.LogCaptureFixture) -> None:
    import socket
    with socket.socket() as s:           # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level("INFO")
    assert not asyncio.run(smtp.send_alert(_gd(port), "s", "b"))
    assert f"SMTP connection ERROR to [127.0.0.1]:{port}." in caplog.text


def test_the_local_name_is_resolved_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow resolver (getaddrinfo blocking) must not stall the loop: the name is resolved on
    the loop's executor, once per process."""
    calls: list[str] = []

    def slow_getaddrinfo(host: str, *args: object, **kw: object) -> list[tuple[object, ...]]:
        calls.append(host)
        time.sleep(0.3)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "canon.example.test", ("192.0.2.1", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    monkeypatch.setattr(smtp, "_local_name", [])

    async def main() -> tuple[str | None, int, str | None]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        name = await smtp.local_name()
        task.cancel()
        return name, ticks, await smtp.local_name()

    name, ticks, again = asyncio.run(main())
    assert name == again == "canon.example.test"
    assert ticks >= 3, f"the loop stood still while resolving ({ticks} ticks in 0.3 s)"
    assert len(calls) == 1
