"""Checkers built from parsed keepalived.conf text (the config engineer's model), and a whole
CheckerService run in the client namespace against the real servers."""

from __future__ import annotations

import asyncio
import random

import pytest
from checklib import World, in_netns

from pykeepalived.check import CheckerService, HealthHub, RealServerHealth, build_checkers
from pykeepalived.check.dns import DnsChecker
from pykeepalived.check.file import FileChecker
from pykeepalived.check.http import HttpChecker, SslChecker
from pykeepalived.check.misc import MiscChecker
from pykeepalived.check.ping import PingChecker
from pykeepalived.check.smtp import SmtpChecker
from pykeepalived.check.tcp import TcpChecker
from pykeepalived.check.udp import UdpChecker
from pykeepalived.config import load_text

CONF = """
global_defs { enable_script_security }
track_file tf {
  file /tmp/pyk-check-tf.state
  weight 3
}
SSL { ca /nonexistent/ca.pem }
virtual_server 192.0.2.100 80 {
  delay_loop 9
  protocol TCP
  real_server 192.0.2.12 80 {
    weight 2
    HTTP_GET { url { path /ok } }
    TCP_CHECK {
      connect_port 8080
      bindto 192.0.2.11
      fwmark 7
    }
    DNS_CHECK {
      type A
      name ok.test
    }
    MISC_CHECK { misc_path "/bin/true" }
    UDP_CHECK { payload 6869 }
    SMTP_CHECK { helo_name me.test }
    PING_CHECK { }
    FILE_CHECK { track_file tf }
  }
}
virtual_server fwmark 5 {
  real_server 2001:db8::12 443 {
    SSL_GET { url { path / } }
  }
}
"""


def test_build_from_model() -> None:
    r = load_text(CONF.replace("SSL { ca /nonexistent/ca.pem }", ""))
    assert r.config is not None, r.diagnostics
    hub = HealthHub()
    checkers = build_checkers(r.config, hub)
    assert [type(c) for c in checkers] == [HttpChecker, TcpChecker, DnsChecker, MiscChecker, UdpChecker,
                                           SmtpChecker, PingChecker, FileChecker, SslChecker]
    http, tcp, dns = checkers[0], checkers[1], checkers[2]
    assert http.target.fmt_rs == "[192.0.2.12]:tcp:80" and http.target.fmt_vs == "[192.0.2.100]:tcp:80"
    assert (http.delay_loop, http.retry, http.delay_before_retry) == (9.0, 1, 3.0)  # HTTP defaults
    assert (dns.retry, dns.delay_before_retry) == (3, 9.0)  # DNS: retry 3, delay_before_retry = delay_loop
    assert (str(tcp.co.dst), tcp.co.port, str(tcp.co.bindto), tcp.co.fwmark) == ("192.0.2.12", 8080,
                                                                                 "192.0.2.11", 7)
    assert checkers[-1].target.fmt_vs == "FWM 5" and checkers[-1].target.fmt_rs == "[2001:db8::12]:tcp:443"
    file_checker = checkers[7]
    assert isinstance(file_checker, FileChecker) and file_checker.weight == 3
    snap = hub.snapshot()
    assert [(h.key.address, h.alive, h.weight) for h in snap] == [("192.0.2.12", True, 2),
                                                                  ("2001:db8::12", True, 1)]


def test_bad_ssl_block_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    r = load_text(CONF)
    assert r.config is not None
    checkers = build_checkers(r.config, HealthHub())
    assert SslChecker not in [type(c) for c in checkers] and len(checkers) == 8
    assert any(m.startswith("SSL_GET for [2001:db8::12]:tcp:443: the SSL block cannot be used")
               for m in caplog.messages)


@pytest.mark.privileged
def test_service_run_in_namespace(world: World) -> None:
    conf = f"""
virtual_server 192.0.2.100 80 {{
  delay_loop 1
  protocol TCP
  real_server {world.srv.ip} 80 {{
    weight 4
    HTTP_GET {{
      url {{
        path /ok
        status_code 200
      }}
      connect_timeout 1
    }}
    TCP_CHECK {{
      connect_timeout 1
    }}
  }}
  real_server {world.srv.ip} 81 {{
    TCP_CHECK {{
      connect_timeout 1
      retry 0
    }}
  }}
}}
"""
    r = load_text(conf)
    assert r.config is not None, r.diagnostics

    async def main() -> tuple[list[RealServerHealth], list[RealServerHealth]]:
        service = CheckerService.from_config(r.config)
        seen: list[RealServerHealth] = []
        service.hub.subscribe(seen.append)
        stream: list[RealServerHealth] = []

        async def consume() -> None:
            async for h in service.hub.events():
                stream.append(h)

        consumer = asyncio.get_running_loop().create_task(consume())
        await asyncio.sleep(0)
        await service.start(bootstrap=0.0, rng=random.Random(1))
        await asyncio.sleep(1.5)
        await service.stop()
        consumer.cancel()
        assert stream == seen
        return seen, service.hub.snapshot()

    seen, snap = in_netns(world.cli.ns, main)
    assert [(h.key.port, h.alive, h.weight) for h in snap] == [(80, True, 4), (81, False, 1)]
    assert [(h.key.port, h.alive) for h in seen] == [(81, False)]


RELOAD_A = """
virtual_server 192.0.2.100 80 {
  delay_loop 5
  protocol TCP
  real_server 192.0.2.12 80 {
    TCP_CHECK {
      connect_timeout 2
    }
  }
  real_server 192.0.2.13 80 {
    weight 3
    TCP_CHECK {
      connect_timeout 2
    }
  }
}
"""


