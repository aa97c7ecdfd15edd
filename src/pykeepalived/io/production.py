"""What real deployments configure around the VRRP core, wired into the runtime.

`VrrpRuntime` owns one `Production` and calls it at a few points:

    prod = Production(runtime)              # after the instances are built
    prod.startup(now)                       # instead of Startup per instance
    prod.dispatch(inst, event, now)         # every event: sync groups move members together
    prod.on_link(ifindex, up, now)          # track_interface
    prod.notify(action)                     # Notify actions: scripts, FIFOs, email
    prod.vips(inst, action)                 # AddVips/RemoveVips: no_accept firewall, routes, rules
    await prod.stop()                       # after the Shutdown actions

Trackers (core.track.Tracking per instance, fed by io.trackers and by link events) turn into
FaultChanged / PriorityChanged events that go through `dispatch` like any other event.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pykeepalived.config.model import Config, VrrpInstance
from pykeepalived.core.actions import Action, AddVips, Notify, RemoveVips
from pykeepalived.core.events import Event, FaultChanged, Startup
from pykeepalived.core.sync_group import SyncGroup
from pykeepalived.core.track import ScriptState, Track, Tracking
from pykeepalived.core.vrrp import State, VirtualRouter
from pykeepalived.io.firewall import Firewall
from pykeepalived.io.notify import Notifier, ScriptRunner
from pykeepalived.io.routes import RouteManager
from pykeepalived.io.trackers import Trackers

if TYPE_CHECKING:
    from pykeepalived.io.runtime import Instance, VrrpRuntime

log = logging.getLogger(__name__)

Pairs = list[tuple["Instance", list[Action]]]


@dataclass(slots=True)
class _Carry:
    """What a reload hands from the old Production to the new one: kernel state we installed
    and tracker results, so that a reload neither flaps instances nor duplicates rules."""

    firewall: Firewall
    masters: set[str]
    runner: ScriptRunner
    notifier: Notifier
    values: dict[tuple[str, str], bool | int | None] = field(default_factory=dict)
    scripts: dict[str, ScriptState] = field(default_factory=dict)


_carried: weakref.WeakKeyDictionary[Any, _Carry] = weakref.WeakKeyDictionary()


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


def build_tracking(vi: VrrpInstance, rt_config: Any, static_interfaces: Sequence[str] = ()) -> Tracking:
    """The instance's trackers plus those of its sync group (keepalived adds a group's trackers
    to every member); weights are ignored in a group unless sync_group_tracking_weight.
    `static_interfaces`: interfaces it tracks through a track_group (weight 0)."""
    group = rt_config.sync_group(vi.sync_group) if vi.sync_group else None
    own = Tracking.from_model(vi, rt_config)
    tracks: list[Track] = list(own.tracks.values())
    tracked = {t.name for t in tracks if t.kind == "interface"}
    tracks += [Track("interface", name) for name in static_interfaces if name not in tracked]
    if group is not None:
        scripts = {s.name: s for s in rt_config.vrrp_scripts}
        files = {f.name: f for f in rt_config.track_files}
        procs = {p.name: p for p in rt_config.track_processes}
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


class Production:
    def __init__(self, runtime: VrrpRuntime) -> None:
        self.rt = runtime
        config = runtime.config
        carry = _carried.pop(runtime, None)
        self.reloaded = carry is not None
        if carry is None:
            self.runner = ScriptRunner(config.global_defs)
        else:
            self.runner = carry.runner              # it still watches the running scripts
            self.runner.configure(config.global_defs)
        self.notifier = Notifier(config, self.runner)
        if carry is not None:
            self.notifier.adopt(carry.notifier)
        self.by_router: dict[VirtualRouter, Instance] = {inst.router: inst for inst in runtime.instances}
        self.tracking: dict[str, Tracking] = {}
        static = static_track_interfaces(config)
        for inst in runtime.instances:
            self.tracking[inst.model.name] = build_tracking(inst.model, config, static.get(inst.model.name, ()))
        self.groups: dict[str, SyncGroup] = {}
        self.group_of: dict[str, SyncGroup] = {}
        by_name = self._by_name = {inst.model.name: inst for inst in runtime.instances}
        for g in config.vrrp_sync_groups:
            members = [by_name[n].router for n in g.group if n in by_name]
            if not members:
                continue
            sg = SyncGroup(g.name, members)
            self.groups[g.name] = sg
            for r in members:
                self.group_of[r.name] = sg
        self.trackers = Trackers(config, self.runner, self._on_tracker)
        for name in self.trackers.insecure:     # dropped at load: it no longer affects anything
            for tracking in self.tracking.values():
                tracking.update("script", name, True)
        self.routes = RouteManager(runtime.netlink, runtime.interfaces)
        self.link_delays = {d.interface: d for d in config.interface_up_down_delays}
        self._held: dict[int, asyncio.TimerHandle] = {}     # link changes waiting for their delay
        self._released: dict[int, bool] = {}
        self.values: dict[tuple[str, str], bool | int | None] = {}   # last result of every tracker
        self._pending: list[tuple[Instance, Event]] = []   # start-up: running routers' tracker events
        if carry is None:
            self.firewall = Firewall(config.global_defs)
            self.masters: set[str] = set()      # instances whose routes/rules are installed
        else:
            self.firewall, self.masters = carry.firewall, carry.masters
            for st in self.trackers.scripts:
                old = carry.scripts.get(st.spec.name)
                if old is not None and (old.rise, old.fall) == (st.state.rise, st.state.fall):
                    st.state = old
            for (kind, name), value in carry.values.items():
                self.values[(kind, name)] = value
                for tracking in self.tracking.values():
                    tracking.update(kind, name, value)

    # ------------------------------------------------------------------ start

    def startup(self, now: float) -> Pairs:
        """Initial tracker state (silently, before Startup), then Startup for every instance,
        sync groups as a unit.  Returns (instance, actions) in the order to perform them.
        (All at once: a reload. The runtime's start goes through the steps one by one.)"""
        self.prepare_startup(now)
        out: Pairs = []
        for unit in self.startup_units():
            out += self.start_unit(unit, now)
        return out + self.finish_startup(now)

    def prepare_startup(self, now: float) -> None:
        """Step 1: every instance's initial tracker state (applied silently to routers not
        started yet; a running router's changes are dispatched by `finish_startup`)."""
        self.notifier.start()
        self._pending = []
        files = self.trackers.files.initial()
        for name, tracking in self.tracking.items():
            inst = self._inst(name)
            for t in tracking.tracks.values():
                if t.kind == "file" and t.name in files and inst.router.state == State.INIT:
                    # read before Startup, as keepalived does: a FAULT read after Startup was
                    # notified (FIFO, scripts) before the BACKUP (init) it followed
                    self.values[("file", t.name)] = files[t.name]
                    tracking.update("file", t.name, files[t.name])
                if t.kind == "interface":
                    # keepalived ignores a tracked interface that does not exist, unless
                    # dynamic_interfaces (then it is down until it appears).
                    iface = self.rt.interfaces.get(t.name)
                    up = iface.up if iface is not None else not self.rt.config.global_defs.dynamic_interfaces
                    tracking.update("interface", t.name, up)
            initial = tracking.initial_events()
            if inst.router.state == State.INIT:
                for ev in initial:
                    inst.router.handle(ev, now)         # applied silently before Startup
            else:
                running = [ev for ev in initial if not (isinstance(ev, FaultChanged) and ev.initial)]
                for ev in running:                      # a reload: the router is running
                    self._pending.append((inst, ev))

    def startup_units(self) -> list[Instance | SyncGroup]:
        """Step 2's units, in config order: an instance, or a sync group (its members start
        together). A group whose members all run already (a reload) adopts its state here."""
        units: list[Instance | SyncGroup] = []
        started: set[str] = set()
        for inst in self.rt.instances:
            name = inst.model.name
            if name in started:
                continue
            sg = self.group_of.get(name)
            if sg is None:
                started.add(name)
                units.append(inst)
            elif all(r.state != State.INIT for r in sg.members):
                started.update(r.name for r in sg.members)
                sg._group_state_change()                # a reload: adopt the group's state silently
            else:
                started.update(r.name for r in sg.members)
                units.append(sg)
        return units

    def start_unit(self, unit: Instance | SyncGroup, now: float) -> Pairs:
        """Step 2: Startup for one unit of `startup_units`."""
        if isinstance(unit, SyncGroup):
            return [(self.by_router[r], actions) for r, actions in unit.start(now)]
        return [(unit, unit.router.handle(Startup(), now))]

    def finish_startup(self, now: float) -> Pairs:
        """Step 3: the running routers' tracker changes, then trackers, firewall and static
        routes start."""
        out: Pairs = []
        for inst, event in self._pending:
            out += self.dispatch(inst, event, now)
        self._pending = []
        self.trackers.start()
        if not self.reloaded:
            self.firewall.add_vmacs(self.rt.vmacs.pairs())
            self._spawn(self.routes.start_static(self.rt.config))
        return out

    def _inst(self, name: str) -> Instance:
        inst = self._by_name.get(name)
        return inst if inst is not None else next(i for i in self.rt.instances if i.model.name == name)

    # ------------------------------------------------------------------ events

    def dispatch(self, inst: Instance, event: Event, now: float) -> Pairs:
        sg = self.group_of.get(inst.router.name)
        if sg is None:
            return [(inst, inst.router.handle(event, now))]
        return [(self.by_router[r], actions) for r, actions in sg.handle(inst.router, event, now)]

    def delay_link(self, ifindex: int, up: bool, deliver: Callable[[int, bool], None]) -> bool:
        """interface_up_down_delays: hold a link change for the configured delay; a change
        back within the delay cancels both (the link never looked down).  True if held."""
        if self._released.pop(ifindex, None) is up:
            return False                          # the held change, delivered now
        pending = self._held.pop(ifindex, None)
        if pending is not None:
            pending.cancel()
            return True
        name = next((n for n, i in self.rt.interfaces.items() if i.index == ifindex), None)
        delays = self.link_delays.get(name) if name is not None else None
        delay = 0.0 if delays is None else (delays.up if up else delays.down)
        if delay <= 0:
            return False

        def release() -> None:
            self._held.pop(ifindex, None)
            self._released[ifindex] = up
            deliver(ifindex, up)

        self._held[ifindex] = self.rt.loop.call_later(delay, release)
        return True

    def on_link(self, ifindex: int, up: bool, now: float) -> None:
        """track_interface: a link changed (the runtime already handled the instances' own)."""
        name = next((n for n, i in self.rt.interfaces.items() if i.index == ifindex), None)
        if name is not None:
            self._update("interface", name, up, now)
            if up:
                self._spawn(self.routes.reinstate_static(self.rt.config, name))
        elif self.rt.config.global_defs.dynamic_interfaces:
            self._spawn(self._new_interface(ifindex, up))

    async def _new_interface(self, ifindex: int, up: bool) -> None:
        """dynamic_interfaces: a tracked interface created (again) under a new index."""
        current = await self.rt.netlink.interfaces()
        tracked = {t.name for tr in self.tracking.values() for t in tr.tracks.values() if t.kind == "interface"}
        for name, iface in current.items():
            if iface.index == ifindex and name in tracked:
                old = self.rt.interfaces.get(name)
                if old is None or old.index != ifindex:
                    log.info("Interface %s added (index %d)", name, ifindex)
                    self.rt.interfaces[name] = iface
                self._update("interface", name, up, self.rt.clock())

    def on_addr_deleted(self, ifindex: int, address: str) -> None:
        """A static_ipaddress deleted by someone else is added again (keepalived does)."""
        config = self.rt.config
        default = config.global_defs.default_interface
        for ip in config.static_ipaddress:
            iface = self.rt.interfaces.get(ip.dev or default)
            if not ip.no_track and iface is not None and iface.index == ifindex and str(ip.address.ip) == \
                    str(ipaddress.ip_address(address)):
                self._spawn(self.routes.add_static_address(ip, default))

    def _on_tracker(self, kind: str, name: str, value: bool | int | None) -> None:
        self._update(kind, name, value, self.rt.clock())

    def _update(self, kind: str, name: str, value: bool | int | None, now: float) -> None:
        self.values[(kind, name)] = value
        for vi_name, tracking in self.tracking.items():
            events = tracking.update(kind, name, value)
            if events:
                inst = self._inst(vi_name)
                for ev in events:
                    self.rt._handle(inst, ev, now)
        self.rt._arm()

    # ------------------------------------------------------------------ actions

    def notify(self, inst: Instance, note: Notify) -> None:
        if note.kind == "INSTANCE":
            if note.state == "MASTER":
                self._enter_master(inst)
            elif note.state in ("BACKUP", "FAULT", "STOP", "DELETED"):
                self._leave_master(inst)
        self.notifier.notify(note)

    def vips(self, inst: Instance, action: AddVips | RemoveVips) -> None:
        if not action.accept:
            vips = [v.address for v in action.vips + action.evips]
            if isinstance(action, AddVips):
                self.firewall.add(vips)
            else:
                self.firewall.remove(vips)

    def _enter_master(self, inst: Instance) -> None:
        vi = inst.model
        if vi.name not in self.masters and (vi.virtual_routes or vi.virtual_rules):
            self.masters.add(vi.name)
            self._spawn(self.routes.apply(vi.name, vi.virtual_routes, vi.virtual_rules, add=True))

    def _leave_master(self, inst: Instance) -> None:
        vi = inst.model
        if vi.name in self.masters:
            self.masters.discard(vi.name)
            self._spawn(self.routes.apply(vi.name, vi.virtual_routes, vi.virtual_rules, add=False))

    def _spawn(self, coro: Any) -> None:
        task = self.rt.loop.create_task(coro)
        self.rt.pending.add(task)
        task.add_done_callback(self.rt.pending.discard)

    # ------------------------------------------------------------------ stop

    async def stop(self) -> None:
        """At exit: tear everything down.  On a reload (the runtime is not stopping) the
        kernel state stays and is handed to the next Production with the tracker results."""
        self.trackers.stop()
        if not self.rt.stopping.done():
            _carried[self.rt] = _Carry(self.firewall, self.masters, self.runner, self.notifier, dict(self.values),
                                       {st.spec.name: st.state for st in self.trackers.scripts})
            return
        await self.notifier.stop()
        await self.routes.stop_static(self.rt.config)
        await self.firewall.close()
        await self.rt.vmacs.remove()


__all__ = ["Production", "build_tracking", "static_track_interfaces"]
