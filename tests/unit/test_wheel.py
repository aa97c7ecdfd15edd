"""Timer wheel against a heapq model, run against both twins (fixture `fastpath`)."""

from __future__ import annotations

import heapq
import random

import pytest


class HeapModel:
    """The obvious implementation: a heap with lazy deletion."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int]] = []
        self.live: dict[int, float] = {}

    def schedule(self, ident: int, deadline: float) -> None:
        self.live[ident] = deadline
        heapq.heappush(self.heap, (deadline, ident))

    def cancel(self, ident: int) -> bool:
        return self.live.pop(ident, None) is not None

    def advance(self, now: float) -> list[int]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            deadline, ident = heapq.heappop(self.heap)
            if self.live.get(ident) == deadline:
                del self.live[ident]
                out.append(ident)
        return out

    def next_deadline(self) -> float | None:
        return min(self.live.values()) if self.live else None


@pytest.mark.parametrize("seed", range(12))
def test_wheel_matches_heap_model(fastpath, seed):
    rng = random.Random(seed)
    slots = rng.choice((1, 8, 64, 4096))
    wheel = fastpath.wheel.TimerWheel(slots=slots)
    model = HeapModel()
    now = rng.choice((0.0, rng.uniform(0, 1e5), 1e9))
    ids = rng.choice((20, 300, 4000))
    for _ in range(2500):
        op = rng.random()
        if op < 0.45:
            ident = rng.randrange(ids)
            deadline = now + rng.choice((
                rng.uniform(0, 1), rng.uniform(0, 4), rng.uniform(0, 300), rng.uniform(-1, 0),
                0.0, 1e-9, round(rng.uniform(0, 3), 3), rng.randrange(0, 5) * 0.001))
            wheel.schedule(ident, deadline)
            model.schedule(ident, deadline)
        elif op < 0.6:
            ident = rng.randrange(ids)
            assert wheel.cancel(ident) == model.cancel(ident)
        else:
            now += rng.choice((0.0, 1e-6, 0.0004, 0.001, rng.uniform(0, 0.05), rng.uniform(0, 3), rng.uniform(0, 400)))
            fired = wheel.advance(now)
            assert fired == model.advance(now)
        assert len(wheel) == len(model.live)
        assert wheel.next_deadline() == model.next_deadline()


def test_never_fires_early(fastpath):
    wheel = fastpath.wheel.TimerWheel()
    base = 12345.678
    wheel.schedule(1, base)
    wheel.schedule(2, base + 1e-9)      # same millisecond, later
    wheel.schedule(3, base + 0.0009)
    assert wheel.advance(base - 1e-9) == []
    assert wheel.advance(base) == [1]
    assert wheel.advance(base + 5e-10) == []
    assert wheel.advance(base + 1e-9) == [2]
    assert wheel.next_deadline() == base + 0.0009
    assert wheel.advance(base + 0.0009) == [3]
    assert len(wheel) == 0 and wheel.next_deadline() is None


def test_order_by_deadline_then_id(fastpath):
    wheel = fastpath.wheel.TimerWheel(slots=16)
    for ident, deadline in ((5, 1.0), (3, 1.0), (9, 0.5), (1, 20.0), (4, 0.9999)):
        wheel.schedule(ident, deadline)
    assert wheel.advance(1.0) == [9, 4, 3, 5]
    assert wheel.advance(19.999) == []   # a later round shares a bucket; it stays
    assert wheel.advance(100.0) == [1]


def test_reschedule_replaces_and_cancel(fastpath):
    wheel = fastpath.wheel.TimerWheel()
    wheel.schedule(7, 10.0)
    wheel.schedule(7, 5.0)
    assert len(wheel) == 1 and wheel.deadline(7) == 5.0 and 7 in wheel
    wheel.schedule(7, 30.0)
    assert wheel.advance(10.0) == [] and wheel.next_deadline() == 30.0
    assert wheel.cancel(7) is True and wheel.cancel(7) is False
    assert wheel.deadline(7) is None and 7 not in wheel
    assert wheel.advance(1000.0) == []
    # A deadline behind the clock fires on the next advance.
    wheel.schedule(8, 3.0)
    assert wheel.next_deadline() == 3.0
    assert wheel.advance(1000.0) == [8]


def test_large_ids_and_many_entries(fastpath):
    wheel = fastpath.wheel.TimerWheel()
    big = [2**63 - 1, -(2**63), 0, 123456789012]
    for i, ident in enumerate(big):
        wheel.schedule(ident, 1.0 + i)
    assert wheel.advance(10.0) == big
    for i in range(4000):
        wheel.schedule(i, 100.0 + (i % 997) * 0.001)
    assert len(wheel) == 4000
    fired = wheel.advance(100.5)
    assert len(fired) == 4000 - sum(1 for i in range(4000) if i % 997 > 500)
    wheel.clear()
    assert len(wheel) == 0 and wheel.next_deadline() is None and wheel.advance(1e6) == []


def test_bad_arguments(fastpath):
    TimerWheel = fastpath.wheel.TimerWheel
    with pytest.raises(ValueError):
        TimerWheel(slots=1000)
    with pytest.raises(ValueError):
        TimerWheel(ticks_per_second=0)
    wheel = TimerWheel()
    for bad in (float("nan"), float("inf"), 1e300):
        with pytest.raises(ValueError):
            wheel.schedule(1, bad)
    with pytest.raises(OverflowError):
        wheel.schedule(2**63, 1.0)
    with pytest.raises(TypeError):
        wheel.schedule(1.5, 1.0)
    assert len(wheel) == 0
