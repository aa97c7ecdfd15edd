"""TCP_CHECK against a real server in a namespace: verdicts, keepalived's log lines, and the
retry x delay_before_retry timing of the down decision (with tolerances, never speed)."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest
from checklib import World, block, run_checks, unblock, vs_rs

from pykeepalived.check.tcp import TcpChecker
from pykeepalived.config import model

pytestmark = pytest.mark.privileged

TOL = 0.35  # seconds of slack on protocol timing (scheduling, namespaces, a loaded CI box)


def tcp(**kw: object) -> model.TcpCheck:
    base: dict[str, object] = {"connect_timeout": 1.0, "retry": 1, "delay_before_retry": 0.3,
                               "delay_loop": 1.0, "warmup": 0.0}
    base.update(kw)
    return model.TcpCheck(**base)  # type: ignore[arg-type]


def test_tcp_up_logs_success_and_stays_alive(world: World) -> None:
    srv = world.srv.ip
    rec = run_checks(world.cli.ns, lambda t, h: [TcpChecker(tcp(), t, h)], address=srv, port=80,
                     duration=1.6)
    assert f"TCP connection to [{srv}]:tcp:80 success." in rec.logs
    assert [h.alive for h in rec.snapshot] == [True]
    # first run at once, then every delay_loop
    times = [t for t, _ in rec.attempts]
    assert len(times) == 2 and times[1] - times[0] == pytest.approx(1.0, abs=TOL)
    assert all(ok for _, ok in rec.attempts)


def test_tcp_first_run_failure_is_final(world: World) -> None:
    """keepalived starts every checker with its retries used up: one failure before the first
    success takes the real server down at once (checked against keepalived 2.2.7 in the VM)."""
    srv = world.srv.ip
    spec = tcp(retry=2, delay_before_retry=0.4, delay_loop=3.0)
    rec = run_checks(world.cli.ns, lambda t, h: [TcpChecker(spec, t, h)], address=srv, port=81,
                     duration=1.0, stop_when=lambda r: any(not h.alive for _, h in r.events))
    assert [ok for _, ok in rec.attempts] == [False]
    assert rec.alive_changes() == [(pytest.approx(0.0, abs=TOL), False)]
    assert f"TCP_CHECK on service [{srv}]:tcp:81 failed." in rec.logs
    assert f"Removing service [{srv}]:tcp:81 from VS 192.0.2.100:81/TCP" in rec.logs


def test_tcp_refused_after_up_goes_down_after_retries(world: World) -> None:
    srv = world.srv.ip
    spec = tcp(retry=2, delay_before_retry=0.4, delay_loop=1.0)

    async def refuse(t0: float) -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(block, world.srv, "r80", "tcp dport 80", "reject with tcp reset")

    try:
        rec = run_checks(world.cli.ns, lambda t, h: [TcpChecker(spec, t, h)], address=srv, port=80,
                         duration=4.0, during=refuse,
                         stop_when=lambda r: any(not h.alive for _, h in r.events))
    finally:
        unblock(world.srv, "r80")
    # up at 0; refused at 1.0, retried 0.4 apart (1.4, 1.8); down on the third failure (retry=2)
    assert [ok for _, ok in rec.attempts] == [True, False, False, False]
    t = [x for x, _ in rec.attempts]
    assert t[1] == pytest.approx(1.0, abs=TOL)
    assert [b - a for a, b in zip(t[1:], t[2:], strict=False)] == [pytest.approx(0.4, abs=TOL)] * 2
    assert rec.alive_changes()[-1] == (pytest.approx(t[3], abs=TOL), False)
    assert f"TCP_CHECK on service [{srv}]:tcp:80 failed after 2 retries." in rec.logs
    assert f"Removing service [{srv}]:tcp:80 from VS 192.0.2.100:80/TCP" in rec.logs


def test_tcp_timeout_counts_connect_timeout_and_retry(world: World) -> None:
    srv = world.srv.ip
    spec = tcp(connect_timeout=1.0, retry=1, delay_before_retry=0.5, delay_loop=1.0, log_all_failures=True)

    async def drop(t0: float) -> None:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(block, world.srv, "t80", "tcp dport 80", "drop")

    try:
        rec = run_checks(world.cli.ns, lambda t, h: [TcpChecker(spec, t, h)], address=srv, port=80,
                         duration=6.0, during=drop, stop_when=lambda r: any(not h.alive for _, h in r.events))
    finally:
        unblock(world.srv, "t80")
    # up at 0; the attempt at 1.0 times out at 2.0, the retry starts 0.5 later and times out at 3.5: down
    assert [ok for _, ok in rec.attempts] == [True, False, False]
    assert rec.attempts[1][0] == pytest.approx(2.0, abs=TOL)
    assert rec.attempts[2][0] == pytest.approx(3.5, abs=TOL)
    assert rec.alive_changes()[-1][0] == pytest.approx(3.5, abs=TOL)
    assert f"TCP connection to [{srv}]:tcp:80 timedout." in rec.logs
    assert f"TCP_CHECK on service [{srv}]:tcp:80 failed after 1 retries." in rec.logs


def test_tcp_recovers_and_runs_notify_scripts(world: World, tmp_path: Path) -> None:
    srv = world.srv.ip
    marker = tmp_path / "notify.log"
    up = model.Script(cmd="up", args=("/bin/sh", "-c", f"echo UP $# >> {marker}"))
    down = model.Script(cmd="down", args=("/bin/sh", "-c", f"echo DOWN $# >> {marker}"))
    spec = tcp(retry=0, delay_loop=0.5)
    _, rs = vs_rs(srv, 80, spec, notify_up=up, notify_down=down)
    block(world.srv, "t80", "tcp dport 80", "reject with tcp reset")

    async def heal(t0: float) -> None:
        await asyncio.sleep(1.2)
        await asyncio.to_thread(unblock, world.srv, "t80")

    try:
        rec = run_checks(world.cli.ns, lambda t, h: [TcpChecker(spec, t, h)], address=srv, port=80,
                         rs=rs, duration=3.0, during=heal)
    finally:
        unblock(world.srv, "t80")
    changes = rec.alive_changes()
    assert [a for _, a in changes] == [False, True]
    assert changes[0][0] == pytest.approx(0.0, abs=TOL)  # retry 0: the first failure decides
    assert 1.2 - TOL < changes[1][0] < 1.2 + 0.5 + TOL  # next delay_loop tick after healing
    assert f"Adding service [{srv}]:tcp:80 to VS [192.0.2.100]:tcp:80" in rec.logs
    assert f"TCP connection to [{srv}]:tcp:80 success." in rec.logs
    # notify scripts run with no extra arguments, in order
    assert marker.read_text().split("\n")[:2] == ["DOWN 0", "UP 0"]


def test_tcp_alpha_starts_down(world: World) -> None:
    srv = world.srv.ip
    spec = tcp(alpha=True, delay_loop=0.5)
    rec = run_checks(world.cli.ns, lambda t, h: [TcpChecker(spec, t, h)], address=srv, port=80,
                     duration=1.2)
    assert [(h.alive) for _, h in rec.events] == [True]  # down until the first success
    assert rec.events[0][0] - rec.t0 < 0.5                # checked at once, not a delay_loop later


def test_suspended_checker_does_nothing(world: World) -> None:
    """ha_suspend: a disabled checker keeps its schedule but neither connects nor decides."""
    srv = world.srv.ip

    def build(t, h):  # type: ignore[no-untyped-def]
        c = TcpChecker(tcp(retry=0, delay_loop=0.2), t, h)
        c.enabled = False
        return [c]

    rec = run_checks(world.cli.ns, build, address=srv, port=81, duration=1.0)
    assert rec.attempts == [] and rec.events == []
    assert [h.alive for h in rec.snapshot] == [True]


def test_connection_options_apply_on_the_wire(world: World) -> None:
    """bindto/bind_port choose the source, fwmark marks the socket (an nft rule on the mark
    rejects it), bind_if pins the device, connect_ip/connect_port override the real server."""
    from checklib import attempts_in_ns, checker_for

    srv, cli = world.srv.ip, world.cli.ip
    world.cli.nft("add table inet mark7\n"
                  "add chain inet mark7 out { type filter hook output priority 0; policy accept; }\n"
                  "add rule inet mark7 out meta mark 7 tcp dport 80 reject with tcp reset")
    try:
        outs = attempts_in_ns(world.cli.ns, lambda hub: [
            checker_for(TcpChecker, tcp(bindto=ipaddress.ip_address(cli), bind_port=40123), srv, 80, hub),
            checker_for(TcpChecker, tcp(fwmark=7), srv, 80, hub),
            checker_for(TcpChecker, tcp(fwmark=8), srv, 80, hub),
            checker_for(TcpChecker, tcp(bind_if="eth0"), srv, 80, hub),
            checker_for(TcpChecker, tcp(bind_if="lo", connect_timeout=0.5), srv, 80, hub),
            checker_for(TcpChecker, tcp(connect_ip=ipaddress.ip_address(srv), connect_port=80), "192.0.2.99", 81,
                        hub),
        ])
    finally:
        world.cli.run(["nft", "delete", "table", "inet", "mark7"], check=False)
    assert [o.ok for o in outs] == [True, False, True, True, False, True]
    # the plain TCP check sends no request; the source shows through an HTTP request with the same options
    from pykeepalived.check.http import HttpChecker
    before = world.servers.stdout().count("PEER ")
    spec = model.HttpGet(urls=(model.Url(path="/ok"),), bindto=ipaddress.ip_address(cli), bind_port=40124,
                         connect_timeout=1.0)
    assert attempts_in_ns(world.cli.ns, lambda hub: [checker_for(HttpChecker, spec, srv, 80, hub)])[0].ok
    peers = [ln for ln in world.servers.stdout().splitlines() if ln.startswith("PEER ")][before:]
    assert peers == [f"PEER {cli} 40124"]
