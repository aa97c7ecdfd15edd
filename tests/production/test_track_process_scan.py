"""vrrp_track_process without the proc connector: the /proc scan never blocks the loop.

A scan reads /proc/PID/stat of every process: 12-60 ms for 140 processes on the shared 2-core
machine, more with more processes, while a master at advert_int 0.01 must advertise every
10 ms (B's master-down interval is 36 ms). The scan ran inside poll() on the loop; it now runs
on a worker thread and its result is applied on the loop. A scan made slow on purpose (0.8 s)
shows it: poll() returns at once, a 10 ms ticker on the loop keeps ticking, the result is
applied afterwards; a poll() during a scan asks for one more scan after it.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from pykeepalived.config.model import TrackProcess
from pykeepalived.io import trackers
from pykeepalived.io.trackers import ProcessTracker

SLOW = 0.8


def test_poll_scans_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = TrackProcess(name="p", process="pk-no-such-proc")
    results = [({"p": {}}, {1}), ({"p": {4242: 1}}, {1, 4242}), ({"p": {4242: 1, 4243: 1}}, {1, 4242, 4243})]
    scans: list[str] = []

    def slow_scan(specs: list[TrackProcess]) -> tuple[dict[str, dict[int, int]], set[int]]:
        scans.append(threading.current_thread().name)
        if len(scans) > 1:
            time.sleep(SLOW)
        return results[min(len(scans), len(results)) - 1]

    monkeypatch.setattr(trackers, "scan_processes", slow_scan)
    monkeypatch.setattr(trackers, "proc_connector", lambda: None)     # poll, as inside a namespace
    seen: list[object] = []

    async def main() -> None:
        tracker = ProcessTracker([spec], lambda kind, name, value: seen.append(value))
        tracker.start()
        try:
            assert seen == [False]
            if tracker.task is not None:
                tracker.task.cancel()             # drive poll() by hand
            t0 = time.monotonic()
            tracker.poll()
            assert time.monotonic() - t0 < SLOW / 2, "poll() scanned /proc on the loop"
            tracker.poll()                        # during the scan: one more scan after it
            ticks: list[float] = []
            while len(scans) < 3 or tracker._scanning:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)
                assert time.monotonic() - t0 < 10, f"scans never finished: {scans}"
            longest = max(b - a for a, b in zip(ticks, ticks[1:], strict=False))
            assert longest < SLOW / 2, f"the loop stalled {longest:.3f} s during a scan"
            assert seen == [False, True]          # the first slow scan found 4242 (exec)
            assert tracker.pids["p"] == {4242: 1, 4243: 1}
            assert len(scans) == 3 and all(name != threading.current_thread().name for name in scans[1:])
        finally:
            tracker.stop()

    asyncio.run(main())


def test_stop_during_a_scan_drops_its_result(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = TrackProcess(name="p", process="pk-no-such-proc")
    calls: list[int] = []

    def slow_scan(specs: list[TrackProcess]) -> tuple[dict[str, dict[int, int]], set[int]]:
        calls.append(1)
        if len(calls) > 1:
            time.sleep(0.3)
            return {"p": {4242: 1}}, {1, 4242}
        return {"p": {}}, {1}

    monkeypatch.setattr(trackers, "scan_processes", slow_scan)
    monkeypatch.setattr(trackers, "proc_connector", lambda: None)
    seen: list[object] = []

    async def main() -> None:
        tracker = ProcessTracker([spec], lambda kind, name, value: seen.append(value))
        tracker.start()
        tracker.poll()
        tracker.stop()
        await asyncio.sleep(0.6)
        assert seen == [False], "a scan finished after stop() was applied"

    asyncio.run(main())
