"""SMTP_CHECK, DNS_CHECK, UDP_CHECK and PING_CHECK against real servers in a namespace,
each made to fail the ways the checker must notice."""

from __future__ import annotations

import pytest
from checklib import World, attempts_in_ns, block, checker_for, run_checks, unblock

from pykeepalived.check.dns import DnsChecker
from pykeepalived.check.ping import PingChecker
from pykeepalived.check.smtp import SmtpChecker
from pykeepalived.check.udp import UdpChecker, reply_matches
from pykeepalived.config import model

pytestmark = pytest.mark.privileged

TOL = 0.35  # seconds of slack on protocol timing (4 test workers share 2 cores in CI)
COMMON: dict[str, object] = {"connect_timeout": 1.0, "retry": 1, "delay_before_retry": 0.3,
                             "delay_loop": 1.0, "warmup": 0.0}


def spec(cls: type[model.Checker], **kw: object) -> model.Checker:
    return cls(**{**COMMON, **kw})  # type: ignore[arg-type]


def test_smtp_banner_helo_quit(world: World) -> None:
    srv = world.srv.ip
    before = world.servers.stdout().count("SMTP ")
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(SmtpChecker, spec(model.SmtpCheck, helo_name="checker.test"), srv, 25, hub),
        checker_for(SmtpChecker, spec(model.SmtpCheck), srv, 26, hub),
        checker_for(SmtpChecker, spec(model.SmtpCheck), srv, 27, hub),
        checker_for(SmtpChecker, spec(model.SmtpCheck), srv, 28, hub),
        checker_for(SmtpChecker, spec(model.SmtpCheck), srv, 29, hub),
    ])
    assert [(o.ok, o.detail) for o in outs] == [
        (True, None),
        (False, f"Bad greeting banner from server [{srv}]:26"),
        (False, f"Read timeout from server [{srv}]:27"),
        (False, f"Bad HELO response from server [{srv}]:28"),
        (False, f"Error connecting to server [{srv}]:29"),
    ]
    lines = [ln for ln in world.servers.stdout().splitlines() if ln.startswith("SMTP ")][before:]
    # the good server saw HELO with our name then QUIT; the bad-HELO one saw the default name
    assert "SMTP HELO checker.test" in lines and "SMTP QUIT" in lines
    assert "SMTP HELO smtpchecker.keepalived.org" in lines


def test_smtp_first_failure_is_final_and_logged(world: World) -> None:
    srv = world.srv.ip
    s = spec(model.SmtpCheck, retry=1, delay_before_retry=0.3)
    rec = run_checks(world.cli.ns, lambda t, h: [SmtpChecker(s, t, h)], address=srv, port=26, duration=2.0,
                     stop_when=lambda r: any(not h.alive for _, h in r.events))
    assert [ok for _, ok in rec.attempts] == [False]
    assert f"SMTP_CHECK Bad greeting banner from server [{srv}]:26" in rec.logs


@pytest.mark.parametrize("qtype", ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"])
def test_dns_every_type(world: World, qtype: str) -> None:
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(DnsChecker, spec(model.DnsCheck, type=qtype, name="ok.test"), world.srv.ip, 53, hub,
                    protocol="UDP")])
    assert outs[0].ok, outs[0]
    assert f"DNS ok.test. {qtype}" in world.servers.stdout()


def test_dns_failures(world: World) -> None:
    srv = world.srv.ip
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(DnsChecker, spec(model.DnsCheck, name="missing.test"), srv, 53, hub, protocol="UDP"),
        checker_for(DnsChecker, spec(model.DnsCheck, name="ok.test"), srv, 54, hub, protocol="UDP"),
        checker_for(DnsChecker, spec(model.DnsCheck, name="ok.test"), srv, 9000, hub, protocol="UDP"),
    ])
    assert (outs[0].ok, outs[0].detail) == (False, "read error occurred. (rcode = 3)")  # NXDOMAIN
    assert (outs[1].ok, outs[1].detail) == (False, "failed to read socket; errno 111 (Connection refused)")
    # the echo server returns our query: not a response (QR clear), so we wait and time out
    assert (outs[2].ok, outs[2].detail) == (False, "read timeout from socket")


