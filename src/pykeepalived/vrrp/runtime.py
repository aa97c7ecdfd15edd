"""The VRRP child's loop side: sockets, demultiplexing, the one timer; feeds the engine.

    rt = VrrpRuntime(config, opts); await rt.prepare(); rt.begin()   # vrrp/process.py does this

An event reaches its router through `core.engine.VrrpEngine.handle` (sync groups, tracking),
and the actions that come back go to `vrrp/execute.py` (`self.execute`). What runs where:

* receive: one raw socket per interface and family (`vrrp_socket.VrrpSockets`), watched with
  `loop.add_reader`; `advert_io.recv_batch()` drains it, each packet is demultiplexed by VRID,
  decoded by the codec and handed to the engine as `AdvertReceived` / `AdvertRejected`;
* periodic master adverts: `advert_io.AdvertSender`, prebuilt per instance and sent from ideal
  times in batches, without calling the core per advert;
* steady-state backups: once a backup has accepted its master's advert, identical copies are
  absorbed by the socket in compiled code (count + receive time only) and replayed to the
  core before anything else reaches it (see `_maybe_shortcut`, `VirtualRouter.absorbable`);
* timers: one `TimerWheel` entry per instance for the core's own deadline, and a single
  timer for min(wheel, next advert), re-armed only when that time moves. That timer is an
  absolute CLOCK_MONOTONIC timerfd watched with `add_reader` (`advert_io.DeadlineTimer`)
  rather than `loop.call_at`: uvloop rounds its timers to whole milliseconds, which would
  add up to a millisecond to every failover and advert;
* link/address monitoring and the slower netlink work (routes, rules, VMACs):
  `netlink.Netlink` (pyroute2 on its own thread); link changes go through the engine's
  interface_up_down_delays, tracker results through `engine.track`;
* auth_type AH (VRRPv2 over IPv4): `ipsec_ah` (AH header, sequence counter, ICV; one raw
  IPPROTO_AH socket per interface for receiving);
* `shutdown()`: every router gets `Shutdown` (priority-0 advert, VIPs removed).

The clock is `time.monotonic()` (the same CLOCK_MONOTONIC libuv uses), in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import gc
import ipaddress
import logging
import math
import socket
import sys
import time
from typing import Any

from pykeepalived._fastpath import advert_io, codec, wheel
from pykeepalived.config.model import Config, GlobalDefs, VrrpInstance
from pykeepalived.core.actions import (
    Action,
    RemoveNoAcceptRules,
    RemoveVips,
)
from pykeepalived.core.engine import VrrpEngine
from pykeepalived.core.events import (
    AdvertReceived,
    AdvertRejected,
    DeadlineReached,
    Event,
    LinkChanged,
    RejectReason,
    Shutdown,
    VipDeleted,
)
from pykeepalived.core.params import AUTH_AH, RouterParams
from pykeepalived.core.sync_group import SyncGroup
from pykeepalived.core.vrrp import State, VirtualRouter
from pykeepalived.io import ipsec_ah
from pykeepalived.io.ipsec_ah import AhSockets, IpsecAh
from pykeepalived.io.l2 import L2Sender
from pykeepalived.io.netlink import Interface, Netlink
from pykeepalived.io.rtnl import AddrRequests
from pykeepalived.io.vmac import Vmacs
from pykeepalived.io.vrrp_socket import VrrpSockets
from pykeepalived.log import LineLimit, flush_suppressed
from pykeepalived.osutil import return_free_memory
from pykeepalived.vrrp.execute import Executor
from pykeepalived.vrrp.instance import Instance, StartWatch
from pykeepalived.vrrp.services import Services

log = logging.getLogger(__name__)

# Adverts due this close to the timer's wake-up go out in the same batch.
SEND_SLACK = 0.0002
GIL_SWITCH_INTERVAL = 0.0005
TIMER_EARLY = 0.0002     # core deadlines: wake this early and go round until due (see _arm)
DRAIN_BUDGET = 0.005     # socket reading per timer callback, at most (see _drain): a flood must not starve the rest
SHORTCUT = True          # absorb a backup's identical adverts in compiled code (see _maybe_shortcut)
SHUTDOWN_TIMEOUT = 5.0
HOLD_MAX = 1000          # log records a loop callback keeps back at most (see LogHold)
STARTUP_BATCH = 50       # instances (or sync groups) started per loop turn; then the sockets are read
STARTUP_HOLDS = 3        # at most this many extra master-down intervals for a start-up timer (_hold)
SO_MEMINFO = 55          # asm-generic/socket.h: sk_meminfo u32[], [8] = SK_MEMINFO_DROPS


class StartupError(Exception):
    """The VRRP side cannot run this config (missing interface, no address, ...)."""


async def _has_address(ipr: Any, ifindex: int, address: str) -> bool:
    """Whether `address` (compressed text) is on interface `ifindex` now (netlink thread)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    async for a in await ipr.addr("dump", family=family):
        if a["index"] != ifindex:
            continue
        got = (a.get("local") or a.get("address")) if family == socket.AF_INET else a.get("address")
        if got and ipaddress.ip_address(got).compressed == address:
            return True
    return False


