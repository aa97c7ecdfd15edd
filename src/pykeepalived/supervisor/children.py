"""The supervisor's children: how one is started (fork), named, reported and respawned.

    VRRP child:    pykeepalived.vrrp.process:run_vrrp(config, opts) -> exit status
    checker child: pykeepalived.checker.process:run_checkers(config, opts) -> exit status

A child is forked from the supervisor, never exec'd: the supervisor has already imported the
child's entry module (`preload`) and moved everything it holds out of the cyclic GC
(`gc.freeze()`), so the child, and every respawned one, starts with its code loaded and its
pages shared with the parent (issue 19). The supervisor itself never runs an event loop or a
thread of its own before a fork (importing asyncio or uvloop starts neither).

In the child (`child_main`): signals unblocked; SIGTERM/SIGINT/SIGCHLD have default
dispositions and the relayed ones (HUP, USR1, USR2, SIGRTMIN+2, SIGRTMAX-1) are ignored until
the runtime installs its handlers; the pid file is written, logging is set up (ident
Keepalived_vrrp / Keepalived_healthcheckers), the process is named. The entry point owns:
- SIGTERM/SIGINT: orderly stop;
- SIGHUP: `child.ChildReload` (parse off the loop, apply on it, one reload queued);
- SIGUSR1/SIGUSR2/SIGRTMIN+2/SIGRTMAX-1: `status.dumps.install_signal_handlers` (VRRP).
Its return value is the exit status: 1 (FATAL), 2 (CONFIG) and 4 (MISSING_PERMISSION) stop the
whole daemon, anything else gets the child respawned (keepalived's backoff).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pykeepalived import log as kalog
from pykeepalived import pidfile
from pykeepalived.errors import (
    EXIT_CONFIG,
    EXIT_FATAL,
    EXIT_MISSING_PERMISSION,
    EXIT_OK,
    EXIT_PROGRAM_ERROR,
)
from pykeepalived.osutil import SIGJSON, SIGSTATS_CLEAR, set_parent_death_signal, set_process_name

log = logging.getLogger("pykeepalived.supervisor")

SUPERVISED_SIGNALS: frozenset[int] = frozenset({
    signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD,
    SIGJSON, SIGSTATS_CLEAR,
})

# Exit statuses of a child that stop everything instead of a respawn (lib/scheduler.c).
PERMANENT_ERRORS = {EXIT_FATAL: "FATAL", EXIT_CONFIG: "CONFIG", EXIT_MISSING_PERMISSION: "MISSING_PERMISSION"}
RESPAWN_RESET_AFTER = 60.0   # a child that ran longer than this is restarted at once
RESPAWN_MAX_DELAY = 60

# The children's entry points, named (never imported by name here: see the layer rules).
ENTRY = {"vrrp": ("pykeepalived.vrrp.process", "run_vrrp"),
         "checker": ("pykeepalived.checker.process", "run_checkers")}
# Test seam: "module:function" replacing a child's entry point (tests of the supervisor itself).
ENTRY_ENV = {"vrrp": "PYKEEPALIVED_VRRP_ENTRY", "checker": "PYKEEPALIVED_CHECKER_ENTRY"}

ChildEntry = Callable[[Any, argparse.Namespace], int]


def config_value(config: Any, name: str, default: Any = None) -> Any:
    """A global_defs value, tolerant of model fields that do not exist (yet)."""
    gd = getattr(config, "global_defs", None)
    value = getattr(gd, name, None) if gd is not None else None
    if value is None and gd is not None:
        for key, args in getattr(gd, "other", ()):
            if key == name:
                return args[0] if len(args) == 1 else (args or True)
    return default if value is None else value


@dataclass(slots=True)
class Child:
    kind: str                 # "vrrp" | "checker"
    label: str                # "VRRP" | "Healthcheck" (keepalived's wording in logs)
    pid_file: str
    pid: int = 0
    started: float = 0.0      # monotonic
    next_delay: int = 0       # keepalived's *_next_restart_delay
    restart_at: float | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.pid > 0


def entry_point(kind: str) -> tuple[str, str]:
    """(module, function) of a child's entry point."""
    override = os.environ.get(ENTRY_ENV[kind])
    if override:
        module, _, func = override.partition(":")
        return module, func
    return ENTRY[kind]


