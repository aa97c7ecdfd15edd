"""The sans-IO VRRP state machine of one `vrrp_instance` (keepalived 2.2.7 behaviour).

    router = VirtualRouter(params)
    actions = router.handle(Startup(), now)       # then perform the actions, in order
    ...                                            # and re-arm a timer at router.deadline()
    actions = router.handle(DeadlineReached(), now)

Rules of this file (h11's "constitution" style):

1. `_TABLE` maps every (state, event type) pair to one handler.  There are no other entry
   points: `handle()` looks the cell up and calls it.
2. `self.state` is assigned in exactly one place, `_transition()`, which also emits the
   entry/exit actions, the Notify action, keepalived's log line, the counters and the
   transition time and reason.
3. `now` is always a parameter; nothing here reads a clock, opens a socket or sleeps.
4. Log lines that keepalived prints are byte-identical to 2.2.7's (spec §3.7, App. B); the
   lines keepalived prints only with -D are gated by `params.log_detail`. Lines a received
   packet causes go through `self.lines` (log.LineLimit: at most LINE_RATE a second each).

Periodic adverts are *not* produced here: entering MASTER emits StartAdvertising and the IO
layer sends them from ideal times by itself (and adds them to `stats.advert_sent`).  The
core's own deadline covers the master-down timer (BACKUP) and the delayed / refresh /
lower-priority GARP bursts (MASTER).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import IntEnum

from pykeepalived.config.reload import delta, route_key, rule_key
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
from pykeepalived.core.events import (
    AdvertReceived,
    AdvertRejected,
    DeadlineReached,
    Event,
    FaultChanged,
    InstanceDeleted,
    LinkChanged,
    PriorityChanged,
    RejectReason,
    Shutdown,
    Startup,
    VipDeleted,
)
from pykeepalived.core.params import AUTH_AH, AUTH_NONE, AUTH_PASS, PRIORITY_OWNER, RouterParams
from pykeepalived.log import LineLimit

log = logging.getLogger(__name__)

VRRP_TYPE_ADVERT = 1
LINK_FAULT = "interface"     # the FaultChanged source used for the instance's own interface


class State(IntEnum):
    """keepalived's state numbers, as the dumps print them."""

    INIT = 0
    BACKUP = 1
    MASTER = 2
    FAULT = 3
    DELETED = 97
    STOP = 98


