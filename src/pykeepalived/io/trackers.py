"""The IO side of tracking: observe scripts, files and processes, report raw results.

    trackers = Trackers(config, runner, on_change)     # on_change(kind, name, value)
    trackers.start()
    ...
    trackers.stop()

`on_change` gets ("script", name, ok: bool), ("file", name, value: int) or
("process", name, ok: bool) whenever a result changes; core.track.Tracking turns those into
FaultChanged / PriorityChanged for the routers.  Links (track_interface) come from the
netlink monitor and are fed by the runtime directly.

* vrrp_script: run every `interval` (the first run at start), never two runs of one script at
  once; after `timeout` the process group gets SIGTERM (a failure, logged `timed_out`) and
  SIGKILL 2 s later; rise/fall in core.track.ScriptState.
* track_file: inotify (via ctypes) on the file's directory; the value is the integer at the
  start of the file, 0 when missing or not a number; `init_file` writes it at start.
* vrrp_track_process: /proc is scanned again when the netlink proc connector reports an exec
  or name change that concerns a tracked process, or a fork or exit of a counted one; where the connector is not available (it exists
  only in the initial network namespace, which a daemon started under `ip netns exec` does not
  have; `net_namespace` opens it before setns) /proc is scanned every second.  Scans tell
  forks, exits and execs apart; core.track.ProcessQuorum applies quorum and the delays.
  A scan reads /proc/PID/stat (and cmdline) of every process: tens of ms on a loaded host,
  longer than a backup's master-down interval at advert_int 0.01, so scans after the first run
  on a worker thread and only their result is applied on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from pykeepalived import osutil
from pykeepalived.config.model import Config, TrackFile, TrackProcess, VrrpInstance, VrrpScript, VrrpSyncGroup
from pykeepalived.core.track import ProcessQuorum, ScriptState
from pykeepalived.io.notify import Child, Prepared, ScriptRunner
from pykeepalived.osutil import (  # noqa: F401 - the proc connector lives in osutil (the supervisor opens it)
    CN_IDX_PROC,
    NETLINK_CONNECTOR,
    open_proc_connector,
    preopen_proc_connector,
    proc_connector,
    release_proc_connector,
)

log = logging.getLogger(__name__)

OnChange = Callable[[str, str, "bool | int | None"], None]

PROCESS_POLL_INTERVAL = 1.0


def tracked_names(config: Config) -> dict[str, set[str]]:
    """Names of the scripts/files/processes some instance or sync group tracks."""
    out: dict[str, set[str]] = {"script": set(), "file": set(), "process": set()}
    owners: list[VrrpInstance | VrrpSyncGroup] = [*config.vrrp_instances, *config.vrrp_sync_groups]
    for owner in owners:
        out["script"].update(t.name for t in owner.track_script)
        out["file"].update(t.name for t in owner.track_file)
        out["process"].update(t.name for t in owner.track_process)
    return out


class ScriptTracker:
    """One vrrp_script: periodic runs, timeout handling, rise/fall."""

    def __init__(self, spec: VrrpScript, prepared: Prepared, runner: ScriptRunner, on_change: OnChange) -> None:
        self.spec = spec
        self.prepared = prepared
        self.runner = runner
        self.on_change = on_change
        self.state = ScriptState(spec.name, spec.rise, spec.fall, spec.init_fail)
        self.running: Child | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopped = False

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = max(self.spec.interval, 0.001)
        due = loop.time()
        while True:
            if self.running is None:            # never two runs of one script at a time
                loop.create_task(self._run_once())
            due += interval
            now = loop.time()
            if due < now:                       # a stalled loop skips missed runs
                due = now + interval
            await asyncio.sleep(due - now)

    async def _run_once(self) -> None:
        timeout = self.spec.timeout or self.spec.interval
        child = self.runner.spawn(self.prepared, timeout=timeout)
        if child is None:
            self._record(False, False)
            return
        self.running = child
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            status = await child.done
        finally:
            self.running = None
        timed_out = loop.time() - started >= timeout
        self._record(status == 0 and not timed_out, timed_out)

    def _record(self, ok: bool, timed_out: bool) -> None:
        if self.stopped:        # a run cut short by stop() (reload, exit) counts for nothing
            return
        changed = self.state.record(ok, timed_out=timed_out)
        if changed is not None:
            self.on_change("script", self.spec.name, changed)

    def stop(self) -> None:
        self.stopped = True
        if self.task is not None:
            self.task.cancel()
        if self.running is not None:
            self.running.signal_group(15)


def read_track_file(path: str) -> int:
    """The integer at the start of the file; 0 when it is missing, empty or not a number."""
    try:
        with open(path, "rb") as f:
            text = f.read(64).decode(errors="replace").split()
    except OSError:
        return 0
    if not text:
        return 0
    try:
        return int(text[0])
    except ValueError:
        return 0


class FileTracker:
    """Every track_file in use, watched through one inotify descriptor."""

    def __init__(self, specs: list[TrackFile], on_change: OnChange) -> None:
        self.specs = [s for s in specs if s.file]
        self.on_change = on_change
        self.fd = -1
        self.values: dict[str, int] = {}
        self.by_dir: dict[str, list[TrackFile]] = {}
        self.watches: dict[int, str] = {}
        self._initialised = False

    def initial(self) -> dict[str, int]:
        """Write the init_file values, then read every file: the values the instances start
        with (keepalived reads its track files before the instances start, so an instance whose
        file means FAULT starts in FAULT instead of entering BACKUP first).  Done once."""
        if not self._initialised:
            self._initialised = True
            for spec in self.specs:
                assert spec.file is not None
                if spec.init_file is not None and (spec.init_file_overwrite or not os.path.exists(spec.file)):
                    try:
                        with open(spec.file, "w") as f:
                            f.write(f"{spec.init_file}\n")
                    except OSError as exc:
                        log.info("Unable to write track file %s - %s", spec.file, exc.strerror)
                self.values[spec.name] = read_track_file(spec.file)
        return dict(self.values)

    def start(self) -> None:
        self.initial()
        for spec in self.specs:
            assert spec.file is not None
            self.by_dir.setdefault(os.path.dirname(os.path.abspath(spec.file)), []).append(spec)
        if not self.specs:
            return
        try:
            self.fd = osutil.inotify_init()
        except OSError as exc:
            log.info("inotify_init1 failed - %s", exc.strerror)
            return
        mask = (osutil.IN_CLOSE_WRITE | osutil.IN_MOVED_TO | osutil.IN_MOVED_FROM | osutil.IN_CREATE
                | osutil.IN_DELETE | osutil.IN_MODIFY)
        for directory in self.by_dir:
            try:
                wd = osutil.inotify_add_watch(self.fd, directory, mask)
            except OSError as exc:
                log.info("Unable to watch %s - %s", directory, exc.strerror)
                continue
            self.watches[wd] = directory
        asyncio.get_running_loop().add_reader(self.fd, self._on_events)
        for spec in self.specs:
            self._refresh(spec, force=True)

    def _refresh(self, spec: TrackFile, force: bool = False) -> None:
        assert spec.file is not None
        value = read_track_file(spec.file)
        if force or self.values.get(spec.name) != value:
            self.values[spec.name] = value
            self.on_change("file", spec.name, value)

    def _on_events(self) -> None:
        events = osutil.inotify_read(self.fd)
        if not events:
            return
        changed: set[str] = set()
        for wd, _mask, name in events:
            directory = self.watches.get(wd)
            if directory is not None:
                changed.add(os.path.join(directory, name))
        for directory, specs in self.by_dir.items():
            for spec in specs:
                assert spec.file is not None
                if os.path.join(directory, os.path.basename(spec.file)) in changed:
                    self._refresh(spec)

    def stop(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1


def _process_matches(spec: TrackProcess, comm: str, argv: list[str]) -> bool:
    assert spec.process is not None
    if spec.full_command or "/" in spec.process:
        name_ok = bool(argv) and argv[0] == spec.process
    else:
        name_ok = comm == spec.process[:15]
    if not name_ok:
        return False
    if not spec.parameters:
        return True
    args = argv[1:]
    want = list(spec.parameters)
    if spec.param_match == "exact":
        return args == want
    if spec.param_match == "initial":
        return args[:len(want)] == want
    return " ".join(want) in " ".join(args)     # partial


def _needs_cmdline(spec: TrackProcess) -> bool:
    return bool(spec.full_command or spec.parameters or (spec.process and "/" in spec.process))


PF_EXITING = 0x4


def _process(pid: int, specs: list[TrackProcess]) -> tuple[int, list[str]] | None:
    """(parent pid, names of the specs it matches) of a live process, None when it is gone, a
    zombie or already exiting (PF_EXITING: the proc connector reports an exit before the
    process becomes a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    open_paren, close_paren = stat.find("("), stat.rfind(")")
    fields = stat[close_paren + 2:].split()
    if open_paren < 0 or len(fields) < 7 or fields[0] in ("Z", "X") or int(fields[6]) & PF_EXITING:
        return None
    comm = stat[open_paren + 1:close_paren]
    argv: list[str] | None = None
    names = []
    for spec in specs:
        if argv is None and _needs_cmdline(spec):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
            except OSError:
                argv = []
        if _process_matches(spec, comm, argv or []):
            names.append(spec.name)
    return int(fields[1]), names


def scan_processes(specs: list[TrackProcess]) -> tuple[dict[str, dict[int, int]], set[int]]:
    """One pass over /proc: for every spec the matching processes as {pid: parent pid}, and
    the pids of every live process."""
    matches: dict[str, dict[int, int]] = {s.name: {} for s in specs}
    alive: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        found = _process(int(entry), specs)
        if found is None:
            continue
        alive.add(int(entry))
        for name in found[1]:
            matches[name][int(entry)] = found[0]
    return matches, alive


def count_processes(spec: TrackProcess) -> int:
    return len(scan_processes([spec])[0][spec.name])


CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2
NLMSG_DONE = 3
PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_COMM = 0x00000200
PROC_EVENT_EXIT = 0x80000000
_NLMSGHDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_EV_HEAD = struct.Struct("=IIQ")            # what, cpu, timestamp_ns
_EV_PIDS = struct.Struct("=iiii")           # fork: parent pid/tgid, child pid/tgid; others: pid, tgid


def proc_listen(sock: socket.socket, listen: bool) -> bool:
    """PROC_CN_MCAST_LISTEN / _IGNORE: the kernel counts listeners and sends events while any."""
    op = struct.pack("=I", PROC_CN_MCAST_LISTEN if listen else PROC_CN_MCAST_IGNORE)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0)
    hdr = _NLMSGHDR.pack(_NLMSGHDR.size + len(cn) + len(op), NLMSG_DONE, 0, 0, 0)
    try:
        sock.send(hdr + cn + op)
    except OSError as exc:
        log.info("Failed to set/clear process event listen - errno %d - %s", exc.errno, exc.strerror)
        return False
    return True


