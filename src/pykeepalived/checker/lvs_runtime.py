"""The checker child's LVS side: health -> core.lvs -> backend, with keepalived's notifications.

The checkers (`pykeepalived.check`) publish per-real-server health through their HealthHub;
`LvsRuntime.on_health` hands it to `LvsState`, which turns it into the desired table plus quorum
notifications; the difference from what is programmed goes to the backend on its own thread
(IPVS or nftables). Changes arriving in the same loop tick are applied as one diff.

Who notifies what (as keepalived's ipwrapper.c): the hub runs `notify_up`/`notify_down`; this
module runs `quorum_up`/`quorum_down`, writes the `RS ...`/`VS ...` lines (with keepalived's
trailing NUL) to `notify_fifo` and `lvs_notify_fifo`, runs the omega notifies at shutdown and
the `rs_init_notifies` ones at start.

Start-up adopts what the kernel already holds (only the difference is sent; services that are
not ours are left alone, unless `lvs_flush`). A reload (`LvsRuntime.reload`) keeps quorum and
real-server state, and only changed services are touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from pykeepalived.core.lvs import (
    Flush,
    LvsConfig,
    LvsState,
    Notify,
    Op,
    RealServerHealth,
    RsId,
    Table,
    VsId,
    VsNotify,
    apply_ops,
    diff,
    from_model,
)
from pykeepalived.io.notify import FifoWriter as NotifyFifo
from pykeepalived.lvs.backend import BackendThread

log = logging.getLogger(__name__)

SCRIPT_STOP_TIMEOUT = 1.0      # keepalived gives shutdown notifies TIMER_HZ


class FifoWriter:
    """notify_fifo and lvs_notify_fifo together (a path named twice is written once); each one is
    io.notify's FIFO writer, shared with the VRRP process."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.writers = [w for w in (NotifyFifo(p) for p in dict.fromkeys(paths)) if w.open()]

    def write(self, line: bytes) -> None:
        for w in self.writers:
            w.write(line)

    def close(self, remove: bool = False) -> None:
        for w in self.writers:
            w.close(remove=remove)
        self.writers = []


