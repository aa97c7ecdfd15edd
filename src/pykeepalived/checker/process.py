"""The checker child's process: its loop, signals, status channel and reload.

    run_checkers(config, opts) -> exit status      (started by supervisor/ in the checker child)

On a uvloop loop: the checkers (`check.service.CheckerService`) publish health through a
`HealthHub` to `lvs_runtime.LvsRuntime`. SIGTERM/SIGINT stop (checkers, then the table's omega
notifies and release); SIGHUP reloads through `child.ChildReload`: the file is parsed on a worker
thread while every check keeps running, then applied here: unchanged checkers keep their
verdicts (`CheckerService.carry_over`), LvsState keeps quorum and real-server state, only changed
services are touched. One reload at a time, SIGHUPs meanwhile queue one more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

import uvloop

from pykeepalived.check.hub import HealthHub
from pykeepalived.check.service import CheckerService
from pykeepalived.checker.ha_suspend import HA_SUSPEND_POLL, HaSuspend
from pykeepalived.checker.lvs_runtime import LvsRuntime
from pykeepalived.child import ChildReload
from pykeepalived.core.lvs import from_model
from pykeepalived.errors import EXIT_CONFIG, EXIT_FATAL, EXIT_OK
from pykeepalived.lvs.backend import BackendError, BackendThread
from pykeepalived.status.channel import channel_path, serve_snapshots

log = logging.getLogger(__name__)


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


async def checkers_snapshot_with_counters(config: Any, hub: Any, runtime: LvsRuntime) -> dict[str, Any]:
    """checkers_snapshot, plus the kernel's IPVS traffic counters of the services we programmed
    ("kernel", read on the backend's thread: the checkers' loop never waits on netlink). The
    nftables backend has no such counters: "kernel_counters" says so and the LVS counter series
    are absent from /metrics."""
    from pykeepalived.status.snapshot import kernel_lvs_snapshot

    snap = checkers_snapshot(config, hub, runtime)
    keys = list(runtime.programmed.services)

    def read(backend: Any) -> Any:
        reader = getattr(backend, "read_stats", None)
        return None if reader is None else reader(keys)

    try:
        rows = await runtime.backend.call(read) if keys else []
    except Exception as exc:  # noqa: BLE001 - the verdicts are still worth answering with
        log.warning("LVS counters not available: %s", exc)
        snap["kernel_counters"] = f"not readable: {exc}"
        return snap
    if rows is None:
        snap["kernel_counters"] = f"not available with the {runtime.backend.name} backend"
    else:
        snap["kernel"] = kernel_lvs_snapshot(rows)
    return snap


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _main(config: Any, opts: argparse.Namespace) -> int:
    requested = getattr(opts, "lvs_backend", "auto") or "auto"
    netns = getattr(config, "net_namespace_ipvs", None) or None
    loop = asyncio.get_running_loop()
    try:
        backend = await loop.run_in_executor(None, lambda: BackendThread(requested, netns=netns))
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
                    status_path,
                    lambda: checkers_snapshot_with_counters(current["config"], current["hub"], runtime))
            except OSError as exc:
                log.warning("checker status channel not available: %s", exc)

        stopping = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _resolve, stopping)

        async def apply(new: Any) -> None:
            """A reloaded configuration (parsed off the loop by ChildReload), applied here."""
            nonlocal service
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

        reloads = ChildReload(loop, opts, apply).install()

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
        reloads.close()
        watch_task.cancel()
        suspender.close()
        await service.stop()
        await runtime.stop()
        return EXIT_OK
    finally:
        await loop.run_in_executor(None, backend.close)


def run_checkers(config: Any, opts: argparse.Namespace) -> int:
    """The checker child's entry point: run until SIGTERM/SIGINT, reload on SIGHUP; the exit status."""
    return int(uvloop.run(_main(config, opts)))
