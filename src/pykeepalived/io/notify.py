"""Scripts, notify FIFOs and email alerts of the VRRP process (keepalived's notify.c,
vrrp_notify.c, smtp.c).

    runner = ScriptRunner(config.global_defs)
    notifier = Notifier(config, runner)
    notifier.start()                                   # FIFOs and their *_fifo_script
    notifier.notify(Notify("INSTANCE", "VI_1", "MASTER", 110))
    await notifier.stop()                              # SIGTERM to the FIFO scripts

Scripts are started the way keepalived starts them: fork + execve without a shell, as the
configured user (`script_user`, or the script's own `user [group]`), in their own process
group, with SIGTERM as parent-death signal, the process umask (0177 unless configured),
stdin/stdout/stderr on /dev/null and IFS/LD_PRELOAD/LD_LIBRARY_PATH removed from the
environment.  A script that would run as root and that a non-root user could modify
(anywhere on its path) is refused under `enable_script_security`, as in keepalived.

Each child is reaped through a pidfd watched by the event loop, so no SIGCHLD handler is
needed and the same code works on uvloop and on asyncio's loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import pwd
import signal
import socket
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from pykeepalived import smtp
from pykeepalived.config.model import Config, GlobalDefs, Script, VrrpInstance, VrrpSyncGroup
from pykeepalived.core.actions import Notify
from pykeepalived.osutil import set_parent_death_signal
from pykeepalived.scripts import script_env
from pykeepalived.textbytes import to_bytes

log = logging.getLogger(__name__)

DEFAULT_SCRIPT_USER = "keepalived_script"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STOP_SCRIPT_TIMEOUT = 1.0          # keepalived gives STOP/DELETED scripts TIMER_HZ
KILL_GRACE = 2.0                   # SIGTERM to the group, SIGKILL this much later


def _child_setup() -> None:
    """Runs in the forked child just before execve (after setuid, which would clear it)."""
    set_parent_death_signal(signal.SIGTERM)


def find_program(name: str) -> str | None:
    """A bare name is looked up in PATH (keepalived's find_path); a path must exist."""
    if "/" in name:
        return name if os.path.exists(name) else None
    for d in os.environ.get("PATH", DEFAULT_PATH).split(":"):
        cand = os.path.join(d or ".", name)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def insecure_component(path: str) -> str | None:
    """The first component of `path` ("/", "/usr", ..., the file) that a non-root user could
    change, or None.  keepalived's check_script_secure(): owner not root, or group-writable
    with a non-root group, or world-writable, where a sticky directory is fine."""
    parts = os.path.abspath(path).split("/")[1:]
    prefixes = ["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for p in prefixes:
        try:
            st = os.stat(p)
        except OSError:
            return None
        writable = (st.st_gid != 0 and st.st_mode & stat.S_IWGRP) or st.st_mode & stat.S_IWOTH
        if st.st_uid != 0 or ((not st.st_mode & stat.S_ISVTX or stat.S_ISREG(st.st_mode)) and writable):
            return p
    return None


@dataclass(frozen=True, slots=True)
class Credentials:
    uid: int
    gid: int
    groups: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A script checked and resolved once at start: run it with `ScriptRunner.spawn`."""

    args: tuple[str, ...]
    cmd: str
    creds: Credentials


@dataclass(slots=True, eq=False)
class Child:
    """One running script; `done` resolves to its wait status (os.waitstatus_to_exitcode)."""

    pid: int
    popen: subprocess.Popen[bytes]
    done: asyncio.Future[int]
    pidfd: int = -1
    kill_handles: list[asyncio.TimerHandle] = field(default_factory=list)

    def signal_group(self, sig: int) -> None:
        if not self.done.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)


class ScriptRunner:
    """Starts scripts as keepalived does and reaps them; see the module docstring."""

    def __init__(self, gd: GlobalDefs) -> None:
        self.children: set[Child] = set()
        self.configure(gd)

    def configure(self, gd: GlobalDefs) -> None:
        """(Re)read script_user, enable_script_security, set_supplementary_groups."""
        self.security = gd.enable_script_security
        self.supplementary = gd.set_supplementary_groups
        self.default = self._default_credentials(gd)

    def _default_credentials(self, gd: GlobalDefs) -> Credentials:
        me = Credentials(os.getuid(), os.getgid(), ())
        if gd.script_user is not None:
            creds = self.credentials(gd.script_user, gd.script_group)
            if creds is None:
                return me
            return creds
        try:
            pw = pwd.getpwnam(DEFAULT_SCRIPT_USER)
        except KeyError:
            return me
        return self._with_groups(DEFAULT_SCRIPT_USER, pw.pw_uid, pw.pw_gid)

    def _with_groups(self, name: str, uid: int, gid: int) -> Credentials:
        groups = tuple(os.getgrouplist(name, gid)) if self.supplementary else (gid,)
        return Credentials(uid, gid, groups)

    def credentials(self, user: str | None, group: str | None) -> Credentials | None:
        """`user [group]` -> ids; None (logged) when the user or group does not exist."""
        if user is None:
            base = self.default
        else:
            try:
                pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
            except (KeyError, ValueError):
                log.info("Unable to resolve script username '%s' - ignoring", user)
                return None
            base = self._with_groups(pw.pw_name, pw.pw_uid, pw.pw_gid)
        if group is None:
            return base
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            log.info("Unable to resolve script group name '%s' - ignoring", group)
            return None
        return Credentials(base.uid, gid, (gid,) if not self.supplementary else base.groups)

    def prepare(self, script: Script | None, user: str | None = None,
                group: str | None = None) -> Prepared | None:
        """Resolve the program and the user once; None if it must not run (logged as keepalived)."""
        if script is None or not script.args:
            return None
        creds = self.credentials(user if user is not None else script.user,
                                 group if group is not None else script.group)
        if creds is None:
            return None
        program = find_program(script.args[0])
        if program is None:
            log.info("Cannot find script %s in path", script.args[0])
            log.info("Disabling notify script %s since not found", script.cmd)
            return None
        try:
            st = os.stat(program)
        except OSError:
            log.info("Unable to access script `%s`", program)
            return None
        runs_privileged = creds.uid == 0 or creds.gid == 0 or \
            (st.st_uid == 0 and st.st_mode & stat.S_ISUID) or (st.st_gid == 0 and st.st_mode & stat.S_ISGID)
        if runs_privileged and insecure_component(program) is not None:
            log.info("Unsafe permissions found for script '%s'.", program)
            if self.security:
                log.info("Disabling notify script %s due to insecure", script.cmd)
                return None
        return Prepared((program, *script.args[1:]), script.cmd, creds)

    def spawn(self, prepared: Prepared, extra: Sequence[str] = (), *, timeout: float | None = None,
              term_timeout: float | None = None) -> Child | None:
        """Start `prepared` with `extra` arguments appended.  After `timeout` seconds the
        process group gets SIGTERM, and SIGKILL `term_timeout` later."""
        loop = asyncio.get_running_loop()
        c = prepared.creds
        as_other = os.geteuid() == 0 and (c.uid, c.gid) != (os.getuid(), os.getgid())
        try:
            popen = subprocess.Popen(
                [*prepared.args, *extra], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, close_fds=True, env=script_env(), start_new_session=True,
                user=c.uid if as_other else None, group=c.gid if as_other else None,
                extra_groups=list(c.groups) if as_other else None, preexec_fn=_child_setup)
        except OSError as exc:
            log.info("Failed to exec script %s - %s", prepared.cmd, exc.strerror)
            return None
        child = Child(popen.pid, popen, loop.create_future())
        self.children.add(child)
        try:
            child.pidfd = os.pidfd_open(popen.pid)
            loop.add_reader(child.pidfd, self._reap, child)
        except OSError:
            loop.call_later(0.05, self._poll, child)
        if timeout is not None:
            grace = KILL_GRACE if term_timeout is None else term_timeout
            child.kill_handles.append(loop.call_later(timeout, child.signal_group, signal.SIGTERM))
            child.kill_handles.append(loop.call_later(timeout + grace, child.signal_group, signal.SIGKILL))
        return child

    def _poll(self, child: Child) -> None:
        if child.popen.poll() is None:
            asyncio.get_running_loop().call_later(0.05, self._poll, child)
        else:
            self._finish(child)

    def _reap(self, child: Child) -> None:
        if child.popen.poll() is not None:
            self._finish(child)

    def _finish(self, child: Child) -> None:
        loop = asyncio.get_running_loop()
        if child.pidfd >= 0:
            loop.remove_reader(child.pidfd)
            os.close(child.pidfd)
            child.pidfd = -1
        for h in child.kill_handles:
            h.cancel()
        self.children.discard(child)
        if not child.done.done():
            child.done.set_result(int(child.popen.returncode or 0))

    async def drain(self, timeout: float | None = None, exclude: Sequence[Child] = ()) -> None:
        """Wait for every running script but `exclude` (at most `timeout` seconds)."""
        futures = [c.done for c in self.children if c not in exclude]
        if futures:
            await asyncio.wait(futures, timeout=timeout)

    def close(self) -> None:
        """Stop watching the children (they keep running; PDEATHSIG ends them with us)."""
        loop = asyncio.get_running_loop()
        for child in list(self.children):
            if child.pidfd >= 0:
                loop.remove_reader(child.pidfd)
                os.close(child.pidfd)
                child.pidfd = -1
            for h in child.kill_handles:
                h.cancel()
        self.children.clear()


class FifoWriter:
    """notify_fifo / vrrp_notify_fifo: created if missing (and removed again at stop), opened
    read-write and non-blocking so that a missing reader never blocks the VRRP loop."""

    def __init__(self, path: str, user: str | None = None, group: str | None = None) -> None:
        self.path = path
        self.fd = -1
        self.created = False
        self.user, self.group = user, group

    def open(self) -> bool:
        try:
            if not os.path.exists(self.path):
                with contextlib.suppress(FileExistsError):      # the checker process may race us
                    os.mkfifo(self.path, 0o600)
                    self.created = True
                if self.user is not None or self.group is not None:
                    uid = -1 if self.user is None else (int(self.user) if self.user.isdigit()
                                                         else pwd.getpwnam(self.user).pw_uid)
                    gid = -1 if self.group is None else (int(self.group) if self.group.isdigit()
                                                          else grp.getgrnam(self.group).gr_gid)
                    os.chown(self.path, uid, gid)
            elif not stat.S_ISFIFO(os.stat(self.path).st_mode):
                log.info("notify FIFO %s exists and is not a FIFO", self.path)
                return False
            self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, KeyError) as exc:
            log.info("Unable to open notify FIFO %s - %s", self.path, getattr(exc, "strerror", exc))
            return False
        return True

    def write(self, line: bytes) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):     # a full FIFO loses the line, as in keepalived
                os.write(self.fd, line)

    def close(self, remove: bool = True) -> None:
        """Close; `remove`: also delete the FIFO if we created it (not on a reload that keeps it)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        if remove and self.created:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.created = False


def fifo_line(note: Notify) -> bytes:
    """`INSTANCE "VI_1" MASTER 110\\n` / `GROUP "SG1" BACKUP 0\\n` (spec §3.2)."""
    return to_bytes(f'{note.kind} "{note.name}" {note.state} {note.priority}\n')


@dataclass(slots=True)
class _Scripts:
    """The prepared notify scripts of one instance or sync group."""

    by_state: dict[str, Prepared]
    generic: Prepared | None
    smtp: bool


class Notifier:
    """Runs the notify scripts, writes the FIFO lines and sends the alerts for `Notify` actions,
    in keepalived's order: specific script, generic script, FIFO, email (spec §3.1)."""

    def __init__(self, config: Config, runner: ScriptRunner) -> None:
        self.config = config
        self.runner = runner
        gd = config.global_defs
        self.fifos: list[FifoWriter] = []
        self.fifo_scripts: list[tuple[Prepared, str]] = []
        self.fifo_children: list[tuple[Child, str]] = []
        self.smtp = SmtpAlerter(gd) if gd.smtp_server and gd.notification_email else None
        seen: set[str] = set()
        for fifo in (gd.notify_fifo, gd.vrrp_notify_fifo):
            if fifo is None or fifo.name in seen:
                continue
            seen.add(fifo.name)
            self.fifos.append(FifoWriter(fifo.name, fifo.user, fifo.group))
            if fifo.script is not None:
                prepared = runner.prepare(fifo.script)
                if prepared is not None:
                    self.fifo_scripts.append((prepared, fifo.name))
        self.instances = {vi.name: self._instance_scripts(vi) for vi in config.vrrp_instances}
        self.groups = {g.name: self._group_scripts(g) for g in config.vrrp_sync_groups}

    def _instance_scripts(self, vi: VrrpInstance) -> _Scripts:
        p = self.runner.prepare
        by_state = {state: prepared for state, script in (
            ("MASTER", vi.notify_master), ("BACKUP", vi.notify_backup), ("FAULT", vi.notify_fault),
            ("STOP", vi.notify_stop), ("DELETED", vi.notify_deleted),
            ("MASTER_RX_LOWER_PRI", vi.notify_master_rx_lower_pri)) if (prepared := p(script)) is not None}
        return _Scripts(by_state, p(vi.notify), vi.effective.smtp_alert)

    def _group_scripts(self, g: VrrpSyncGroup) -> _Scripts:
        p = self.runner.prepare
        by_state = {state: prepared for state, script in (
            ("MASTER", g.notify_master), ("BACKUP", g.notify_backup), ("FAULT", g.notify_fault),
            ("STOP", g.notify_stop)) if (prepared := p(script)) is not None}
        gd = self.config.global_defs
        smtp = g.smtp_alert if g.smtp_alert is not None else (
            gd.smtp_alert_vrrp if gd.smtp_alert_vrrp is not None else gd.smtp_alert)
        return _Scripts(by_state, p(g.notify), bool(smtp))

    def adopt(self, old: Notifier) -> None:
        """A reload: FIFOs still configured stay open, with their running FIFO scripts (a
        reader never sees its FIFO disappear); the others are closed and their scripts ended."""
        previous = {f.path: f for f in old.fifos}
        kept: set[str] = set()
        for i, fifo in enumerate(self.fifos):
            same = previous.pop(fifo.path, None)
            if same is not None:
                self.fifos[i] = same
                kept.add(fifo.path)
        for fifo in previous.values():
            fifo.close()
        for child, path in old.fifo_children:
            if path in kept:
                self.fifo_children.append((child, path))
            else:
                child.signal_group(signal.SIGTERM)
        self.fifo_scripts = [(p, path) for p, path in self.fifo_scripts if path not in kept]

    def start(self) -> None:
        """Open the FIFOs, then start each FIFO script with the FIFO path as last argument."""
        for fifo in self.fifos:
            if fifo.fd < 0:
                fifo.open()
        for prepared, path in self.fifo_scripts:
            child = self.runner.spawn(prepared, (path,))
            if child is not None:
                self.fifo_children.append((child, path))

    def notify(self, note: Notify) -> None:
        table = self.instances if note.kind == "INSTANCE" else self.groups
        scripts = table.get(note.name)
        terminal = note.state in ("STOP", "DELETED")
        timeout = STOP_SCRIPT_TIMEOUT if terminal else None
        if scripts is not None:
            specific = scripts.by_state.get(note.state)
            if specific is not None:
                self.runner.spawn(specific, timeout=timeout, term_timeout=0.0)
            if scripts.generic is not None and note.state in ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED"):
                self.runner.spawn(scripts.generic, (note.kind, note.name, note.state, str(note.priority)),
                                  timeout=timeout, term_timeout=0.0)
        line = fifo_line(note)
        for fifo in self.fifos:
            fifo.write(line)
        # keepalived 2.2.7 sends no email for STOP: it exits before the mail goes out.
        if self.smtp is not None and scripts is not None and scripts.smtp and \
                note.state in ("MASTER", "BACKUP", "FAULT"):
            self.smtp.vrrp_alert(note)

    async def stop(self) -> None:
        """After the STOP notifications: wait for the STOP scripts (they are killed after 1 s),
        send the pending emails, SIGTERM the FIFO scripts, close (and remove) the FIFOs."""
        await self.runner.drain(timeout=STOP_SCRIPT_TIMEOUT + 0.5, exclude=[c for c, _ in self.fifo_children])
        if self.smtp is not None:
            await self.smtp.drain()
        for child, _path in self.fifo_children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
        if self.fifo_children:
            await asyncio.wait([c.done for c, _path in self.fifo_children], timeout=KILL_GRACE)
        for fifo in self.fifos:
            fifo.close()
        self.runner.close()


class SmtpAlerter:
    """smtp_alert: one email per VRRP state change to every notification_email, through
    smtp_server (plain SMTP, as keepalived; failures are logged, never retried forever)."""

    def __init__(self, gd: GlobalDefs) -> None:
        self.gd = gd
        self.router_id = gd.router_id or socket.gethostname()
        self.tasks: set[asyncio.Task[None]] = set()
        self.last: dict[tuple[str, str], str] = {}
        self._previous: asyncio.Task[None] | None = None

    def vrrp_alert(self, note: Notify) -> None:
        """keepalived's vrrp_smtp_notifier / vrrp_sync_smtp_notifier texts; one email per
        state (a repeated state is not mailed again), FAULT skipped with no_email_faults."""
        if note.state == "FAULT" and self.gd.no_email_faults:
            return
        key = (note.kind, note.name)
        if self.last.get(key) == note.state:
            return
        self.last[key] = note.state
        if note.kind == "INSTANCE":
            what = "VRRP Instance"
            body = {"MASTER": "=> VRRP Instance is now owning VRRP VIPs <=",
                    "BACKUP": "=> VRRP Instance is no longer owning VRRP VIPs <=",
                    "FAULT": "=> VRRP Instance is no longer owning VRRP VIPs <=",
                    "STOP": "=> VRRP Instance stopping <="}[note.state]
        else:
            what = "VRRP Group"
            body = {"MASTER": "=> All VRRP group instances are now in MASTER state <=",
                    "BACKUP": "=> All VRRP group instances are now in BACKUP state <=",
                    "FAULT": "=> All VRRP group instances are now in FAULT state <=",
                    "STOP": "=> All VRRP group instances stopping <="}[note.state]
        action = "Stopping" if note.state == "STOP" else f"Entering {note.state} state"
        subject = f"[{self.router_id}] {what} {note.name} - {action}"
        previous = self._previous

        async def send_in_order() -> None:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            await self.send(subject, body)

        task = asyncio.get_running_loop().create_task(send_in_order())
        self._previous = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=self.gd.smtp_connect_timeout)

    async def send(self, subject: str, body: str) -> None:
        await smtp.send_alert(self.gd, subject, body)


__all__ = ["Child", "Credentials", "FifoWriter", "Notifier", "Prepared", "ScriptRunner", "SmtpAlerter",
           "fifo_line", "find_program", "insecure_component", "script_env"]
