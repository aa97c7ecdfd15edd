"""The VRRP side's decisions above one router, sans IO: `VrrpEngine`.

    engine = VrrpEngine.from_config(config, instances)   # instances: anything with .router
    engine.prepare_startup(now, files, interface_up)      # trackers' initial state, silently
    for unit in engine.startup_units():                   # start-up order: an instance, or a
        perform(engine.start_unit(unit, now))             #   sync group (its members together)
    perform(engine.finish_startup(now))
    ...
    perform(engine.handle(instance, event, now))          # every event of every instance
    for instance, event in engine.track(kind, name, value):   # a tracker's new result
        perform(engine.handle(instance, event, now))

`perform` gets `[(instance, actions)]`: the actions of each instance that moved, in the order
to perform them (a sync group moves its members together); after each pair the IO layer
re-reads that instance's `router.deadline()`. The actions are `core/actions.py`'s, every
effect included (VIPs, no_accept drop rules, virtual routes and rules, adverts, GARP/NA,
notifications): nothing is decided by looking at an action of another kind.

What it decides:
* which events go to a sync group (`core/sync_group.py`) and which to the router alone;
* tracking (`core/track.py`): the instance's own trackers plus its sync group's and the
  static track_group interfaces; a tracker result becomes FaultChanged / PriorityChanged;
* start-up order: trackers' initial state applied silently before Startup, config order,
  a sync group's members started as one unit, a reload's running routers left running;
* interface_up_down_delays: a link change held for its delay, dropped if the link changes
  back within it (`delay_link`, `link_deadline`, `due_links`: time is an argument here too);
* what a reload changes (`plan_reload(old, new)` -> `ReloadPlan`, applied by vrrp/reload.py).

The daemon's VRRP runtime and the simulated LAN of the tests (`tests/core/lan.py`) drive this
same engine.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from pykeepalived.core.actions import Action
from pykeepalived.core.events import Event, FaultChanged, Startup
from pykeepalived.core.sync_group import SyncGroup
from pykeepalived.core.track import Track, Tracking
from pykeepalived.core.vrrp import State, VirtualRouter

if TYPE_CHECKING:
    from pykeepalived.config.model import Config, VrrpInstance

log = logging.getLogger(__name__)


class Routed(Protocol):
    """What the engine needs of the IO layer's record of an instance: its router."""

    @property
    def router(self) -> VirtualRouter: ...


U = TypeVar("U", bound=Routed)
TrackValue = bool | int | None


def static_track_interfaces(config: Config) -> dict[str, list[str]]:
    """track_group (keepalived's vrrp_static_track.c): the instances of a group named by a static
    address, route or rule track, with weight 0, that item's interface: the address's dev, the
    route's dev, the rule's iif.  Instance name -> interface names."""
    groups = {g.name: g.group for g in config.track_groups}
    default = config.global_defs.default_interface
    items: list[tuple[str, str | None, bool, str | None]] = (
        [("address", ip.dev or default, ip.no_track, ip.track_group) for ip in config.static_ipaddress]
        + [("route", r.dev, r.no_track, r.track_group) for r in config.static_routes]
        + [("rule", r.iif, r.no_track, r.track_group) for r in config.static_rules])
    out: dict[str, list[str]] = {}
    for kind, ifname, no_track, group in items:
        if group is None:
            continue
        if no_track:
            log.info("Static %s has both track_group and no_track set - not tracking", kind)
            continue
        if ifname is None:
            continue
        for name in groups.get(group, ()):
            if ifname not in out.setdefault(name, []):
                out[name].append(ifname)
    return out


