"""tests/production run once, with the compiled fast path: what they check (scripts, FIFOs,
trackers, sync groups, VMAC, routes, nftables) does not go through the fast path, whose pure
twins the netns and unit suites already run. This keeps CI's second (pure) pass short."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYKEEPALIVED_NO_EXTENSIONS") != "1":
        return
    skip = pytest.mark.skip(reason="production features do not depend on the fast path; run with it compiled")
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here) and item.get_closest_marker("privileged"):
            item.add_marker(skip)
