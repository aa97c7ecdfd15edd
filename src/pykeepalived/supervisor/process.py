"""keepalived's process model: a parent supervisor with a VRRP child and a checker child.

    run(opts) -> exit status          (cli.py, without -t/-d)

The parent reads and validates the configuration (`child.load_config`), owns the pid files,
forks the children (`children.py`: each runs its own event loop), respawns a child that dies,
relays signals, reloads (SIGHUP, `reload_time_file`: `reload_timer.py`), tells systemd
(`sdnotify`) and runs the startup/shutdown scripts. It never runs an event loop itself: it
blocks the signals it cares about and takes them synchronously with sigtimedwait(), so there
are no handler races and the fork()s happen in a single-threaded process.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from pykeepalived import KEEPALIVED_COMPAT, __version__, dataclass_cache, pidfile, sdnotify
from pykeepalived import log as kalog
from pykeepalived.child import load_config, unread_main_file
from pykeepalived.errors import (
    EXIT_CONFIG,
    EXIT_FATAL,
    EXIT_MISSING_PERMISSION,
    EXIT_NO_CONFIG,
    EXIT_OK,
    EXIT_PROGRAM_ERROR,
)
from pykeepalived.osutil import (
    SIGJSON,
    SIGSTATS_CLEAR,
    enter_netns,
    missing_capabilities,
    preopen_proc_connector,
    return_free_memory,
    set_process_name,
)
from pykeepalived.scripts import script_env
from pykeepalived.supervisor.children import (
    SUPERVISED_SIGNALS,
    Child,
    calc_restart_delay,
    child_main,
    describe_status,
    entry_available,
    preload,
    process_names,
)
from pykeepalived.supervisor.children import config_value as _gd
from pykeepalived.supervisor.reload_timer import ReloadTimer

log = logging.getLogger("pykeepalived.supervisor")

VERSION_STRING = f"pykeepalived v{__version__} (keepalived {KEEPALIVED_COMPAT} compatible)"
DEFAULT_UMASK = 0o177


# --------------------------------------------------------------------------------------------
# Small system helpers


def _enter_or_log(name: str) -> bool:
    # The proc connector (vrrp_track_process) exists only in the initial network namespace:
    # open it before setns(), as keepalived does; the forked VRRP process inherits it.
    preopen_proc_connector()
    try:
        enter_netns(name)
    except OSError as exc:
        log.error("Unable to set network namespace %s - exiting (%s)", name, exc.strerror)
        return False
    return True


def parse_umask(text: str) -> int | None:
    """`-u MASK`: a number in C's strtol base 0 (0177 octal, 0x7f hex, 127 decimal)."""
    t = text.strip()
    try:
        if t.startswith(("0x", "0X")):
            value = int(t, 16)
        elif t.startswith("0") and len(t) > 1:
            value = int(t[1:].lstrip("oO"), 8)
        else:
            value = int(t, 10)
    except ValueError:
        return None
    return value if 0 <= value <= 0o777 else None


def _daemonize() -> bool:
    """Detach like keepalived's xdaemon(): fork, setsid, fork, chdir /, stdio to /dev/null.

    Returns True in the daemon, False in the original process (which should exit 0)."""
    if os.fork() > 0:
        return False
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    fd = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(fd, std)
    if fd > 2:
        os.close(fd)
    return True


# --------------------------------------------------------------------------------------------
# The supervisor


