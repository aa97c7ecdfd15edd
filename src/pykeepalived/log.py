"""keepalived's logging, configured once per process (parent, VRRP child, checker child).

Everyone else just uses `logging.getLogger(__name__)`; this module decides where the lines go:

* syslog (unless `-G`): glibc's wire format `<PRI>Nov 25 11:25:22 Keepalived_vrrp[1234]: text`
  sent to /dev/log, with the ident of the process and the facility of `-S` (default daemon).
  `PYKEEPALIVED_SYSLOG_SOCKET` points it elsewhere (tests bind a datagram socket there).
* the console (`-l`, only together with `-n`, as keepalived): stderr, each line prefixed with
  the C locale's `%c` time, `Wed Nov 25 11:25:22 2026: `.
* a log file (`-g[FILE]`): the console format; children append `_vrrp` / `_healthcheckers`
  to the file name before its extension; `--flush-log-file` flushes after every line.

Levels: keepalived logs nearly everything at LOG_INFO. `DETAIL` lines are only emitted with
`-D` (keepalived's `--log-detail`, e.g. "Receive advertisement timeout"); log them with
`logger.log(log.DETAIL, ...)` or test `log.detail()`. `ALERT` and `NOTICE` map to the syslog
priorities of the same name.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import IO, Literal

from pykeepalived.textbytes import ERRORS

Process = Literal["parent", "vrrp", "checker"]

DETAIL = 15
NOTICE = 25
ALERT = 45
logging.addLevelName(DETAIL, "DETAIL")
logging.addLevelName(NOTICE, "NOTICE")
logging.addLevelName(ALERT, "ALERT")

IDENTS: dict[Process, str] = {
    "parent": "Keepalived",
    "vrrp": "Keepalived_vrrp",
    "checker": "Keepalived_healthcheckers",
}
# Suffix keepalived's make_file_name() inserts before the log file's extension.
FILE_SUFFIXES: dict[Process, str] = {"parent": "", "vrrp": "_vrrp", "checker": "_healthcheckers"}

SYSLOG_SOCKET_ENV = "PYKEEPALIVED_SYSLOG_SOCKET"
DEFAULT_SYSLOG_SOCKET = "/dev/log"

LOG_DAEMON = 3 << 3
LOG_USER = 1 << 3
LOG_LOCAL0 = 16 << 3

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_detail = False


def detail() -> bool:
    """True when `-D/--log-detail` was given: emit keepalived's detail-only lines."""
    return _detail


def parse_facility(text: str) -> int | None:
    """`-S` argument -> syslog facility code, or None when keepalived would reject it."""
    t = text.strip().lower()
    if t == "daemon":
        return LOG_DAEMON
    if t == "user":
        return LOG_USER
    if t.startswith("local"):
        t = t[5:]
    if len(t) == 1 and t in "01234567":
        return LOG_LOCAL0 + (int(t) << 3)
    return None


def syslog_priority(levelno: int) -> int:
    """Python level -> syslog severity (LOG_ALERT 1 .. LOG_DEBUG 7)."""
    if levelno >= ALERT:
        return 1
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= NOTICE:
        return 5
    if levelno >= DETAIL:
        return 6
    return 7


def console_time(t: float | None = None) -> str:
    """The C locale's `%c`: `Wed Nov  5 11:25:22 2026` (local time, day padded with a space)."""
    tm = time.localtime(time.time() if t is None else t)
    return (f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}")


def syslog_time(t: float | None = None) -> str:
    """glibc syslog's `%h %e %T`: `Nov  5 11:25:22`."""
    tm = time.localtime(time.time() if t is None else t)
    return f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"


def syslog_ident(process: Process, namespace: str | None = None, instance: str | None = None) -> str:
    """keepalived's make_syslog_ident(): `Keepalived_vrrp_<netns>_<instance>`."""
    return "_".join([IDENTS[process], *(p for p in (namespace, instance) if p)])


