"""A simulated LAN: real VirtualRouters, a hand-driven clock, an in-memory link.

Every host (the nodes of one address) has the daemon's own `core.engine.VrrpEngine`: events
go through it as in the VRRP process (a sync group's members move together there, not here).
The LAN plays the IO layer's role: it performs the actions the engine returns, and in
particular it sends the periodic adverts of StartAdvertising itself, from ideal times,
without calling the core (as the VRRP runtime does).  Every advert goes through the real pure codec
(`encode_advert` then `decode_advert`), so rejections arrive as AdvertRejected exactly as
they would from the socket layer.

The link can drop (a predicate), delay, duplicate and partition packets.
"""

from __future__ import annotations

import dataclasses
import heapq
import ipaddress
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from pykeepalived._fastpath import (
    codec,  # the active twin: compiled, or pure under PYKEEPALIVED_NO_EXTENSIONS
)

from pykeepalived.core import timing
from pykeepalived.core.actions import (
    Action,
    AddNoAcceptRules,
    AddVips,
    InstallRoutes,
    Notify,
    RemoveNoAcceptRules,
    RemoveRoutes,
    RemoveVips,
    SendAdvert,
    SendGratuitous,
    StartAdvertising,
    StopAdvertising,
)
from pykeepalived.core.engine import VrrpEngine
from pykeepalived.core.events import (
    AdvertReceived,
    AdvertRejected,
    DeadlineReached,
    Event,
    RejectReason,
    Startup,
)
from pykeepalived.core.params import RouterParams
from pykeepalived.core.sync_group import SyncGroup
from pykeepalived.core.vrrp import State, VirtualRouter


@dataclass
class Wire:
    """One advert as it left a node."""

    time: float
    src: str
    dst: str
    priority: int
    vrid: int


@dataclass
class Node:
    name: str
    router: VirtualRouter
    address: str
    advertising: tuple[float, float, int] | None = None   # (t0, interval, priority)
    adverts_scheduled: int = 0                            # k of the next ideal time t0 + k*interval
    vips_up: bool = False
    routes_up: bool = False    # virtual_routes / virtual_rules installed
    no_accept: bool = False    # the VIPs in the no_accept drop set
    link_up: bool = True       # the cable: a down link neither sends nor receives
    dead: bool = False         # hard-killed: no events, no timers, nothing sent
    actions: list[tuple[float, Action]] = field(default_factory=list)
    states: list[tuple[float, State]] = field(default_factory=list)
    garps: list[tuple[float, int]] = field(default_factory=list)
    notifies: list[tuple[float, str]] = field(default_factory=list)

    @property
    def state(self) -> State:
        return self.router.state

    def next_advert_time(self) -> float | None:
        if self.advertising is None:
            return None
        t0, interval, _ = self.advertising
        return t0 + self.adverts_scheduled * interval


DropRule = Callable[[Node, Node, Wire], bool]


