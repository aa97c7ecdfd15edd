"""Checker tests: one lab per module (a client host where checkers run, a server host with
real servers), a throw-away CA made with the openssl CLI, and `run_checks()` which runs
checkers on one event loop inside the client's namespace and records what they decided."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from harness.fixtures import privileged_skip_reason
from harness.lab import Host, Lab
from pykeepalived.check.base import Checker
from pykeepalived.check.common import Target
from pykeepalived.check.hub import HealthHub, RealServerHealth
from pykeepalived.check.scheduler import Scheduler
from pykeepalived.config import model
from pykeepalived.osutil import enter_netns

HERE = Path(__file__).parent


def setns(ns: str) -> None:
    """Move the calling thread into network namespace `ns`."""
    enter_netns(ns)


def in_netns(ns: str, fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to completion on a fresh loop in a thread inside `ns`."""
    result: list[Any] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            setns(ns)
            result.append(asyncio.run(fn()))
        except BaseException as e:  # handed to the caller
            error.append(e)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path  # a CA that did not sign the server certificate
    client_cert: Path
    client_key: Path  # encrypted with the password "s3cret"


def make_pki(d: Path) -> Pki:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    for name in ("ca", "other"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name} test CA",
            "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=www.ok.test", "-keyout", str(d / "srv.key"),
        "-out", str(d / "srv.csr"))
    run("x509", "-req", "-in", str(d / "srv.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-days", "2", "-out", str(d / "srv.pem"))
    # a client certificate whose key is protected by a password (the SSL block's `password`)
    run("req", "-newkey", "rsa:2048", "-passout", "pass:s3cret", "-subj", "/CN=checker", "-keyout",
        str(d / "cli.key"), "-out", str(d / "cli.csr"))
    run("x509", "-req", "-in", str(d / "cli.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-days", "2", "-out", str(d / "cli.pem"))
    return Pki(d / "ca.pem", d / "srv.pem", d / "srv.key", d / "other.pem", d / "cli.pem", d / "cli.key")


@dataclass
class World:
    lab: Lab
    cli: Host
    srv: Host
    pki: Pki
    servers: Any  # harness Proc

    def requests(self) -> list[bytes]:
        """Raw HTTP requests the server host received so far."""
        return [bytes.fromhex(line[4:]) for line in self.servers.stdout().splitlines()
                if line.startswith("REQ ")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = privileged_skip_reason()
    if reason:
        pytest.skip(reason)
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI for the throw-away CA")
    d = tmp_path_factory.mktemp("check")
    pki = make_pki(d)
    with Lab(workdir=d / "lab") as lab:
        cli, srv = lab.add_hosts("cli", "srv")
        servers = srv.spawn([sys.executable, str(HERE / "servers.py"), "--tls", str(pki.cert), str(pki.key)],
                            name="servers")
        servers.wait_output("READY", timeout=15)
        yield World(lab, cli, srv, pki, servers)


@dataclass
class Record:
    """What a checker run produced: results with their loop times, log lines, attempts."""

    events: list[tuple[float, RealServerHealth]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    attempts: list[tuple[float, bool]] = field(default_factory=list)
    t0: float = 0.0
    snapshot: list[RealServerHealth] = field(default_factory=list)

    def alive_changes(self) -> list[tuple[float, bool]]:
        out: list[tuple[float, bool]] = []
        for t, h in self.events:
            if not out or out[-1][1] != h.alive:
                out.append((t - self.t0, h.alive))
        return out

    def final(self) -> RealServerHealth:
        return self.events[-1][1]


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def vs_rs(address: str, port: int, *checkers: model.Checker, weight: int = 1, protocol: str = "TCP",
          notify_up: model.Script | None = None, notify_down: model.Script | None = None
          ) -> tuple[model.VirtualServer, model.RealServer]:
    rs = model.RealServer(address=ip_address(address), port=port, weight=weight, checkers=checkers,
                          notify_up=notify_up, notify_down=notify_down)
    vs = model.VirtualServer(address=ip_address("192.0.2.100"), port=port, protocol=protocol,  # type: ignore[arg-type]
                             real_servers=(rs,))
    return vs, rs


def run_checks(ns: str, build: Callable[[Target, HealthHub], list[Checker]], *, address: str, port: int,
               duration: float, rs: model.RealServer | None = None, protocol: str = "TCP",
               during: Callable[[float], Coroutine[Any, Any, None]] | None = None,
               stop_when: Callable[[Record], bool] | None = None) -> Record:
    """Run the checkers `build` makes on one scheduler in namespace `ns` for up to `duration` s.

    The first attempt starts at once (no bootstrap, no warmup). `during(t0)` runs alongside
    (to break a server at a known time)."""
    rec = Record()
    handler = _Collect(rec.logs)
    logger = logging.getLogger("pykeepalived")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def main() -> Record:
        loop = asyncio.get_running_loop()
        hub = HealthHub()
        vs = model.VirtualServer(address=ip_address("192.0.2.100"), port=port, protocol=protocol,  # type: ignore[arg-type]
                                 real_servers=(rs,) if rs else ())
        target = Target.of(vs, rs) if rs is not None else Target.simple(address, port, protocol,
                                                                         vs=vs.key)
        hub.add_real_server(target, rs)
        checkers = build(target, hub)
        for c in checkers:
            hub.attach(c)
            orig = c.attempt

            async def traced(orig: Any = orig) -> Any:
                out = await orig()
                rec.attempts.append((loop.time() - rec.t0, out.ok))
                return out

            c.attempt = traced  # type: ignore[method-assign]
        hub.subscribe(lambda h: rec.events.append((loop.time(), h)))
        sched = Scheduler()
        rec.t0 = loop.time()
        sched.start(checkers, bootstrap=0.0)
        side = loop.create_task(during(rec.t0)) if during else None
        deadline = loop.time() + duration
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            if stop_when is not None and stop_when(rec):
                break
        await sched.stop()
        await hub.drain()
        rec.snapshot = hub.snapshot()
        if side is not None:
            side.cancel()
        return rec

    try:
        return in_netns(ns, main)  # type: ignore[no-any-return]
    finally:
        logger.removeHandler(handler)


def wait_seconds(s: float) -> Coroutine[Any, Any, None]:
    return asyncio.sleep(s)


def now() -> float:
    return time.monotonic()


def attempts_in_ns(ns: str, make: Callable[[HealthHub], list[Checker]]) -> list[Any]:
    """One attempt of each checker, concurrently, in `ns`; their Outcomes in order."""

    async def main() -> list[Any]:
        hub = HealthHub()
        checkers = make(hub)
        return list(await asyncio.gather(*(c.attempt() for c in checkers)))

    return in_netns(ns, main)  # type: ignore[no-any-return]


def block(host: Host, name: str, match: str, verdict: str = "drop") -> None:
    """nft rule in its own table `name` on `host` (input hook)."""
    host.nft(f"add table inet {name}\n"
             f"add chain inet {name} input {{ type filter hook input priority -100; policy accept; }}\n"
             f"add rule inet {name} input {match} {verdict}")


def unblock(host: Host, name: str) -> None:
    host.run(["nft", "delete", "table", "inet", name], check=False)


def checker_for(cls: type[Checker], spec: model.Checker, address: str, port: int,
                hub: HealthHub, protocol: str = "TCP", **kw: Any) -> Checker:
    target = Target.simple(address, port, protocol)
    hub.add_real_server(target)
    return cls(spec, target, hub, **kw)