def proc_events(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(what, four pids) per proc-connector message in one datagram: for a fork the parent's
    pid and tgid then the child's, for exec/exit/comm the pid and tgid (then unused fields)."""
    out = []
    offset = 0
    need = _NLMSGHDR.size + _CN_MSG.size + _EV_HEAD.size + _EV_PIDS.size
    while offset + _NLMSGHDR.size + _CN_MSG.size + 4 <= len(data):
        length = _NLMSGHDR.unpack_from(data, offset)[0]
        base = offset + _NLMSGHDR.size + _CN_MSG.size
        (what,) = struct.unpack_from("=I", data, base)
        pids = _EV_PIDS.unpack_from(data, base + _EV_HEAD.size) if offset + need <= len(data) else (0, 0, 0, 0)
        out.append((what, *pids))
        if length <= 0:
            break
        offset += (length + 3) & ~3
    return out


class ProcessTracker:
    """vrrp_track_process: the matching processes of every spec, with core.track.ProcessQuorum
    deciding what gets reported and when (fork_delay / terminate_delay timers live here).

    /proc is scanned again when the proc connector reports an exec or a name change of a process
    that is counted or now matches, a fork by a counted process or the exit of one; without the
    connector every PROCESS_POLL_INTERVAL.
    Each scan is compared with the last: a counted pid gone from /proc (or a zombie) exited,
    one still alive stopped matching (exec / name change); a new match whose parent is counted
    is a fork, any other new match an exec."""

    def __init__(self, specs: list[TrackProcess], on_change: OnChange, connector: socket.socket | None = None) -> None:
        self.specs = [s for s in specs if s.process]
        self.on_change = on_change
        self.quorum = {s.name: ProcessQuorum(s.name, s.quorum, s.quorum_max, s.fork_delay, s.terminate_delay)
                       for s in self.specs}
        self.pids: dict[str, dict[int, int]] = {s.name: {} for s in self.specs}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.task: asyncio.Task[None] | None = None
        self.connector = connector
        self._rescan: asyncio.Handle | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._scanning = False          # a scan is running on the worker thread
        self._scan_again = False        # poll() was called meanwhile: scan once more after it

    def start(self) -> None:
        if not self.specs:
            return
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="track-process")
        matches, _alive = scan_processes(self.specs)
        for spec in self.specs:
            self.pids[spec.name] = matches[spec.name]
            self.on_change("process", spec.name, self.quorum[spec.name].start(len(matches[spec.name])))
        loop = asyncio.get_running_loop()
        if self.connector is None:
            self.connector = proc_connector()
        if self.connector is not None and not proc_listen(self.connector, True):
            release_proc_connector()            # refused here (not the initial namespace): poll
            self.connector = None
        if self.connector is not None:
            self._drain()                       # events queued before we started are stale
            loop.add_reader(self.connector.fileno(), self._on_events)
            self.poll()                         # anything that changed while we subscribed
        else:
            self.task = loop.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(PROCESS_POLL_INTERVAL)
            self.poll()

    def _drain(self) -> None:
        assert self.connector is not None
        while True:
            try:
                self.connector.recv(65536)
            except OSError:
                return

    def _on_events(self) -> None:
        assert self.connector is not None
        counted = set().union(*self.pids.values())
        wanted = False
        renamed: set[int] = set()
        while True:
            try:
                data = self.connector.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:                   # ENOBUFS: events were lost, rescan anyway
                wanted = True
                break
            for what, a, b, c, d in proc_events(data):
                if what in (PROC_EVENT_EXEC, PROC_EVENT_COMM) and a == b:
                    renamed.add(a)
                elif (what == PROC_EVENT_FORK and c == d and b in counted) \
                        or (what == PROC_EVENT_EXIT and a == b and a in counted):
                    wanted = True
        # An exec or a new name matters only for a counted process or one that now matches:
        # look at that one process instead of all of /proc (execs are frequent).
        if not wanted and renamed:
            wanted = any(pid in counted or ((found := _process(pid, self.specs)) is not None and found[1])
                         for pid in renamed)
        if wanted and self._rescan is None:
            self._rescan = asyncio.get_running_loop().call_soon(self._rescan_now)

    def _rescan_now(self) -> None:
        self._rescan = None
        self.poll()

    def poll(self) -> None:
        """Scan /proc on the worker thread; the result is applied on the loop (`_scanned`).
        A call while a scan runs asks for one more scan after it (what changed after that
        scan listed /proc must be seen)."""
        if self._pool is None:
            return
        if self._scanning:
            self._scan_again = True
            return
        self._scanning = True
        pool, loop = self._pool, asyncio.get_running_loop()
        future = pool.submit(scan_processes, self.specs)

        def done(f: Future[tuple[dict[str, dict[int, int]], set[int]]]) -> None:
            with contextlib.suppress(RuntimeError):     # the loop closed meanwhile
                loop.call_soon_threadsafe(self._scanned, pool, f)

        future.add_done_callback(done)

    def _scanned(self, pool: ThreadPoolExecutor,
                 future: Future[tuple[dict[str, dict[int, int]], set[int]]]) -> None:
        if pool is not self._pool or future.cancelled():
            return                              # stopped meanwhile
        self._scanning = False
        exc = future.exception()
        if exc is not None:
            log.warning("vrrp_track_process: scanning /proc failed: %s", exc)
        else:
            self._apply_scan(*future.result())
        if self._scan_again:
            self._scan_again = False
            self.poll()

    def _apply_scan(self, matches: dict[str, dict[int, int]], alive: set[int]) -> None:
        for spec in self.specs:
            old, new = self.pids[spec.name], matches[spec.name]
            self.pids[spec.name] = new
            count = len(old)
            for pid in old.keys() - new.keys():
                count -= 1
                self._apply(spec.name, count, "exec" if pid in alive else "exit")
            for pid in new.keys() - old.keys():
                count += 1
                self._apply(spec.name, count, "fork" if new[pid] in old or new[pid] in new else "exec")

    def _apply(self, name: str, count: int, cause: str) -> None:
        step = self.quorum[name].change(count, cause)
        if step.cancel and name in self.timers:
            self.timers.pop(name).cancel()
        if step.arm is not None:
            self.timers[name] = asyncio.get_running_loop().call_later(step.arm, self._expire, name)
        if step.report is not None:
            self.on_change("process", name, step.report)

    def _expire(self, name: str) -> None:
        self.timers.pop(name, None)
        ok = self.quorum[name].expire()
        if ok is not None:
            self.on_change("process", name, ok)

    def stop(self) -> None:
        """Stops watching; the connector socket stays open for the next tracker (a reload)."""
        if self.task is not None:
            self.task.cancel()
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        if self._rescan is not None:
            self._rescan.cancel()
            self._rescan = None
        if self.connector is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.connector.fileno())
            proc_listen(self.connector, False)
            self.connector = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._scanning = self._scan_again = False


class Trackers:
    """Every tracker the config uses; see the module docstring."""

    def __init__(self, config: Config, runner: ScriptRunner, on_change: OnChange) -> None:
        used = tracked_names(config)
        self.scripts: list[ScriptTracker] = []
        self.insecure: list[str] = []
        for spec in config.vrrp_scripts:
            if spec.name not in used["script"] or spec.script is None:
                continue
            prepared = runner.prepare(spec.script, spec.user, spec.group)
            if prepared is None:
                # keepalived drops an insecure script (and thereby its tracking) at load.
                self.insecure.append(spec.name)
                continue
            self.scripts.append(ScriptTracker(spec, prepared, runner, on_change))
        self.files = FileTracker([f for f in config.track_files if f.name in used["file"]], on_change)
        self.processes = ProcessTracker([p for p in config.track_processes if p.name in used["process"]],
                                        on_change)

    def start(self) -> None:
        for s in self.scripts:
            s.start()
        self.files.start()
        self.processes.start()

    def stop(self) -> None:
        for s in self.scripts:
            s.stop()
        self.files.stop()
        self.processes.stop()


__all__ = ["FileTracker", "ProcessTracker", "ScriptTracker", "Trackers", "count_processes", "read_track_file",
           "tracked_names"]
