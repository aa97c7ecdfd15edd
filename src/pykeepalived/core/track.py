"""Trackers -> effective priority or FAULT, sans IO (keepalived's vrrp_track.c rules).

The IO side observes the world (runs vrrp_scripts, watches links and files) and reports raw
results; this module turns them into the two events a VirtualRouter understands:

    tracking = Tracking("VI_1", base_priority=100, tracks=[Track("script", "chk", weight=-20)])
    events = tracking.update("script", "chk", False)     # [PriorityChanged(80)]
    for ev in events: actions += router.handle(ev, now)

Rules (spec §2.3, §2.5):
* weight 0: the tracked object failing (interface down, script failed, file value != 0)
  puts the instance in FAULT; `reverse` flips which condition counts as failing;
* weight > 0 is added while OK, weight < 0 is added (subtracted) while failed; `reverse`
  swaps the two conditions; a track_file adds value * weight and a sum below -253 is a fault;
* effective priority = base + sum of weights, clamped to [1, 254]; never applied to an
  address owner (255), whose weighted trackers are dropped at load (keepalived 2.2.7);
* an unweighted vrrp_script still in its initial state (no result yet) keeps the instance in
  FAULT (entered silently at start); a weighted one counts nothing until its first result.

`ScriptState` is the rise/fall counter of one vrrp_script (shared by every instance that
tracks it); it logs keepalived's `VRRP_Script(name) succeeded|failed|timed_out` lines.
`ProcessQuorum` is the quorum state of one vrrp_track_process with its fork/terminate delays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykeepalived.core.events import FaultChanged, PriorityChanged
from pykeepalived.core.params import PRIORITY_OWNER

if TYPE_CHECKING:
    from pykeepalived.config.model import Config, VrrpInstance

log = logging.getLogger(__name__)

TrackEvent = FaultChanged | PriorityChanged
FILE_FAULT_BELOW = -253


def effective_priority(base: int, total_weight: int) -> int:
    """base + weights clamped to [1, 254]; an owner's 255 never moves."""
    if base == PRIORITY_OWNER:
        return PRIORITY_OWNER
    return max(1, min(PRIORITY_OWNER - 1, base + total_weight))


class ScriptState:
    """The rise/fall state of one vrrp_script (keepalived's `result` counter).

    `ok` is None until the first result; then it changes only after `rise` consecutive
    successes or `fall` consecutive failures.  Without `init_fail` the first result alone
    decides; with it the script starts failed.
    """

    def __init__(self, name: str, rise: int = 1, fall: int = 1, init_fail: bool = False) -> None:
        self.name = name
        self.rise = max(1, rise)
        self.fall = max(1, fall)
        self.ok: bool | None = False if init_fail else None
        self._result = 0 if init_fail else self.rise - 1

    def record(self, success: bool, *, timed_out: bool = False) -> bool | None:
        """Record one run; return the new state if it changed, else None."""
        top = self.rise + self.fall - 1
        if success:
            if self._result < self.rise - 1:
                self._result += 1
                return None
            self._result = top
            return self._set(True, "succeeded")
        if timed_out:
            log.info("VRRP_Script(%s) timed_out", self.name)
        if self._result > self.rise:
            self._result -= 1
            return None
        self._result = 0
        return self._set(False, "failed")

    def _set(self, ok: bool, word: str) -> bool | None:
        if self.ok is ok:
            return None
        self.ok = ok
        log.info("VRRP_Script(%s) %s", self.name, word)
        return ok


@dataclass(frozen=True, slots=True)
class ProcessStep:
    """What the IO side does after a ProcessQuorum change: cancel the running delay timer,
    arm a new one for `arm` seconds, report the new quorum state (None: nothing to report)."""

    report: bool | None = None
    arm: float | None = None
    cancel: bool = False


class ProcessQuorum:
    """The quorum state of one vrrp_track_process (keepalived's track_process.c rules).

    The IO side counts the matching processes and says why the count moved: "fork" (a counted
    process forked a copy of itself), "exit" (a counted process ended) or "exec" (a process
    became or stopped being a match by exec or a name change; also a rescan).  Only crossing
    the [quorum, quorum_max] edge matters:
    * a crossing by fork waits `fork_delay`, one by exit waits `terminate_delay`; when the
      timer fires (`expire`) the state at that moment is reported;
    * a crossing of the other kind while a timer waits cancels it and reports the state now,
      so a change that reverts within its delay is never reported;
    * a crossing by exec is reported at once and cancels any waiting timer.
    Logs keepalived's `Quorum gained|lost for tracked process NAME`.
    """

    def __init__(self, name: str, quorum: int = 1, quorum_max: int | None = None,
                 fork_delay: float = 0.0, terminate_delay: float = 0.0) -> None:
        self.name = name
        self.quorum, self.quorum_max = quorum, quorum_max
        self.delays = {"fork": fork_delay, "exit": terminate_delay}
        self.count = 0
        self.ok: bool | None = None         # the reported state
        self.waiting: str | None = None     # "fork" / "exit" while a delay timer runs

    def in_quorum(self, count: int) -> bool:
        return count >= self.quorum and (self.quorum_max is None or count <= self.quorum_max)

    def start(self, count: int) -> bool:
        """The count found at start (or a reload): reported as it is, without delay or log."""
        self.count, self.waiting = count, None
        self.ok = self.in_quorum(count)
        return self.ok

    def change(self, count: int, cause: str) -> ProcessStep:
        crossed = self.in_quorum(count) != self.in_quorum(self.count)
        self.count = count
        if not crossed:
            return ProcessStep()
        delay = self.delays.get(cause, 0.0)
        if self.waiting is None and delay > 0:
            self.waiting = cause
            return ProcessStep(arm=delay)
        if self.waiting == cause:           # its timer runs already and reports what is then
            return ProcessStep()
        cancel = self.waiting is not None
        self.waiting = None
        return ProcessStep(report=self._report(), cancel=cancel)

    def expire(self) -> bool | None:
        """The delay timer fired: the state now, if it differs from the reported one."""
        self.waiting = None
        return self._report()

    def _report(self) -> bool | None:
        ok = self.in_quorum(self.count)
        if ok is self.ok:
            return None
        self.ok = ok
        log.info("Quorum %s for tracked process %s", "gained" if ok else "lost", self.name)
        return ok


