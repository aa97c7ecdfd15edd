"""Histories: the cluster, the events, a seeded generator, and the model of who may be master.

The model follows keepalived 2.2.7's rules (keepalived/vrrp/vrrp.c, vrrp_track.c), which are the
reference wherever they and RFC 5798 could be read differently:

* effective priority = base + tracker weights, clamped to 1..254 (a weighted script or tracked
  interface adds a positive weight while OK/up and a negative one while failed/down; a tracked
  file adds value * weight); weight 0 means FAULT while failed/down/non-zero; eth0 down = FAULT.
* a BACKUP accepts an advert of priority >= its own (so an equal priority never preempts a
  running master, whatever the addresses); `nopreempt` accepts any priority; otherwise a lower
  priority advert is discarded and the backup takes over after its master-down interval (after
  `preempt_delay` first, when set).
* a MASTER that hears another master yields to a higher priority, or to an equal priority with
  a higher primary address (two masters meet: start-up races, partitions healing, SIGCONT).
* an election with no master (cold start, master gone) is won by whoever times out first: the
  highest priority normally, but start times differ, so any node not outranked by a node that
  would preempt it (a higher priority without nopreempt) may end up master.

The model does not pretend to know the outcome of races: after an event it holds the masters it
is sure of (`definite`, observed at the last check and still running) and the nodes that may have
become master meanwhile (`possible`: a node started with `state MASTER`, a backup continued
after SIGSTOP, a node that advertised during packet loss), and accepts the outcome of any of those
scenarios.  Each check's observation then becomes the new `definite`.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

VRID = 51
IMPLS = ("pykeepalived", "keepalived")
VIP_SETS: tuple[tuple[str, ...], ...] = (
    ("192.0.2.100/24",),
    ("192.0.2.100/24", "192.0.2.101/24"),
    ("192.0.2.102/24",),
)
NODE_NAMES = ("r1", "r2", "r3")
# scheduling delays on the shared, loaded 2-core machine (seconds), added to each quiet period
LOAD_MARGIN = 0.4


@dataclass(frozen=True)
class NodeSpec:
    impl: str                        # "pykeepalived" or "keepalived"
    priority: int
    state: str = "BACKUP"            # the configured initial state
    nopreempt: bool = False
    preempt_delay: float = 0.0
    script_weight: int | None = None  # None: no vrrp_script; 0: FAULT while it fails
    trk_weight: int | None = None     # tracked interface trk0 (a dummy)
    file_weight: int | None = None    # vrrp_track_file


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[NodeSpec, ...]
    version: int = 3
    advert_int: float = 0.1
    unicast: bool = False

    def skew(self, priority: int) -> float:
        if self.version == 2:
            return (256 - priority) / 256
        return (256 - priority) * self.advert_int / 256

    def master_down(self, priority: int = 1) -> float:
        return 3 * self.advert_int + self.skew(priority)

    def describe(self) -> str:
        nodes = ", ".join(
            f"{NODE_NAMES[i]}={'py' if n.impl == 'pykeepalived' else 'ka'}/{n.priority}"
            + ("/M" if n.state == "MASTER" else "") + ("/nopreempt" if n.nopreempt else "")
            + (f"/delay{n.preempt_delay:g}" if n.preempt_delay else "")
            + (f"/s{n.script_weight}" if n.script_weight is not None else "")
            + (f"/i{n.trk_weight}" if n.trk_weight is not None else "")
            + (f"/f{n.file_weight}" if n.file_weight is not None else "")
            for i, n in enumerate(self.nodes))
        return f"v{self.version} {'unicast' if self.unicast else 'multicast'} advert_int {self.advert_int:g}: {nodes}"


@dataclass(frozen=True)
class Event:
    op: str
    node: int = -1
    arg: Any = None

    def __str__(self) -> str:
        who = NODE_NAMES[self.node] if self.node >= 0 else ""
        arg = "" if self.arg is None else repr(self.arg)
        return f"{self.op}({', '.join(x for x in (who, arg) if x)})"


OPS = ("script", "trackif", "trackfile", "reload_prio", "reload_vips", "kill", "kill_child", "stop",
       "start", "link", "partition", "heal", "loss", "vip_delete", "sigstop", "sigcont")


@dataclass
class History:
    seed: int
    cluster: Cluster
    events: list[Event] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"seed": self.seed, "cluster": asdict(self.cluster),
                           "events": [[e.op, e.node, _jsonable(e.arg)] for e in self.events]})

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> History:
        d = json.loads(text) if isinstance(text, str) else text
        c = dict(d["cluster"])
        c["nodes"] = tuple(NodeSpec(**n) for n in c["nodes"])
        events = [Event(op, node, _unjson(arg)) for op, node, arg in d["events"]]
        for e in events:
            if e.op not in OPS:
                raise ValueError(f"unknown event {e.op!r}")
        return cls(d["seed"], Cluster(**c), events)

    def describe(self) -> str:
        return (f"seed {self.seed}: {self.cluster.describe()}\n  events: "
                + " ".join(str(e) for e in self.events))


def _jsonable(arg: Any) -> Any:
    if isinstance(arg, tuple):
        return [_jsonable(a) for a in arg]
    return arg


def _unjson(arg: Any) -> Any:
    if isinstance(arg, list):
        return tuple(_unjson(a) for a in arg)
    return arg


# ---------------------------------------------------------------------------------------------
# generator

# mostly small intervals: a history's length is a few master-down intervals per event
INTERVALS_V3 = (1.0, 0.5, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05)
PRIORITIES = (100, 100, 100, 110, 120, 150)
WEIGHTS = (-30, -20, -10, 10, 20, 0)


def generate(seed: int, n_events: int = 10, *, impls: tuple[str, ...] = IMPLS) -> History:
    """A random cluster and `n_events` events, the same for the same seed."""
    rng = random.Random(seed)
    n = rng.choice((2, 2, 3))
    version = 2 if rng.random() < 0.1 else 3
    advert_int = 1.0 if version == 2 else rng.choice(INTERVALS_V3)
    nodes = []
    for _ in range(n):
        nopreempt = rng.random() < 0.2
        delay = 0.0 if nopreempt or rng.random() < 0.85 else rng.choice((0.5, 1.0))
        state = "MASTER" if not nopreempt and rng.random() < 0.15 else "BACKUP"
        nodes.append(NodeSpec(
            impl=rng.choice(impls), priority=rng.choice(PRIORITIES), state=state, nopreempt=nopreempt,
            preempt_delay=delay,
            script_weight=rng.choice(WEIGHTS) if rng.random() < 0.6 else None,
            trk_weight=rng.choice(WEIGHTS) if rng.random() < 0.4 else None,
            file_weight=rng.choice((-10, 5, 0)) if rng.random() < 0.4 else None))
    cluster = Cluster(tuple(nodes), version, advert_int, unicast=rng.random() < 0.3)
    events = generate_events(rng, cluster, n_events)
    # draws added later come from a second generator, so that older seeds keep their histories
    rng2 = random.Random(seed * 7919 + 1)
    if rng2.random() < 0.08:
        # an address owner: priority 255, starts MASTER, weights ignored (FAULT still applies)
        k = rng2.randrange(n)
        nodes[k] = replace(nodes[k], priority=255, state="MASTER", nopreempt=False, preempt_delay=0.0)
        cluster = replace(cluster, nodes=tuple(nodes))
    return History(seed, cluster, events)


def generate_events(rng: random.Random, cluster: Cluster, n_events: int) -> list[Event]:
    n = len(cluster.nodes)
    running = [True] * n
    frozen = [False] * n
    link = [True] * n
    script_ok = [True] * n
    trk_up = [True] * n
    fval = [0] * n
    partitioned = False
    vipset = 0
    events: list[Event] = []
    while len(events) < n_events:
        # a SIGSTOPped daemon is continued by the next event, mostly
        stopped = [i for i in range(n) if frozen[i]]
        if stopped and rng.random() < 0.85:
            i = stopped[0]
            frozen[i] = False
            events.append(Event("sigcont", i))
            continue
        choices: list[tuple[str, float]] = [("reload_prio", 1.0), ("kill", 0.6), ("kill_child", 0.6),
                                            ("stop", 0.6), ("link", 0.8), ("loss", 0.5),
                                            ("vip_delete", 0.5), ("sigstop", 0.7), ("reload_vips", 0.4)]
        if any(s.script_weight is not None for s in cluster.nodes):
            choices.append(("script", 2.0))
        if any(s.trk_weight is not None for s in cluster.nodes):
            choices.append(("trackif", 1.0))
        if any(s.file_weight is not None for s in cluster.nodes):
            choices.append(("trackfile", 1.0))
        if not all(running):
            choices.append(("start", 3.0))
        if not all(link):
            choices.append(("link", 2.0))
        choices.append(("heal", 3.0) if partitioned else ("partition", 0.8))
        op = rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
        i = rng.randrange(n)
        if op == "script":
            i = rng.choice([k for k in range(n) if cluster.nodes[k].script_weight is not None])
            script_ok[i] = not script_ok[i]
            events.append(Event(op, i, script_ok[i]))
        elif op == "trackif":
            i = rng.choice([k for k in range(n) if cluster.nodes[k].trk_weight is not None])
            trk_up[i] = not trk_up[i]
            events.append(Event(op, i, trk_up[i]))
        elif op == "trackfile":
            i = rng.choice([k for k in range(n) if cluster.nodes[k].file_weight is not None])
            fval[i] = rng.choice([v for v in (0, 1, 2) if v != fval[i]])
            events.append(Event(op, i, fval[i]))
        elif op == "reload_prio":
            events.append(Event(op, i, rng.choice(PRIORITIES)))
        elif op == "reload_vips":
            vipset = rng.choice([k for k in range(len(VIP_SETS)) if k != vipset])
            events.append(Event(op, -1, vipset))
        elif op in ("kill", "kill_child", "stop", "sigstop"):
            live = [k for k in range(n) if running[k] and not frozen[k]]
            if not live:
                continue
            i = rng.choice(live)
            if op in ("kill", "stop"):
                running[i] = False
            if op == "sigstop":
                frozen[i] = True
            events.append(Event(op, i))
        elif op == "start":
            i = rng.choice([k for k in range(n) if not running[k]])
            running[i] = True
            events.append(Event(op, i))
        elif op == "link":
            down = [k for k in range(n) if not link[k]]
            if down and rng.random() < 0.8:
                i = down[0]
            link[i] = not link[i]
            events.append(Event(op, i, link[i]))
        elif op == "partition":
            order = list(range(n))
            rng.shuffle(order)
            cut = rng.randrange(1, n)
            groups = (tuple(sorted(order[:cut])), tuple(sorted(order[cut:])))
            partitioned = True
            events.append(Event(op, -1, groups))
        elif op == "heal":
            partitioned = False
            events.append(Event(op))
        elif op == "loss":
            events.append(Event(op, rng.choice((-1, i)), rng.choice((10, 30, 50))))
        elif op == "vip_delete":
            events.append(Event(op))
    return events


# ---------------------------------------------------------------------------------------------
# the model


class Model:
    """What the cluster should look like after each event (see the module docstring)."""

    def __init__(self, cluster: Cluster) -> None:
        self.c = cluster
        n = len(cluster.nodes)
        self.n = n
        self.running = [True] * n
        self.frozen = [False] * n
        self.link = [True] * n
        self.script_ok = [True] * n
        self.trk_up = [True] * n
        self.fval = [0] * n
        self.base = [s.priority for s in cluster.nodes]
        self.vipset = 0
        self.groups: list[frozenset[int]] = [frozenset(range(n))]
        self.definite: set[int] = set()
        self.possible: set[int] = {i for i, s in enumerate(cluster.nodes) if s.state == "MASTER"}
        self.was_master_when_frozen = [False] * n
        # A node SIGSTOPped while its priority changed (tracker, reload) may, once continued, send
        # adverts with its old priority before it processes the change: when it meets another
        # master, either priority may decide.  Kept until the next observation.
        self.frozen_prio = [0] * n
        self.stale_prio: dict[int, int] = {}

    # state -----------------------------------------------------------------------------------
    def fault_and_priority(self, i: int) -> tuple[bool, int]:
        s = self.c.nodes[i]
        fault = not self.link[i]
        total = self.base[i]
        for weight, ok in ((s.script_weight, self.script_ok[i]), (s.trk_weight, self.trk_up[i])):
            if weight is None:
                continue
            if weight == 0:
                fault = fault or not ok
            elif (weight > 0) == ok:
                total += weight
        if s.file_weight is not None:
            if s.file_weight == 0:
                fault = fault or self.fval[i] != 0
            elif self.fval[i] * s.file_weight <= -254:
                fault = True
            else:
                total += self.fval[i] * s.file_weight
        if self.base[i] == 255:
            return fault, 255
        return fault, max(1, min(254, total))

    def preempt_delay(self, i: int) -> float:
        """keepalived clears preempt_delay (and nopreempt) of an instance configured `state MASTER`."""
        s = self.c.nodes[i]
        return 0.0 if s.state == "MASTER" or s.nopreempt else s.preempt_delay

    def priority(self, i: int) -> int:
        return self.fault_and_priority(i)[1]

    def active(self, i: int) -> bool:
        """Running, not SIGSTOPped: its log and interfaces are checked."""
        return self.running[i] and not self.frozen[i]

    def candidate(self, i: int) -> bool:
        """May be master: active and not in FAULT."""
        return self.active(i) and not self.fault_and_priority(i)[0]

    def components(self) -> list[set[int]]:
        """Candidates that hear each other (one master expected in each)."""
        out = []
        for g in self.groups:
            comp = {i for i in g if self.candidate(i)}
            if comp:
                out.append(comp)
        return out

    def expected_state(self, i: int) -> str | None:
        """FAULT or None (BACKUP or MASTER, decided by the election) for an active node."""
        if not self.active(i):
            return None
        return "FAULT" if self.fault_and_priority(i)[0] else None

    # elections -------------------------------------------------------------------------------
    def _resolve(self, comp: set[int], masters: set[int], stale: dict[int, int] | None = None) -> set[int]:
        """Who ends up master; `stale` = priorities some masters may still advertise when they meet."""
        prio = self.priority
        # keepalived clears nopreempt with `state MASTER` or priority 255 (vrrp.c)
        np = [s.nopreempt and s.state != "MASTER" and s.priority != 255 for s in self.c.nodes]
        if masters:
            meet = (lambda k: stale.get(k, prio(k))) if stale else prio
            m0 = max(masters, key=lambda k: (meet(k), k))  # addresses grow with the node index
            preempt = [b for b in comp if b != m0 and not np[b] and prio(b) > prio(m0)]
            if not preempt:
                return {m0}
            top = max(prio(b) for b in preempt)
            return {b for b in preempt if prio(b) == top}
        return {k for k in comp if not any(prio(m) > prio(k) and not np[m] for m in comp)}

    def acceptable(self) -> list[tuple[set[int], set[int]]]:
        """For each component: (its members, the nodes that may be its master)."""
        out = []
        for comp in self.components():
            definite = self.definite & comp
            possible = sorted((self.possible & comp) - definite)
            ok: set[int] = set()
            for r in range(len(possible) + 1):
                for extra in itertools.combinations(possible, r):
                    ok |= self._resolve(comp, definite | set(extra))
                    if self.stale_prio:
                        ok |= self._resolve(comp, definite | set(extra), self.stale_prio)
            out.append((comp, ok))
        return out

    def observed(self, masters: set[int]) -> None:
        """The check saw these masters: they are now the incumbents."""
        self.definite = set(masters)
        self.possible = set()
        self.stale_prio = {}

    # events ----------------------------------------------------------------------------------
    def apply(self, e: Event, advertised: set[int] | None = None) -> None:
        """Apply an event; `advertised` = nodes seen advertising (priority > 0) meanwhile, used for
        events under which a backup may legitimately time out (loss, SIGCONT)."""
        i = e.node
        before = {k for k in range(self.n) if self.candidate(k)}
        if e.op == "script":
            self.script_ok[i] = bool(e.arg)
        elif e.op == "trackif":
            self.trk_up[i] = bool(e.arg)
        elif e.op == "trackfile":
            self.fval[i] = int(e.arg)
        elif e.op == "reload_prio":
            self.base[i] = int(e.arg)
        elif e.op == "reload_vips":
            # The nodes reload one after the other; meanwhile a backup with the new VIPs rejects
            # the master's adverts with the old ones (keepalived's vrrp_check_packet: "ip address
            # associated with VRID not present in MASTER advert", VRRP_PACKET_KO) and may time out:
            # any node may have become master, the meeting of masters then decides.
            self.vipset = int(e.arg)
            self.possible |= {k for k in range(self.n) if self.candidate(k)}
        elif e.op in ("kill", "stop"):
            self.running[i] = False
            self.frozen[i] = False
        elif e.op == "kill_child":
            self._demote(i)
            self._restarted(i)
        elif e.op == "start":
            if not self.running[i]:
                self.running[i] = True
                self._restarted(i)
        elif e.op == "link":
            self.link[i] = bool(e.arg)
        elif e.op == "partition":
            self.groups = [frozenset(g) for g in e.arg]
        elif e.op == "heal":
            self.groups = [frozenset(range(self.n))]
        elif e.op == "vip_delete":
            # keepalived: a master whose VIP is deleted goes BACKUP (keepalived_netlink.c)
            for k in list(self.definite):
                self._demote(k)
        elif e.op == "sigstop":
            if self.active(i):
                self.was_master_when_frozen[i] = i in self.definite
                self.frozen_prio[i] = self.priority(i)
                self.frozen[i] = True
        elif e.op == "sigcont":
            if self.frozen[i]:
                self.frozen[i] = False
                if self.priority(i) != self.frozen_prio[i]:
                    self.stale_prio[i] = self.frozen_prio[i]
                (self.definite if self.was_master_when_frozen[i] else self.possible).add(i)
        if e.op in ("loss", "sigcont") and advertised:
            self.possible |= advertised
        after = {k for k in range(self.n) if self.candidate(k)}
        for k in after - before:  # back from FAULT, started: a backup (or MASTER if so configured)
            if not (e.op == "sigcont" and k == i):  # continued: where it was (set above)
                self._restarted(k)
        if e.op == "link" and e.arg and self.c.unicast and i in after:
            # Unicast: while i's link was down its peers' ARP entries for it failed, and their
            # adverts to it wait in their kernels' neighbour queues until ARP resolves; i, back
            # in BACKUP, may hear nothing for a master-down interval and take over until it meets
            # the master (seed 110021: r2's adverts to r1 were released the moment r1, master
            # for 0.2 s, sent its own ARP request).  keepalived is in the same place.
            self.possible.add(i)
        self.definite &= after
        self.possible &= after

    def _demote(self, i: int) -> None:
        self.definite.discard(i)
        self.possible.discard(i)

    def _restarted(self, i: int) -> None:
        self._demote(i)
        if self.c.nodes[i].state == "MASTER":
            self.possible.add(i)

    # timing ----------------------------------------------------------------------------------
    def settle_time(self, e: Event) -> float:
        """The quiet period after an event, counted from when the daemons concerned showed they took
        it in (the runner waits for their log lines: a script result, a reload, a start), by which
        the cluster must have reached its final state: the slowest master-down interval (a backup
        times out, or hears a lower priority and preempts), one advert (the loser hears the winner),
        the longest preempt_delay, and a margin for a loaded machine."""
        c = self.c
        t = c.master_down(1) + c.advert_int + LOAD_MARGIN
        t += max((self.preempt_delay(k) for k in range(self.n)), default=0.0)
        return t
