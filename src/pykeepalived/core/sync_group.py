"""vrrp_sync_group: member instances move together (keepalived's vrrp_sync.c), sans IO.

    group = SyncGroup("SG1", [router_vi1, router_vi2])
    for router, actions in group.handle(router_vi1, event, now):
        perform(router, actions)

The IO layer routes every event of a member through `group.handle()` instead of
`router.handle()`; the result lists the actions of each instance that moved, in order.

Rules (spec §2.4):
* MASTER needs every member to want it: a member whose master-down timer fires waits in
  BACKUP (the router's `sync_gate`) until every other member wants MASTER too; then all go;
* a member leaving MASTER for BACKUP takes the others to BACKUP;
* a member in FAULT puts the others in FAULT (as the fault source `sync_group:NAME`) until
  no member has a fault of its own;
* GROUP notifications (`Notify("GROUP", name, state, 0)`) follow the group's state; at start
  the group's BACKUP comes before the instances' (observed on 2.2.7).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pykeepalived.core.actions import Action, Notify
from pykeepalived.core.events import Event, FaultChanged, Startup
from pykeepalived.core.vrrp import State, VirtualRouter

log = logging.getLogger(__name__)


class SyncGroup:
    def __init__(self, name: str, members: Sequence[VirtualRouter]) -> None:
        self.name = name
        self.members = list(members)
        self.state = State.INIT
        self.source = f"sync_group:{name}"
        if len(self.members) == 1:
            log.warning("Sync group %s has only 1 virtual router(s) - this probably isn't what you want", name)
        for router in self.members:
            router.sync_gate = self._can_goto_master

    def handle(self, router: VirtualRouter, event: Event, now: float) -> list[tuple[VirtualRouter, list[Action]]]:
        """Deliver `event` to member `router` and move the other members as the group requires."""
        before = router.state
        out: list[tuple[VirtualRouter, list[Action]]] = [(router, router.handle(event, now))]
        out += self._sync_faults(now)
        if router.state != before:
            out += self._follow(router, before, now)
        group_notify = self._group_state_change()
        if group_notify is not None:
            out.append((router, [group_notify]))
        return out

    def start(self, now: float) -> list[tuple[VirtualRouter, list[Action]]]:
        """Start every member; the GROUP notification comes first, as keepalived 2.2.7 does."""
        out: list[tuple[VirtualRouter, list[Action]]] = []
        for router in self.members:
            out.append((router, router.handle(Startup(), now)))
        out += self._sync_faults(now)
        group_notify = self._group_state_change()
        if group_notify is not None:
            out.insert(0, (self.members[0], [group_notify]))
        return out

    # ------------------------------------------------------------------ rules

    def _can_goto_master(self, router: VirtualRouter) -> bool:
        """Every other member must want MASTER (or be MASTER) and none may be in FAULT."""
        for other in self.members:
            if other is router:
                continue
            if other.state == State.FAULT or (other.wantstate != State.MASTER and other.state != State.MASTER):
                return False
        return True

    def _follow(self, trigger: VirtualRouter, before: State, now: float) -> list[tuple[VirtualRouter, list[Action]]]:
        out: list[tuple[VirtualRouter, list[Action]]] = []
        others = [r for r in self.members if r is not trigger]
        if trigger.state == State.FAULT or before == State.FAULT:
            return out      # faults are synchronised by _sync_faults
        elif trigger.state == State.MASTER:
            targets = [r for r in others if r.state == State.BACKUP]
            if targets:
                log.info("VRRP_Group(%s) Syncing instances to MASTER state", self.name)
            for r in targets:
                out.append((r, r.force_state(State.MASTER, now, f"sync group {self.name}")))
        elif before == State.MASTER and trigger.state == State.BACKUP:
            targets = [r for r in others if r.state == State.MASTER]
            if targets:
                log.info("VRRP_Group(%s) Syncing instances to BACKUP state", self.name)
            for r in targets:
                out.append((r, r.force_state(State.BACKUP, now, f"sync group {self.name}")))
        return out

    def _sync_faults(self, now: float) -> list[tuple[VirtualRouter, list[Action]]]:
        """While any member has a fault of its own, every member carries the group fault;
        when none has, the group fault is cleared everywhere."""
        faulted = any(r.faults - {self.source} for r in self.members)
        targets = [r for r in self.members if (self.source in r.faults) != faulted]
        if not targets:
            return []
        if any(r.state != State.FAULT for r in targets) or not faulted:
            log.info("VRRP_Group(%s) Syncing instances to %s state", self.name, "FAULT" if faulted else "BACKUP")
        return [(r, r.handle(FaultChanged(self.source, faulted), now)) for r in targets]

    def _group_state_change(self) -> Notify | None:
        states = {r.state for r in self.members}
        if State.INIT in states:
            return None
        if State.FAULT in states:
            new = State.FAULT
        elif states == {State.MASTER}:
            new = State.MASTER
        elif states <= {State.STOP, State.DELETED}:
            new = State.STOP
        elif State.MASTER in states:
            return None          # transient: members are still moving
        else:
            new = State.BACKUP
        if new == self.state:
            return None
        self.state = new
        return Notify("GROUP", self.name, new.name, 0)