class LvsRuntime:
    """LVS state + backend + notifications for one configuration (replaced in place on reload)."""

    def __init__(self, model: Any, backend: BackendThread, *, release_on_stop: bool = True) -> None:
        self.model = model
        self.lvs: LvsConfig = from_model(model)
        self.state = LvsState(self.lvs)
        self.backend = backend
        self.release_on_stop = release_on_stop
        self.programmed = Table()
        self.fifo = FifoWriter(self.lvs.notify_fifos)
        self.keys = _key_map(model, self.lvs)
        self._dirty = False
        self._apply_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.operations = 0          # operations sent to the backend so far (status, tests)
        self._fifo_script: asyncio.subprocess.Process | None = None

    # -- start / stop ----------------------------------------------------------------------------
    async def start(self, snapshot: Sequence[Any] = ()) -> None:
        self._seed(snapshot)
        self.state.requorum(initial=True)
        ops: list[Op] = []
        if self.lvs.flush:
            ops.append(Flush())
            live = Table()
        else:
            desired_keys = list(self.state.table().services)
            live = await self.backend.call(lambda b: b.read(desired_keys))
        ops += diff(self.state.table(), live)
        await self._apply(ops, live)
        self._notify(self.state.start())
        fifo = getattr(self.model.global_defs, "lvs_notify_fifo", None)
        if fifo is not None and fifo.script is not None:
            try:      # lvs_notify_fifo_script: the FIFO path is its last argument; SIGTERM at stop
                from pykeepalived.scripts import script_env

                self._fifo_script = await asyncio.create_subprocess_exec(
                    *fifo.script.args, fifo.name, stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
                    env=script_env())
            except OSError as exc:
                log.info("Failed to exec lvs_notify_fifo_script %s - %s", fifo.script.cmd, exc.strerror)

    async def stop(self) -> None:
        async with self._apply_lock:          # after any diff still being applied
            ops, notes = self.state.stop(release=self.release_on_stop, programmed=self.programmed)
            await self._apply(ops, self.programmed)
        for note in notes:
            self.fifo.write(note.fifo_line())
        scripts = [n.script for n in notes if n.script]
        await asyncio.gather(*(_run_script(s, SCRIPT_STOP_TIMEOUT) for s in scripts))
        if self._fifo_script is not None and self._fifo_script.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._fifo_script.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SCRIPT_STOP_TIMEOUT):
                    await self._fifo_script.wait()
        self.fifo.close(remove=True)

    async def reload(self, model: Any, snapshot: Sequence[Any] = ()) -> None:
        """keepalived's clear_diff_services: keep the state of what stays, change only what changed.

        `snapshot` is the new checkers' start-up view; the hub does not carry checker state over a
        reload yet, so its view wins (a server that is really down drops out at its first check)."""
        self.model = model
        self.lvs = from_model(model)
        self.keys = _key_map(model, self.lvs)
        self.fifo.close()
        self.fifo = FifoWriter(self.lvs.notify_fifos)
        notes = self.state.reload(self.lvs)
        self._seed(snapshot)
        notes += self.state.requorum()
        await self._reconcile()
        self._notify(notes)

    def _seed(self, snapshot: Sequence[Any]) -> None:
        for health in snapshot:
            ids = self.keys.get(health.key)
            if ids is not None:
                self.state.seed(ids[0], ids[1], RealServerHealth(health.alive, health.weight))

    # -- health ------------------------------------------------------------------------------------
    def on_health(self, health: Any) -> None:
        """HealthHub subscriber (runs on the loop). The hub publishes three things: an alive change,
        a weight change, and a first result that confirms the start-up state (which keepalived
        notifies too). The hub has run notify_up/notify_down already; we write the FIFO lines."""
        ids = self.keys.get(health.key)
        if ids is None:
            return
        vs, rs = ids
        was_alive, old_weight = self.state.alive(vs, rs), self.state.weight(vs, rs)
        notes = self.state.update(vs, rs, RealServerHealth(health.alive, health.weight))
        if was_alive == health.alive and old_weight == health.weight:
            self.fifo.write(self.state.rs_notify(vs, rs).fifo_line())
        self._notify(notes, rs_scripts=False)
        self._schedule()

    def _notify(self, notes: Sequence[Notify], rs_scripts: bool = True) -> None:
        for note in notes:
            if isinstance(note, VsNotify):
                for line in note.log_lines():
                    log.info("%s", line)
            self.fifo.write(note.fifo_line())
            if note.script and (rs_scripts or isinstance(note, VsNotify)):
                self._spawn(_run_script(note.script))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- applying ---------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if not self._dirty:
            self._dirty = True
            self._spawn(self._reconcile())

    async def _reconcile(self) -> None:
        async with self._apply_lock:
            self._dirty = False
            ops = diff(self.state.table(), self.programmed, managed=self.programmed.services)
            await self._apply(ops, self.programmed)

    async def _apply(self, ops: list[Op], base: Table) -> None:
        if not ops:
            self.programmed = base
            return
        errors = await self.backend.call(lambda b: b.apply(ops))
        self.operations += len(ops)
        if errors:
            # the kernel disagrees with our model: believe the kernel for the services we manage
            keys = list(self.state.table().services) + list(base.services)
            self.programmed = await self.backend.call(lambda b: b.read(keys))
        else:
            self.programmed = apply_ops(base, ops)


def _key_map(model: Any, lvs: LvsConfig) -> dict[Any, tuple[VsId, RsId]]:
    """check.RealServerKey (model keys) -> (VsId, RsId) of core.lvs, built from the same config order."""
    from pykeepalived.check.common import RealServerKey

    out: dict[Any, tuple[VsId, RsId]] = {}
    for vs_model, vs_spec in zip(model.virtual_servers, lvs.virtual_servers, strict=True):
        for rs_model, rs_spec in zip(vs_model.real_servers, vs_spec.real_servers, strict=True):
            out[RealServerKey(vs_model.key, str(rs_model.address), rs_model.port)] = (vs_spec.vs_id, rs_spec.rs_id)
    return out


async def _run_script(cmd: str, timeout: float | None = None) -> int | None:
    """A quorum / omega notify: no shell, own process group, no extra arguments."""
    import shlex

    from pykeepalived.scripts import run_script

    try:
        args = shlex.split(cmd)
    except ValueError as exc:
        log.info("Failed to exec script %s - %s", cmd, exc)
        return None
    return await run_script(args, cmd, timeout)