def preload(kind: str) -> None:
    """Import the child's entry module in the supervisor, before the fork: the child (and every
    respawned one) starts with it loaded instead of importing asyncio, uvloop and the runtime
    itself (a respawn took 0.4 s of imports on a loaded machine; keepalived's 24 ms). An import
    error is left for the child to report (a broken install: it exits FATAL)."""
    module, _ = entry_point(kind)
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - reported by the child, with its traceback
        return


def resolve_entry(kind: str) -> ChildEntry:
    module, func = entry_point(kind)
    entry: ChildEntry = getattr(importlib.import_module(module), func)
    return entry


def entry_available(kind: str) -> str | None:
    """None when the child's entry module exists, else the reason."""
    module, _ = entry_point(kind)
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if found else f"No module named {module!r}"


def child_main(child: Child, config: Any, opts: argparse.Namespace, parent: int) -> int:
    """Runs in the forked child; its return value is the exit status."""
    # The parent relays HUP/USR1/USR2/JSON/STATS_CLEAR: ignored until the runtime installs
    # its handlers, so a relayed signal can never kill a child that does not use it.
    for sig in SUPERVISED_SIGNALS:
        signal.signal(sig, signal.SIG_DFL if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
                      else signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:      # the parent died before PR_SET_PDEATHSIG took effect
        return EXIT_OK
    kalog.setup(opts, "vrrp" if child.kind == "vrrp" else "checker", instance=getattr(config, "instance", None),
                namespace=getattr(opts, "namespace", None) or getattr(config, "net_namespace", None))
    names = process_names(config)
    set_process_name(names[child.kind])
    pidfile.write(child.pid_file)
    try:
        try:
            entry = resolve_entry(child.kind)
        except (ImportError, AttributeError) as exc:   # a broken install: respawning cannot help
            log.error("%s child process can not be started: %s: %s", child.label, type(exc).__name__, exc)
            return EXIT_FATAL
        code = entry(config, opts)
        return int(code) if code is not None else EXIT_OK
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_FATAL
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception:
        log.error("%s child failed:\n%s", child.label, traceback.format_exc().rstrip())
        return EXIT_PROGRAM_ERROR
    finally:
        pidfile.remove_if_ours(child.pid_file, os.getpid())
        kalog.flush()


def process_names(config: Any) -> dict[str, str]:
    """setproctitle names: keepalived's when `process_names` / `*_process_name` are set."""
    default = "pykeepalived"
    named = bool(config_value(config, "process_names", False))
    return {
        "parent": config_value(config, "process_name", "keepalived" if named else default),
        "vrrp": config_value(config, "vrrp_process_name", "keepalived_vrrp" if named else default),
        "checker": config_value(config, "checker_process_name", "keepalived_ipvs" if named else default),
    }


def calc_restart_delay(child: Child, now: float) -> int:
    """keepalived's calc_restart_delay(): 0 if it ran > 60 s, else 0, 1, 2, 4 ... 60 s."""
    if now - child.started >= RESPAWN_RESET_AFTER:
        child.next_delay = 0
        return 0
    delay = child.next_delay
    if not delay:
        child.next_delay = 1
    elif child.next_delay > RESPAWN_MAX_DELAY // 2:
        child.next_delay = RESPAWN_MAX_DELAY
    else:
        child.next_delay *= 2
    log.info("Restart of %s process delayed %u seconds to limit respawn rate", child.label, delay)
    return delay


def describe_status(pid: int, status: int) -> tuple[str, int | None]:
    """keepalived's report_child_status(): the log line and the permanent exit code, if any."""
    prog = f"pid {pid}"
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code in PERMANENT_ERRORS:
            return f"{prog} exited with permanent error {PERMANENT_ERRORS[code]}. Terminating", code
        if code != 0:
            return f"{prog} exited with status {code}", None
        return "", None
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGSEGV:
            return f"{prog} exited due to segmentation fault (SIGSEGV).", None
        try:
            name = signal.strsignal(sig) or str(sig)
        except ValueError:
            name = str(sig)
        extra = " - has rlimit_rttime been exceeded?" if sig == signal.SIGKILL else ""
        return f"{prog} exited due to signal {sig} ({name}){extra}", None
    return "", None


