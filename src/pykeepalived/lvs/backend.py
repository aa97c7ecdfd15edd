"""The LVS backend interface, backend selection (--lvs-backend auto|ipvs|nftables) and the backend thread.

A backend applies `core.lvs` operations and reads its table back; it decides nothing. Both
backends are synchronous and run on one dedicated thread (`BackendThread`): pyroute2 cannot run
on the uvloop loop, and `nft` is a subprocess we do not want on the loop either. The thread may
enter a network namespace first (`net_namespace_ipvs`; tests use it to keep the host's table out
of reach): namespaces are per thread, so the rest of the process stays where it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from pykeepalived.core.lvs import Op, ServiceKey, Table
from pykeepalived.osutil import enter_netns

log = logging.getLogger(__name__)

T = TypeVar("T")


class Backend(Protocol):
    name: str
    requests: int          # kernel requests (netlink messages or nft batches) sent so far

    def apply(self, ops: Sequence[Op]) -> Sequence[Exception]: ...

    def read(self, keys: Iterable[ServiceKey] | None = None) -> Table: ...

    def close(self) -> None: ...


class BackendError(Exception):
    """The chosen backend cannot run here (no ip_vs, no nft); the message says why."""


def choose(requested: str) -> str:
    """auto -> ipvs when the kernel has ip_vs, else nftables (logged). Must run on the backend thread."""
    if requested != "auto":
        return requested
    from pykeepalived.lvs import ipvs

    if ipvs.available():
        log.info("LVS backend: IPVS (kernel has ip_vs)")
        return "ipvs"
    log.info("LVS backend: nftables (kernel has no ip_vs)")
    return "nftables"


def create(name: str, **options: Any) -> Backend:
    """Build the named backend (on the calling thread, which must be the backend thread)."""
    if name == "ipvs":
        from pykeepalived.lvs.ipvs import IpvsBackend

        try:
            return IpvsBackend()
        except Exception as exc:
            raise BackendError(f"IPVS: Can't initialize ipvs: {exc}") from exc
    if name == "nftables":
        from pykeepalived.lvs.nftables import NftBackend

        return NftBackend(**options)
    raise BackendError(f"unknown LVS backend {name!r}")


class BackendThread:
    """One backend on one thread. `submit` from any thread; `call` from the asyncio loop."""

    def __init__(self, requested: str = "auto", netns: str | None = None, **options: Any) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lvs-backend")
        self._backend: Backend | None = None

        def setup() -> Backend:
            if netns:
                enter_netns(netns)
            self._backend = create(choose(requested), **options)
            return self._backend

        try:
            self.backend = self._pool.submit(setup).result()
        except BaseException:
            self._pool.shutdown(wait=False)
            raise

    @property
    def name(self) -> str:
        return self.backend.name

    def submit(self, fn: Callable[[Backend], T]) -> Future[T]:
        return self._pool.submit(fn, self.backend)

    def run(self, fn: Callable[[Backend], T]) -> T:
        """Blocking: run fn(backend) on the backend thread (tests, shutdown)."""
        return self.submit(fn).result()

    async def call(self, fn: Callable[[Backend], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        if self._backend is not None:
            self.submit(lambda b: b.close()).result()
        self._pool.shutdown(wait=True)
