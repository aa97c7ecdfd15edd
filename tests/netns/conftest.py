"""Shared by the loopback advert_io tests: the `aio` fixture runs a test once per advert_io twin,
inside a network namespace of its own, so that raw sockets on `lo` never see the packets of a
test running at the same time in another xdist worker (they did, in the host's namespace)."""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Iterator
from types import ModuleType

import pytest
from pykeepalived._fastpath import advert_io_py, compiled

from pykeepalived.osutil import CLONE_NEWNET, libc, setns

TWINS: list[object] = [pytest.param(advert_io_py, id="py")]
try:
    TWINS.append(pytest.param(compiled("advert_io"), id="c"))
except ImportError:
    TWINS.append(pytest.param(None, id="c", marks=pytest.mark.skip(reason="advert_io not compiled")))


@pytest.fixture
def private_netns() -> Iterator[None]:
    """This thread in a fresh network namespace (lo up) for the test, then back."""
    if os.geteuid() != 0:
        pytest.skip("raw sockets need root")
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        yield
    finally:
        setns(home, CLONE_NEWNET)         # back to the original network namespace
        os.close(home)


@pytest.fixture(params=TWINS)
def aio(request: pytest.FixtureRequest, private_netns: None) -> ModuleType:
    return request.param  # type: ignore[no-any-return]
