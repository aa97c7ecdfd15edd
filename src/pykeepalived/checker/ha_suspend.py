"""ha_suspend: a virtual server's checkers run only while its address is on this host."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

HA_SUSPEND_POLL = 1.0     # seconds between looks at the local addresses (only with ha_suspend)


def local_addresses() -> set[str]:
    """Every address configured on this host (this network namespace)."""
    from pyroute2 import IPRoute

    out: set[str] = set()
    with IPRoute() as ipr:
        for msg in ipr.get_addr():
            for name in ("IFA_LOCAL", "IFA_ADDRESS"):
                value = msg.get_attr(name)
                if value:
                    out.add(str(ipaddress.ip_address(value)))
    return out


class HaSuspend:
    """ha_suspend: the checkers of a virtual server run only while its address is on this host.

    keepalived follows address events; we look every HA_SUSPEND_POLL seconds (pyroute2 on its own
    thread, never on the uvloop loop), and only when some virtual server asks for it."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._pool: ThreadPoolExecutor | None = None

    def _targets(self) -> list[tuple[str, str]]:
        return [(vs.key, str(vs.address)) for vs in self.config.virtual_servers
                if vs.ha_suspend and vs.address is not None and vs.fwmark is None and vs.group is None]

    async def check(self, service: Any) -> None:
        targets = self._targets()
        if not targets:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ha-suspend")
        try:
            local = await asyncio.get_running_loop().run_in_executor(self._pool, local_addresses)
        except Exception as exc:   # noqa: BLE001 - a failed look changes nothing
            log.info("ha_suspend: cannot read local addresses - %s", exc)
            return
        for key, addr in targets:
            service.set_enabled(key, addr in local)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


