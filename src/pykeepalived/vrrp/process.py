"""The VRRP child process: its loop, its signals, its status channel.

    exit_code = run_vrrp(config, opts)      # the supervisor's entry point for the VRRP child

One uvloop loop runs `vrrp.runtime.VrrpRuntime` (sockets, timer, the engine). Here:
* SIGTERM / SIGINT: stop (every router gets Shutdown: priority-0 advert, VIPs removed), exit 0;
* SIGHUP: the file is re-read off the loop (child.py) and applied by vrrp/reload.py;
* SIGUSR1 / SIGUSR2 / SIGRTMIN+2 / JSON dumps (status/dumps.py);
* the status channel beside the pid file (`pykeepalived status`, status API, metrics).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Any

import uvloop

from pykeepalived.config.model import Config
from pykeepalived.errors import EXIT_FATAL, EXIT_OK
from pykeepalived.status.channel import channel_path, serve_snapshots
from pykeepalived.status.dumps import install_signal_handlers
from pykeepalived.status.snapshot import trackers_snapshot, vrrp_snapshot
from pykeepalived.vrrp import reload
from pykeepalived.vrrp.runtime import StartupError, VrrpRuntime, log


def snapshot(rt: VrrpRuntime) -> dict[str, Any]:
    """The status channel's answer (status API, `pykeepalived status`)."""
    services, engine = rt.services, rt.engine
    trackers = trackers_snapshot(services.trackers.scripts, engine.values) \
        if services is not None and engine is not None else None
    snap = vrrp_snapshot(rt.routers(), sync_groups=engine.groups.values() if engine is not None else (),
                         trackers=trackers, in_turns=True)
    bounds, cumulative, total, count = rt.sender.gap_histogram()
    snap["advert_gaps"] = {"buckets": [[b, c] for b, c in zip(bounds, cumulative, strict=True)] + [["+Inf", count]],
                           "sum": total, "count": count}
    return snap


async def serve_status(rt: VrrpRuntime, opts: argparse.Namespace) -> asyncio.AbstractServer | None:
    pid_file = getattr(opts, "vrrp_pid_file", None)
    if not pid_file:
        return None
    try:
        return await serve_snapshots(channel_path(pid_file), lambda: snapshot(rt))
    except OSError as exc:
        log.warning("VRRP status channel not available: %s", exc)
        return None


def install_signals(rt: VrrpRuntime, opts: argparse.Namespace) -> None:
    loop = rt.loop
    install_signal_handlers(loop, rt.routers, lambda: rt.config)
    from pykeepalived.child import install_reload_handler  # the children's reload contract

    install_reload_handler(loop, opts, lambda config: reload.reload(rt, config))
    loop.add_signal_handler(signal.SIGTERM, rt.request_stop, "SIGTERM")
    if getattr(opts, "ignore_sigint", False):
        loop.add_signal_handler(signal.SIGINT, lambda: None)
    else:
        loop.add_signal_handler(signal.SIGINT, rt.request_stop, "SIGINT")


def close_status(server: asyncio.AbstractServer | None, opts: argparse.Namespace) -> None:
    if server is not None:
        server.close()
        with contextlib.suppress(OSError):      # the socket file is ours: remove it
            os.unlink(channel_path(opts.vrrp_pid_file))


async def _main(config: Config, opts: argparse.Namespace) -> int:
    rt = VrrpRuntime(config, opts)
    server = None
    try:
        await rt.prepare()
        install_signals(rt, opts)
        server = await serve_status(rt, opts)
        rt.begin()
    except (StartupError, OSError) as exc:
        log.error("VRRP: %s", exc)
        close_status(server, opts)
        rt.close()
        return EXIT_FATAL
    try:
        await rt.stopping
    except (StartupError, OSError) as exc:       # raised while its instances were starting
        log.error("VRRP: %s", exc)
        close_status(server, opts)
        rt.close()
        return EXIT_FATAL
    await rt.shutdown()
    close_status(server, opts)
    return EXIT_OK


def run_vrrp(config: Config, opts: argparse.Namespace) -> int:
    """Run every vrrp_instance of `config` until SIGTERM/SIGINT; returns the exit code.

    `opts` is the keepalived(8) argparse namespace from cli.py: log_detail (-D), ignore_sigint,
    dont_release_vrrp (-V), release_vips (-X), vrrp_pid_file (the status channel socket sits
    beside it) and what `child.install_reload_handler` needs to re-read the file on SIGHUP.
    Returns 0 after SIGTERM/SIGINT, 1 (EXIT_FATAL) when the config cannot run here (missing
    interface, no source address, socket errors). Logging must already be configured by the
    caller.
    """
    return int(uvloop.run(_main(config, opts)))


__all__ = ["run_vrrp", "snapshot"]
