"""Issue 24 item 3: log lines caused per received packet are rate-limited (log.LineLimit), per
instance and kind of line; the VRRP process's LogHold keeps at most HOLD_MAX records of a loop
callback back. Every clock here is a hand-driven number."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pykeepalived import log as kalog
from pykeepalived.core.events import AdvertRejected, RejectReason
from pykeepalived.vrrp.runtime import HOLD_MAX, LogHold

from .conftest import Lines
from .helpers import advert, backup, master, packed

LOWER = "(VI_1) received lower priority (50) advert from 192.168.77.2 - discarding"


@pytest.fixture
def logs(logs: list[str]) -> Iterator[list[str]]:
    """conftest's `logs`, and the limiter's pending summaries dropped afterwards."""
    yield logs
    kalog._pending.clear()


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_line_limit_on_a_fake_clock(logs: list[str]) -> None:
    clock = Clock(100.0)
    limit = kalog.LineLimit(logging.getLogger("pykeepalived.test"), "(VI_1) ", rate=3, period=1.0, clock=clock)
    for i in range(10):                                  # 10 in the first second: 3 written
        clock.t = 100.0 + i * 0.05
        limit.info("(%s) line %d", "VI_1", i)
    limit.info("(%s) other kind", "VI_1")                # another kind has its own budget
    assert logs == ["(VI_1) line 0", "(VI_1) line 1", "(VI_1) line 2", "(VI_1) other kind"]
    clock.t = 100.9
    kalog.flush_suppressed()                             # the second is not over: nothing yet
    assert len(logs) == 4
    clock.t = 101.0
    kalog.flush_suppressed()
    assert logs[4:] == ["(VI_1) 7 more lines suppressed in the last 1 s (at most 3 a second are logged), "
                        "the last: line 9"]
    assert not kalog._pending
    clock.t = 101.2
    limit.info("(%s) line %d", "VI_1", 10)               # a new second: written again
    assert logs[-1] == "(VI_1) line 10" and limit.suppressed == 7


def test_summary_comes_with_the_next_line_without_a_flush(logs: list[str]) -> None:
    clock = Clock(5.0)
    limit = kalog.LineLimit(logging.getLogger("pykeepalived.test"), rate=1, period=1.0, clock=clock)
    limit.info("Unknown VRID(%d) received on interface(%s). ignoring...", 7, "eth0")
    clock.t = 5.1
    limit.info("Unknown VRID(%d) received on interface(%s). ignoring...", 8, "eth0")
    clock.t = 6.5
    limit.info("Unknown VRID(%d) received on interface(%s). ignoring...", 9, "eth0")
    assert logs == ["Unknown VRID(7) received on interface(eth0). ignoring...",
                    "1 more lines suppressed in the last 1 s (at most 1 a second are logged), "
                    "the last: Unknown VRID(8) received on interface(eth0). ignoring...",
                    "Unknown VRID(9) received on interface(eth0). ignoring..."]


def test_backup_flooded_with_lower_priority_adverts(logs: list[str]) -> None:
    """10,000 lower-priority adverts in 2 s: keepalived's text, LINE_RATE a second, one summary
    per second; the protocol outcome (discarded, timer running) is unchanged."""
    r = backup(now=0.0)
    clock = Clock(1.0)
    r.lines.clock = clock
    deadline = r.deadline()
    adv = advert(r.params, 50)
    for i in range(10_000):
        clock.t = 1.0 + i * 0.0002
        r.handle(adv, clock.t)
    clock.t = 3.0
    kalog.flush_suppressed()
    lowers = [line for line in logs if line == LOWER]
    summaries = [line for line in logs if "suppressed" in line]
    assert len(lowers) == 2 * kalog.LINE_RATE
    assert summaries == [f"(VI_1) {5000 - kalog.LINE_RATE} more lines suppressed in the last 1 s (at most "
                         f"{kalog.LINE_RATE} a second are logged), the last: received lower priority (50) "
                         "advert from 192.168.77.2 - discarding"] * 2
    assert r.deadline() == deadline


def test_master_flooded_with_invalid_adverts_from_changing_sources(logs: list[str]) -> None:
    """Rejections are logged once per master; a flood from ever new sources still gets LINE_RATE."""
    r, now = master()
    r.lines.clock = Clock(now)
    logs.clear()
    for i in range(2000):
        r.handle(advert(r.params, 50, src=f"192.168.77.{2 + i % 200}", ttl=64), now + 0.1 + i * 0.0001)
        r.handle(AdvertRejected(RejectReason.CHECKSUM, packed("192.168.77.9")), now + 0.1 + i * 0.0001)
    assert 0 < len(logs) <= 2 * kalog.LINE_RATE


def test_log_hold_keeps_a_bounded_number_of_records() -> None:
    target = Lines()
    hold = LogHold(limit=HOLD_MAX)
    hold.targets = [target]
    logger = logging.getLogger("pykeepalived.test.hold")
    logger.addHandler(hold)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        hold.hold()
        for i in range(5 * HOLD_MAX + 7):
            logger.info("line %d", i)
            assert len(hold.held) <= HOLD_MAX
        hold.release()
    finally:
        logger.removeHandler(hold)
        logger.propagate = True
    assert target.lines == [f"line {i}" for i in range(5 * HOLD_MAX + 7)]     # all, in order
    assert hold.held == []