def test_dns_nxdomain_takes_it_down_and_logs(world: World) -> None:
    srv = world.srv.ip
    s = spec(model.DnsCheck, name="missing.test", retry=2, delay_before_retry=0.2)
    rec = run_checks(world.cli.ns, lambda t, h: [DnsChecker(s, t, h)], address=srv, port=53, protocol="UDP",
                     duration=2.0, stop_when=lambda r: any(not h.alive for _, h in r.events))
    assert [ok for _, ok in rec.attempts] == [False]  # first run: one failure is enough
    assert f"DNS_CHECK ([{srv}]:udp:53) read error occurred. (rcode = 3)" in rec.logs


def test_udp_checks(world: World) -> None:
    srv = world.srv.ip
    pong = bytes.fromhex("50 4f 4e 47 2d".replace(" ", ""))  # "PONG-"
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        # echo with a reply required and matching (X wildcards on the 2nd byte)
        checker_for(UdpChecker, spec(model.UdpCheck, payload=b"hi", require_reply=b"h\x00",
                                     require_reply_mask=b"\xff\x00"), srv, 9000, hub, protocol="UDP"),
        checker_for(UdpChecker, spec(model.UdpCheck, payload=b"hi", require_reply=pong), srv, 9001, hub,
                    protocol="UDP"),
        checker_for(UdpChecker, spec(model.UdpCheck, payload=b"hi", require_reply=b"NOPE"), srv, 9001, hub,
                    protocol="UDP"),
        checker_for(UdpChecker, spec(model.UdpCheck, payload=b"hi", require_reply=pong, max_reply_length=4),
                    srv, 9001, hub, protocol="UDP"),
        checker_for(UdpChecker, spec(model.UdpCheck, payload=b"hi"), srv, 9002, hub, protocol="UDP"),
    ])
    assert [(o.ok, o.detail) for o in outs] == [
        (True, None), (True, None), (False, "reply data mismatch"), (False, "reply data mismatch"),
        (False, "Connection refused"),  # ICMP port unreachable
    ]


def test_udp_silence_is_ok_unless_reply_required(world: World) -> None:
    srv = world.srv.ip
    block(world.srv, "u9000", "udp dport 9000", "drop")
    try:
        outs = attempts_in_ns(world.cli.ns, lambda hub: [
            checker_for(UdpChecker, spec(model.UdpCheck, payload=b"x"), srv, 9000, hub, protocol="UDP"),
            checker_for(UdpChecker, spec(model.UdpCheck, payload=b"x", require_reply=b""), srv, 9000, hub,
                        protocol="UDP"),
        ])
    finally:
        unblock(world.srv, "u9000")
    assert [(o.ok, o.timeout) for o in outs] == [(True, False), (False, True)]


def test_reply_pattern_rules() -> None:
    s = model.UdpCheck(require_reply=b"\xab\xcd", require_reply_mask=b"\xf0\xff", min_reply_length=2,
                       max_reply_length=4)
    assert reply_matches(b"\xa0\xcd", s)  # low nibble of byte 0 is X
    assert not reply_matches(b"\xbb\xcd", s)
    assert not reply_matches(b"\xab", s)  # shorter than min_reply_length
    assert not reply_matches(b"\xab\xcd\x00\x00\x00", s)  # longer than max_reply_length
    assert reply_matches(b"\xab\xcd\x01", s)  # only the pattern's length is compared


def test_ping_v4_v6_and_loss(world: World) -> None:
    srv = world.srv
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(PingChecker, spec(model.PingCheck), srv.ip, 0, hub),
        checker_for(PingChecker, spec(model.PingCheck), srv.ip6, 0, hub),
        checker_for(PingChecker, spec(model.PingCheck, connect_timeout=0.5), "192.0.2.99", 0, hub),
    ])
    assert [o.ok for o in outs] == [True, True, False]
    block(srv, "p4", "icmp type echo-request", "drop")
    try:
        s = spec(model.PingCheck, connect_timeout=0.5, retry=1, delay_before_retry=0.2)
        rec = run_checks(world.cli.ns, lambda t, h: [PingChecker(s, t, h)], address=srv.ip, port=0,
                         duration=3.0, stop_when=lambda r: any(not h.alive for _, h in r.events))
    finally:
        unblock(srv, "p4")
    # blocked from the start: the first timeout (0.5 s) decides
    assert rec.alive_changes()[-1][0] == pytest.approx(0.5, abs=TOL)
    assert f"ICMP CHECK on service [{srv.ip}]:tcp:0 failed." in rec.logs
