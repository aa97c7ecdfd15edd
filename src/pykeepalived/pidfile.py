"""Pid files as keepalived names, writes and checks them (keepalived/core/pidfile.c, main.c).

Defaults: /run/keepalived.pid, /run/vrrp.pid, /run/checkers.pid (man8's keepalived_vrrp.pid
is a doc bug). With `use_pid_dir`, `net_namespace` or `instance NAME` they move to
/run/keepalived/, and `instance NAME` appends `_NAME` to the stem. `-p/-r/-c` always win.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

PID_DIR = "/run/"
KEEPALIVED_PID_DIR = "/run/keepalived/"


@dataclass(frozen=True, slots=True)
class PidFiles:
    main: str
    vrrp: str
    checkers: str
    uses_pid_dir: bool


def pid_paths(*, main: str | None = None, vrrp: str | None = None, checkers: str | None = None,
              instance: str | None = None, namespace: str | None = None,
              use_pid_dir: bool = False) -> PidFiles:
    """Resolve the three pid file paths the way keepalived's main() does."""
    in_dir = bool(use_pid_dir or instance or namespace)
    directory = KEEPALIVED_PID_DIR if in_dir else PID_DIR
    suffix = f"_{instance}" if instance else ""

    def name(stem: str) -> str:
        return f"{directory}{stem}{suffix}.pid"

    return PidFiles(main=main or name("keepalived"), vrrp=vrrp or name("vrrp"),
                    checkers=checkers or name("checkers"), uses_pid_dir=in_dir)


def read_pid(path: str) -> int | None:
    """The pid written in `path`, or None when missing or garbled."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(32)
    except OSError:
        return None
    try:
        pid = int(text.strip())
    except ValueError:
        return None
    return pid if pid > 0 else None


def process_running(path: str) -> bool:
    """True when `path` names a live process; a stale file is removed, as keepalived does."""
    pid = read_pid(path)
    if pid is None:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        log.info("Remove a zombie pid file %s", path)
        remove(path)
        return False
    except PermissionError:
        return True
    return True


def write(path: str, pid: int | None = None) -> bool:
    """Write `pid` (default: ours) followed by a newline, mode 0644 whatever the umask."""
    pid = os.getpid() if pid is None else pid
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        log.info("pidfile_write : Cannot open %s pidfile", path)
        log.debug("open %s: %s", path, exc)
        return False
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, f"{pid}\n".encode())
    finally:
        os.close(fd)
    return True


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            log.info("pidfile_rm: Cannot remove %s: %s", path, exc.strerror)


def remove_if_ours(path: str, pid: int) -> None:
    """Remove `path` only if it still names `pid` (a restarted daemon may own it now)."""
    if read_pid(path) == pid:
        remove(path)


def create_pid_dir() -> None:
    with contextlib.suppress(FileExistsError):
        os.mkdir(KEEPALIVED_PID_DIR, 0o755)


def remove_pid_dir() -> None:
    with contextlib.suppress(OSError):
        os.rmdir(KEEPALIVED_PID_DIR)