class Lan:
    def __init__(self, delay: float = 0.0) -> None:
        self.nodes: dict[str, Node] = {}
        self.now = 0.0
        self.delay = delay
        self.wire: list[Wire] = []
        self.drop_rules: list[DropRule] = []
        self.duplicate = False
        self.partitions: list[set[str]] | None = None
        self.engines: dict[str, VrrpEngine[Node]] = {}    # per host (address): the daemon's engine
        self._queue: list[tuple[float, int, str, Event]] = []
        self._seq = itertools.count()

    # ------------------------------------------------------------------ building

    def add(self, name: str, address: str, params: RouterParams) -> Node:
        if params.source_address is None:
            params = dataclasses.replace(params, source_address=address)
        node = Node(name, VirtualRouter(params), address)
        node.states.append((self.now, node.router.state))
        self.nodes[name] = node
        self.engines.setdefault(address, VrrpEngine()).add(node)
        return node

    def sync_group(self, group: str, *names: str) -> SyncGroup:
        """Join the named nodes (one host's instances) in a vrrp_sync_group."""
        hosts = {self.nodes[n].address for n in names}
        assert len(hosts) == 1, f"a sync group is one host's: {names} are on {sorted(hosts)}"
        sg = self.engines[hosts.pop()].add_sync_group(group, [self.nodes[n].router.name for n in names])
        assert sg is not None
        return sg

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    # ------------------------------------------------------------------ driving

    def at(self, when: float, name: str, event: Event) -> None:
        """Deliver `event` to node `name` at time `when`."""
        heapq.heappush(self._queue, (when, next(self._seq), name, event))

    def start(self, name: str | None = None, when: float | None = None) -> None:
        for n in [name] if name else list(self.nodes):
            self.at(self.now if when is None else when, n, Startup())

    def kill(self, name: str) -> None:
        """Hard kill: the node stops sending and receiving at once (no priority 0)."""
        node = self.nodes[name]
        node.advertising = None
        node.dead = True

    def partition(self, *groups: set[str]) -> None:
        self.partitions = [set(g) for g in groups]

    def heal(self) -> None:
        self.partitions = None

    def masters(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.state == State.MASTER and not n.dead]

    def run_until(self, end: float) -> None:
        while True:
            t, kind, name = self._next()
            if t is None or t > end:
                break
            self.now = max(self.now, t)
            node = self.nodes[name]
            if kind == "queue":
                _, _, _, event = heapq.heappop(self._queue)
                if not node.dead:
                    self._deliver(node, event)
            elif kind == "advert":
                assert node.advertising is not None
                node.adverts_scheduled += 1
                node.router.stats.advert_sent += 1     # the IO layer counts periodic adverts
                self._transmit(node, node.advertising[2])
            else:
                self._deliver(node, DeadlineReached())
        self.now = end

    def run_for(self, duration: float) -> None:
        self.run_until(self.now + duration)

    def _next(self) -> tuple[float | None, str, str]:
        best: tuple[float | None, str, str] = (None, "", "")
        if self._queue:
            best = (self._queue[0][0], "queue", self._queue[0][2])
        for node in self.nodes.values():
            if node.dead:
                continue
            for t, kind in ((node.next_advert_time(), "advert"), (node.router.deadline(), "deadline")):
                if t is not None and (best[0] is None or t < best[0]):
                    best = (t, kind, node.name)
        return best

    # ------------------------------------------------------------------ the IO role

    def _deliver(self, node: Node, event: Event) -> None:
        for target, actions in self.engines[node.address].handle(node, event, self.now):
            router = target.router
            if target.states[-1][1] != router.state:
                target.states.append((self.now, router.state))
            for action in actions:
                target.actions.append((self.now, action))
                self._perform(target, action)

    def _perform(self, node: Node, action: Action) -> None:
        if isinstance(action, StartAdvertising):
            node.advertising = (self.now, action.interval_s, action.priority)
            node.adverts_scheduled = 1
        elif isinstance(action, StopAdvertising):
            node.advertising = None
        elif isinstance(action, SendAdvert):
            self._transmit(node, action.priority)
        elif isinstance(action, AddVips):
            node.vips_up = True
        elif isinstance(action, RemoveVips):
            node.vips_up = False
        elif isinstance(action, InstallRoutes | RemoveRoutes):
            node.routes_up = isinstance(action, InstallRoutes)
        elif isinstance(action, AddNoAcceptRules | RemoveNoAcceptRules):
            node.no_accept = isinstance(action, AddNoAcceptRules)
        elif isinstance(action, SendGratuitous):
            node.garps.append((self.now, action.count))
        elif isinstance(action, Notify):
            node.notifies.append((self.now, action.state))

    def _transmit(self, node: Node, priority: int) -> None:
        if not node.link_up or node.dead:
            return
        p = node.router.params
        family = codec.AF_INET6 if p.family == 6 else codec.AF_INET
        dsts = [peer.address for peer in p.unicast_peers] or [p.group]
        for dst in dsts:
            src_b = ipaddress.ip_address(node.address).packed
            dst_b = ipaddress.ip_address(dst).packed
            data = codec.encode_advert(
                p.version, p.vrid, priority, timing.wire_adver_int(p.version, p.advert_int),
                [v.packed for v in p.vips], family, src_b, dst_b, auth_type=p.auth_type,
                auth_data=p.auth_data, v3_checksum_as_v2=p.v3_checksum_as_v2)
            wire = Wire(self.now, node.address, dst, priority, p.vrid)
            self.wire.append(wire)
            for other in self.nodes.values():
                if other is node or not other.link_up or other.dead:
                    continue
                if other.router.params.vrid != p.vrid:
                    continue
                if not ipaddress.ip_address(dst).is_multicast and other.address != dst:
                    continue
                if self.partitions is not None and not any(
                        node.name in g and other.name in g for g in self.partitions):
                    continue
                if any(rule(node, other, wire) for rule in self.drop_rules):
                    continue
                op = other.router.params
                advert, reason = codec.decode_advert(data, family, src_b, dst_b,
                                                     v3_checksum_as_v2=op.v3_checksum_as_v2)
                event: Event
                if advert is None:
                    event = AdvertRejected(RejectReason(reason), src_b)
                else:
                    event = AdvertReceived(advert, src_b, dst_b, ttl=255)
                for _ in range(2 if self.duplicate else 1):
                    self.at(self.now + self.delay, other.name, event)

    # ------------------------------------------------------------------ observations

    def sent_by(self, address: str, since: float = 0.0) -> list[Wire]:
        return [w for w in self.wire if w.src == address and w.time >= since]

    def transitions(self, name: str) -> list[tuple[float, State]]:
        return self.nodes[name].states
