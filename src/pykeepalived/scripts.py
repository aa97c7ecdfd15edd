"""What every script we start sees: the one `script_env` (notify scripts, vrrp_script and
track scripts, MISC_CHECK, LVS quorum notifies); and `run_script`, the checker process's
runner for notify scripts (real server notify_up/down, quorum_up/down, omega).

keepalived 2.2.7 execve()s scripts with its own environment (lib/notify.c) and adds nothing:
with no PATH in keepalived's environment the script gets no PATH either (keepalived only uses
confstr(_CS_PATH) to look a bare name up, it does not export it); observed by running
keepalived under `env -i` with a notify_master script that dumps its environment. We also drop
IFS, LD_PRELOAD and LD_LIBRARY_PATH (hardening kept from before; keepalived passes them).

A leaf module (it imports no layer of ours): the checkers (`check/`) may not import `io/`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Sequence

log = logging.getLogger(__name__)

REMOVED = ("IFS", "LD_PRELOAD", "LD_LIBRARY_PATH")


def script_env() -> dict[str, str]:
    """Our environment without REMOVED; PATH only if we have one (as keepalived)."""
    return {k: v for k, v in os.environ.items() if k not in REMOVED}


async def run_script(args: Sequence[str], cmd: str, timeout: float | None = None) -> int | None:
    """Run a notify script: execve without a shell, stdio on /dev/null, its own session and
    process group, script_env(). Its exit status, or None when it could not start or overran
    `timeout` (the whole group is killed with SIGKILL)."""
    import asyncio  # here: the supervisor imports this module for script_env and never loads asyncio

    try:
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, start_new_session=True, env=script_env())
    except OSError as e:
        log.info("Failed to exec script %s - %s", cmd, e.strerror)
        return None
    try:
        async with asyncio.timeout(timeout):
            return await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return None
