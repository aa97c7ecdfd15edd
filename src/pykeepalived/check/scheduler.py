"""One scheduler for every checker of the process.

A binary heap of (due time, checker) and a single `loop.call_at` armed for the earliest
entry. When it fires, every checker that is due starts one attempt as a task; when the
attempt ends, its epilog's delay puts the checker back into the heap. No thread and no
sleeping task per checker: 11,000 idle checkers cost 11,000 heap entries and one timer."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Iterable

from pykeepalived.check.base import BOOTSTRAP_DELAY, Checker

log = logging.getLogger(__name__)

# Entries due within this much are started together: the loop's timers have millisecond
# granularity (uvloop rounds), so waking for each entry separately only spins.
SLACK = 0.001
# At most this many attempts start per loop iteration; the rest follow in the next ones, so
# that I/O of attempts in flight is served in between (a late batch of thousands started at
# once would stall the loop, bunch the checks together and stall it again a second later).
MAX_BATCH = 128


class Scheduler:
    def __init__(self, *, record_lateness: bool = False) -> None:
        self._heap: list[tuple[float, int, Checker]] = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self.checkers: list[Checker] = []
        # statistics (benchmarks, status): attempts started and how late they started
        self.started = 0
        self.errors = 0
        self.record_lateness = record_lateness
        self.lateness: list[float] = []

    def start(self, checkers: Iterable[Checker], *, rng: random.Random | None = None,
              bootstrap: float = BOOTSTRAP_DELAY) -> None:
        """Schedule every checker for its first run (bootstrap delay + random warmup)."""
        self._loop = asyncio.get_running_loop()
        self._running = True
        rng = rng or random.Random()
        now = self._loop.time()
        for checker in checkers:
            self.checkers.append(checker)
            self._push(now + checker.first_delay(rng, bootstrap), checker)
        self._arm()

    async def stop(self) -> None:
        """Stop launching attempts, cancel those in flight and release the checkers."""
        self._running = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for checker in self.checkers:
            checker.close()
        self._heap.clear()

    def _push(self, when: float, checker: Checker) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), checker))

    def _arm(self) -> None:
        if not self._heap or not self._running or self._loop is None:
            return
        when = self._heap[0][0]
        if self._handle is not None:
            if self._armed_at is not None and self._armed_at <= when:
                return  # an earlier (or the same) wake-up is already set
            self._handle.cancel()
        self._armed_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed_at = None
        assert self._loop is not None
        now = self._loop.time()
        heap = self._heap
        budget = MAX_BATCH
        while heap and heap[0][0] <= now + SLACK:
            if budget == 0:
                self._handle = self._loop.call_later(0, self._fire)
                self._armed_at = now
                return
            budget -= 1
            due, _, checker = heapq.heappop(heap)
            if self.record_lateness:
                self.lateness.append(max(0.0, now - due))
            self.started += 1
            task = self._loop.create_task(self._run(checker))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._arm()

    async def _run(self, checker: Checker) -> None:
        try:
            delay = await checker.run_once()
        except asyncio.CancelledError:
            raise
        except Exception:  # a checker bug must not stop the others
            self.errors += 1
            log.exception("Checker for %s failed unexpectedly", checker.target.fmt_rs)
            delay = checker.delay_loop
        if self._running and self._loop is not None:
            self._push(self._loop.time() + max(delay, 0.0), checker)
            self._arm()
