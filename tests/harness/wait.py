"""Polling with a deadline: the one way tests wait for something to become true."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 10, *, interval: float = 0.05,
               message: str = "condition") -> T:
    """Call `probe` until it returns something truthy and return that; TimeoutError after `timeout` s.

    An exception from `probe` propagates at once (use it to fail early, e.g. "the daemon died").
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message}: not true after {timeout:g} s (last value {last!r})")
        time.sleep(interval)
