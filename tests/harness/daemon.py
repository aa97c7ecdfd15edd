"""keepalived 2.2.7 or pykeepalived as a daemon in a lab host, with its own pid files and log."""

from __future__ import annotations

import re
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.lab import Host, Proc

KEEPALIVED = "/usr/sbin/keepalived"


def keepalived_path() -> str | None:
    """The real keepalived binary, or None when it is not installed."""
    return KEEPALIVED if Path(KEEPALIVED).exists() else shutil.which("keepalived")


def implementation_argv(implementation: str) -> list[str]:
    if implementation == "keepalived":
        path = keepalived_path()
        if path is None:
            raise FileNotFoundError("keepalived is not installed")
        return [path]
    if implementation == "pykeepalived":
        return [sys.executable, "-m", "pykeepalived"]
    raise ValueError(f"implementation must be 'keepalived' or 'pykeepalived', not {implementation!r}")


class VrrpDaemon:
    """One daemon: `<impl> -n -l -D -G -f CONF -p PID -r VRRP_PID -c CHK_PID` (stdout+stderr = log)."""

    def __init__(self, host: Host, config: str, *, implementation: str = "keepalived", name: str | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.host, self.config, self.implementation = host, config, implementation
        base = host.lab.workdir / host.lab._unique(f"{host.name}-{name or implementation}")
        self.conf_path = base.with_suffix(".conf")
        self.pid_file = Path(f"{base}.pid")
        self.vrrp_pid_file = Path(f"{base}.vrrp.pid")
        self.checker_pid_file = Path(f"{base}.check.pid")
        self.extra_args = list(extra_args)
        self.proc: Proc | None = None

    @property
    def argv(self) -> list[str]:
        return [*implementation_argv(self.implementation), "-n", "-l", "-D", "-G", "-f", str(self.conf_path),
                "-p", str(self.pid_file), "-r", str(self.vrrp_pid_file), "-c", str(self.checker_pid_file),
                *self.extra_args]

    def start(self) -> VrrpDaemon:
        self.conf_path.write_text(self.config)
        # log: <workdir>/<host>-<name>.log.out and .err, beside the .conf and pid files
        self.proc = self.host.lab._spawn(self.host.ns, self.argv, f"{self.conf_path.stem}.log")
        return self

    def _p(self) -> Proc:
        if self.proc is None:
            raise RuntimeError("daemon not started")
        return self.proc

    @property
    def pid(self) -> int:
        return self._p().pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive

    def log(self) -> str:
        """Everything the daemon printed so far (stdout, then stderr)."""
        p = self._p()
        return p.stdout() + p.stderr()

    def wait_log(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        """Wait for a regex in the log; fails early, with the log, if the daemon exits."""
        return self._p().wait_output(pattern, timeout)

    def wait_state(self, instance: str, state: str, timeout: float = 10) -> re.Match[str]:
        """Wait for keepalived's `(NAME) Entering STATE STATE` log line."""
        return self.wait_log(rf"\({re.escape(instance)}\) Entering {state} STATE", timeout)

    def vrrp_pid(self) -> int | None:
        try:
            return int(self.vrrp_pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def reload(self) -> None:
        self._p().send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, as an operator stops it (keepalived sends priority-0 adverts and removes VIPs)."""
        return self._p().stop(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, no priority-0 advert, VIPs left behind."""
        self._p().kill()
