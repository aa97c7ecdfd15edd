"""FILE_CHECK (keepalived's check_file.c + track_file.c): a number in a file decides.

Without a weight, a non-zero value is a failure (`reverse`: zero is a failure). With a
weight W, value*W (negated with `reverse`) is added to the real server's weight, and a
result at the bottom of the int range (IPVS_WEIGHT_FAULT) is a failure. Changes are seen
through inotify on the file's directory; where inotify is not available the file is polled."""

from __future__ import annotations

import asyncio
import logging
import os

from pykeepalived import osutil
from pykeepalived.check.base import Checker, Outcome
from pykeepalived.check.common import Target
from pykeepalived.check.hub import HealthHub
from pykeepalived.config import model

log = logging.getLogger("pykeepalived.check")

WEIGHT_FAULT = -(2**31)
POLL_INTERVAL = 1.0  # fallback polling, and the scheduler's safety net with inotify


def read_value(path: str) -> int:
    """keepalived reads the file as a number; a missing or non-numeric file counts as 0."""
    try:
        with open(path, "rb") as f:
            text = f.read(64).split()
        return int(text[0]) if text else 0
    except (OSError, ValueError):
        return 0


def clamp_int(v: int) -> int:
    return max(-(2**31), min(2**31 - 1, v))


class _Inotify:
    """Minimal inotify through libc: one fd, one directory watch, read by add_reader."""

    def __init__(self) -> None:
        self.fd = osutil.inotify_init()

    def watch(self, directory: str) -> None:
        mask = (osutil.IN_MODIFY | osutil.IN_ATTRIB | osutil.IN_CLOSE_WRITE | osutil.IN_MOVED_TO
                | osutil.IN_MOVED_FROM | osutil.IN_CREATE | osutil.IN_DELETE)
        osutil.inotify_add_watch(self.fd, directory, mask)

    def names(self) -> set[str]:
        return {name for _wd, _mask, name in osutil.inotify_read(self.fd)}

    def close(self) -> None:
        os.close(self.fd)


class FileChecker(Checker):
    kind = "FILE_CHECK"

    def __init__(self, spec: model.FileCheck, target: Target, hub: HealthHub, *,
                 track_file: model.TrackFile) -> None:
        super().__init__(spec, target, hub)
        if not track_file.file:
            raise ValueError(f"track_file {track_file.name} has no file")
        self.path = track_file.file
        self.weight = spec.weight if spec.weight is not None else track_file.weight
        reverse = spec.weight_reverse if spec.weight is not None else track_file.weight_reverse
        self.multiplier = -1 if reverse else 1
        self.alpha = False  # keepalived: the file's state is known at once
        self.cur_weight = 0
        self.delay_loop = POLL_INTERVAL
        self._inotify: _Inotify | None = None

    def first_delay(self, rng: object, bootstrap: float = 0.0) -> float:
        self._start_watch()
        return 0.0

    def _start_watch(self) -> None:
        if self._inotify is not None:
            return
        try:
            ino = _Inotify()
            ino.watch(os.path.dirname(os.path.abspath(self.path)) or "/")
        except (OSError, AttributeError, TypeError):
            return  # polling only
        self._inotify = ino
        self.delay_loop = 60.0  # inotify tells us; the timer is a safety net
        asyncio.get_running_loop().add_reader(ino.fd, self._on_inotify)

    def _on_inotify(self) -> None:
        assert self._inotify is not None
        if os.path.basename(self.path) in self._inotify.names():
            self.epilog(self._evaluate())

    def carry_from(self, old: Checker) -> None:
        if isinstance(old, FileChecker):
            self.cur_weight = old.cur_weight

    def close(self) -> None:
        if self._inotify is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._inotify.fd)
            except RuntimeError:
                pass
            self._inotify.close()
            self._inotify = None

    def _evaluate(self) -> Outcome:
        value = read_value(self.path)
        if not self.weight:
            failed = (value != 0) == (self.multiplier == 1)
            return Outcome(not failed, "0")
        status = clamp_int(value * self.weight * self.multiplier)
        return Outcome(status != WEIGHT_FAULT, str(status))

    async def attempt(self) -> Outcome:
        return self._evaluate()

    def epilog(self, outcome: Outcome) -> float:
        key = self.target.key
        new_weight = 0 if not outcome.ok else int(outcome.detail or 0)
        if new_weight != self.cur_weight:
            self.hub.set_weight(key, self.hub.effective_weight(key) - self.cur_weight + new_weight)
            self.cur_weight = new_weight
        if outcome.ok != self.is_up or not self.has_run:
            self.set_state(outcome.ok)
        self.has_run = True
        return self.delay_loop
