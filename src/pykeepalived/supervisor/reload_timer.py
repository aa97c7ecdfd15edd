"""reload_time_file: a reload at the time written in a file (keepalived's reload_monitor.c).

The supervisor polls the file once a second (`ReloadTimer.check`), and reloads when `due()`."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)



def parse_reload_time(text: str, now: float) -> tuple[float, bool] | str:
    """`HH:MM:SS`, `YY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`, optional trailing `Z` (UTC).

    Returns (epoch seconds, date_given) or the reason it is ignored. A bare time already
    past today means tomorrow; a past date is refused."""
    t = text.strip()
    utc = t.endswith("Z")
    if utc:
        t = t[:-1]
    formats = {8: "%H:%M:%S", 17: "%y-%m-%d %H:%M:%S", 19: "%Y-%m-%d %H:%M:%S"}
    fmt = formats.get(len(t))
    if fmt is None:
        return "invalid"
    try:
        parsed = time.strptime(t, fmt)
    except ValueError:
        return "invalid"
    base = time.gmtime(now) if utc else time.localtime(now)
    if len(t) == 8:
        fields = (base.tm_year, base.tm_mon, base.tm_mday, parsed.tm_hour, parsed.tm_min, parsed.tm_sec)
    else:
        fields = (parsed.tm_year, parsed.tm_mon, parsed.tm_mday, parsed.tm_hour, parsed.tm_min, parsed.tm_sec)
    tup = (*fields, 0, 0, -1)
    if utc:
        import calendar  # only with reload_time_file: calendar imports locale and datetime

        when = float(calendar.timegm(tup))
    else:
        when = time.mktime(tup)
    if when <= now:
        if len(t) != 8:
            return "past"
        when += 86400.0
    return when, len(t) != 8


def _fmt_time(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


@dataclass(slots=True)
class ReloadTimer:
    """Watches `reload_time_file` (polled once a second) and says when a reload is due."""

    path: str
    repeat: bool = False
    when: float | None = None
    date_given: bool = False
    seen: tuple[float, int] | None = None     # (mtime, size) of the file last read

    POLL = 1.0

    def check(self, now: float) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            if self.seen is not None:
                self.seen = None
                self.cancel()
            return
        key = (st.st_mtime, st.st_size)
        if key == self.seen:
            return
        self.seen = key
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                text = f.readline(20).rstrip("\n")
        except OSError:
            self.cancel()
            return
        parsed = parse_reload_time(text, now)
        if parsed == "invalid":
            log.info("Invalid reload time '%s' specified - ignoring", text)
            self.cancel()
            return
        if parsed == "past":
            log.info("Reload date/time is in the past - ignoring")
            self.cancel()
            return
        assert isinstance(parsed, tuple)
        when, self.date_given = parsed
        if when == self.when:
            return
        if self.when is not None:
            log.info("Reload time updated from %s to %s", _fmt_time(self.when), _fmt_time(when))
        else:
            log.info("Scheduling reload for %s", _fmt_time(when))
        self.when = when

    def cancel(self) -> None:
        if self.when is not None:
            log.info("Cancelling reload scheduled for %s", _fmt_time(self.when))
        self.when = None

    def due(self, now: float) -> bool:
        """True once the scheduled time has come; the file is removed unless it repeats daily."""
        if self.when is None or now < self.when:
            return False
        self.when = None
        if not self.repeat or self.date_given:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self.seen = None          # a repeating HH:MM:SS file is read again: tomorrow's time
        return True

    def wait(self, now: float) -> float:
        return self.POLL if self.when is None else max(0.0, min(self.POLL, self.when - now))


