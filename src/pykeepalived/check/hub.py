"""Where checker verdicts meet: per real server, keepalived's failed-checker count, the
alive flag, the dynamic weight, `notify_up`/`notify_down`, and the results stream.

This is keepalived's `update_svr_checker_state` / `perform_svr_state` / `update_svr_wgt`
(ipwrapper.c) minus the IPVS commands: the hub decides *that* a real server is alive and
with which weight; core/lvs decides what the table looks like (quorum, sorry server,
inhibit) and the backend programs it.

Results interface (for checker/lvs_runtime.py):

* `hub.subscribe(callback)`: `callback(RealServerHealth)` is called synchronously on the
  loop for every change of `alive` or `weight` of a real server, in order.
* `async for health in hub.events(): ...`: the same changes as an async iterator.
* `hub.snapshot()`: the current `RealServerHealth` of every real server (start-up state
  before any check ran: alive unless an `alpha` checker holds it down).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pykeepalived import scripts
from pykeepalived.check.common import RealServerKey, Target
from pykeepalived.config import model

if TYPE_CHECKING:
    from pykeepalived.check.base import Checker

log = logging.getLogger(__name__)

# keepalived's real_weight(): weights are clamped into IPVS's range.
IPVS_WEIGHT_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class RealServerHealth:
    """The checkers' verdict on one real server."""

    key: RealServerKey
    alive: bool
    weight: int  # effective weight: configured weight, or the dynamic one (MISC/FILE)


@dataclass(slots=True)
class _RealServer:
    target: Target
    weight: int  # configured (iweight)
    effective_weight: int
    inhibit: bool
    notify_up: model.Script | None
    notify_down: model.Script | None
    alive: bool = True
    num_failed: int = 0
    checkers: list[Checker] = field(default_factory=list)

    def health(self) -> RealServerHealth:
        return RealServerHealth(self.target.key, self.alive, real_weight(self.effective_weight))


def real_weight(weight: int) -> int:
    return max(0, min(IPVS_WEIGHT_MAX, weight))