def test_reload_carries_checker_state_over(caplog: pytest.LogCaptureFixture) -> None:
    """keepalived's migrate_checkers: an unchanged checker keeps its verdict over a reload, so
    nothing is re-added, removed or notified; a changed one starts afresh."""
    old_cfg = load_text(RELOAD_A).config
    # new config: .12 unchanged but a new delay_loop (timing is not identity), .13's checker
    # now targets another port (a different checker), and a new real server .14
    new_cfg = load_text(RELOAD_A.replace("delay_loop 5", "delay_loop 7")
                        .replace("weight 3\n    TCP_CHECK {", "weight 3\n    TCP_CHECK {\n      connect_port 81")
                        .replace("  real_server 192.0.2.13", "  real_server 192.0.2.14 80 {\n    TCP_CHECK {\n"
                                 "    }\n  }\n  real_server 192.0.2.13")).config
    assert old_cfg is not None and new_cfg is not None

    async def scenario() -> tuple[int, list[tuple[str, bool, int]], list[RealServerHealth]]:
        old = CheckerService.from_config(old_cfg)
        a, b = old.checkers
        old.hub.checker_state(a, False)  # .12 went down
        a.retry_it = 0
        old.hub.checker_state(b, True)   # .13 confirmed up
        caplog.clear()
        new = CheckerService.from_config(new_cfg)
        seen: list[RealServerHealth] = []
        new.hub.subscribe(seen.append)
        kept = new.carry_over(old)
        snap = [(h.key.address, h.alive, h.weight) for h in new.hub.snapshot()]
        return kept, snap, seen

    caplog.set_level("INFO", logger="pykeepalived")
    kept, snap, seen = asyncio.run(scenario())
    assert kept == 1
    assert snap == [("192.0.2.12", False, 1), ("192.0.2.14", True, 1), ("192.0.2.13", True, 3)]
    assert seen == []  # nothing changed, nothing notified
    assert not any("ing service" in m for m in caplog.messages)


@pytest.mark.privileged
def test_smtp_alert_mail_on_state_change(world: World) -> None:
    """smtp_alert: one mail per real server change, keepalived's dialogue and headers."""
    port = 2525
    conf = f"""
global_defs {{
  router_id r1
  notification_email {{
    ops@example.test
    oncall@example.test
  }}
  notification_email_from lb@example.test
  smtp_server 127.0.0.1 {port}
  smtp_helo_name lb.example.test
}}
virtual_server 192.0.2.100 81 {{
  delay_loop 1
  protocol TCP
  real_server {world.srv.ip} 81 {{
    smtp_alert
    TCP_CHECK {{
      connect_timeout 1
      retry 0
    }}
  }}
}}
"""
    r = load_text(conf)
    assert r.config is not None, r.diagnostics

    async def main() -> list[bytes]:
        got: list[bytes] = []

        async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"220 sink ESMTP\r\n")
            while line := await reader.readline():
                got.append(line)
                if line == b"DATA\r\n":
                    writer.write(b"354 go on\r\n")
                    while (body := await reader.readline()) != b".\r\n":
                        got.append(body)
                    got.append(body)
                    writer.write(b"250 queued\r\n")
                elif line == b"QUIT\r\n":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250-hello\r\n250 ok\r\n")  # a multi-line reply too
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(sink, "127.0.0.1", port)
        service = CheckerService.from_config(r.config)
        await service.start(bootstrap=0.0, freeze_gc=False)
        for _ in range(40):
            await asyncio.sleep(0.05)
            if b"QUIT\r\n" in got:
                break
        await service.stop()
        server.close()
        return got

    got = in_netns(world.cli.ns, main)
    text = b"".join(got).decode()
    assert got[:4] == [b"HELO lb.example.test\r\n", b"MAIL FROM:<lb@example.test>\r\n",
                       b"RCPT TO:<ops@example.test>\r\n", b"RCPT TO:<oncall@example.test>\r\n"]
    assert f"Subject: [r1] Realserver [{world.srv.ip}]:tcp:81 of virtual server [192.0.2.100]:tcp:81 - DOWN\r\n" \
        in text
    assert "From: lb@example.test\r\nSubject:" in text and "X-Mailer: Keepalived\r\n" in text
    assert "To: ops@example.test, oncall@example.test\r\n\r\n=> TCP CHECK failed on service <=\r\n" in text


def test_set_enabled_logs_like_keepalived(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pykeepalived")
    cfg = load_text(RELOAD_A).config
    assert cfg is not None
    service = CheckerService.from_config(cfg)
    vs = cfg.virtual_servers[0].key
    service.set_enabled(vs, False)
    service.set_enabled(vs, False)  # no change, no line
    assert [c.enabled for c in service.checkers] == [False, False]
    service.set_enabled(vs, True)
    assert caplog.messages == [
        "Suspending healthchecker for service [192.0.2.12]:tcp:80 for VS [192.0.2.100]:tcp:80",
        "Suspending healthchecker for service [192.0.2.13]:tcp:80 for VS [192.0.2.100]:tcp:80",
        "Activating healthchecker for service [192.0.2.12]:tcp:80 for VS [192.0.2.100]:tcp:80",
        "Activating healthchecker for service [192.0.2.13]:tcp:80 for VS [192.0.2.100]:tcp:80",
    ]
