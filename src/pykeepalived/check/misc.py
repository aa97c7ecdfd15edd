"""MISC_CHECK (keepalived's check_misc.c): run a program (execve, no shell, its own process
group); exit 0 is success, 1 failure; with misc_dynamic, 2..255 is success with weight
exit-2. After misc_timeout the group gets SIGTERM, and SIGKILL 2 s later."""

from __future__ import annotations

import asyncio
import grp
import logging
import os
import pwd
import signal

from pykeepalived.check.base import Checker, Outcome
from pykeepalived.check.common import Target
from pykeepalived.check.hub import HealthHub
from pykeepalived.config import model
from pykeepalived.scripts import script_env

log = logging.getLogger("pykeepalived.check")

KILL_GRACE = 2.0


def _ids(user: str | None, group: str | None) -> tuple[int | None, int | None]:
    uid = gid = None
    if user:
        pw = pwd.getpwnam(user) if not user.isdigit() else pwd.getpwuid(int(user))
        uid, gid = pw.pw_uid, pw.pw_gid
    if group:
        gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    return uid, gid


class MiscChecker(Checker):
    kind = "MISC_CHECK"

    def __init__(self, spec: model.MiscCheck, target: Target, hub: HealthHub, *,
                 log_all_failures: bool = False, script_user: str | None = None,
                 script_group: str | None = None) -> None:
        super().__init__(spec, target, hub, log_all_failures=log_all_failures)
        if spec.misc_path is None:
            raise ValueError("MISC_CHECK without misc_path")
        self.script = spec.misc_path
        self.timeout = spec.misc_timeout if spec.misc_timeout else spec.delay_loop
        self.dynamic = spec.misc_dynamic
        user = spec.user or spec.misc_path.user or script_user
        group = spec.group or spec.misc_path.group or script_group
        self.uid, self.gid = _ids(user, group)
        self.last_exit_code: int | None = None
        self.last_ran = 0.0

    def carry_from(self, old: Checker) -> None:
        if isinstance(old, MiscChecker):
            self.last_exit_code = old.last_exit_code

    async def attempt(self) -> Outcome:
        """Runs the program; detail is 'exit N', 'signal N' or 'timeout'."""
        loop = asyncio.get_running_loop()
        self.last_ran = loop.time()
        extra: dict[str, object] = {}
        if self.uid is not None and self.uid != os.geteuid():
            extra["user"] = self.uid
        if self.gid is not None and self.gid != os.getegid():
            extra["group"] = self.gid
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.script.args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True, env=script_env(), **extra)  # type: ignore[arg-type]
        except OSError:
            # keepalived's child exits 127 when execve fails
            return Outcome(False, "exit 127")
        try:
            async with asyncio.timeout(self.timeout):
                code = await proc.wait()
        except TimeoutError:
            await self._terminate(proc)
            return Outcome(False, "timeout", True)
        except asyncio.CancelledError:
            self._kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        if code < 0:
            return Outcome(False, f"signal {-code}")
        return Outcome(code == 0 or (self.dynamic and 2 <= code <= 255), f"exit {code}")

    @staticmethod
    def _kill(pid: int, sig: int) -> None:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        self._kill(proc.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(KILL_GRACE):
                await proc.wait()
        except TimeoutError:
            self._kill(proc.pid, signal.SIGKILL)
            await proc.wait()
        self._kill(proc.pid, signal.SIGKILL)  # whatever the script left in its group

    def epilog(self, outcome: Outcome) -> float:
        """keepalived's misc_check_child_thread()."""
        exit_type: str | None = None
        reason: str | None = None
        code = 0
        success = False
        message_only = False
        detail = outcome.detail or ""
        if detail.startswith("exit "):
            status = int(detail[5:])
            if outcome.ok:
                weight = status - 2 if status >= 2 else self.hub.configured_weight(self.target.key)
                if status != self.last_exit_code:
                    self.hub.set_weight(self.target.key, weight)
                    self.last_exit_code = status
                if not self.is_up or not self.has_run:
                    exit_type, success = "succeeded", True
                self.retry_it = 0
            elif self.is_up or not self.has_run:
                exit_type, reason, code = "failed", "exited with status", status
                if self.retry_it < self.retry:
                    self.retry_it += 1
                    if self.log_all:
                        message_only = True
                    else:
                        exit_type = None
                else:
                    self.retry_it = 0
                    self.last_exit_code = status
        elif self.is_up or not self.has_run:  # signal or timeout
            if outcome.timeout:
                exit_type = "timed out"
            else:
                exit_type, reason, code = "failed", "due to signal", int(detail.split()[1])
            if self.retry_it < self.retry:
                self.retry_it += 1
                if self.log_all:
                    message_only = True
                else:
                    exit_type = None
            else:
                self.retry_it = 0
        if exit_type is not None:
            after = "" if success else (f" after {self.retry} retries" if self.retry else " with retry disabled")
            who = f"[{self.target.fmt_rs} VS {self.target.fmt_vs}] by [{self.script.args[0]}]"
            if reason:
                log.info("Misc check for %s %s%s (%s %d).", who, exit_type, after, reason, code)
            else:
                log.info("Misc check for %s %s%s.", who, exit_type, after)
            if not message_only:
                self.set_state(success, f"=> MISC CHECK {exit_type} on service <=")
        self.has_run = True
        # the next run counts from the start of this one
        loop = asyncio.get_running_loop()
        next_at = self.last_ran + (self.delay_before_retry if self.retry_it else self.delay_loop)
        return max(next_at - loop.time(), 1e-6)
