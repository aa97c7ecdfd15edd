"""Child entry points for tests of the supervisor itself (PYKEEPALIVED_VRRP_ENTRY=child_entries:NAME).

They stand in for the VRRP runtime where a test needs a child that exits with a chosen
status, which the real runtime only does in rare failure cases. Everything else (forking,
pid files, respawn, signal relay, exit status of the daemon) is the real supervisor.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import time
from typing import Any

log = logging.getLogger("child_entries")


def sleeper(config: Any, opts: argparse.Namespace) -> int:
    """Runs until SIGTERM; logs the relayed signals it gets, one line each."""
    names = {signal.SIGHUP: "HUP", signal.SIGUSR1: "USR1", signal.SIGUSR2: "USR2",
             signal.SIGRTMIN + 2: "JSON", signal.SIGRTMAX - 1: "STATS_CLEAR"}
    for sig, name in names.items():
        signal.signal(sig, lambda s, f, n=name: log.info("child got %s", n))
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    log.info("test child running pid=%d ppid=%d gc=%s", os.getpid(), os.getppid(), gc.isenabled())
    while True:
        time.sleep(0.2)


def exit_with(config: Any, opts: argparse.Namespace) -> int:
    """Exits after a moment with the status in $PYKA_TEST_EXIT."""
    time.sleep(0.3)
    code = int(os.environ.get("PYKA_TEST_EXIT", "0"))
    log.info("test child exiting with %d", code)
    return code


def stubborn(config: Any, opts: argparse.Namespace) -> int:
    """Ignores SIGTERM: the parent must kill it after child_wait_time."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.info("stubborn child running pid=%d", os.getpid())
    while True:
        time.sleep(0.2)