def log_file_name(base: str, process: Process, namespace: str | None = None,
                  instance: str | None = None) -> str:
    """keepalived's make_file_name(): `/tmp/keepalived.log` -> `/tmp/keepalived_vrrp.log`."""
    directory, _, name = base.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    parts = [stem + FILE_SUFFIXES[process]]
    parts += [p for p in (namespace, instance) if p]
    out = "_".join(parts) + (f".{ext}" if dot else "")
    return f"{directory}/{out}" if directory or base.startswith("/") else out


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{console_time(record.created)}: {record.getMessage()}"


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """`-l`: stderr, resolved at emit time so that tests capturing stderr see the lines.

    Bytes of the configuration that are not UTF-8 (an instance name in Latin-1: kept as
    surrogates by the loader) are written back as they were, as keepalived writes them;
    stderr's own text layer would print them as `\\udcXX`."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(_ConsoleFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = stream = sys.stderr
        raw = getattr(stream, "buffer", None)
        if raw is None:
            super().emit(record)
            return
        try:
            line = (self.format(record) + "\n").encode("utf-8", ERRORS)
            stream.flush()              # what went through the text layer comes first
            raw.write(line)
            raw.flush()
        except Exception:
            self.handleError(record)


class LogFileHandler(logging.Handler):
    """`-g`: append to the (per-process) log file; `--flush-log-file` flushes every line."""

    def __init__(self, path: str, flush_each: bool) -> None:
        super().__init__()
        self.path = path
        self.flush_each = flush_each
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.file: IO[str] = os.fdopen(fd, "a", encoding="utf-8", errors=ERRORS)
        self.setFormatter(_ConsoleFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.file.write(self.format(record) + "\n")
            if self.flush_each:
                self.file.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        try:
            self.file.flush()
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            super().close()


class SyslogHandler(logging.Handler):
    """Datagram syslog client writing glibc's format; a missing /dev/log loses lines silently
    (as syslog(3) does) and is retried on the next line."""

    def __init__(self, ident: str, facility: int, path: str | None = None) -> None:
        super().__init__()
        self.ident = ident
        self.facility = facility
        self.path = path or os.environ.get(SYSLOG_SOCKET_ENV) or DEFAULT_SYSLOG_SOCKET
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket | None:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_UNIX, kind | socket.SOCK_CLOEXEC)
            try:
                s.connect(self.path)
                return s
            except OSError:
                s.close()
        return None

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        pri = self.facility | syslog_priority(record.levelno)
        data = f"<{pri}>{syslog_time(record.created)} {self.ident}[{os.getpid()}]: {msg}".encode(
            "utf-8", ERRORS)
        for _attempt in range(2):
            if self.sock is None:
                self.sock = self._connect()
                if self.sock is None:
                    return
            try:
                if self.sock.type == socket.SOCK_STREAM:
                    self.sock.sendall(data + b"\0")
                else:
                    self.sock.send(data)
                return
            except OSError:
                self.sock.close()
                self.sock = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        super().close()


def setup(opts: object, process: Process, *, namespace: str | None = None,
          instance: str | None = None) -> None:
    """(Re)configure the root logger for `process` from the command-line options.

    Called by the parent at start and by each child right after fork (the ident and the log
    file name change); previous handlers are closed first."""
    global _detail
    _detail = bool(getattr(opts, "log_detail", False))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    debug = getattr(opts, "debug", None) is not None or bool(os.environ.get("PYKEEPALIVED_DEBUG"))
    root.setLevel(logging.DEBUG if debug else DETAIL if _detail else logging.INFO)

    if not getattr(opts, "no_syslog", False):
        facility = LOG_DAEMON
        text = getattr(opts, "log_facility", None)
        if text is not None:
            parsed = parse_facility(str(text))
            if parsed is None:
                if process == "parent":
                    print(f"Invalid log facility '{text}'", file=sys.stderr)
            else:
                facility = parsed
        root.addHandler(SyslogHandler(syslog_ident(process, namespace, instance), facility))
    if getattr(opts, "log_console", False) and getattr(opts, "dont_fork", False):
        root.addHandler(ConsoleHandler())
    base = getattr(opts, "log_file", None)
    if base:
        path = log_file_name(str(base), process, namespace, instance)
        try:
            root.addHandler(LogFileHandler(path, bool(getattr(opts, "flush_log_file", False))))
        except OSError as exc:
            logging.getLogger(__name__).error("Unable to open log file %s: %s", path, exc.strerror)


def flush() -> None:
    for h in logging.getLogger().handlers:
        h.flush()


# ---------------------------------------------------------------------------- per-packet lines
#
# keepalived writes some lines once per received packet ("received lower priority ... -
# discarding", "Unknown VRID", invalid adverts, priority 0 with -D): a flood of 200 k packets
# a second becomes 200 k log lines a second (and, held back by the VRRP process's LogHold,
# memory). RFC 9568 asks for the logging of discarded packets to be rate-limited: every such
# line goes through a LineLimit.

LINE_RATE = 10          # lines of one kind per instance written per LINE_PERIOD, at most
LINE_PERIOD = 1.0       # seconds

_pending: set[LineLimit] = set()     # limiters holding suppressed lines not yet summarised


class _Period:
    __slots__ = ("start", "written", "suppressed", "last")

    def __init__(self, start: float) -> None:
        self.start = start
        self.written = 0
        self.suppressed = 0
        self.last: tuple[object, ...] = ()


class LineLimit:
    """Rate limit for the log lines received packets cause: one per instance (or per source
    of such lines), a kind of line being its format string.

    `info(fmt, *args)` is `logger.info(fmt, *args)` (keepalived's exact text) unless `rate`
    lines of that kind were written already in the current period, which begins with the
    first line and lasts `period` seconds; the rest are counted and, once the period is over,
    summarised in one line, `<prefix>N more lines suppressed in the last 1 s (at most 10 a
    second are logged), the last: <text of the last one>`. The summary is written with the
    next line of that kind or by `flush_suppressed()` (the VRRP process calls it after every
    loop callback). The period runs on `clock` (the process's own time, not the packets'
    receive times: a flood read late must not open a new period per batch); tests pass their own."""

    def __init__(self, logger: logging.Logger, prefix: str = "", rate: int = LINE_RATE,
                 period: float = LINE_PERIOD, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.prefix = prefix
        self.rate = rate
        self.period = period
        self.clock = clock
        self._periods: dict[str, _Period] = {}
        self.suppressed = 0          # lines suppressed so far, in total

    def info(self, fmt: str, *args: object) -> None:
        now = self.clock()
        p = self._periods.get(fmt)
        if p is not None and not p.start <= now < p.start + self.period:
            self._close(fmt, p)
            p = None
        if p is None:
            p = self._periods[fmt] = _Period(now)
        if p.written < self.rate:
            p.written += 1
            self.logger.info(fmt, *args)
            return
        p.suppressed += 1
        p.last = args
        self.suppressed += 1
        _pending.add(self)

    def flush(self) -> bool:
        """Summarise the periods that are over; True while suppressed lines are still held."""
        now = self.clock()
        held = False
        for fmt, p in list(self._periods.items()):
            if not p.start <= now < p.start + self.period:
                self._close(fmt, p)
            elif p.suppressed:
                held = True
        return held

    def _close(self, fmt: str, p: _Period) -> None:
        del self._periods[fmt]
        if not p.suppressed:
            return
        try:
            text = fmt % p.last
        except (TypeError, ValueError):
            text = fmt
        if self.prefix and text.startswith(self.prefix):
            text = text[len(self.prefix):]
        self.logger.info("%s%d more lines suppressed in the last %g s (at most %d a %s are logged), the last: %s",
                         self.prefix, p.suppressed, self.period, self.rate,
                         "second" if self.period == 1 else f"{self.period:g} s", text)


def flush_suppressed() -> None:
    """Write the summary of every LineLimit period that is over (cheap when there is none)."""
    if _pending:
        for limit in list(_pending):
            if not limit.flush():
                _pending.discard(limit)