def build_tracking(vi: VrrpInstance, config: Config, static_interfaces: Sequence[str] = ()) -> Tracking:
    """The instance's trackers plus those of its sync group (keepalived adds a group's trackers
    to every member); weights are ignored in a group unless sync_group_tracking_weight.
    `static_interfaces`: interfaces it tracks through a track_group (weight 0)."""
    group = config.sync_group(vi.sync_group) if vi.sync_group else None
    own = Tracking.from_model(vi, config)
    tracks: list[Track] = list(own.tracks.values())
    tracked = {t.name for t in tracks if t.kind == "interface"}
    tracks += [Track("interface", name) for name in static_interfaces if name not in tracked]
    if group is not None:
        scripts = {s.name: s for s in config.vrrp_scripts}
        files = {f.name: f for f in config.track_files}
        procs = {p.name: p for p in config.track_processes}
        tracks += [Track("interface", t.name, t.weight, t.reverse) for t in group.track_interface]
        for kind, refs, table in (("script", group.track_script, scripts), ("file", group.track_file, files),
                                  ("process", group.track_process, procs)):
            for ref in refs:
                obj = table.get(ref.name)
                weight = ref.weight if ref.weight is not None else (obj.weight if obj is not None else 0)
                reverse = ref.reverse if ref.reverse is not None else (
                    obj.weight_reverse if obj is not None else False)
                tracks.append(Track(kind, ref.name, weight, reverse))
    ignore = group is not None and not group.sync_group_tracking_weight
    return Tracking(vi.name, own.base_priority, tracks, ignore_weights=ignore)


_POS = re.compile(r"pos=Pos\([^)]*\)")