def socket_drops(sock: socket.socket) -> int:
    """Packets the kernel dropped on `sock` because its receive buffer was full (-1: unknown)."""
    try:
        return int.from_bytes(sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 36)[32:36], sys.byteorder)
    except OSError:
        return -1


def startup_delay(startup_delay: float, delay_after_boot: float, uptime_file: str = "/proc/uptime") -> float:
    """vrrp_startup_delay, or what is left of vrrp_delay_after_boot since boot: the longer."""
    left = 0.0
    if delay_after_boot > 0:
        try:
            with open(uptime_file) as f:
                left = delay_after_boot - float(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            left = 0.0
    return max(startup_delay, left, 0.0)


def router_params(vi: VrrpInstance, gd: GlobalDefs, log_detail: bool) -> RouterParams:
    """RouterParams for one instance, with keepalived -D's detail logging switched on or off."""
    return RouterParams.from_model(vi, gd, log_detail=log_detail)


class LogHold(logging.Handler):
    """Stands in for the root logger's handlers in the VRRP process. While a loop callback
    runs, records are kept (with their creation times) and handed to the real handlers, in
    order, when it returns: a takeover's first advert leaves before its log lines are
    formatted and written (0.1-0.2 ms of the takeover path). At most `limit` records are
    kept: past that they are written out at once, in order (memory stays bounded, no line is
    lost; per-packet lines are rate-limited before they become records, see log.LineLimit).
    On release, the summaries of suppressed per-packet lines whose second is over are written."""

    def __init__(self, limit: int = HOLD_MAX) -> None:
        super().__init__()
        self.targets: list[logging.Handler] = []
        self.depth = 0
        self.held: list[logging.LogRecord] = []
        self.installed = False
        self.limit = limit
        self.early = 0                 # records written before their callback returned (limit reached)

    def install(self) -> None:
        root = logging.getLogger()
        self.targets = [h for h in root.handlers if h is not self]
        root.handlers = [self]
        self.installed = True

    def uninstall(self) -> None:
        self.depth = 0
        self.release()
        if self.installed:
            logging.getLogger().handlers = self.targets
            self.installed = False

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.depth:
            self._emit_now(record)
        elif len(self.held) < self.limit:
            self.held.append(record)
        else:
            held, self.held = self.held, []
            self.early += len(held) + 1
            for r in held:
                self._emit_now(r)
            self._emit_now(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def _emit_now(self, record: logging.LogRecord) -> None:
        for h in self.targets:
            if record.levelno >= h.level:
                h.handle(record)

    def hold(self) -> None:
        self.depth += 1

    def release(self) -> None:
        if self.depth == 1:
            flush_suppressed()                   # its summaries go to `held`, after the rest
        self.depth = max(0, self.depth - 1)
        if not self.depth and self.held:
            held, self.held = self.held, []
            for record in held:
                self._emit_now(record)


class VrrpRuntime:
    """Owns the loop-side state of the VRRP process; see the module docstring."""

    def __init__(self, config: Config, opts: argparse.Namespace) -> None:
        self.config = config
        self.opts = opts
        self.loop = asyncio.get_running_loop()
        self.clock = time.monotonic
        self.instances: list[Instance] = []          # live instances, in config order
        self.by_slot: dict[int, Instance] = {}        # slot: the id in the wheel and the sender
        self._next_slot = 0
        self.demux: dict[tuple[int, int], dict[int, list[Instance]]] = {}
        self.wheel = wheel.TimerWheel()
        self.sender = advert_io.AdvertSender(SEND_SLACK)
        self._logs = LogHold()
        self._lines = LineLimit(log)       # per-packet lines that no instance takes ("Unknown VRID")
        self.sockets = VrrpSockets(self.loop, self._held(self._on_readable))
        self.ah_sockets = AhSockets(self.loop, self._held(self._on_ah_readable))
        self.netlink = Netlink(self.loop, on_link=self._on_link, on_addr_deleted=self._on_addr_deleted)
        self.addrs = AddrRequests(self.loop)         # VIP add / delete (see Executor.vips)
        self.l2 = L2Sender(self.loop, self.clock)
        self.vmacs = Vmacs(self.netlink, config)     # use_vmac interfaces
        self.interfaces: dict[str, Interface] = {}
        self.executor = Executor(self.loop, self.clock, self.interfaces, self.sender, self.addrs, self.l2)
        self.execute = self.executor.execute         # (bound once: the takeover path calls it)
        self.pending: set[asyncio.Future[Any]] = set()
        self.stopping = self.loop.create_future()
        self._timer = advert_io.DeadlineTimer()
        self._timer_at = math.inf
        self._drain_mark: float | None = None     # a drain that is behind reads up to this time (see _drain)
        self.all_vips: set[Any] = set()
        # Made when the instances start, made again on a reload that changes instances:
        self.engine: VrrpEngine[Instance] | None = None   # sync groups, tracking, start-up order, link delays
        self.services: Services | None = None   # trackers, notify, firewall, routes (IO services)
        self._link_timer: asyncio.TimerHandle | None = None   # the engine's next held link change

    # ------------------------------------------------------------------ start / stop

    async def prepare(self) -> None:
        """Everything but the instances' start: sockets, interfaces, VMACs, routers, adverts
        and VIP requests prebuilt, the netlink monitor, the timer (process.py then installs
        the signal handlers and the status channel, and calls `begin`)."""
        # The netlink thread runs pure-Python pyroute2 code; by default it could keep the GIL
        # for 5 ms while an advert or a takeover is due. Make it yield within 0.5 ms.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        self._logs.install()
        self.netlink.start()
        self.addrs.open()
        await self.vmacs.create()
        self.interfaces.update(await self.netlink.interfaces())   # the executor and services share the dict
        self.vmacs.adopt(self.interfaces)
        self.l2.configure(self.config, {s.name: s.base for s in self.vmacs.specs.values()})
        gd = self.config.global_defs
        self.all_vips = {ip.address.ip for vi in self.config.vrrp_instances
                         for ip in vi.virtual_ipaddress + vi.virtual_ipaddress_excluded}
        for vi in self.config.vrrp_instances:
            self.instances.append(self.build_instance(vi, gd))
        await self.netlink.start_monitor()
        self.loop.add_reader(self._timer.fileno(), self._held(self._on_timer))

    def begin(self) -> None:
        """Start the instances (after vrrp_startup_delay / vrrp_delay_after_boot)."""
        gd = self.config.global_defs
        # Everything built so far lives as long as the process: keep the cyclic GC from
        # walking it again (a collection in the middle of a takeover costs milliseconds).
        gc.collect()
        gc.freeze()
        return_free_memory()
        delay = startup_delay(gd.vrrp_startup_delay, gd.vrrp_delay_after_boot)
        if delay > 0:
            log.info("Delaying startup for %g seconds", delay)
            self.loop.call_later(delay, self._start_instances)
        else:
            self._start_instances()

    def _start_instances(self) -> None:
        """Start every instance, STARTUP_BATCH of them per loop turn:
        between slices the loop reads the sockets, so the adverts of a running master reach
        the instances already started, whatever the number still to start. Each instance's
        timers start when it does."""
        if self.stopping.done():
            return
        services, engine = self.new_engine(None)
        now = self.clock()
        for inst in self.instances:
            if not inst.iface.up:
                self.handle(inst, LinkChanged(up=False), now)
        services.notifier.start()
        engine.prepare_startup(now, services.trackers.files.initial(), self.interface_up)
        units = collections.deque(engine.startup_units())
        # Adverts that came while the process was building itself say nothing of the master
        # now (an instance not started ignores them anyway): dropped unread, not decoded.
        self._discard_backlog()
        self._start_slice(engine, units)

    def _start_slice(self, engine: VrrpEngine[Instance], units: collections.deque[Instance | SyncGroup]) -> None:
        if self.stopping.done() or engine is not self.engine:
            return
        try:
            self._start_units(engine, units)
        except Exception as exc:    # as if start() had raised: the child exits and is respawned
            self.stopping.set_exception(exc)

    def _start_units(self, engine: VrrpEngine[Instance], units: collections.deque[Instance | SyncGroup]) -> None:
        drops: dict[Any, int] = {}
        for _ in range(min(STARTUP_BATCH, len(units))):
            now = self.clock()
            pairs = engine.start_unit(units.popleft(), now)
            self.perform(pairs, now)
            for inst, _ in pairs:
                d = inst.router.deadline()
                if inst.router.state == State.BACKUP and d is not None:
                    if inst.sock not in drops:
                        drops[inst.sock] = socket_drops(inst.sock.sock)
                    inst.watch = StartWatch(d, d - now, drops[inst.sock])
        if units:
            self.arm()
            self.loop.call_soon(self._held(self._start_slice), engine, units)
            return
        now = self.clock()
        self.perform(engine.finish_startup(now), now)
        assert self.services is not None
        self.services.start(self.vmacs.pairs())
        self.arm()
        if any(vi.virtual_routes or vi.virtual_rules for vi in self.config.vrrp_instances):
            self.netlink.warm_up()   # pyroute2 for a master's routes, imported on its thread now

    def new_engine(self, previous: tuple[Services, VrrpEngine[Instance]] | None
                   ) -> tuple[Services, VrrpEngine[Instance]]:
        """The engine of the current config and instances, with its IO services; a reload's
        takes over the previous one's tracker results, held link changes and services."""
        services = Services(self.config, self.netlink, self.interfaces, self._on_tracker, self.loop, self.pending,
                            None if previous is None else previous[0])
        engine = VrrpEngine.from_config(self.config, self.instances)
        for name in services.trackers.insecure:     # dropped at load: it no longer affects anything
            engine.preset("script", name, True)
        if previous is not None:
            engine.adopt_values(previous[1].values)
            engine.adopt_links(previous[1])
        self.services = self.executor.services = services
        self.engine = engine
        return services, engine

    def interface_up(self, name: str) -> bool | None:
        iface = self.interfaces.get(name)
        return None if iface is None else iface.up

    def _discard_backlog(self) -> None:
        for sock in self.sockets:
            while True:
                read_before = sock.rx_packets + sock.rx_errors
                sock.recv_batch()
                if sock.rx_packets + sock.rx_errors - read_before < sock.batch:
                    break

    def _hold(self, inst: Instance, d: float, now: float) -> bool:
        """The start-up rule: an instance's first master-down timer runs out only if its
        socket has been read since the timer started (`_on_timer` reads every socket before
        the timers) and the kernel dropped nothing on that socket meanwhile. Dropped packets
        may have been the master's adverts, lost while the process was busy starting: the
        timer is held back for one more master-down interval from now (at most
        STARTUP_HOLDS times). True: not delivered now (the wheel has the instance again)."""
        w = inst.watch
        assert w is not None
        if inst.router.state != State.BACKUP or d != w.deadline:
            inst.watch = None          # an advert restarted the timer: the normal rules apply
            return False
        if now < w.until:
            self._hold_until(inst, w.until)
            return True
        drops = socket_drops(inst.sock.sock)
        if drops == w.drops or w.holds >= STARTUP_HOLDS:
            inst.watch = None
            return False
        w.drops, w.holds = drops, w.holds + 1
        w.until = now + w.interval
        if inst.params.log_detail:
            log.info("(%s) adverts were dropped while starting - master down timer restarted", inst.params.name)
        self._hold_until(inst, w.until)
        return True

    def _hold_until(self, inst: Instance, when: float) -> None:
        inst.deadline = when
        self.wheel.schedule(inst.slot, when)

    def build_instance(self, vi: VrrpInstance, gd: GlobalDefs) -> Instance:
        slot = self._next_slot
        self._next_slot += 1
        iface, params = self.resolve(vi, gd)
        family = socket.AF_INET if params.family == 4 else socket.AF_INET6
        assert params.source_address is not None
        src = ipaddress.ip_address(params.source_address).packed
        sock = self.sockets.get(iface.name, iface.index, family)
        if params.is_unicast:
            dests = [p.packed for p in params.unicast_peers]
            hoplimit = vi.effective.unicast_ttl
        else:
            group = ipaddress.ip_address(params.group).packed
            self.sockets.join(sock, group)
            dests = [group]
            hoplimit = 255
        inst = Instance(slot=slot, model=vi, router=VirtualRouter(params), iface=iface, sock=sock, src=src,
                        dests=dests, hoplimit=hoplimit, vips_packed=[v.packed for v in params.vips][:255])
        inst.router.lines.clock = self.clock     # per-packet lines: periods on the process's time
        if params.auth_type == AUTH_AH and family == socket.AF_INET:
            inst.ah = IpsecAh(params.auth_data, src, params.is_unicast)
            self.ah_sockets.get(iface.name, iface.index)
            if not params.is_unicast:
                self.ah_sockets.join(iface.index, dests[0])
        self.demux.setdefault((iface.index, family), {}).setdefault(params.vrid, []).append(inst)
        self.executor.build(inst, params.priority)   # ready before the first takeover needs them
        plan = self.executor.vip_plan(inst, "add", params.vips, params.evips)   # so are its VIP requests
        for (index, _address), vip, _msg, _error in plan[3]:     # and the GARP sockets
            port = inst.iface if vip.dev is None else self.interfaces.get(vip.dev)
            if port is not None and params.garp_master_repeat > 0:
                with contextlib.suppress(OSError):    # Executor.gratuitous says it if it still cannot
                    self.l2.prepare(port.name, index)
        self.by_slot[slot] = inst
        return inst

    def resolve(self, vi: VrrpInstance, gd: GlobalDefs) -> tuple[Interface, RouterParams]:
        """The instance's interface and router parameters, the advert source address resolved."""
        ifname = self.vmacs.ifname(vi) or vi.interface or gd.default_interface
        iface = self.interfaces.get(ifname)
        if iface is None:
            raise StartupError(f"({vi.name}) interface {ifname} does not exist")
        params = self.vmacs.params(vi, router_params(vi, gd, bool(getattr(self.opts, "log_detail", False))))
        src_text = params.source_address
        if src_text is None:
            # A VIP left behind by a crashed run must not become the advert source.
            candidates = [a for a in (iface.ipv4 if params.family == 4 else iface.ipv6_ll)
                          if ipaddress.ip_address(a) not in self.all_vips]
            src_text = candidates[0] if candidates else None
            if src_text is None:
                raise StartupError(f"({vi.name}) interface {ifname} has no "
                                   f"{'IPv4' if params.family == 4 else 'IPv6 link-local'} address")
            params = dataclasses.replace(params, source_address=src_text)
        return iface, params

    def routers(self) -> list[VirtualRouter]:
        """The live routers in config order, their advert counters brought up to date."""
        for inst in self.instances:
            if inst.shortcut is not None:
                absorbed = inst.sock.shortcut_count(inst.params.vrid)
                inst.router.stats.advert_rcvd += absorbed - inst.shortcut_counted
                inst.shortcut_counted = absorbed
            periodic = self.sender.sent(inst.slot) - inst.one_off_sent
            inst.router.stats.advert_sent += periodic - inst.periodic_counted
            inst.periodic_counted = periodic
        return [inst.router for inst in self.instances]

    def request_stop(self, why: str) -> None:
        if not self.stopping.done():
            log.debug("VRRP process stopping on %s", why)
            self.stopping.set_result(why)

    # ------------------------------------------------------------------ reload (SIGHUP)

    def forget(self, inst: Instance) -> None:
        """Drop a deleted instance from demux, sender and wheel (its slot is never reused)."""
        if inst.shortcut is not None:
            inst.sock.disarm_shortcut(inst.params.vrid)
            inst.shortcut = None
        key = (inst.sock.ifindex, inst.sock.family)
        candidates = self.demux.get(key, {}).get(inst.params.vrid, [])
        if inst in candidates:
            candidates.remove(inst)
        self.sender.remove(inst.slot)
        self.wheel.cancel(inst.slot)
        self.by_slot.pop(inst.slot, None)
        self.instances.remove(inst)
        for k, (owner, _text) in list(self.executor.installed.items()):
            if owner is inst:
                del self.executor.installed[k]

    async def shutdown(self) -> None:
        """Priority-0 adverts and VIP removal for every instance, then release everything."""
        now = self.clock()
        release = not getattr(self.opts, "dont_release_vrrp", False)
        for inst in self.instances:
            if inst.shortcut is not None:
                self.flush_shortcut(inst)
        unowned = [inst for inst in self.instances if inst.router.state != State.MASTER]
        for inst in self.instances:
            pairs = self.engine.handle(inst, Shutdown(), now) if self.engine is not None \
                else [(inst, inst.router.handle(Shutdown(), now))]
            for target, actions in pairs:
                if not release:    # -V: the VIPs (and their drop rules) stay
                    actions = [a for a in actions if not isinstance(a, RemoveVips | RemoveNoAcceptRules)]
                self.execute(target, actions, now)
        if release and getattr(self.opts, "release_vips", False):
            for inst in unowned:
                self.executor.release_unowned(inst)
        if self.pending:
            await asyncio.wait(list(self.pending), timeout=SHUTDOWN_TIMEOUT)
        if self.services is not None:
            await self.services.stop(self.vmacs.remove)
        self.close()

    def _held(self, callback: Any) -> Any:
        """`callback` with its log lines written after it returns (see LogHold)."""
        logs = self._logs

        def run(*args: Any) -> Any:
            logs.hold()
            try:
                return callback(*args)
            finally:
                logs.release()

        return run

    def close(self) -> None:
        if self._link_timer is not None:
            self._link_timer.cancel()
        self._logs.uninstall()
        self.loop.remove_reader(self._timer.fileno())
        self._timer.close()
        self.l2.close()
        self.sockets.close()
        self.ah_sockets.close()
        self.addrs.read_acks()       # the last removals' refusals are logged
        self.addrs.close()
        self.netlink.stop()

    # ------------------------------------------------------------------ events in

    def handle(self, inst: Instance, event: Event, now: float) -> None:
        """Deliver one event (through the engine: sync groups) and perform what follows."""
        if inst.shortcut is not None:
            self.flush_shortcut(inst)
        engine = self.engine
        for target, actions in (engine.handle(inst, event, now) if engine is not None
                                else ((inst, inst.router.handle(event, now)),)):
            if actions:
                self.execute(target, actions, now)
            self.rearm(target)

    def perform(self, pairs: list[tuple[Instance, list[Action]]], now: float) -> None:
        """Perform the actions of several instances (a sync group moving together), in order."""
        for inst, actions in pairs:
            if actions:
                self.execute(inst, actions, now)
            self.rearm(inst)

    def rearm(self, inst: Instance) -> None:
        d = inst.router.deadline()
        if d != inst.deadline:
            inst.deadline = d
            if d is None:
                self.wheel.cancel(inst.slot)
            else:
                self.wheel.schedule(inst.slot, d)

    def _on_readable(self, sock: Any) -> None:
        """Handle what the socket has (one batch)."""
        packets = sock.recv_batch()
        if not packets:
            return
        by_vrid = self.demux.get((sock.ifindex, sock.family), {})
        v6 = sock.family == socket.AF_INET6
        family = codec.AF_INET6 if v6 else codec.AF_INET
        for payload, src, dst, ttl, _ifindex, rx_time in packets:
            if len(payload) < 2:
                continue
            candidates = by_vrid.get(payload[1])
            if candidates is None:
                if self.config.global_defs.log_unknown_vrids:
                    ifname = next((i.name for i in self.interfaces.values() if i.index == sock.ifindex), "?")
                    self._lines.info("Unknown VRID(%d) received on interface(%s). ignoring...",
                                     payload[1], ifname)
                continue
            inst = candidates[0] if len(candidates) == 1 else self._pick(candidates, src, dst)
            if inst is None:
                continue
            if inst.ah is not None or inst.router.state is State.INIT:
                continue     # AH instances listen on IPPROTO_AH only; one not started ignores adverts
            # IPv6: the kernel verified the checksum already (IPV6_CHECKSUM).
            advert, reason = codec.decode_advert(payload, family, b"" if v6 else src, b"" if v6 else dst,
                                                 inst.params.v3_checksum_as_v2)
            # The kernel's receive time: the down timer starts when the advert arrived, not
            # when this process got round to reading it.
            if advert is None:
                self.handle(inst, AdvertRejected(RejectReason(reason), src), rx_time)
                continue
            event = AdvertReceived(advert, src, dst, ttl)
            self.handle(inst, event, rx_time)
            if len(candidates) == 1 and SHORTCUT:
                self._maybe_shortcut(inst, event, payload, rx_time)
        self.arm()

    def _on_ah_readable(self, ifindex: int, sock: socket.socket) -> None:
        """IPsec AH adverts (whole IPv4 packets): checked by the instance's IpsecAh, then the
        inner VRRP message goes the usual way (no steady-state shortcut: every one differs)."""
        by_vrid = self.demux.get((ifindex, socket.AF_INET), {})
        for packet in self.ah_sockets.drain(sock):
            now = self.clock()
            parts = ipsec_ah.split(packet)
            if parts is None:
                continue
            payload, src, dst, ttl = parts
            # only AH instances listen here, as in keepalived's per-protocol socket pool
            candidates = [i for i in by_vrid.get(payload[1], ()) if i.ah is not None]
            if not candidates:
                continue
            inst = candidates[0] if len(candidates) == 1 else self._pick(candidates, src, dst)
            if inst is None or inst.ah is None:
                continue
            error = inst.ah.check(packet)
            if error is not None:
                self.handle(inst, AdvertRejected(RejectReason.AH_ICV, src, error), now)
                continue
            advert, reason = codec.decode_advert(payload, codec.AF_INET, src, dst, False)
            if advert is None:
                self.handle(inst, AdvertRejected(RejectReason(reason), src), now)
            else:
                self.handle(inst, AdvertReceived(advert, src, dst, ttl), now)
        self.arm()

    # -- steady-state shortcut -----------------------------------------------------------------
    #
    # A backup that has just accepted an advert from its master the plain way (the core says
    # so: `VirtualRouter.absorbable`) would do exactly the same for every identical copy: the
    # socket absorbs those copies in compiled code, keeping only their count and last receive
    # time, and reports when the master-down interval since the last one has run out. Only
    # copies identical in everything the core sees (VRRP payload, source, destination, TTL)
    # are absorbed; anything else for the VRID disarms it and goes to the core. Before
    # anything else reaches the router (a different advert, a timer, a link or tracker event,
    # shutdown, a dump), the last absorbed copy is replayed at its receive time, so the core
    # is exactly where it would have been. An advert the core discarded or rejected (lower
    # priority while free to preempt, bad TTL, auth, address list, ...) never arms it: its
    # copies must keep going to the core, or they would hold off the takeover.

    def _maybe_shortcut(self, inst: Instance, event: AdvertReceived, payload: bytes, rx_time: float) -> None:
        router = inst.router
        if not router.absorbable(event):
            return
        d = inst.deadline
        if (d is None or d <= rx_time or len(event.src) != len(event.dst)
                or (self.engine is not None and router.name in self.engine.group_of)):
            return
        inst.sock.arm_shortcut(inst.params.vrid, payload, event.src, event.dst, event.ttl, d - rx_time, rx_time)
        inst.shortcut = event
        inst.shortcut_counted = 0
        self.wheel.cancel(inst.slot)      # the socket holds the down timer now
        inst.deadline = None

    def flush_shortcut(self, inst: Instance) -> None:
        event = inst.shortcut
        assert event is not None
        inst.shortcut = None
        count, last_rx = inst.sock.disarm_shortcut(inst.params.vrid)
        if count:
            actions = inst.router.handle(event, last_rx)    # the last copy, when it came
            inst.router.stats.advert_rcvd += count - 1 - inst.shortcut_counted
            if actions:
                self.execute(inst, actions, last_rx)
        self.rearm(inst)

    @staticmethod
    def _pick(candidates: list[Instance], src: bytes, dst: bytes) -> Instance | None:
        """Several instances share a VRID on one interface: unicast ones by peer, others by group."""
        for inst in candidates:
            if inst.params.is_unicast and src in inst.dests:
                return inst
        for inst in candidates:
            if not inst.params.is_unicast and dst in inst.dests:
                return inst
        return None

    def _on_timer(self) -> None:
        self._timer.ack()
        self._timer_at = math.inf
        limit = self._drain()
        for ifindex, ah_sock in self.ah_sockets:
            self._on_ah_readable(ifindex, ah_sock)
        now = self.clock()
        self.sender.fire(now)
        if limit != -math.inf:
            self._deadlines(min(limit, now), now)
        # A deadline still due (the drain is behind, or it fell due after `limit`) leaves the
        # timer armed in the past: the loop goes round (other callbacks run) and comes back.
        self.arm()

    def _deadlines(self, limit: float, now: float) -> None:
        """Act on the core deadlines due by `limit` (every advert that arrived before it is handled)."""
        for sock in self.sockets:                # backups whose absorbed master went quiet
            for vrid in sock.expired(limit):
                for backup in self.demux.get((sock.ifindex, sock.family), {}).get(vrid, ()):
                    if backup.shortcut is not None:
                        self.flush_shortcut(backup)
        for slot in self.wheel.advance(limit):
            inst = self.by_slot.get(slot)
            if inst is None:
                continue
            inst.deadline = None
            d = inst.router.deadline()
            if d is not None and d <= limit:
                if inst.watch is not None and self._hold(inst, d, now):
                    continue
                self.handle(inst, DeadlineReached(), now)
            elif d is not None:       # moved later since it was scheduled
                inst.deadline = d
                self.wheel.schedule(slot, d)

    def _drain(self) -> float:
        """Read the sockets before deadlines are acted on; returns the time up to which every
        advert that arrived has been handled (deadlines up to it may fire), -inf if behind.

        Adverts that arrived before a deadline but are not read yet must count first (their
        kernel receive time is what matters), or a busy moment turns into a false takeover. A
        flood would make "read until empty" endless, so the reading is bounded (DRAIN_BUDGET
        per callback, our own due adverts sent between batches, they matter more) and resumed
        on the next round: a socket is caught up once it is empty or the last packet read
        arrived after the mark, the time the drain began (the queue is in arrival order).
        Deadlines act up to the mark only: a socket read to its end early in the drain may
        have got an advert since, while the other sockets were read (no instance times out
        before its socket has been read past its deadline)."""
        start = self.clock()
        mark = self._drain_mark if self._drain_mark is not None else start
        stop = start + DRAIN_BUDGET
        for sock in self.sockets:
            while True:
                if sock.last_rx >= mark:             # read past the mark by the reader callbacks
                    break
                read_before = sock.rx_packets + sock.rx_errors   # absorbed packets count too
                self._on_readable(sock)
                if sock.rx_packets + sock.rx_errors - read_before < sock.batch:
                    break                            # empty: everything that came is handled
                now = self.clock()
                self.sender.fire(now)
                if now >= stop and sock.last_rx < mark:
                    self._drain_mark = mark          # behind: resume on the next round
                    return -math.inf
        self._drain_mark = None
        return mark

    def arm(self) -> None:
        """Keep one timer at min(earliest core deadline, next advert); re-arm only if it moved.

        Core deadlines (a master-down timer: a takeover) are armed TIMER_EARLY ahead: waking
        from idle takes 0.1-0.2 ms, so the loop wakes early and goes round (reading sockets,
        nothing due yet) until the deadline is reached, and acts within tens of microseconds."""
        nd = self.wheel.next_deadline()
        core = min(math.inf if nd is None else nd,
                   min((sock.next_expiry() for sock in self.sockets), default=math.inf))
        at = min(core - TIMER_EARLY, self.sender.next_due())
        if at != self._timer_at:
            self._timer_at = at
            self._timer.arm(at)

    def _ifname(self, ifindex: int) -> str | None:
        return next((n for n, i in self.interfaces.items() if i.index == ifindex), None)

    def _on_link(self, ifindex: int, up: bool) -> None:
        engine = self.engine
        now = self.clock()
        if engine is not None and engine.delay_link(ifindex, self._ifname(ifindex), up, now):
            self._arm_links(now)                     # interface_up_down_delays
            return
        for inst in self.instances:
            if inst.iface.index == ifindex:
                inst.iface.up = up
                self.handle(inst, LinkChanged(up=up), now)
        if self.services is not None:             # track_interface
            name = self._ifname(ifindex)
            if name is not None:
                self._track("interface", name, up, now)
                if up:
                    self.services.reinstate_static(name)
            elif self.config.global_defs.dynamic_interfaces:
                self.services.spawn(self._new_interface(ifindex, up))
        self.arm()

    def _arm_links(self, now: float) -> None:
        """A timer for the engine's next held link change (a stale one finds nothing due)."""
        engine = self.engine
        due = None if engine is None else engine.link_deadline()
        if self._link_timer is not None:
            self._link_timer.cancel()
            self._link_timer = None
        if due is not None:
            self._link_timer = self.loop.call_later(max(0.0, due - now), self._held(self._links_due))

    def _links_due(self) -> None:
        self._link_timer = None
        engine = self.engine
        if engine is None:
            return
        now = self.clock()
        for ifindex, up in engine.due_links(now):
            assert isinstance(ifindex, int)
            self._on_link(ifindex, up)
        self._arm_links(now)

    async def _new_interface(self, ifindex: int, up: bool) -> None:
        """dynamic_interfaces: a tracked interface created (again) under a new index."""
        current = await self.netlink.interfaces()
        if self.engine is None:
            return
        tracked = self.engine.tracked_interfaces()
        for name, iface in current.items():
            if iface.index == ifindex and name in tracked:
                old = self.interfaces.get(name)
                if old is None or old.index != ifindex:
                    log.info("Interface %s added (index %d)", name, ifindex)
                    self.interfaces[name] = iface
                self._track("interface", name, up, self.clock())
        self.arm()

    def _on_tracker(self, kind: str, name: str, value: bool | int | None) -> None:
        self._track(kind, name, value, self.clock())
        self.arm()

    def _track(self, kind: str, name: str, value: bool | int | None, now: float) -> None:
        """A tracker's new result: the engine says which instances get which event."""
        if self.engine is not None:
            for inst, event in self.engine.track(kind, name, value):
                self.handle(inst, event, now)

    def _on_addr_deleted(self, ifindex: int, address: str) -> None:
        key = (ifindex, ipaddress.ip_address(address).compressed)
        owner = self.executor.installed.get(key)
        if owner is None:
            if self.services is not None:         # static_ipaddress is put back
                self.services.on_addr_deleted(ifindex, address, self.interfaces)
            return
        # The notification may be stale: the monitor runs on the netlink thread, so the RTM_DELADDR
        # of our own removal (leaving MASTER, or the start-up clean-up of a VIP a killed daemon left)
        # can arrive after we added the VIP again. Taken as an external deletion it drops the master
        # to BACKUP, whose removal sends another late RTM_DELADDR: a MASTER/BACKUP loop with no VIP
        # (seen at advert_int 0.01 on a loaded machine, issue 23). So the kernel decides: still
        # there, nothing was deleted. (Our own VIP changes are done when _vips returns: the
        # kernel carries out an address request inside its send(), io/rtnl.py.)
        inst = owner[0]

        async def confirm() -> None:
            try:
                present = await self.netlink.run(lambda ipr: _has_address(ipr, ifindex, key[1]))
            except Exception as exc:  # noqa: BLE001 - cannot tell: act on the notification
                log.debug("address check after RTM_DELADDR %s: %s", address, exc)
                present = False
            if present or self.executor.installed.get(key) is not owner or self.stopping.done():
                return
            del self.executor.installed[key]
            self.handle(inst, VipDeleted(owner[1]), self.clock())
            self.arm()

        task = self.loop.create_task(confirm())
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    # ------------------------------------------------------------------ actions out


__all__ = ["Instance", "LogHold", "StartupError", "VrrpRuntime", "router_params"]
