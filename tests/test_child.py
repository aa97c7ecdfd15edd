"""child.py: the children's reload contract (SIGHUP -> parse off the loop -> apply; one queued)."""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any

import uvloop

from pykeepalived.child import ChildReload


def _run(parse_s: float, hups: int, apply_s: float = 0.0) -> tuple[list[Any], list[str], float]:
    """`hups` reload requests at once, a parse taking `parse_s` (on its thread) and an async
    apply taking `apply_s`: what was applied, which threads parsed, the longest loop stall."""
    applied: list[Any] = []
    parsed_on: list[str] = []
    counter = iter(range(100))

    def parse(opts: argparse.Namespace) -> Any:
        parsed_on.append(threading.current_thread().name)
        time.sleep(parse_s)
        return next(counter)

    async def apply(config: Any) -> None:
        await asyncio.sleep(apply_s)
        applied.append(config)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        reload = ChildReload(loop, argparse.Namespace(), apply, parse=parse)
        for _ in range(hups):
            reload.request()
        worst, last = 0.0, time.monotonic()
        while reload.busy:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            worst, last = max(worst, now - last), now
        return worst

    worst = uvloop.run(main())
    return applied, parsed_on, worst


def test_parse_runs_off_the_loop() -> None:
    applied, parsed_on, worst = _run(0.5, 1)
    assert applied == [0]
    assert parsed_on and parsed_on[0] != threading.main_thread().name
    assert worst < 0.4, f"the loop stalled {worst:.3f} s during a 0.5 s parse"


def test_requests_during_a_reload_queue_exactly_one_more() -> None:
    applied, parsed_on, _ = _run(0.2, 5, apply_s=0.1)
    assert applied == [0, 1], applied
    assert len(parsed_on) == 2


def test_an_unusable_file_is_not_applied_and_the_queue_goes_on() -> None:
    applied: list[Any] = []
    results = iter([None, "second"])

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reload = ChildReload(loop, argparse.Namespace(), applied.append, parse=lambda o: next(results))
        reload.request()
        reload.request()
        while reload.busy:
            await asyncio.sleep(0.005)
        assert reload.done == 2

    uvloop.run(main())
    assert applied == ["second"]
