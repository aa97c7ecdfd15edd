"""The children's contract: reading the configuration, and reload (SIGHUP) in a child.

    loaded = load_config(opts)                   # the parent at start and at SIGHUP
    config = reload_config_for_child(opts)       # a child's re-read; None: keep the running one
    ChildReload(loop, opts, apply).install()     # SIGHUP -> parse OFF the loop -> apply ON it

The parent (`supervisor/`) re-reads and accepts a file before it signals the children; each child
(`vrrp/` and `checker/`) reads the same file with the same options and
gets the same model. A child never parses on its event loop: a big configuration takes seconds
to parse, and the loop sends adverts (VRRP) and runs every check (checker). The parse runs on a
worker thread; `apply(new_config)` then runs on the loop. `apply` may return an awaitable (the
checker child stops and starts its checkers): the next reload waits for it. A SIGHUP arriving
while a reload is parsed or applied queues exactly one more (keepalived coalesces them too).

Nothing here imports asyncio at module level: the supervisor imports this module and never runs
an event loop.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import signal
import stat
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Loaded:
    config: Any | None
    exit_code: int          # keepalived's -t code (0, 5, 6), or 4 when the configuration cannot run
    messages: list[str] = field(default_factory=list)


def load_config(opts: argparse.Namespace, *, quiet: bool = False) -> Loaded:
    """Read opts.config_file, logging every diagnostic with its file:line as keepalived does."""
    from pykeepalived import config as kaconfig
    from pykeepalived.config.model import Level

    result = kaconfig.load(opts.config_file, config_id=getattr(opts, "config_id", None),
                           all_config=bool(getattr(opts, "all_config", False)))
    messages = [d.format() for d in result.diagnostics]
    if not quiet:
        for m in messages:
            log.info("%s", m)
    exit_code = result.exit_code
    # A non-existent interface, a fatal error or an instance without VRID or interface
    # (`stops`) makes keepalived's VRRP child exit CONFIG
    # (the -t code stays 5 when a higher-numbered error is also present): cannot run.
    if any(d.level in (Level.BAD_IF, Level.FATAL) or d.stops for d in result.diagnostics):
        exit_code = 4
    return Loaded(result.config, exit_code, messages)


def unread_main_file(opts: argparse.Namespace, loaded: Loaded) -> str | None:
    """Why the main configuration file was not read at all (None when it was).

    keepalived 2.2.7 treats a missing or unreadable file like an empty one: at a reload every
    instance and VIP goes. We refuse such a reload; this gives the reason to log."""
    files: tuple[str, ...] | None = getattr(loaded.config, "files", None)
    if files:
        return None
    path = opts.config_file
    try:
        st = os.stat(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISDIR(st.st_mode):
        return "it is a directory"
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o111:
        return "not a regular non-executable file"
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    # Readable now: it was not a moment ago (replaced while we read it), or the loader
    # stopped before reading it; either way nothing of it was used.
    return "it could not be read when the reload began" if loaded.config is not None else None


def reload_config_for_child(opts: argparse.Namespace) -> Any | None:
    """The child's half of a reload (SIGHUP from the parent): the new model, or None when the
    file can no longer be used (the child then keeps its running configuration). Blocking: run
    it off the loop (ChildReload does)."""
    try:
        loaded = load_config(opts, quiet=True)
    except Exception:  # never let a parser bug take the child down on reload
        log.error("Reload: configuration could not be read:\n%s", traceback.format_exc())
        return None
    reason = unread_main_file(opts, loaded)
    if reason is not None:
        log.error("Reload refused: configuration file %s cannot be read (%s) - keeping the running "
                  "configuration", opts.config_file, reason)
        return None
    if loaded.config is None or loaded.exit_code == 4:
        log.error("Reload: configuration file %s is unusable - keeping the running configuration",
                  opts.config_file)
        return None
    return loaded.config


class ChildReload:
    """SIGHUP in a child: the file is parsed on a worker thread (`executor`, default the loop's),
    then `apply(new_config)` runs on the loop; an awaitable it returns is waited for before the
    next reload starts. It is not called when the file is unusable. One reload runs at a time;
    SIGHUPs during one queue exactly one more."""

    def __init__(self, loop: asyncio.AbstractEventLoop, opts: argparse.Namespace,
                 apply: Callable[[Any], object], *, executor: Executor | None = None,
                 parse: Callable[[argparse.Namespace], Any | None] = reload_config_for_child) -> None:
        self.loop = loop
        self.opts = opts
        self.apply = apply
        self.executor = executor
        self.parse = parse
        self.busy = False
        self.again = False
        self.done = 0                     # reloads finished (applied or refused): tests, status
        self.closed = False
        self._task: asyncio.Future[Any] | None = None

    def install(self) -> ChildReload:
        self.loop.add_signal_handler(signal.SIGHUP, self.request)
        return self

    def close(self) -> None:
        """At stop: no more reloads; an apply in progress is cancelled (a parse in progress is
        left to finish on its thread, its result is dropped)."""
        self.closed = True
        self.again = False
        self.loop.remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()

    def request(self) -> None:
        """A SIGHUP (or a test): start a reload, or queue one if one is running."""
        if self.closed:
            return
        if self.busy:
            self.again = True
            return
        self.busy = True
        fut = self.loop.run_in_executor(self.executor, self.parse, self.opts)
        fut.add_done_callback(self._parsed)

    def _parsed(self, fut: asyncio.Future[Any] | Future[Any]) -> None:
        config = None if fut.cancelled() or fut.exception() is not None else fut.result()
        if config is None or self.closed:
            self._finished()
            return
        try:
            result = self.apply(config)
        except Exception:
            log.error("Reload could not be applied:\n%s", traceback.format_exc().rstrip())
            self._finished()
            return
        if inspect.isawaitable(result):
            import asyncio

            self._task = asyncio.ensure_future(result, loop=self.loop)
            self._task.add_done_callback(self._applied)
            return
        self._finished()

    def _applied(self, task: asyncio.Future[Any]) -> None:
        self._task = None
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("Reload could not be applied:\n%s",
                      "".join(traceback.format_exception(exc)).rstrip())
        self._finished()

    def _finished(self) -> None:
        self.busy = False
        self.done += 1
        if self.again:
            self.again = False
            self.request()


def install_reload_handler(loop: asyncio.AbstractEventLoop, opts: argparse.Namespace,
                           apply: Callable[[Any], object]) -> ChildReload:
    """`ChildReload(loop, opts, apply).install()`: the one call a child makes."""
    return ChildReload(loop, opts, apply).install()


__all__ = ["ChildReload", "Loaded", "install_reload_handler", "load_config", "reload_config_for_child",
           "unread_main_file"]
