"""HTTP_GET and SSL_GET against real servers in a namespace: the exact request bytes, every
url test (status codes, digest, regex and its options), TLS with a throw-away CA, and the
per-url retry timing."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import ssl

import pytest
from checklib import World, attempts_in_ns, block, checker_for, run_checks, unblock

from pykeepalived.check.http import HttpChecker, SslChecker, make_ssl_context
from pykeepalived.config import model

pytestmark = pytest.mark.privileged

HELLO_MD5 = hashlib.md5(b"hello world\n").hexdigest()
TOL = 0.35  # seconds of slack on protocol timing (4 test workers share 2 cores in CI)


def http(*urls: model.Url, **kw: object) -> model.HttpGet:
    base: dict[str, object] = {"connect_timeout": 1.0, "retry": 1, "delay_before_retry": 0.3,
                               "delay_loop": 1.0, "warmup": 0.0, "urls": urls}
    base.update(kw)
    return model.HttpGet(**base)  # type: ignore[arg-type]


def url(path: str, **kw: object) -> model.Url:
    return model.Url(path=path, **kw)  # type: ignore[arg-type]


def test_request_bytes_are_keepalived_s(world: World) -> None:
    srv = world.srv.ip
    before = len(world.requests())
    specs = [http(url("/ok")),
             http(url("/ok"), http_protocol="1.0C"),
             http(url("/ok"), http_protocol="1.1", virtualhost="www.ok.test"),
             http(url("/ok", virtualhost="url.ok.test"), virtualhost="www.ok.test")]
    for spec in specs:  # one at a time: the order of requests is the order of specs
        outs = attempts_in_ns(world.cli.ns, lambda hub, s=spec: [checker_for(HttpChecker, s, srv, 80, hub)])
        assert outs[0].ok, outs[0]
    got = world.requests()[before:]
    assert got == [
        f"GET /ok HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: {srv}:80\r\n\r\n".encode(),
        f"GET /ok HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: {srv}:80\r\n\r\n".encode(),
        b"GET /ok HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.ok.test\r\n\r\n",
        b"GET /ok HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: url.ok.test\r\n\r\n",
    ]


def test_ipv6_host_header_is_bracketed(world: World) -> None:
    srv6 = str(ipaddress.ip_address(world.srv.ip6))
    before = len(world.requests())
    outs = attempts_in_ns(world.cli.ns, lambda hub: [checker_for(HttpChecker, http(url("/ok")), srv6, 80, hub)])
    assert outs[0].ok
    assert world.requests()[before:] == [
        f"GET /ok HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: [{srv6}]:80\r\n\r\n".encode()]


CASES = [
    # (url, expected ok, expected message)
    (url("/ok"), True, "HTTP status code"),
    (url("/status/500"), False, "HTTP status code error to"),
    (url("/status/500", status_code=((500, 500),)), True, "HTTP status code"),
    (url("/status/404", status_code=((200, 200), (400, 499))), True, "HTTP status code"),
    (url("/status/302", status_code=((200, 299), (400, 499))), False, "HTTP status code error to"),
    (url("/ok", digest=HELLO_MD5), True, "MD5 digest"),
    (url("/ok", digest="0" * 32), False, "MD5 digest error to"),
    (url("/regex", regex="all-systems-go"), True, "Regex match"),
    (url("/regex", regex="ALL-SYSTEMS-GO"), False, "Regex match failed"),
    (url("/regex", regex="ALL-SYSTEMS-GO", regex_options=("caseless",)), True, "Regex match"),
    (url("/regex", regex="maintenance", regex_no_match=True), True, "Regex match"),
    (url("/regex", regex="all-systems-go", regex_no_match=True), False, "Regex match failed"),
    (url("/regex", regex="build=42", regex_min_offset=10, regex_max_offset=60), True, "Regex match"),
    (url("/regex", regex="build=42", regex_max_offset=5), False, "Regex match failed"),
    (url("/empty"), False, "Read, no data received from "),
    (url("/slow"), False, "Timeout WEB read"),
]


def test_every_url_test(world: World) -> None:
    srv = world.srv.ip
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(HttpChecker, http(u), srv, 80, hub) for u, _, _ in CASES])
    got = [(o.ok, o.detail) for o in outs]
    assert got == [(ok, msg) for _, ok, msg in CASES]


def test_connection_failures(world: World) -> None:
    srv = world.srv.ip
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(HttpChecker, http(url("/ok")), srv, 81, hub),          # refused
        checker_for(HttpChecker, http(url("/ok")), "192.0.2.99", 80, hub),  # nobody there
    ])
    assert (outs[0].ok, outs[0].detail) == (False, "Error connecting")
    assert outs[1].ok is False and outs[1].detail in ("Timeout connecting", "Error connecting")


def test_ssl_get_with_and_without_verification(world: World) -> None:
    srv = world.srv.ip
    good = make_ssl_context(model.Ssl(ca=str(world.pki.ca)))
    wrong_ca = make_ssl_context(model.Ssl(ca=str(world.pki.other_ca)))
    no_ca = make_ssl_context(None)
    spec = http(url("/ok", digest=HELLO_MD5), ssl=True)
    sni = http(url("/ok", digest=HELLO_MD5), ssl=True, enable_sni=True, sni_name="www.ok.test")
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(SslChecker, spec, srv, 443, hub, ssl_ctx=good),
        checker_for(SslChecker, spec, srv, 443, hub, ssl_ctx=wrong_ca),
        checker_for(SslChecker, spec, srv, 443, hub, ssl_ctx=no_ca),
        checker_for(SslChecker, sni, srv, 443, hub, ssl_ctx=good),
        checker_for(SslChecker, spec, srv, 80, hub, ssl_ctx=no_ca),  # not TLS at all
    ])
    assert [(o.ok, o.detail) for o in outs] == [
        (True, "MD5 digest"),
        (False, "SSL handshake/communication error connecting to"),
        (True, "MD5 digest"),
        (True, "MD5 digest"),
        (False, "SSL handshake/communication error connecting to"),
    ]


def test_every_url_must_pass_first_run_failure_is_final(world: World) -> None:
    """Two urls, the second failing. Each url costs a delay_loop; on the very first run one
    failure is enough (keepalived sets retry_it = retry until the checker has run)."""
    srv = world.srv.ip
    spec = http(url("/ok"), url("/status/503"), retry=2, delay_before_retry=0.3, delay_loop=0.6,
                log_all_failures=True)
    rec = run_checks(world.cli.ns, lambda t, h: [HttpChecker(spec, t, h)], address=srv, port=80,
                     duration=3.0, stop_when=lambda r: any(not h.alive for _, h in r.events))
    assert [ok for _, ok in rec.attempts] == [True, False]
    times = [t for t, _ in rec.attempts]
    assert times[1] - times[0] == pytest.approx(0.6, abs=TOL)   # next url after delay_loop
    assert rec.alive_changes()[-1] == (pytest.approx(times[1], abs=TOL), False)
    assert f"HTTP status code error to server [{srv}]:tcp:80." in rec.logs
    assert f"HTTP_CHECK on service [{srv}]:tcp:80 failed after 2 retries." in rec.logs


def test_failure_after_up_is_retried_delay_before_retry_apart(world: World) -> None:
    srv = world.srv.ip
    spec = http(url("/ok"), retry=2, delay_before_retry=0.3, delay_loop=0.6)

    async def break_it(t0: float) -> None:
        await asyncio.sleep(0.9)
        await asyncio.to_thread(block, world.srv, "h80", "tcp dport 80", "reject with tcp reset")

    try:
        rec = run_checks(world.cli.ns, lambda t, h: [HttpChecker(spec, t, h)], address=srv, port=80,
                         duration=4.0, during=break_it,
                         stop_when=lambda r: any(not h.alive for _, h in r.events))
    finally:
        unblock(world.srv, "h80")
    assert [ok for _, ok in rec.attempts] == [True, True, False, False, False]
    t = [x for x, _ in rec.attempts]
    assert t[1] - t[0] == pytest.approx(0.6, abs=TOL)
    assert t[3] - t[2] == pytest.approx(0.3, abs=TOL)
    assert t[4] - t[3] == pytest.approx(0.3, abs=TOL)
    assert rec.alive_changes()[-1] == (pytest.approx(t[4], abs=TOL), False)
    assert f"HTTP_CHECK on service [{srv}]:tcp:80 failed after 2 retries." in rec.logs


def test_fast_recovery_checks_again_at_once(world: World) -> None:
    srv = world.srv.ip
    spec = http(url("/ok"), url("/ok"), delay_loop=2.0, fast_recovery=True)
    rec = run_checks(world.cli.ns, lambda t, h: [HttpChecker(spec, t, h)], address=srv, port=80,
                     duration=1.0)
    times = [t for t, _ in rec.attempts]
    # first run: both urls back to back instead of a delay_loop apart
    assert len(times) == 2 and times[1] - times[0] < 1.0   # not delay_loop (2 s) apart; loaded-machine slack
    assert f"Remote Web server [{srv}]:tcp:80 succeed on service." in rec.logs


def test_content_length_mismatch_logged_once(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pykeepalived")
    srv = world.srv.ip
    spec = http(url("/short"), delay_loop=0.3)
    rec = run_checks(world.cli.ns, lambda t, h: [HttpChecker(spec, t, h)], address=srv, port=80, duration=1.0)
    assert len(rec.attempts) >= 3 and all(ok for _, ok in rec.attempts)
    line = (f"http_check for RS [{srv}]:tcp:80 VS 192.0.2.100:80/TCP url /short: content_length (100) "
            "does not match received bytes (12)")
    assert rec.logs.count(line) == 1


def test_ssl_block_client_certificate_with_password(world: World) -> None:
    srv = world.srv.ip
    pki = world.pki
    with_cert = make_ssl_context(model.Ssl(ca=str(pki.ca), certificate=str(pki.client_cert),
                                           key=str(pki.client_key), password="s3cret"))
    without = make_ssl_context(model.Ssl(ca=str(pki.ca)))
    spec = http(url("/ok", digest=HELLO_MD5), ssl=True)
    outs = attempts_in_ns(world.cli.ns, lambda hub: [
        checker_for(SslChecker, spec, srv, 444, hub, ssl_ctx=with_cert),
        checker_for(SslChecker, spec, srv, 444, hub, ssl_ctx=without),
    ])
    assert (outs[0].ok, outs[0].detail) == (True, "MD5 digest")
    assert outs[1].ok is False  # the server refuses us (at the handshake or the first read with TLS 1.3)
    with pytest.raises(ssl.SSLError):
        make_ssl_context(model.Ssl(certificate=str(pki.client_cert), key=str(pki.client_key), password="wrong"))
