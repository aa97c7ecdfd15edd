"""The checker child: checkers -> core.lvs -> backend, with keepalived's notifications.

    run_checkers(config, opts) -> exit status      (started by daemon.py in the checker child)

On a uvloop loop: the checkers (`pykeepalived.check`) publish per-real-server health through
their HealthHub; `LvsState` turns that into the desired table plus quorum notifications; the
difference from what is programmed goes to the backend on its own thread (IPVS or nftables).
Changes arriving in the same loop tick are applied as one diff.

Who notifies what (as keepalived's ipwrapper.c): the hub runs `notify_up`/`notify_down`; this
module runs `quorum_up`/`quorum_down`, writes the `RS ...`/`VS ...` lines (with keepalived's
trailing NUL) to `notify_fifo` and `lvs_notify_fifo`, runs the omega notifies at shutdown and
the `rs_init_notifies` ones at start.

Start-up adopts what the kernel already holds (only the difference is sent; services that are
not ours are left alone, unless `lvs_flush`). SIGHUP reloads: unchanged checkers keep their
verdicts (`CheckerService.carry_over`), LvsState keeps quorum and real-server state, and only
changed services are touched. `ha_suspend` pauses a virtual server's checkers while its address
is not on this host.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
from pykeepalived.errors import EXIT_CONFIG, EXIT_FATAL, EXIT_OK
from pykeepalived.io.notify import FifoWriter as NotifyFifo
from pykeepalived.lvs.backend import BackendError, BackendThread
from pykeepalived.status.channel import channel_path, serve_snapshots

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


def checkers_snapshot(config: Any, hub: Any, runtime: LvsRuntime) -> dict[str, Any]:
    """The checker child's answer on its status channel: every virtual server with the
    checkers' verdict on each real server, and the size of the table programmed in the kernel."""
    by_vs: dict[str, list[dict[str, Any]]] = {}
    for h in hub.snapshot():
        by_vs.setdefault(h.key.vs, []).append({
            "name": f"[{h.key.address}]:{h.key.port}", "address": str(h.key.address), "port": h.key.port,
            "alive": h.alive, "weight": h.weight})
    return {
        "process": "checkers",
        "pid": os.getpid(),
        "virtual_servers": [{"name": vs.key, "protocol": vs.protocol, "scheduler": vs.lvs_sched,
                             "real_servers": by_vs.get(vs.key, [])} for vs in config.virtual_servers],
        "programmed": {"services": len(runtime.programmed.services), "real_servers": runtime.programmed.dest_count()},
    }


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _main(config: Any, opts: argparse.Namespace) -> int:
    from pykeepalived.check.hub import HealthHub
    from pykeepalived.check.service import CheckerService

    requested = getattr(opts, "lvs_backend", "auto") or "auto"
    netns = getattr(config, "net_namespace_ipvs", None) or None
    try:
        backend = await asyncio.get_running_loop().run_in_executor(
            None, lambda: BackendThread(requested, netns=netns))
    except (BackendError, OSError) as exc:
        log.error("%s", exc)
        return EXIT_FATAL
    try:
        if backend.name == "nftables":
            from pykeepalived.lvs.nftables import check_config

            problems = check_config(from_model(config))
            for problem in problems:
                log.error("%s", problem)
            if problems:
                return EXIT_CONFIG
        runtime = LvsRuntime(config, backend, release_on_stop=not getattr(opts, "dont_release_ipvs", False))
        hub = HealthHub()
        service = CheckerService.from_config(config, hub=hub)
        await runtime.start(hub.snapshot())
        hub.subscribe(runtime.on_health)
        suspender = HaSuspend(config)
        await suspender.check(service)
        await service.start()
        current = {"config": config, "hub": hub}   # what the status channel reports; reload swaps both
        status_path = channel_path(opts.checkers_pid_file) if getattr(opts, "checkers_pid_file", None) else None
        status_server = None
        if status_path is not None:
            try:
                status_server = await serve_snapshots(
                    status_path, lambda: checkers_snapshot(current["config"], current["hub"], runtime))
            except OSError as exc:
                log.warning("checker status channel not available: %s", exc)

        loop = asyncio.get_running_loop()
        stopping = loop.create_future()
        reloads: asyncio.Queue[None] = asyncio.Queue()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _resolve, stopping)
        loop.add_signal_handler(signal.SIGHUP, reloads.put_nowait, None)

        async def reloader() -> None:
            nonlocal service
            while True:
                await reloads.get()
                from pykeepalived.daemon import reload_config_for_child

                new = reload_config_for_child(opts)
                if new is None:
                    continue
                log.info("Reloading")
                hub2 = HealthHub()
                service2 = CheckerService.from_config(new, hub=hub2)
                await service.stop()
                service2.carry_over(service)        # unchanged checkers keep their verdicts
                service = service2
                await runtime.reload(new, hub2.snapshot())
                hub2.subscribe(runtime.on_health)
                current.update(config=new, hub=hub2)
                suspender.config = new
                await service.start()
                await suspender.check(service)

        reload_task = loop.create_task(reloader())

        async def watch_addresses() -> None:
            while True:
                await asyncio.sleep(HA_SUSPEND_POLL)
                await suspender.check(service)

        watch_task = loop.create_task(watch_addresses())
        await stopping
        if status_server is not None and status_path is not None:
            status_server.close()
            with contextlib.suppress(OSError):
                os.unlink(status_path)
        reload_task.cancel()
        watch_task.cancel()
        suspender.close()
        await service.stop()
        await runtime.stop()
        return EXIT_OK
    finally:
        await asyncio.get_running_loop().run_in_executor(None, backend.close)


def run_checkers(config: Any, opts: argparse.Namespace) -> int:
    """The checker child's entry point: run until SIGTERM/SIGINT, reload on SIGHUP; the exit status."""
    import uvloop

    return int(uvloop.run(_main(config, opts)))