class HealthHub:
    """Aggregates checker states per real server and publishes the result."""

    def __init__(self, *, log_pool_changes: bool = True, run_notify_scripts: bool = True) -> None:
        self._servers: dict[RealServerKey, _RealServer] = {}
        self._subscribers: list[Callable[[RealServerHealth], None]] = []
        self._queues: list[asyncio.Queue[RealServerHealth]] = []
        self._children: set[asyncio.Task[int | None]] = set()
        self.log_pool_changes = log_pool_changes
        self.run_notify_scripts = run_notify_scripts

    # ---- registration

    def add_real_server(self, target: Target, rs: model.RealServer | None = None) -> None:
        if target.key in self._servers:
            return
        self._servers[target.key] = _RealServer(
            target=target,
            weight=rs.weight if rs is not None else 1,
            effective_weight=rs.weight if rs is not None else 1,
            inhibit=rs.inhibit_on_failure if rs is not None else False,
            notify_up=rs.notify_up if rs is not None else None,
            notify_down=rs.notify_down if rs is not None else None,
        )

    def attach(self, checker: Checker) -> None:
        """Count a checker against its real server; alpha checkers start failed."""
        rs = self._servers[checker.target.key]
        rs.checkers.append(checker)
        if not checker.is_up:
            rs.num_failed += 1
            rs.alive = False

    def adopt(self, old: HealthHub) -> None:
        """After a reload: take over the verdicts of real servers that still exist (keepalived's
        migrate_checkers). The checkers have had their state carried over already (see
        CheckerService.carry_over); here the real server's alive flag and weight follow, without
        notifying what did not change."""
        for key, rs in self._servers.items():
            prev = old._servers.get(key)
            ran = any(c.has_run for c in rs.checkers)
            if prev is not None:
                rs.alive = prev.alive
                rs.effective_weight = prev.effective_weight - prev.weight + rs.weight
            rs.num_failed = sum(1 for c in rs.checkers if c.has_run and not c.is_up)
            if rs.num_failed or (not rs.alive and not ran):
                for c in rs.checkers:
                    if not c.has_run:
                        if c.alpha and c.is_up:
                            c.is_up = False
                        c.retry_it = c.retry  # one failure is enough
            rs.num_failed = sum(1 for c in rs.checkers if not c.is_up)
            if not rs.num_failed and not rs.alive:
                self._set_alive(rs, True)
            elif rs.num_failed and rs.alive and ran:
                self._set_alive(rs, False)

    # ---- results interface

    def subscribe(self, callback: Callable[[RealServerHealth], None]) -> None:
        self._subscribers.append(callback)

    async def events(self) -> AsyncIterator[RealServerHealth]:
        queue: asyncio.Queue[RealServerHealth] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def snapshot(self) -> list[RealServerHealth]:
        return [rs.health() for rs in self._servers.values()]

    def alive(self, key: RealServerKey) -> bool:
        return self._servers[key].alive

    def health(self, key: RealServerKey) -> RealServerHealth:
        return self._servers[key].health()

    def _publish(self, rs: _RealServer) -> None:
        health = rs.health()
        for callback in self._subscribers:
            callback(health)
        for queue in self._queues:
            queue.put_nowait(health)

    # ---- checker side (keepalived's ipwrapper.c)

    def checker_state(self, checker: Checker, alive: bool) -> None:
        """update_svr_checker_state(): a checker reached a verdict."""
        rs = self._servers[checker.target.key]
        if checker.is_up == alive:
            if not checker.has_run:
                if checker.alpha or not alive:
                    self._rs_notifies(rs)
                checker.has_run = True
            return
        checker.has_run = True
        if alive:
            if rs.num_failed <= 1:
                self._set_alive(rs, True)
        elif rs.num_failed == 0:
            self._set_alive(rs, False)
        checker.is_up = alive
        if not alive:
            rs.num_failed += 1
        elif rs.num_failed:
            rs.num_failed -= 1

    def set_weight(self, key: RealServerKey, weight: int) -> None:
        """update_svr_wgt(): a dynamic weight (MISC_CHECK misc_dynamic, FILE_CHECK)."""
        rs = self._servers[key]
        old, new = real_weight(rs.effective_weight), real_weight(weight)
        rs.effective_weight = weight
        if old != new:
            log.info("Changing weight from %d to %d for %sactive service %s of VS %s",
                     old, new, "" if rs.alive else "in", rs.target.fmt_rs, rs.target.fmt_vs)
            self._publish(rs)

    def configured_weight(self, key: RealServerKey) -> int:
        return self._servers[key].weight

    def effective_weight(self, key: RealServerKey) -> int:
        return self._servers[key].effective_weight

    def _set_alive(self, rs: _RealServer, alive: bool) -> None:
        """perform_svr_state(): the real server enters or leaves the pool."""
        if rs.alive == alive:
            return
        if self.log_pool_changes:
            verb = ("Enabl" if rs.inhibit else "Add") if alive else ("Disabl" if rs.inhibit else "Remov")
            prep = "of" if rs.inhibit else ("to" if alive else "from")
            log.info("%sing service %s %s VS %s", verb, rs.target.fmt_rs, prep, rs.target.fmt_vs)
        rs.alive = alive
        self._rs_notifies(rs)

    def _rs_notifies(self, rs: _RealServer) -> None:
        """do_rs_notifies(): the script for the current state (no extra arguments), then publish."""
        script = rs.notify_up if rs.alive else rs.notify_down
        if script is not None and self.run_notify_scripts:
            self._spawn(script)
        self._publish(rs)

    def _spawn(self, script: model.Script) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(run_script(script))
        self._children.add(task)
        task.add_done_callback(self._children.discard)

    async def drain(self) -> None:
        """Wait for the notify scripts started so far (tests, shutdown)."""
        while self._children:
            await asyncio.gather(*list(self._children), return_exceptions=True)


async def run_script(script: model.Script, timeout: float | None = None) -> int | None:
    """Run a notify script (execve, no shell, own process group); its exit status, or None."""
    return await scripts.run_script(script.args, script.cmd, timeout)