def same(a: object, b: object) -> bool:
    """Equal configuration, ignoring where in the files it was written."""
    return a == b or _POS.sub("", repr(a)) == _POS.sub("", repr(b))


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What a reload does to the VRRP side (vrrp/reload.py applies it)."""

    unchanged: bool                 # nothing but file positions changed: only the FIFOs hear the states again
    keep: frozenset[str]            # same configuration: left running untouched
    changed: tuple[str, ...]        # configuration changed: in place if its identity allows, else deleted + added
    removed: tuple[str, ...]        # gone: deleted (priority 0 if master, VIPs removed, DELETED notified)
    added: tuple[str, ...]          # new: built and started
    rebuild: bool                   # a new engine: sync groups re-made, trackers evaluated afresh


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    if same(old, new):
        return ReloadPlan(True, frozenset(vi.name for vi in new.vrrp_instances), (), (), (), False)
    before = {vi.name: vi for vi in old.vrrp_instances}
    after = {vi.name: vi for vi in new.vrrp_instances}
    keep = frozenset(name for name, vi in after.items() if name in before and same(before[name], vi))
    changed = tuple(name for name in before if name in after and name not in keep)
    removed = tuple(name for name in before if name not in after)
    added = tuple(name for name in after if name not in before)
    strip = dict(vrrp_instances=(), files=())
    outside = same(dataclasses.replace(old, **strip), dataclasses.replace(new, **strip))  # type: ignore[arg-type]
    rebuild = not outside or len(keep) != len(new.vrrp_instances) or len(keep) != len(old.vrrp_instances)
    return ReloadPlan(False, keep, changed, removed, added, rebuild)


class VrrpEngine(Generic[U]):
    """Every instance of one VRRP process, its sync groups and its trackers; see the module
    docstring. `units` are the IO layer's records (anything with `.router`), in config order;
    the engine hands them back with the actions to perform."""

    def __init__(self, units: Iterable[U] = (), *, link_delays: Mapping[str, tuple[float, float]] | None = None,
                 dynamic_interfaces: bool = False) -> None:
        self.units: list[U] = list(units)
        self.by_name: dict[str, U] = {u.router.name: u for u in self.units}
        self.by_router: dict[VirtualRouter, U] = {u.router: u for u in self.units}
        self.groups: dict[str, SyncGroup] = {}
        self.group_of: dict[str, SyncGroup] = {}      # instance name -> its sync group
        self.tracking: dict[str, Tracking] = {}       # instance name -> its trackers
        self.values: dict[tuple[str, str], TrackValue] = {}   # last result of every tracker
        self.dynamic_interfaces = dynamic_interfaces
        self.link_delays: dict[str, tuple[float, float]] = dict(link_delays or {})   # name -> (up, down)
        self._held: dict[object, tuple[float, bool]] = {}   # link key -> (release time, up)
        self._released: dict[object, bool] = {}
        self._pending: list[tuple[U, Event]] = []    # start-up: running routers' tracker events

    @classmethod
    def from_config(cls, config: Config, units: Iterable[U]) -> VrrpEngine[U]:
        """The engine of `config`'s VRRP side: every unit's trackers (its own, its sync
        group's, track_group interfaces), the sync groups, interface_up_down_delays."""
        engine = cls(units, link_delays={d.interface: (d.up, d.down) for d in config.interface_up_down_delays},
                     dynamic_interfaces=config.global_defs.dynamic_interfaces)
        static = static_track_interfaces(config)
        for unit in engine.units:
            name = unit.router.name
            vi = config.vrrp_instance(name)
            assert vi is not None, name
            engine.tracking[name] = build_tracking(vi, config, static.get(name, ()))
        for g in config.vrrp_sync_groups:
            engine.add_sync_group(g.name, g.group)
        return engine

    def add(self, unit: U, tracking: Tracking | None = None) -> None:
        """One more instance (built by hand: the simulated LAN)."""
        self.units.append(unit)
        self.by_name[unit.router.name] = unit
        self.by_router[unit.router] = unit
        if tracking is not None:
            self.tracking[unit.router.name] = tracking

    def add_sync_group(self, name: str, members: Iterable[str]) -> SyncGroup | None:
        """A vrrp_sync_group of the named instances (those that exist); None if none does."""
        routers = [self.by_name[n].router for n in members if n in self.by_name]
        if not routers:
            return None
        sg = SyncGroup(name, routers)
        self.groups[name] = sg
        for r in routers:
            self.group_of[r.name] = sg
        return sg

    # ------------------------------------------------------------------ events

    def handle(self, unit: U, event: Event, now: float) -> list[tuple[U, list[Action]]]:
        """Deliver `event` to `unit`'s router, through its sync group if it has one."""
        router = unit.router
        sg = self.group_of.get(router.name)
        if sg is None:
            return [(unit, router.handle(event, now))]
        by_router = self.by_router
        return [(by_router[r], actions) for r, actions in sg.handle(router, event, now)]

    def track(self, kind: str, name: str, value: TrackValue) -> list[tuple[U, Event]]:
        """A tracker's new result (kind: script, interface, file, process): the events it
        causes, in order, each to be delivered with `handle`."""
        self.values[(kind, name)] = value
        out: list[tuple[U, Event]] = []
        for vi_name, tracking in self.tracking.items():
            events = tracking.update(kind, name, value)
            if events:
                unit = self.by_name[vi_name]
                out += [(unit, ev) for ev in events]
        return out

    def preset(self, kind: str, name: str, value: TrackValue) -> None:
        """A tracker's value taken silently before start (an insecure script dropped at load)."""
        for tracking in self.tracking.values():
            tracking.update(kind, name, value)

    def adopt_values(self, values: Mapping[tuple[str, str], TrackValue]) -> None:
        """A reload: the tracker results the previous engine had, taken silently."""
        for (kind, name), value in values.items():
            self.values[(kind, name)] = value
            self.preset(kind, name, value)

    def tracked_interfaces(self) -> set[str]:
        return {t.name for tr in self.tracking.values() for t in tr.tracks.values() if t.kind == "interface"}

    # ------------------------------------------------------------------ interface_up_down_delays

    def delay_link(self, key: object, name: str | None, up: bool, now: float) -> bool:
        """interface_up_down_delays: True if this link change (of interface `key`, named `name`)
        is held for its delay; a change back within the delay cancels both (the link never
        looked down). A held change comes back from `due_links` and is then delivered."""
        if self._released.pop(key, None) is up:
            return False                          # the held change, delivered now
        if self._held.pop(key, None) is not None:
            return True
        delays = self.link_delays.get(name) if name is not None else None
        delay = 0.0 if delays is None else (delays[0] if up else delays[1])
        if delay <= 0:
            return False
        self._held[key] = (now + delay, up)
        return True

    def adopt_links(self, old: VrrpEngine[U]) -> None:
        """A reload: the link changes the previous engine was holding stay held."""
        self._held.update(old._held)
        self._released.update(old._released)

    def link_deadline(self) -> float | None:
        """When the next held link change is due (None: none held)."""
        return min((t for t, _ in self._held.values()), default=None)

    def due_links(self, now: float) -> list[tuple[object, bool]]:
        """The held link changes due by `now`: deliver each (delay_link lets it through)."""
        due = [(key, up) for key, (t, up) in self._held.items() if t <= now]
        for key, up in due:
            del self._held[key]
            self._released[key] = up
        return due

    # ------------------------------------------------------------------ start-up order

    def startup(self, now: float, files: Mapping[str, TrackValue],
                interface_up: Callable[[str], bool | None]) -> list[tuple[U, list[Action]]]:
        """All start-up steps at once (a reload; the runtime's start goes step by step)."""
        self.prepare_startup(now, files, interface_up)
        out: list[tuple[U, list[Action]]] = []
        for unit in self.startup_units():
            out += self.start_unit(unit, now)
        return out + self.finish_startup(now)

    def prepare_startup(self, now: float, files: Mapping[str, TrackValue],
                        interface_up: Callable[[str], bool | None]) -> None:
        """Step 1: every instance's initial tracker state (applied silently to routers not
        started yet; a running router's changes wait for `finish_startup`). `files`: the
        track_files' first values; `interface_up(name)`: a tracked interface's state now (None:
        it does not exist)."""
        self._pending = []
        for name, tracking in self.tracking.items():
            unit = self.by_name[name]
            router = unit.router
            for t in tracking.tracks.values():
                if t.kind == "file" and t.name in files and router.state == State.INIT:
                    # read before Startup, as keepalived does: a FAULT read after Startup was
                    # notified (FIFO, scripts) before the BACKUP (init) it followed
                    self.values[("file", t.name)] = files[t.name]
                    tracking.update("file", t.name, files[t.name])
                if t.kind == "interface":
                    # keepalived ignores a tracked interface that does not exist, unless
                    # dynamic_interfaces (then it is down until it appears).
                    up = interface_up(t.name)
                    tracking.update("interface", t.name, not self.dynamic_interfaces if up is None else up)
            initial = tracking.initial_events()
            if router.state == State.INIT:
                for ev in initial:
                    router.handle(ev, now)              # applied silently before Startup
            else:
                running = [ev for ev in initial if not (isinstance(ev, FaultChanged) and ev.initial)]
                self._pending += [(unit, ev) for ev in running]   # a reload: the router is running

    def startup_units(self) -> list[U | SyncGroup]:
        """Step 2's units, in config order: an instance, or a sync group (its members start
        together). A group whose members all run already (a reload) adopts its state here."""
        units: list[U | SyncGroup] = []
        started: set[str] = set()
        for unit in self.units:
            name = unit.router.name
            if name in started:
                continue
            sg = self.group_of.get(name)
            if sg is None:
                started.add(name)
                units.append(unit)
            elif all(r.state != State.INIT for r in sg.members):
                started.update(r.name for r in sg.members)
                sg._group_state_change()                # a reload: adopt the group's state silently
            else:
                started.update(r.name for r in sg.members)
                units.append(sg)
        return units

    def start_unit(self, unit: U | SyncGroup, now: float) -> list[tuple[U, list[Action]]]:
        """Step 2: Startup for one unit of `startup_units`."""
        if isinstance(unit, SyncGroup):
            return [(self.by_router[r], actions) for r, actions in unit.start(now)]
        return [(unit, unit.router.handle(Startup(), now))]

    def finish_startup(self, now: float) -> list[tuple[U, list[Action]]]:
        """Step 3: the running routers' tracker changes held back by `prepare_startup`."""
        out: list[tuple[U, list[Action]]] = []
        for unit, event in self._pending:
            out += self.handle(unit, event, now)
        self._pending = []
        return out


__all__ = ["ReloadPlan", "Routed", "VrrpEngine", "build_tracking", "plan_reload", "same", "static_track_interfaces"]
