"""Root test configuration: the namespace harness plugin (marker skips, `lab` fixture, stale cleanup)."""

from __future__ import annotations

pytest_plugins = ["harness.fixtures"]


def pytest_report_header() -> str:
    from pykeepalived import _fastpath

    return f"pykeepalived fast path under test: {_fastpath.IMPLEMENTATION}"
