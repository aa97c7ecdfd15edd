"""systemd's sd_notify(3) protocol, without a dependency: one datagram to $NOTIFY_SOCKET.

`Type=notify` units get READY=1 once the children are started, RELOADING=1 / READY=1 around a
reload and STOPPING=1 on the way down. Outside systemd ($NOTIFY_SOCKET unset) it does nothing.
"""

from __future__ import annotations

import os
import socket
import time


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1\\nSTATUS=...") to systemd; False when not under systemd or on error."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path[0] == "@":  # abstract namespace socket
        path = "\0" + path[1:]
    elif path[0] != "/":
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(path)
            s.sendall(state.encode())
        return True
    except OSError:
        return False


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC= (systemd >= 253)."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def ready(pid: int | None = None, status: str | None = None) -> bool:
    """READY=1 (after start or a reload), with a one-line STATUS= (`systemctl status` shows it)."""
    line = "" if status is None else "\nSTATUS=" + " ".join(status.split())[:400]
    return notify(f"READY=1\nMAINPID={os.getpid() if pid is None else pid}{line}")


def reloading() -> bool:
    return notify(f"RELOADING=1\nMONOTONIC_USEC={monotonic_usec()}")


def stopping() -> bool:
    return notify("STOPPING=1")