@dataclass(slots=True)
class Stats:
    """The counters of the SIGUSR2 stats file (§3.4) under their JSON names (§3.5)."""

    advert_rcvd: int = 0
    advert_sent: int = 0
    become_master: int = 0
    release_master: int = 0
    packet_len_err: int = 0
    advert_interval_err: int = 0
    ip_ttl_err: int = 0
    invalid_type_rcvd: int = 0
    addr_list_err: int = 0
    invalid_authtype: int = 0
    authtype_mismatch: int = 0
    auth_failure: int = 0
    pri_zero_rcvd: int = 0
    pri_zero_sent: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def clear(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


# Which counter each codec rejection bumps (None: keepalived only logs it).
REJECT_COUNTERS: dict[RejectReason, str | None] = {
    RejectReason.LENGTH: "packet_len_err",
    RejectReason.VERSION: None,
    RejectReason.TYPE: "invalid_type_rcvd",
    RejectReason.CHECKSUM: None,
    RejectReason.ADDR_COUNT: "packet_len_err",
    RejectReason.AUTH: "invalid_authtype",
    RejectReason.TTL: "ip_ttl_err",
    RejectReason.AH: "authtype_mismatch",
    RejectReason.AH_ICV: "auth_failure",
}
# keepalived's wording for the rejections the codec finds before the core sees the advert.
REJECT_TEXTS: dict[RejectReason, str] = {
    RejectReason.LENGTH: "vrrp packet length error from %s",
    RejectReason.VERSION: "wrong version from %s",
    RejectReason.TYPE: "Invalid packet type from %s",
    RejectReason.CHECKSUM: "Invalid VRRP checksum from %s",
    RejectReason.ADDR_COUNT: "vrrp packet length does not match the address count from %s",
    RejectReason.AUTH: "Invalid auth type from %s",
    RejectReason.TTL: "invalid TTL/HL from %s",
    RejectReason.AH: "AH header mismatch from %s",
    RejectReason.AH_ICV: "invalid IPSEC-AH digest from %s",
}


def _ntop(packed: bytes) -> str:
    return str(ipaddress.ip_address(packed))


def _is_multicast(packed: bytes) -> bool:
    if len(packed) == 4:
        return 224 <= packed[0] <= 239
    return packed[:1] == b"\xff"


Handler = Callable[["VirtualRouter", Event, float], list[Action]]


class VirtualRouter:
    """One VRRP instance.  Feed it events with `handle()`; ask `deadline()` when to wake it.

    Read-only attributes for dumps, status and metrics (update only through events):
    `state`, `wantstate` (State), `stats` (Stats), `base_priority`, `effective_priority`,
    `adver_int_us` (configured) and `master_adver_int_us` (in use; `adver_int` in seconds),
    `master_address` (packed) / `master_address_text`, `master_priority`, `last_transition`
    (the `now` of the last state change) and `last_transition_reason`, `faults` (set of fault
    sources), `params` (RouterParams).
    `stats.advert_sent` counts the adverts the core asked for (SendAdvert); the IO layer adds
    the periodic ones it sends for StartAdvertising.
    """

    def __init__(self, params: RouterParams) -> None:
        self.params = params
        self.name = params.name
        self.state = State.INIT
        self.wantstate = State.BACKUP
        self.stats = Stats()
        self.base_priority = params.priority
        self.effective_priority = params.priority
        self.adver_int_us = timing.to_us(params.advert_int)
        self.master_adver_int_us = self.adver_int_us
        self.master_address: bytes | None = None   # packed source of the last accepted advert
        self.master_priority = 0
        self.last_transition = 0.0
        self.last_transition_reason = ""
        self.faults: set[str] = set()
        # For the status API: recent transitions (time, from, to, reason), and the takeover
        # times measured here (from the old master's last advert to our own takeover).
        self.transitions: deque[tuple[float, State, State, str]] = deque(maxlen=16)
        self.takeover_times: deque[float] = deque(maxlen=256)
        self._last_master_advert_at: float | None = None
        self._initial_faults: set[str] = set()       # faults of scripts with no result yet
        self._fault_quiet = False                     # in FAULT entered without log or notify
        # Sync-group hook: called when the master-down timer fires; False keeps us in BACKUP
        # (wanting MASTER) until the group lets every member go (core.sync_group).
        self.sync_gate: Callable[[VirtualRouter], bool] | None = None
        self._down_at: float | None = None           # BACKUP: master-down timer
        self._garp_at: float | None = None           # MASTER: delayed second GARP burst
        self._garp_refresh_at: float | None = None   # MASTER: garp_master_refresh
        self._lower_garp_at: list[float] = []        # MASTER: delayed lower-priority bursts (one each)
        self._preempt_until: float | None = None     # BACKUP: preempt_delay running until
        self._logged: set[str] = set()               # errors logged since the last state/master change
        # Log lines a received packet causes are rate-limited (a flood writes one per packet).
        # Their periods run on the time of the last event handled, unless the IO layer gives
        # `lines.clock` its own clock (it does: a flood read late must not open a period per
        # batch, and summaries are due even when no event comes); nothing here reads a clock.
        self._now = 0.0
        self.lines = LineLimit(log, f"({self.name}) ", clock=lambda: self._now)
        self._vip_packed = frozenset(v.packed for v in params.vips)
        self._peers = {p.packed: p for p in params.unicast_peers}
        self._source_packed = params.source_packed
        self._auth_bytes = params.auth_bytes
        # The last event handled, if it was a master's advert taken the plain way (see absorbable).
        self._absorbable: Event | None = None

    # ------------------------------------------------------------------ public API

    @property
    def adver_int(self) -> float:
        """The advert interval in use, seconds (the master's, in a v3 BACKUP)."""
        return timing.seconds(self.master_adver_int_us)

    @property
    def master_address_text(self) -> str | None:
        return None if self.master_address is None else _ntop(self.master_address)

    def handle(self, event: Event, now: float) -> list[Action]:
        """Process one event at time `now`; return the actions to perform, in order."""
        self._absorbable = None
        self._now = now
        handler = _TABLE[(self.state, type(event))]
        return handler(self, event, now)

    def absorbable(self, event: Event) -> bool:
        """True if `event` is the last event handled and was an advert that a BACKUP accepted
        from its master the plain way: valid, priority > 0, taken because of its priority
        (>= ours) or nopreempt, not because a preempt_delay is still running, its only effect
        the master-down timer restarted from its arrival (and, the first time, the master or
        the interval learnt).  Handling a byte-identical copy (same source, destination and
        TTL) later would then do exactly the same and nothing else, so the IO layer may
        absorb such copies and replay only the last one (vrrp/runtime.py, _maybe_shortcut).

        Every other advert is False: discarded (lower priority while free to preempt), held
        only by a running preempt_delay, priority 0, or rejected by validation (TTL, version,
        auth, interval, type, address count or list, checksum, unicast/multicast, peer)."""
        return event is self._absorbable and self.state == State.BACKUP

    def deadline(self) -> float | None:
        """When `DeadlineReached` must be delivered next (None: no timer)."""
        times = [t for t in (self._down_at, self._garp_at, self._garp_refresh_at) if t is not None]
        if self._lower_garp_at:
            times.append(self._lower_garp_at[0])
        return min(times) if times else None

    def force_state(self, state: State, now: float, reason: str) -> list[Action]:
        """Move to BACKUP, MASTER or FAULT on behalf of a sync group (one member's change)."""
        self._absorbable = None
        if state == self.state:
            return []
        if state == State.BACKUP:
            self.master_adver_int_us = self.adver_int_us
            self._down_at = now + self._master_down_s()
        return self._transition(state, now, reason)

    def reconfigure(self, params: RouterParams, now: float) -> list[Action]:
        """Take a reload's new parameters without a state change (the instance keeps its name,
        VRID, family, version and unicast/multicast mode; anything else is a new instance).

        A MASTER removes the VIPs that are gone and adds the new ones with a gratuitous burst
        for those only; a new base priority moves the effective one by the same amount (as a
        tracker's PriorityChanged would: a MASTER re-schedules its adverts, a BACKUP's down
        timer shifts); a new advert interval re-schedules a MASTER's adverts.  A MASTER that
        re-schedules sends one advert at once, so that the change leaves no gap."""
        old = self.params
        if (params.name, params.vrid, params.family, params.version, params.is_unicast) != \
                (old.name, old.vrid, old.family, old.version, old.is_unicast):
            raise ValueError(f"({old.name}) identity changed: delete the instance and add it again")
        self._absorbable = None
        self.params = params
        self._vip_packed = frozenset(v.packed for v in params.vips)
        self._peers = {p.packed: p for p in params.unicast_peers}
        self._source_packed = params.source_packed
        self._auth_bytes = params.auth_bytes
        master = self.state == State.MASTER
        if master:
            self.master_address = self._source_packed
        actions: list[Action] = []

        if master:
            gone = [v for v in old.vips if v not in params.vips], [v for v in old.evips if v not in params.evips]
            new = [v for v in params.vips if v not in old.vips], [v for v in params.evips if v not in old.evips]
            if gone[0] or gone[1]:
                if not old.accept:
                    actions.append(RemoveNoAcceptRules(tuple(v.address for v in gone[0] + gone[1])))
                actions.append(RemoveVips(tuple(gone[0]), tuple(gone[1]), old.accept))
            if new[0] or new[1]:
                if not params.accept:
                    actions.append(AddNoAcceptRules(tuple(v.address for v in new[0] + new[1])))
                actions.append(AddVips(tuple(new[0]), tuple(new[1]), params.accept))
                if params.garp_master_repeat > 0:
                    actions.append(SendGratuitous(params.garp_master_repeat, tuple(new[0] + new[1])))
            if params.garp_master_refresh != old.garp_master_refresh:
                self._garp_refresh_at = now + params.garp_master_refresh if params.garp_master_refresh > 0 else None
        if params.preempt_delay != old.preempt_delay or params.nopreempt != old.nopreempt:
            self._preempt_until = None

        interval_us = timing.to_us(params.advert_int)
        reschedule = interval_us != self.adver_int_us
        if reschedule:
            self.adver_int_us = interval_us
            if self.state != State.BACKUP or params.version == 2:   # a v3 backup keeps the master's
                self.master_adver_int_us = interval_us

        if params.priority != self.base_priority:
            old_base, self.base_priority = self.base_priority, params.priority
            if PRIORITY_OWNER in (old_base, params.priority):
                target = params.priority      # tracking never moves an owner
            else:
                target = min(max(self.effective_priority + params.priority - old_base, 1), PRIORITY_OWNER - 1)
            changed = self._set_effective_priority(target)
            reschedule = reschedule and not any(isinstance(a, StartAdvertising) for a in changed)
            actions.extend(changed)
        if reschedule and master:
            actions.append(StartAdvertising(timing.seconds(self.adver_int_us), self.effective_priority))
        if master and any(isinstance(a, StartAdvertising) for a in actions):
            # One advert at once (as 2.2.7 on SIGHUP): the new schedule starts an interval later.
            at = next(i for i, a in enumerate(actions) if isinstance(a, StartAdvertising))
            actions.insert(at, self._send(self.effective_priority))
        if master:
            actions.extend(_route_changes(old, params))
        return actions

    # ------------------------------------------------------------------ the one transition

    def _transition(self, to: State, now: float, reason: str, *, init: bool = False,
                    quiet: bool = False) -> list[Action]:
        """Change state: exit actions, log, entry actions, notify, counters.  The only writer
        of `self.state`.  `quiet`: no log line and no notify (FAULT at start for scripts that
        have not reported yet, as keepalived)."""
        frm = self.state
        p = self.params
        actions: list[Action] = []
        routes_out: Action | None = None   # virtual_routes / rules: out leaving MASTER, in entering it

        # Exit MASTER: stop the adverts; say goodbye with priority 0 unless another router
        # has just won (then keepalived just goes quiet); drop the VIPs.
        if frm == State.MASTER:
            actions.append(StopAdvertising())
            if to in (State.FAULT, State.STOP, State.DELETED):
                actions.append(self._send(0))
            actions.extend(self._remove_vips())
            if p.virtual_routes or p.virtual_rules:
                routes_out = RemoveRoutes(p.virtual_routes, p.virtual_rules)
            self._garp_at = self._garp_refresh_at = None
            self._lower_garp_at.clear()
            self.stats.release_master += 1

        self.state = to
        self._fault_quiet = quiet and to == State.FAULT
        self.wantstate = to if to != State.INIT else self.wantstate
        self.last_transition = now
        self.last_transition_reason = reason
        self.transitions.append((now, frm, to, reason))
        self._logged.clear()
        suffix = " (init)" if init else ""

        if to == State.MASTER:
            self._down_at = None
            self._preempt_until = None
            if self.master_adver_int_us != self.adver_int_us:
                if p.log_detail:
                    log.info("(%s) changing advert interval from %dms to locally configured %dms", self.name,
                             self.master_adver_int_us // 1000, self.adver_int_us // 1000)
                self.master_adver_int_us = self.adver_int_us
            actions.append(self._send(self.effective_priority))   # advert first (§4.6)
            log.info("(%s) Entering MASTER STATE", self.name)
            actions.append(StartAdvertising(timing.seconds(self.adver_int_us), self.effective_priority))
            actions.extend(self._add_vips())
            actions.extend(self._gratuitous(p.garp_master_repeat))
            self._garp_at = now + p.garp_master_delay if p.garp_master_delay > 0 else None
            self._garp_refresh_at = now + p.garp_master_refresh if p.garp_master_refresh > 0 else None
            self.master_address = self._source_packed
            self.master_priority = self.effective_priority
            self.stats.become_master += 1
            if p.virtual_routes or p.virtual_rules:
                routes_out = InstallRoutes(p.virtual_routes, p.virtual_rules)
        elif to == State.BACKUP:
            self._preempt_until = None
            log.info("(%s) Entering BACKUP STATE%s", self.name, suffix)
        elif to == State.FAULT:
            self._down_at = None
            if not quiet:
                log.info("(%s) Entering FAULT STATE%s", self.name, suffix)
        else:   # STOP, DELETED: terminal
            self._down_at = None

        if routes_out is not None:
            actions.append(routes_out)       # before the notify scripts run, as keepalived
        if not quiet:
            actions.append(self._notify(self._state_word(to)))
        return actions

    # ------------------------------------------------------------------ handlers

    def _ignore(self, event: Event, now: float) -> list[Action]:
        return []

    def _on_startup(self, event: Event, now: float) -> list[Action]:
        # Pre-existing copies of our VIPs are removed first (keepalived logs it at start).
        actions = self._remove_vips()
        if self.faults:
            quiet = self.faults <= self._initial_faults
            return actions + self._transition(State.FAULT, now, "startup with fault", init=True, quiet=quiet)
        if self.base_priority == PRIORITY_OWNER:
            # The owner never logs BACKUP (init): its timer fires after 1 us.
            if self.params.log_detail:
                log.info("(%s) Receive advertisement timeout", self.name)
            return actions + self._transition(State.MASTER, now, "address owner")
        self._down_at = now + self._master_down_s()
        return actions + self._transition(State.BACKUP, now, "startup", init=True)

    def _record_fault(self, event: Event, now: float) -> list[Action]:
        """Before Startup: just remember the fault so that Startup goes to FAULT."""
        self._apply_fault(event)
        return []

    def _on_fault_change(self, event: Event, now: float) -> list[Action]:
        changed = self._apply_fault(event)
        if self._fault_quiet and self.state == State.FAULT and not self.faults <= self._initial_faults:
            # FAULT entered silently at start (scripts with no result yet): a script's first
            # failing result is when keepalived logs and notifies it.
            self._fault_quiet = False
            log.info("(%s) Entering FAULT STATE", self.name)
            return [self._notify(self._state_word(State.FAULT))]
        if not changed:
            return []
        if self.faults and self.state != State.FAULT:
            return self._transition(State.FAULT, now, "fault: " + ", ".join(sorted(self.faults)))
        if not self.faults and self.state == State.FAULT:
            self.master_adver_int_us = self.adver_int_us
            if self.base_priority == PRIORITY_OWNER:
                return self._transition(State.MASTER, now, "fault cleared (address owner)")
            self._down_at = now + self._master_down_s()
            return self._transition(State.BACKUP, now, "fault cleared")
        return []

    def _on_priority(self, event: Event, now: float) -> list[Action]:
        assert isinstance(event, PriorityChanged)
        if self.base_priority == PRIORITY_OWNER:
            return []    # tracking never moves an owner (§2.5)
        return self._set_effective_priority(event.priority)

    def _set_effective_priority(self, new: int) -> list[Action]:
        old = self.effective_priority
        if old == new:
            return []
        if self.state == State.INIT:
            self.effective_priority = new    # initial tracker state: applied silently
            return []
        log.info("(%s) Changing effective priority from %d to %d", self.name, old, new)
        self.effective_priority = new
        actions: list[Action] = []
        if self.state == State.BACKUP and self._down_at is not None:
            # A pending master-down timer moves by the change in skew (vrrp_set_effective_priority).
            shift = (timing.skew_us(self.params.version, new, self.master_adver_int_us)
                     - timing.skew_us(self.params.version, old, self.master_adver_int_us))
            self._down_at += timing.seconds(shift)
        elif self.state == State.MASTER:
            self.master_priority = new
            actions.append(StartAdvertising(timing.seconds(self.adver_int_us), new))
        if self.params.notify_priority_changes and self.state in (State.MASTER, State.BACKUP):
            actions.append(self._notify(f"{self._state_word(self.state)}_PRIORITY"))
        return actions

    def _on_rejected(self, event: Event, now: float) -> list[Action]:
        assert isinstance(event, AdvertRejected)
        try:
            reason = RejectReason(event.reason)
        except ValueError:
            self._log_once(f"reject{event.reason}", "(%s) packet rejected (reason %s)", self.name, event.reason)
            return []
        counter = REJECT_COUNTERS[reason]
        if counter is not None:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        text = event.detail or REJECT_TEXTS[reason] % _ntop(event.src)
        if reason == RejectReason.AH_ICV:
            self.lines.info("(%s) %s", self.name, text)    # keepalived 2.2.7 logs every AH failure
        else:
            self._log_once(reason.name, "(%s) %s", self.name, text)
        return []   # the master-down timer keeps running (§4.8)

    def _backup_rx(self, event: Event, now: float) -> list[Action]:
        assert isinstance(event, AdvertReceived)
        adv = event.advert
        check_addr = not self.params.skip_check_adv_addr or event.src != self.master_address
        if not self._valid(event, check_addr):
            return []
        p = self.params
        if adv.priority == 0:
            if p.log_detail:
                self.lines.info("(%s) Backup received priority 0 advertisement", self.name)
            self._last_master_advert_at = now
            self._down_at = now + timing.seconds(self._skew_us())
            return []
        preempt_running = p.preempt_delay > 0 and (self._preempt_until is None or self._preempt_until > now)
        if p.nopreempt or adv.priority >= self.effective_priority or preempt_running:
            if p.version == 3:
                self._adopt_interval(adv.adver_int, "master")
            self._set_master(event.src, adv.priority)
            self._last_master_advert_at = now
            self._down_at = now + self._master_down_s()
            if p.preempt_delay > 0:
                if adv.priority >= self.effective_priority:
                    self._preempt_until = None
                elif self._preempt_until is None:
                    self._preempt_until = now + p.preempt_delay
            self.wantstate = State.BACKUP
            if p.nopreempt or adv.priority >= self.effective_priority:
                self._absorbable = event    # a copy would do just this again (see absorbable)
            return []
        # Lower priority and free to preempt: ignore it, so that our timer runs out.
        self.lines.info("(%s) received lower priority (%d) advert from %s - discarding",
                         self.name, adv.priority, _ntop(event.src))
        self._set_master(event.src, self.master_priority)
        return []

    def _backup_timeout(self, event: Event, now: float) -> list[Action]:
        if self._down_at is None or now < self._down_at:
            return []
        self._down_at = None
        if self.params.log_detail:
            log.info("(%s) Receive advertisement timeout", self.name)
        self.wantstate = State.MASTER
        if self.sync_gate is not None and not self.sync_gate(self):
            return []    # the sync group moves us when every member wants MASTER
        if self._last_master_advert_at is not None:
            self.takeover_times.append(now - self._last_master_advert_at)
            self._last_master_advert_at = None
        return self._transition(State.MASTER, now, "master down timer expired")

    def _master_rx(self, event: Event, now: float) -> list[Action]:
        assert isinstance(event, AdvertReceived)
        if not self._valid(event, check_addr=True):
            return []
        p = self.params
        adv = event.advert
        ours = self._source_packed
        addr_cmp = 0 if ours is None or len(ours) != len(event.src) else (event.src > ours) - (event.src < ours)
        actions: list[Action] = []
        prio, eff = adv.priority, self.effective_priority

        if prio == 0 or (p.higher_prio_send_advert and (prio > eff or (prio == eff and addr_cmp > 0))):
            actions.append(self._send(eff))
            if prio == 0:
                if p.log_detail:
                    self.lines.info("(%s) Master received priority 0 message", self.name)
                return actions

        if prio == eff:
            if addr_cmp == 0:
                self.lines.info("(%s) WARNING - equal priority advert received from remote host with our "
                                 "IP address.", self.name)
            elif eff == PRIORITY_OWNER:
                # Two address owners: a configuration error; step down to 254 (rogue owner).
                log.info("(%s) CONFIGURATION ERROR: local instance and a remote instance are both configured "
                         "as address owner, please fix - reducing local priority", self.name)
                self.effective_priority = self.base_priority = eff = PRIORITY_OWNER - 1

        if prio < eff or (prio == eff and addr_cmp < 0):
            self.lines.info("(%s) Received advert from %s with lower priority %d, ours %d%s", self.name,
                             _ntop(event.src), prio, eff, "" if p.lower_prio_no_advert else ", forcing new election")
            if not p.lower_prio_no_advert:
                actions.append(self._send(eff))
            if p.garp_lower_prio_repeat:
                actions.extend(self._gratuitous(p.garp_lower_prio_repeat))
                if p.garp_lower_prio_delay > 0:
                    # Like keepalived's per-advert timer threads: every answer gets its own
                    # delayed burst, even if an earlier one is still pending.
                    self._lower_garp_at.append(now + p.garp_lower_prio_delay)
            actions.append(self._notify("MASTER_RX_LOWER_PRI"))
            return actions

        if prio > eff or (prio == eff and addr_cmp > 0):
            if prio > eff:
                log.info("(%s) Master received advert from %s with higher priority %d, ours %d",
                         self.name, _ntop(event.src), prio, eff)
            else:
                log.info("(%s) Master received advert from %s with same priority %d but higher IP address "
                         "than ours", self.name, _ntop(event.src), prio)
            if p.version == 3:
                self._adopt_interval(adv.adver_int, "new master")
            self._down_at = now + self._master_down_s()
            actions.extend(self._transition(State.BACKUP, now, f"higher priority advert from {_ntop(event.src)}"))
            self._set_master(event.src, prio)
            return actions
        return actions

    def _master_timers(self, event: Event, now: float) -> list[Action]:
        p = self.params
        actions: list[Action] = []
        if self._garp_at is not None and now >= self._garp_at:
            self._garp_at = None
            actions.extend(self._gratuitous(p.garp_master_repeat))
        while self._lower_garp_at and now >= self._lower_garp_at[0]:
            self._lower_garp_at.pop(0)
            actions.extend(self._gratuitous(p.garp_lower_prio_repeat))
        if self._garp_refresh_at is not None and now >= self._garp_refresh_at:
            # Keep the refresh on its ideal grid (no drift), skipping missed slots.
            while self._garp_refresh_at <= now:
                self._garp_refresh_at += p.garp_master_refresh
            actions.extend(self._gratuitous(p.garp_master_refresh_repeat))
        return actions

    def _vip_deleted(self, event: Event, now: float) -> list[Action]:
        assert isinstance(event, VipDeleted)
        vip = next((v for v in self.params.vips + self.params.evips if v.address == event.address), None)
        if vip is None or vip.no_track:
            return []
        # keepalived drops to BACKUP and re-elects after Skew_Time, re-adding the VIP (App. B).
        self._down_at = now + timing.seconds(self._skew_us())
        return self._transition(State.BACKUP, now, f"VIP {event.address} deleted")

    def _stop(self, event: Event, now: float) -> list[Action]:
        return self._transition(State.STOP, now, "shutdown")

    def _delete(self, event: Event, now: float) -> list[Action]:
        return self._transition(State.DELETED, now, "instance deleted")

    # ------------------------------------------------------------------ validation (§4.8)

    def _valid(self, event: AdvertReceived, check_addr: bool) -> bool:
        """keepalived 2.2.7's vrrp_check_packet order (the codec already did length, AH and
        IP total length).  Counts and logs every rejection; True if the advert is usable."""
        p, adv, st, name = self.params, event.advert, self.stats, self.name
        if not p.is_unicast and event.ttl not in (-1, 255):
            st.ip_ttl_err += 1
            return self._log_once("ttl", "(%s) invalid TTL/HL. Received %d and expect %d", name, event.ttl, 255)
        if adv.version != p.version:
            return self._log_once("version", "(%s) wrong version. Received %d and expect %d",
                                  name, adv.version, p.version)
        if p.version == 2:
            if adv.auth_type not in (AUTH_NONE, AUTH_PASS, AUTH_AH):
                st.invalid_authtype += 1
                return self._log_once("authtype", "(%s) Invalid auth type: %d", name, adv.auth_type)
            if adv.auth_type != p.auth_type:
                st.authtype_mismatch += 1
                return self._log_once("authmismatch", "(%s) received a %d auth, expecting %d!",
                                      name, adv.auth_type, p.auth_type)
            if p.auth_type == AUTH_PASS and not hmac.compare_digest(bytes(adv.auth_data[:8]), self._auth_bytes):
                st.auth_failure += 1
                return self._log_once("passwd", "(%s) received an invalid passwd!", name)
            if timing.adver_int_us_from_wire(2, adv.adver_int) != self.adver_int_us:
                st.advert_interval_err += 1
                return self._log_once("interval", "(%s) advertisement interval mismatch mine=%d sec rcv'd=%d sec",
                                      name, self.adver_int_us // timing.TIMER_HZ, adv.adver_int)
        if adv.type != VRRP_TYPE_ADVERT:
            st.invalid_type_rcvd += 1
            return self._log_once("type", "(%s) Invalid packet type. %d and expect %d",
                                  name, adv.type, VRRP_TYPE_ADVERT)
        if check_addr and adv.count != len(p.vips):
            st.addr_list_err += 1
            return self._log_once("count", "(%s) received an unexpected ip number count %d, expected %d!",
                                  name, adv.count, len(p.vips))
        if not event.checksum_ok and not (p.version == 3 and p.v3_checksum_as_v2):
            return self._log_once("checksum", "(%s) Invalid VRRPv%d checksum", name, p.version)
        if event.dst and _is_multicast(event.dst) == p.is_unicast:     # b"": destination unknown
            st.addr_list_err += 1
            return self._log_once("dst", "(%s) Expected %sicast packet but received %sicast packet", name,
                                  "un" if p.is_unicast else "mult", "mult" if p.is_unicast else "un")
        if p.owner_ignore_adverts and self.base_priority == PRIORITY_OWNER:
            return False
        st.advert_rcvd += 1
        if check_addr:
            if not self._vip_packed.issubset(adv.addresses):
                missing = next(v for v in p.vips if v.packed not in adv.addresses)
                st.addr_list_err += 1
                return self._log_once("viplist", "(%s) ip address associated with VRID %d not present in "
                                      "MASTER advert : %s", name, p.vrid, missing.address)
            if p.is_unicast and p.check_unicast_src:
                peer = self._peers.get(event.src)
                if peer is None:
                    return self._log_once("peer", "(%s) unicast source address %s not a unicast peer",
                                          name, _ntop(event.src))
                if event.ttl != -1 and not peer.min_ttl <= event.ttl <= peer.max_ttl:
                    st.ip_ttl_err += 1
                    return self._log_once("peerttl", "(%s) TTL/HL %d not in range %d - %d",
                                          name, event.ttl, peer.min_ttl, peer.max_ttl)
        if adv.priority == 0:
            st.pri_zero_rcvd += 1
        return True

    def _log_once(self, key: str, fmt: str, *args: object) -> bool:
        """Log an advert error once until the next state or master change; returns False so
        that validation can `return self._log_once(...)`."""
        if key not in self._logged:
            self._logged.add(key)
            self.lines.info(fmt, *args)   # per packet if every packet is a new master
        return False

    # ------------------------------------------------------------------ helpers

    def _skew_us(self) -> int:
        return timing.skew_us(self.params.version, self.effective_priority, self.master_adver_int_us)

    def _master_down_s(self) -> float:
        return timing.seconds(timing.master_down_us(self.params.version, self.effective_priority,
                                                    self.master_adver_int_us, self.params.down_timer_adverts))

    def _adopt_interval(self, wire_value: int, by: str) -> None:
        """RFC 5798: a v3 backup uses the master's advertised interval (logged on change)."""
        new = timing.adver_int_us_from_wire(3, wire_value)
        if new != self.master_adver_int_us and new > 0:
            if self.params.log_detail:      # keepalived logs it only with -D (LOG_DETAIL)
                self.lines.info("(%s) advertisement interval updated from %dms to %dms by %s",
                                 self.name, self.master_adver_int_us // 1000, new // 1000, by)
            self.master_adver_int_us = new

    def _set_master(self, src: bytes, priority: int) -> None:
        if src != self.master_address:
            self._logged.clear()     # errors are logged again for a new master
        self.master_address = src
        self.master_priority = priority

    def _apply_fault(self, event: Event) -> bool:
        """Update the fault set from LinkChanged/FaultChanged; True if it changed."""
        if isinstance(event, LinkChanged):
            if self.params.dont_track_primary:
                return False
            source, fault = LINK_FAULT, not event.up
        else:
            assert isinstance(event, FaultChanged)
            source, fault = event.source, event.fault
        before = bool(self.faults)
        if fault:
            self.faults.add(source)
            if isinstance(event, FaultChanged) and event.initial:
                self._initial_faults.add(source)
            else:
                self._initial_faults.discard(source)
        else:
            self.faults.discard(source)
            self._initial_faults.discard(source)
        return before != bool(self.faults)

    def _send(self, priority: int) -> SendAdvert:
        self.stats.advert_sent += 1
        if priority == 0:
            self.stats.pri_zero_sent += 1
            if self.params.log_detail:
                log.info("(%s) sent 0 priority", self.name)
        return SendAdvert(priority)

    def _add_vips(self) -> list[Action]:
        p = self.params
        if not p.vips and not p.evips:
            return []
        log.info("(%s) setting VIPs.", self.name)
        if p.accept:
            return [AddVips(p.vips, p.evips, True)]
        # The drop rules first: a non-accept master never answers on its VIPs.
        return [AddNoAcceptRules(self._vip_addresses), AddVips(p.vips, p.evips, False)]

    def _remove_vips(self) -> list[Action]:
        p = self.params
        if not p.vips and not p.evips:
            return []
        log.info("(%s) removing VIPs.", self.name)
        if p.accept:
            return [RemoveVips(p.vips, p.evips, True)]
        return [RemoveNoAcceptRules(self._vip_addresses), RemoveVips(p.vips, p.evips, False)]

    @property
    def _vip_addresses(self) -> tuple[str, ...]:
        return tuple(v.address for v in self.params.vips + self.params.evips)

    def _gratuitous(self, count: int) -> list[Action]:
        addresses = self.params.vips + self.params.evips
        if count <= 0 or not addresses:
            return []
        return [SendGratuitous(count, addresses)]

    def _notify(self, state: str) -> Notify:
        return Notify("INSTANCE", self.name, state, self.effective_priority)

    def _state_word(self, state: State) -> str:
        if state == State.DELETED and not self.params.notify_deleted:
            return "FAULT"     # keepalived notifies a deleted instance as FAULT (§3.1)
        return state.name


def _route_changes(old: RouterParams, new: RouterParams) -> list[Action]:
    """A MASTER's reload: the virtual routes / rules that went or changed out, the new and
    changed ones in (changed: same key, other attributes)."""
    routes = delta(old.virtual_routes, new.virtual_routes, route_key)
    rules = delta(old.virtual_rules, new.virtual_rules, rule_key)
    out: list[Action] = []
    gone = (routes.removed + tuple(o for o, _ in routes.changed), rules.removed + tuple(o for o, _ in rules.changed))
    added = (routes.added + tuple(n for _, n in routes.changed), rules.added + tuple(n for _, n in rules.changed))
    if gone[0] or gone[1]:
        out.append(RemoveRoutes(*gone))
    if added[0] or added[1]:
        out.append(InstallRoutes(*added))
    return out


# ---------------------------------------------------------------------- the transition table
# Every (state, event type) cell is listed; tests/core/test_vrrp_table.py exercises each one.

_R = VirtualRouter
_TABLE: dict[tuple[State, type], Handler] = {}


def _row(state: State, **cells: Handler) -> None:
    names = {
        "startup": Startup, "advert": AdvertReceived, "rejected": AdvertRejected,
        "deadline": DeadlineReached, "link": LinkChanged, "fault": FaultChanged,
        "priority": PriorityChanged, "vip_deleted": VipDeleted, "shutdown": Shutdown,
        "deleted": InstanceDeleted,
    }
    assert set(cells) == set(names), f"row {state.name} must list every event"
    for key, handler in cells.items():
        _TABLE[(state, names[key])] = handler


_row(State.INIT, startup=_R._on_startup, advert=_R._ignore, rejected=_R._ignore, deadline=_R._ignore,
     link=_R._record_fault, fault=_R._record_fault, priority=_R._on_priority, vip_deleted=_R._ignore,
     shutdown=_R._stop, deleted=_R._delete)
_row(State.BACKUP, startup=_R._ignore, advert=_R._backup_rx, rejected=_R._on_rejected,
     deadline=_R._backup_timeout, link=_R._on_fault_change, fault=_R._on_fault_change,
     priority=_R._on_priority, vip_deleted=_R._ignore, shutdown=_R._stop, deleted=_R._delete)
_row(State.MASTER, startup=_R._ignore, advert=_R._master_rx, rejected=_R._on_rejected,
     deadline=_R._master_timers, link=_R._on_fault_change, fault=_R._on_fault_change,
     priority=_R._on_priority, vip_deleted=_R._vip_deleted, shutdown=_R._stop, deleted=_R._delete)
_row(State.FAULT, startup=_R._ignore, advert=_R._ignore, rejected=_R._ignore, deadline=_R._ignore,
     link=_R._on_fault_change, fault=_R._on_fault_change, priority=_R._on_priority,
     vip_deleted=_R._ignore, shutdown=_R._stop, deleted=_R._delete)
for _terminal in (State.STOP, State.DELETED):
    _row(_terminal, startup=_R._ignore, advert=_R._ignore, rejected=_R._ignore, deadline=_R._ignore,
         link=_R._ignore, fault=_R._ignore, priority=_R._ignore, vip_deleted=_R._ignore,
         shutdown=_R._ignore, deleted=_R._ignore)

TRANSITION_TABLE = _TABLE   # read-only view for tests and documentation
