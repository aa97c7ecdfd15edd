"""pytest plugin (loaded by tests/conftest.py): marker skips, stale-lab cleanup, lab fixtures.

Markers: `privileged` skips unless root with iproute2; `interop` skips unless keepalived is installed.
Fixtures: `lab` (a fresh Lab per test, always closed), `keepalived_bin` (path of the real keepalived).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.daemon import keepalived_path
from harness.lab import Lab, cleanup_stale, is_root, missing_tools


def privileged_skip_reason() -> str | None:
    if not is_root():
        return "needs root (network namespaces, raw sockets, nftables)"
    missing = missing_tools("ip", "nft", "tcpdump")
    if missing:
        return f"needs {', '.join(missing)} (apt-get install iproute2 nftables tcpdump)"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    if is_root() and not missing_tools("ip"):
        cleanup_stale()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("privileged"):
        reason = privileged_skip_reason()
        if reason:
            pytest.skip(reason)
    if item.get_closest_marker("interop") and keepalived_path() is None:
        pytest.skip("needs the real keepalived 2.2.7 (apt-get install keepalived)")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A Lab whose namespaces and processes are removed after the test, pass or fail.

    Daemon logs, configs and pcaps stay in the test's tmp_path for post-mortems.
    """
    reason = privileged_skip_reason()
    if reason:
        pytest.skip(reason)
    with Lab(workdir=tmp_path / "lab") as lb:
        yield lb


@pytest.fixture
def keepalived_bin() -> str:
    path = keepalived_path()
    if path is None:
        pytest.skip("needs the real keepalived 2.2.7 (apt-get install keepalived)")
    return path