@dataclass(frozen=True, slots=True)
class Track:
    """One tracked object of an instance: kind is "interface", "script", "file" or "process"."""

    kind: str
    name: str
    weight: int = 0
    reverse: bool = False

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.name}"


class Tracking:
    """The trackers of one instance (or one sync group) and the priority they give."""

    def __init__(self, name: str, base_priority: int, tracks: Iterable[Track], *,
                 ignore_weights: bool = False) -> None:
        self.name = name
        self.base_priority = base_priority
        kept = []
        for t in tracks:
            if t.weight and (base_priority == PRIORITY_OWNER or ignore_weights):
                if base_priority == PRIORITY_OWNER:
                    log.info("(%s) ignoring tracked %s %s with weight %d due to address_owner",
                             name, t.kind, t.name, t.weight)
                else:
                    log.info("(%s) ignoring tracked %s %s with weights due to SYNC group", name, t.kind, t.name)
                continue
            kept.append(t)
        self.tracks = {(t.kind, t.name): t for t in kept}
        # Scripts start unknown (None) until their first result; links and files start OK.
        self._values: dict[tuple[str, str], bool | int | None] = {
            key: (None if t.kind == "script" else (0 if t.kind == "file" else True)) for key, t in self.tracks.items()}
        self._faults = {key for key in self.tracks if self._fault_of(key)}
        self.priority = effective_priority(base_priority, self._total())

    @property
    def faults(self) -> set[str]:
        return {self.tracks[key].source for key in self._faults}

    def initial_events(self) -> list[TrackEvent]:
        """Feed these to the router before Startup (they apply silently in INIT)."""
        events: list[TrackEvent] = [FaultChanged(self.tracks[key].source, True, initial=self._values[key] is None)
                                    for key in sorted(self._faults)]
        if self.priority != self.base_priority:
            events.append(PriorityChanged(self.priority))
        return events

    def update(self, kind: str, name: str, value: bool | int | None) -> list[TrackEvent]:
        """New state of one tracked object: OK/up as bool, a track_file's value as int, None
        for "no result yet".  Returns the events for the router (none if nothing changed)."""
        key = (kind, name)
        if key not in self.tracks or self._values[key] == value:
            return []
        was_unknown = self._values[key] is None
        self._values[key] = value
        events: list[TrackEvent] = []
        fault = self._fault_of(key)
        if fault != (key in self._faults):
            (self._faults.add if fault else self._faults.discard)(key)
            events.append(FaultChanged(self.tracks[key].source, fault))
        elif fault and was_unknown:     # a first result confirms the silent initial fault
            events.append(FaultChanged(self.tracks[key].source, True))
        priority = effective_priority(self.base_priority, self._total())
        if priority != self.priority:
            self.priority = priority
            events.append(PriorityChanged(priority))
        return events

    def _fault_of(self, key: tuple[str, str]) -> bool:
        track, value = self.tracks[key], self._values[key]
        if value is None:
            return track.weight == 0        # an unweighted script with no result yet
        if track.kind == "file":
            if track.weight == 0:
                return int(value) != 0
            return self._weight_of(key) < FILE_FAULT_BELOW
        return track.weight == 0 and bool(value) == track.reverse

    def _weight_of(self, key: tuple[str, str]) -> int:
        track, value = self.tracks[key], self._values[key]
        if value is None or track.weight == 0:
            return 0
        if track.kind == "file":
            return int(value) * track.weight * (-1 if track.reverse else 1)
        ok = bool(value) != track.reverse
        if track.weight > 0:
            return track.weight if ok else 0
        return track.weight if not ok else 0

    def _total(self) -> int:
        return sum(self._weight_of(key) for key in self.tracks if key not in self._faults)

    @classmethod
    def from_model(cls, vi: VrrpInstance, config: Config, *, ignore_weights: bool = False) -> Tracking:
        """The trackers configured on `vi` (track_interface, track_script, track_file,
        track_process), with script/file default weights resolved."""
        tracks: list[Track] = [Track("interface", t.name, t.weight, t.reverse) for t in vi.track_interface]
        scripts = {s.name: s for s in config.vrrp_scripts}
        files = {f.name: f for f in config.track_files}
        procs = {p.name: p for p in config.track_processes}
        for kind, refs, table in (("script", vi.track_script, scripts), ("file", vi.track_file, files),
                                  ("process", vi.track_process, procs)):
            for ref in refs:
                obj = table.get(ref.name)
                weight = ref.weight if ref.weight is not None else (obj.weight if obj is not None else 0)
                reverse = ref.reverse if ref.reverse is not None else (obj.weight_reverse if obj is not None
                                                                       else False)
                tracks.append(Track(kind, ref.name, weight, reverse))
        return cls(vi.name, vi.effective.priority, tracks,
                   ignore_weights=ignore_weights)