@dataclass
class Supervisor:
    opts: argparse.Namespace
    config: Any
    pids: pidfile.PidFiles
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False
    exit_code: int = EXIT_OK
    reloads: int = 0
    reload_timer: ReloadTimer | None = None
    started_at: float = field(default_factory=time.time)
    config_loaded_at: float = field(default_factory=time.time)
    reload_durations: list[float] = field(default_factory=list)
    reload_failures: int = 0           # reloads refused (file unreadable, unusable, failed validation)
    last_reload_ok: bool = True
    last_reload_error: str | None = None  # why the last reload was refused (None: it was not)
    last_reload_at: float | None = None   # when the last reload was tried (None: never)
    config_digest: str | None = None      # status.snapshot.config_digest of the running configuration's files
    status: Any = None                 # status.server.StatusThread when --status-listen is given

    def daemon_info(self) -> dict[str, Any]:
        """The supervisor's facts for the status API (read from the status thread)."""
        now = time.time()
        return {
            "version": __version__,
            "keepalived_compat": KEEPALIVED_COMPAT,
            "pid": os.getpid(),
            "started": self.started_at,
            "uptime": now - self.started_at,
            "config_file": os.path.abspath(self.opts.config_file),
            "config_loaded": self.config_loaded_at,
            "reload_count": self.reloads,
            "reload_durations": list(self.reload_durations[-100:]),
            "reload_failures": self.reload_failures,
            "last_reload_ok": self.last_reload_ok,
            "last_reload_error": self.last_reload_error,
            "last_reload_time": self.last_reload_at,
            "config_changed_on_disk": self._config_changed_on_disk(),
            "pids": {kind: c.pid for kind, c in list(self.children.items()) if c.running},
            "pid_files": {"main": self.pids.main, "vrrp": self.pids.vrrp, "checkers": self.pids.checkers},
        }

    def _config_files(self) -> tuple[str, ...]:
        return tuple(getattr(self.config, "files", None) or (self.opts.config_file,))

    def _config_changed_on_disk(self) -> bool:
        """The files the running configuration was read from differ now (edited and not reloaded,
        or the reload was refused). Read from the status thread: a few small files, once a scrape."""
        from pykeepalived.status.snapshot import config_digest

        if self.config_digest is None:
            return False
        return config_digest(self._config_files()) != self.config_digest

    def remember_config_files(self) -> None:
        from pykeepalived.status.snapshot import config_digest

        self.config_digest = config_digest(self._config_files())

    def start_status_api(self) -> bool:
        """--status-listen: the read-only API on its own thread (started with signals blocked,
        so the supervisor's sigwait still gets every signal)."""
        if not getattr(self.opts, "status_listen", None):
            return True
        from pykeepalived.errors import PykeepalivedError
        from pykeepalived.status.channel import channel_path
        from pykeepalived.status.server import start_from_options

        # child kind -> (name in the status API, its channel next to its pid file)
        known = {"vrrp": ("vrrp", self.pids.vrrp), "checker": ("checkers", self.pids.checkers)}

        def channels() -> dict[str, str]:  # the children this daemon runs (also while respawning)
            return {known[k][0]: channel_path(known[k][1]) for k in list(self.children) if k in known}

        try:
            self.status = start_from_options(self.opts, self.daemon_info, channels)
        except PykeepalivedError as exc:
            log.error("%s", exc)
            return False
        return True

    def close_inherited_status_sockets(self) -> None:
        """In a forked child: drop the copy of the status API's listening socket."""
        server = getattr(getattr(self.status, "server", None), "_server", None)
        for sock in getattr(server, "sockets", None) or ():
            with contextlib.suppress(OSError):
                os.close(sock.fileno())

    def setup_reload_timer(self) -> None:
        """(Re)arm reload_time_file from the running configuration."""
        path = _gd(self.config, "reload_time_file", None)
        repeat = bool(_gd(self.config, "reload_repeat", False))
        if not path:
            if self.reload_timer is not None:
                self.reload_timer.cancel()
            self.reload_timer = None
            return
        if self.reload_timer is None or self.reload_timer.path != path:
            self.reload_timer = ReloadTimer(str(path), repeat)
        self.reload_timer.repeat = repeat
        self.reload_timer.check(time.time())

    # -- child management ------------------------------------------------------------------

    def wanted(self, kind: str) -> bool:
        mode_vrrp, mode_check = bool(self.opts.vrrp), bool(self.opts.check)
        if not mode_vrrp and not mode_check:
            mode_vrrp = mode_check = True
        force = bool(getattr(self.opts, "all", False))
        if kind == "vrrp":
            return mode_vrrp and (force or bool(getattr(self.config, "has_vrrp", False)))
        return mode_check and (force or bool(getattr(self.config, "has_checker", False)))

    def start_child(self, child: Child) -> None:
        child.restart_at = None
        preload(child.kind)
        kalog.flush()
        parent = os.getpid()
        # What the child inherits stays out of its cyclic GC (its start-up collection then
        # walks only what it builds itself, and the pages stay shared).
        gc.freeze()
        try:
            pid = os.fork()
        except OSError as exc:
            gc.unfreeze()
            log.info("%s child process: fork error(%s)", child.label, exc.strerror)
            child.restart_at = time.monotonic() + max(1, calc_restart_delay(child, time.monotonic()))
            return
        if pid == 0:
            code = EXIT_PROGRAM_ERROR
            try:
                gc.enable()          # disabled in the parent while it starts (run())
                self.close_inherited_status_sockets()
                code = child_main(child, self.config, self.opts, parent)
            finally:
                os._exit(code)
        gc.unfreeze()
        child.pid = pid
        child.started = time.monotonic()
        child.starts += 1
        log.info("Starting %s child process, pid=%d", child.label, pid)

    def start_children(self) -> bool:
        started = False
        for kind, label, path in (("vrrp", "VRRP", self.pids.vrrp),
                                  ("checker", "Healthcheck", self.pids.checkers)):
            if kind in self.children and self.children[kind].running:
                started = True
                continue
            if not self.wanted(kind):
                continue
            reason = entry_available(kind)
            if reason is not None:
                log.error("%s child process can not be started: %s", label, reason)
                continue
            child = self.children.setdefault(kind, Child(kind, label, path))
            self.start_child(child)
            started = True
        return started

    def reap(self) -> None:
        """Collect every exited child (only ours: scripts run by subprocess reap themselves)."""
        for child in list(self.children.values()):
            if not child.running:
                continue
            try:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = child.pid, 0
            if pid == 0:
                continue
            child.pid = 0
            pidfile.remove_if_ours(child.pid_file, pid)
            self.remove_channel_socket(child)
            self.child_died(child, pid, status)

    def child_died(self, child: Child, pid: int, status: int) -> None:
        line, permanent = describe_status(pid, status)
        if line:
            log.info("%s", line)
        if self.stopping:
            return
        if permanent is not None:
            self.exit_code = permanent
            self.stop()
            return
        if self.opts.dont_respawn:
            log.log(kalog.ALERT, "%s child process(%d) died: Exiting", child.label, pid)
            self.stop()
            return
        log.log(kalog.ALERT, "%s child process(%d) died: Respawning", child.label, pid)
        delay = calc_restart_delay(child, time.monotonic())
        if delay:
            child.restart_at = time.monotonic() + delay
        else:
            self.start_child(child)

    @staticmethod
    def remove_channel_socket(child: Child) -> None:
        """A dead child's status channel socket (next to its pid file) goes with it."""
        from pykeepalived.status.channel import channel_path

        with contextlib.suppress(OSError):
            os.unlink(channel_path(child.pid_file))

    def due_restarts(self) -> float | None:
        """Start children whose respawn delay has passed; return seconds to the next one."""
        now = time.monotonic()
        wait: float | None = None
        for child in self.children.values():
            if child.restart_at is None or child.running:
                continue
            if child.restart_at <= now:
                self.start_child(child)
            else:
                left = child.restart_at - now
                wait = left if wait is None else min(wait, left)
        return wait

    def signal_children(self, sig: int, kinds: tuple[str, ...] = ("vrrp", "checker")) -> None:
        for kind in kinds:
            child = self.children.get(kind)
            if child is not None and child.running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, sig)

    # -- signals ---------------------------------------------------------------------------

    def on_signal(self, sig: int) -> None:
        if sig == signal.SIGCHLD:
            self.reap()
        elif sig in (signal.SIGTERM, signal.SIGINT):
            if sig == signal.SIGINT and getattr(self.opts, "ignore_sigint", False):
                return
            self.stop()
        elif sig == signal.SIGHUP:
            self.reload()
        elif sig == signal.SIGUSR1:
            self.dump_parent_data()
            self.signal_children(sig)
        elif sig in (signal.SIGUSR2, SIGJSON, SIGSTATS_CLEAR):
            self.signal_children(sig, ("vrrp",))

    def dump_parent_data(self) -> None:
        log.info("Printing parent data for process(%d) on signal", os.getpid())
        try:
            from pykeepalived.status import dumps

            dumps.write_parent_data(self.config)
        except Exception as exc:
            log.info("Unable to write parent data: %s", exc)

    # -- reload ----------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: re-read the configuration; on success hand it to the children (SIGHUP),
        start a child whose configuration type appeared; on failure keep everything running.

        With `reload_check_config` (of the running configuration) a new file with any error
        is refused, as keepalived does ("New config failed validation, see LOG for details",
        the messages going to LOG). Without it, a file that cannot run at all (unreadable, a
        missing interface, a fatal error) is refused too: keepalived's VRRP child would exit
        and take the daemon down, we keep the running configuration. Either way every
        message is logged with its file:line.

        A main file that is missing or unreadable is refused as well (keepalived 2.2.7 reads it
        as an empty configuration and removes every instance and VIP): logged at ERROR with
        the reason. Every refused reload counts in `reload_failures` (the status API's
        pykeepalived_reload_failures_total)."""
        if self.stopping:
            return
        sdnotify.reloading()
        began = time.monotonic()
        check = _gd(self.config, "reload_check_config", None)
        handshake = _gd(self.config, "reload_file", None)
        if handshake:
            with contextlib.suppress(OSError):
                os.close(os.open(str(handshake), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        try:
            loaded = load_config(self.opts, quiet=True)
        except Exception as exc:
            log.error("Reload failed - configuration could not be read:\n%s", traceback.format_exc().rstrip())
            self._reload_refused(f"configuration could not be read: {exc!r}")
            return
        finally:
            if handshake:
                with contextlib.suppress(OSError):
                    os.unlink(str(handshake))
        reason = unread_main_file(self.opts, loaded)
        if reason is not None:
            log.error("Reload refused: configuration file %s cannot be read (%s) - keeping the running "
                      "configuration", self.opts.config_file, reason)
            self._reload_refused(f"configuration file {self.opts.config_file} cannot be read ({reason})")
            return
        if check is not None and (loaded.config is None or loaded.exit_code != 0):
            target = str(check) or "/dev/null"
            _write_check_log(target, loaded.messages)
            for message in loaded.messages:
                log.info("%s", message)
            log.error("New config failed validation, see %s for details", target)
            self._reload_refused("new config failed validation", loaded.messages)
            return
        log.info("Reloading ...")
        for message in loaded.messages:
            log.info("%s", message)
        if loaded.config is None or loaded.exit_code == 4 or not self._reloadable(loaded.config):
            log.error("Reload of configuration file %s failed - keeping the running configuration",
                      self.opts.config_file)
            self._reload_refused(f"configuration file {self.opts.config_file} cannot run", loaded.messages)
            return
        self.last_reload_ok = True
        self.last_reload_error = None
        self.last_reload_at = time.time()
        self.config = loaded.config
        self.remember_config_files()
        self.config_loaded_at = time.time()
        self.reloads += 1
        self.signal_children(signal.SIGHUP)
        self.start_children()
        self.setup_reload_timer()
        self.reload_durations.append(time.monotonic() - began)
        log.info("Reload finished")
        sdnotify.ready(status="Running; configuration reloaded")

    def _reload_refused(self, reason: str, messages: list[str] | None = None) -> None:
        """Count and keep a refused reload's reason for the status API (last_reload_error,
        pykeepalived_config_last_reload_successful 0) and systemd (STATUS=). `messages`: the
        loader's diagnostics (file:line), the first five go into the reason."""
        errors = list(messages or ())
        if len(errors) > 5:
            errors = errors[:5] + [f"(+{len(errors) - 5} more)"]
        self.reload_failures += 1
        self.last_reload_ok = False
        self.last_reload_at = time.time()
        self.last_reload_error = reason + (": " + "; ".join(errors[:5]) if errors else "")
        sdnotify.ready(status=f"Reload refused, running the previous configuration: {self.last_reload_error}")

    def _reloadable(self, new: Any) -> bool:
        """The network namespace and the instance name are fixed for the daemon's life."""
        ok = True
        if not getattr(self.opts, "namespace", None) and \
                getattr(new, "net_namespace", None) != getattr(self.config, "net_namespace", None):
            log.info("Cannot change network namespace at a reload - please restart pykeepalived")
            ok = False
        if getattr(new, "instance", None) != getattr(self.config, "instance", None):
            log.info("Cannot change instance name at a reload - please restart pykeepalived")
            ok = False
        return ok

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        sdnotify.stopping()
        log.info("Stopping")
        self.signal_children(signal.SIGTERM)

    def wait_children(self) -> None:
        """After stop(): give children child_wait_time to exit, then SIGKILL them."""
        limit = float(getattr(self.config, "child_wait_time", 5.0) or 5.0)
        deadline = time.monotonic() + limit
        while any(c.running for c in self.children.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                for c in self.children.values():
                    if c.running:
                        log.info("%s child process(%d) failed to stop within %g seconds - killing it",
                                 c.label, c.pid, limit)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(c.pid, signal.SIGKILL)
                deadline = time.monotonic() + 5.0
                left = 5.0
            with contextlib.suppress(InterruptedError):
                signal.sigtimedwait([signal.SIGCHLD], min(left, 0.5))
            self.reap()

    # -- main loop -------------------------------------------------------------------------

    def loop(self) -> None:
        waitable = list(SUPERVISED_SIGNALS)
        self.setup_reload_timer()
        while not self.stopping:
            timeout = self.due_restarts()
            if self.reload_timer is not None:
                now = time.time()
                self.reload_timer.check(now)
                if self.reload_timer.due(now):
                    self.reload()
                    continue
                wait = self.reload_timer.wait(now)
                timeout = wait if timeout is None else min(timeout, wait)
            info: signal.struct_siginfo | None
            try:
                if timeout is None:
                    info = signal.sigwaitinfo(waitable)
                else:
                    info = signal.sigtimedwait(waitable, timeout)
            except InterruptedError:
                continue
            if info is not None:
                self.on_signal(info.si_signo)
        self.wait_children()


def _write_check_log(path: str, messages: list[str]) -> None:
    """`reload_check_config LOGFILE`: the failed check's messages replace LOGFILE's content."""
    if path == "/dev/null":
        return
    with contextlib.suppress(OSError), open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{m}\n" for m in messages)


def run_script(script: Any, timeout: float, what: str) -> None:
    """startup_script / shutdown_script: run with a time limit, killed when it overruns.

    posix_spawn with an empty signal mask and default dispositions: the supervisor keeps its
    signals blocked for sigwait, and a script must not inherit that."""
    argv = list(script.args) or [script.cmd]
    defaults = [*SUPERVISED_SIGNALS, signal.SIGPIPE, signal.SIGXFSZ]
    try:
        pid = os.posix_spawnp(argv[0], argv, script_env(), setsid=True, setsigmask=[], setsigdef=defaults)
    except OSError as exc:
        log.info("Unable to run %s %s: %s", what, script.cmd, exc.strerror)
        return
    deadline = time.monotonic() + timeout
    while True:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        if time.monotonic() >= deadline:
            log.info("%s %s timed out", what, script.cmd)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
        time.sleep(0.01)


# --------------------------------------------------------------------------------------------
# Entry point


def _log_startup(argv: list[str]) -> None:
    log.info("Starting %s", VERSION_STRING)
    u = os.uname()
    log.info("Running on %s %s %s", u.sysname, u.release, u.version)
    log_options("Command line", " ".join(f"'{a}'" for a in argv))
    from pykeepalived import _fastpath

    if _fastpath.IMPLEMENTATION == "compiled":
        log.info("fast path: compiled")
    else:  # every start says it: the pure twins are 7-32x slower per packet
        log.warning("fast path: pure (the Cython modules are not built%s; pure-Python twins run)",
                    ", PYKEEPALIVED_NO_EXTENSIONS is set" if _fastpath.NO_EXTENSIONS else "")


def log_options(option: str, text: str) -> None:
    """keepalived's log_options(): wrap at 100 columns, continuation lines aligned."""
    width = max(100 - len(option), 20)
    first = True
    while text:
        text = text.lstrip(" ")
        if len(text) <= width:
            end = len(text)
        else:
            end = text.rfind(" ", 0, width + 1)
            if end <= 0:
                end = width
        chunk, text = text[:end], text[end:]
        if first:
            log.info("%s: %s", option, chunk)
            first = False
        else:
            log.info("%s%s", " " * (len(option) + 2), chunk)


def _core_dump(opts: argparse.Namespace) -> str | None:
    """-m / -M: unlimited core size; -M also sets core_pattern (old value returned)."""
    if not (opts.core_dump or opts.core_dump_pattern):
        return None
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    if not opts.core_dump_pattern:
        return None
    try:
        with open("/proc/sys/kernel/core_pattern", encoding="utf-8") as f:
            old = f.read().rstrip("\n")
        with open("/proc/sys/kernel/core_pattern", "w", encoding="utf-8") as f:
            f.write(opts.core_dump_pattern)
        return old
    except OSError as exc:
        log.info("Unable to set core_pattern: %s", exc.strerror)
        return None


def run(opts: argparse.Namespace) -> int:
    """`pykeepalived` without -t/-d: the daemon. Returns the process exit status."""
    # No cyclic GC while the daemon starts: each full collection walked every module object
    # and the whole configuration again (40-50 ms of ~370 ms CPU to parse 1000 instances and
    # import the VRRP child's code). Enabled again once the children are forked (each child
    # enables its own at once, see start_child).
    gc.disable()
    kalog.setup(opts, "parent")
    argv = ["keepalived" if i == 0 else a for i, a in enumerate(sys.argv)] if sys.argv else []
    _log_startup(argv or ["pykeepalived"])

    cli_umask: int | None = None
    if opts.umask is not None:
        cli_umask = parse_umask(str(opts.umask))
        if cli_umask is None:
            log.info("Invalid --umask option %s", opts.umask)
            print(f"Invalid --umask option {opts.umask}", file=sys.stderr)
            return EXIT_FATAL
    os.umask(cli_umask if cli_umask is not None else DEFAULT_UMASK)

    if not os.access(opts.config_file, os.R_OK):
        log.info("Config files missing '%s'.", opts.config_file)
        log.info("Stopped %s", VERSION_STRING)
        return EXIT_NO_CONFIG
    log.info("Configuration file %s", opts.config_file)
    missing = missing_capabilities()
    if missing:
        # Checked before anything is touched: without them the VRRP child died later with a bare
        # "Operation not permitted" (raw socket, netlink), exit 1.
        text = (f"pykeepalived needs root (capabilities CAP_NET_RAW for VRRP, GARP and NA raw sockets and "
                f"CAP_NET_ADMIN for addresses, routes and IPVS/nftables); missing: {', '.join(missing)}")
        log.error("%s", text)
        if not opts.log_console:
            print(text, file=sys.stderr)
        log.info("Stopped %s", VERSION_STRING)
        return EXIT_MISSING_PERMISSION
    # The configuration is checked (interfaces!) inside the namespace the daemon will run in:
    # -s is entered before reading; a config net_namespace is entered and the file read again.
    cli_namespace = getattr(opts, "namespace", None)
    if cli_namespace and not _enter_or_log(cli_namespace):
        return EXIT_FATAL
    try:
        loaded = load_config(opts, quiet=True)
        config_namespace = getattr(loaded.config, "net_namespace", None)
        if config_namespace and cli_namespace:
            log.info("Overriding config net_namespace '%s' with command line namespace '%s'",
                     config_namespace, cli_namespace)
        elif config_namespace:
            if not _enter_or_log(config_namespace):
                return EXIT_FATAL
            loaded = load_config(opts, quiet=True)
    except Exception:
        log.error("Configuration could not be read:\n%s", traceback.format_exc().rstrip())
        log.info("Stopped %s", VERSION_STRING)
        return EXIT_PROGRAM_ERROR
    for message in loaded.messages:
        log.info("%s", message)
    config = loaded.config
    if config is None:
        log.info("Stopped %s", VERSION_STRING)
        return EXIT_NO_CONFIG if loaded.exit_code == 6 else EXIT_CONFIG
    if loaded.exit_code == 4:
        # keepalived's VRRP child exits CONFIG (e.g. a non-existent interface) and takes the
        # parent with it; we refuse before forking, with the same exit status.
        log.info("Configuration can not be run - exiting")
        log.info("Stopped %s", VERSION_STRING)
        return EXIT_CONFIG
    if cli_umask is None and _gd(config, "umask", None) is not None:
        os.umask(int(_gd(config, "umask")))

    namespace = cli_namespace or getattr(config, "net_namespace", None)
    instance = getattr(config, "instance", None)
    if namespace or instance:
        if not opts.no_syslog:
            log.info("Changing syslog ident to %s", kalog.syslog_ident("parent", namespace, instance))
        kalog.setup(opts, "parent", namespace=namespace, instance=instance)
    pids = pidfile.pid_paths(main=opts.pid_file, vrrp=opts.vrrp_pid_file, checkers=opts.checkers_pid_file,
                             instance=instance, namespace=namespace,
                             use_pid_dir=bool(getattr(config, "use_pid_dir", False)))
    if pids.uses_pid_dir:
        pidfile.create_pid_dir()
    opts.pid_file, opts.vrrp_pid_file, opts.checkers_pid_file = pids.main, pids.vrrp, pids.checkers

    running = pidfile.process_running(pids.main)
    if not running and (opts.vrrp or not opts.check):
        running = pidfile.process_running(pids.vrrp)
    if not running and (opts.check or not opts.vrrp):
        running = pidfile.process_running(pids.checkers)
    if running:
        log.info("daemon is already running")
        return EXIT_OK

    if not opts.dont_fork and not _daemonize():
        return EXIT_OK

    old_core_pattern = _core_dump(opts)
    if not pidfile.write(pids.main):
        return EXIT_FATAL
    names = process_names(config)
    set_process_name(names["parent"])
    if getattr(config, "has_bfd", False):
        log.info("BFD is not supported by pykeepalived - bfd_instance blocks are ignored")
    for vi in getattr(config, "vrrp_instances", ()):
        if vi.use_ipvlan is not None:
            log.info("(%s) use_ipvlan is not supported by pykeepalived - ignored, VIPs go on the interface itself",
                     vi.name)

    signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISED_SIGNALS)
    sup = Supervisor(opts, config, pids)
    sup.remember_config_files()
    try:
        if not sup.start_status_api():
            sup.exit_code = EXIT_FATAL
            return EXIT_FATAL
        startup = _gd(config, "startup_script", None)
        if startup is not None:
            run_script(startup, float(_gd(config, "startup_script_timeout", 10)), "startup_script")
        if not sup.start_children():
            log.info("Warning - keepalived has no configuration to run")
        dataclass_cache.save()      # the children's code is imported: the next start finds it compiled
        gc.enable()
        return_free_memory()
        log.info("Startup complete")
        sdnotify.ready()
        sup.loop()
        shutdown = _gd(sup.config, "shutdown_script", None)
        if shutdown is not None:
            run_script(shutdown, float(_gd(sup.config, "shutdown_script_timeout", 10)), "shutdown_script")
    finally:
        if sup.status is not None:
            sup.status.stop()
        for child in sup.children.values():
            if child.running:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
        pidfile.remove_if_ours(pids.main, os.getpid())
        if pids.uses_pid_dir:
            pidfile.remove_pid_dir()
        if old_core_pattern is not None:
            with contextlib.suppress(OSError), open("/proc/sys/kernel/core_pattern", "w",
                                                     encoding="utf-8") as f:
                f.write(old_core_pattern)
        log.info("Stopped %s", VERSION_STRING)
        kalog.flush()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SUPERVISED_SIGNALS)
    return sup.exit_code


__all__ = ["Supervisor", "log_options", "parse_umask", "run", "run_script"]
