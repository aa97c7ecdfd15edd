"""io.l2 pacing rules on a fake clock and fake ports (the wire check, with keepalived 2.2.7 side by
side, is tests/production/test_garp_track_group.py): which GARPs go at once, which wait, and
that an address already waiting is not queued twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from pykeepalived.config import load_text
from pykeepalived.config.model import Config
from pykeepalived.io.l2 import L2Sender, pacings


def parse(text: str) -> Config:
    result = load_text(text, interfaces=frozenset({"eth0", "eth1", "eth2"}))
    assert result.config is not None, [d.format() for d in result.diagnostics]
    return result.config


class FakePort:
    def __init__(self, ifname: str, ifindex: int, log: list[tuple[float, str, bytes]], clock: Any) -> None:
        self.ifname, self.ifindex, self.log, self.clock = ifname, ifindex, log, clock
        self.sock = self

    def close(self) -> None:
        pass

    def send(self, frame: bytes) -> None:
        self.log.append((self.clock(), self.ifname, frame))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def sender(loop: asyncio.AbstractEventLoop, config: Config, clock: Clock,
           bases: dict[str, str] | None = None) -> tuple[L2Sender, list[tuple[float, str, bytes]]]:
    l2 = L2Sender(loop, clock)
    l2.configure(config, bases or {})
    sent: list[tuple[float, str, bytes]] = []
    for index, name in enumerate(("eth0", "eth1", "vrrp.51"), start=1):
        l2._ports[index] = FakePort(name, index, sent, clock)
    return l2, sent


V1, V2 = [(4, b"garp-1"), (4, b"garp-2")], [(4, b"garp-3")]


def test_group_interfaces_share_one_pacing() -> None:
    config = parse("garp_group {\n garp_interval 0.5\n interfaces {\n eth0\n eth1\n }\n}\n"
                   "garp_group {\n gna_interval 1\n interface eth2\n}\n")
    p = pacings(config)
    assert p["eth0"] is p["eth1"] and p["eth0"].garp_interval == 0.5
    assert p["eth2"].gna_interval == 1 and p["eth2"].garp_interval == 0


def test_burst_collapses_and_paces(loop: asyncio.AbstractEventLoop) -> None:
    clock = Clock()
    l2, sent = sender(loop, parse("garp_group {\n garp_interval 0.25\n interface eth0\n}\n"), clock)
    l2.burst("eth0", 1, V1, 3, order=1)
    l2.burst("eth0", 1, V2, 3, order=2)
    assert [f for _, _, f in sent] == [b"garp-1"]          # the rest waits; each address once
    for step in range(1, 5):
        clock.now = 100.0 + 0.25 * step         # binary-exact times
        l2._flush()
    assert [(round(t - 100, 3), f) for t, _, f in sent] == [
        (0.0, b"garp-1"), (0.25, b"garp-1"), (0.5, b"garp-2"), (0.75, b"garp-3")]
    l2.close()


def test_early_wakeup_never_sends_early(loop: asyncio.AbstractEventLoop) -> None:
    clock = Clock()
    l2, sent = sender(loop, parse("global_defs {\n vrrp_garp_interval 0.2\n}\n"), clock)
    l2.burst("eth0", 1, V1, 1)
    clock.now += 0.199
    l2._flush()
    assert len(sent) == 1
    clock.now += 0.001
    l2._flush()
    assert len(sent) == 2
    l2.close()


def test_pending_dropped_when_no_longer_master(loop: asyncio.AbstractEventLoop) -> None:
    clock = Clock()
    l2, sent = sender(loop, parse("global_defs {\n vrrp_garp_interval 0.2\n}\n"), clock)
    master = [True]
    l2.burst("eth0", 1, V1, 2, wanted=lambda: master[0])
    master[0] = False
    clock.now += 1
    l2._flush()
    assert [f for _, _, f in sent] == [b"garp-1"]
    assert not l2._pending
    l2.close()


def test_group_without_garp_interval_is_not_paced_by_the_global(loop: asyncio.AbstractEventLoop) -> None:
    clock = Clock()
    config = parse("global_defs {\n vrrp_garp_interval 1\n}\ngarp_group {\n gna_interval 1\n interface eth0\n}\n")
    l2, sent = sender(loop, config, clock)
    l2.burst("eth0", 1, V1, 2)
    l2.burst("eth1", 2, V2, 2)                 # no group: the global interval
    assert [f for _, _, f in sent] == [b"garp-1", b"garp-2", b"garp-1", b"garp-2", b"garp-3"]
    l2.close()


def test_vmac_paced_by_its_base(loop: asyncio.AbstractEventLoop) -> None:
    clock = Clock()
    l2, sent = sender(loop, parse("garp_group {\n garp_interval 0.5\n interface eth0\n}\n"), clock,
                      bases={"vrrp.51": "eth0"})
    assert l2.pacing("vrrp.51") is l2.pacing("eth0")
    l2.burst("eth0", 1, V1[:1], 1)
    l2.burst("vrrp.51", 3, V2, 1)
    assert [f for _, _, f in sent] == [b"garp-1"]
    assert l2.pacing("eth1") is None            # no group, no global interval: not paced
    l2.close()
