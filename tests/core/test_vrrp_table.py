"""Every (state, event type) cell of the transition table, exercised once with its outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pykeepalived.core.actions import Action, Notify, SendAdvert, StartAdvertising
from pykeepalived.core.events import (
    EVENT_TYPES,
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
from pykeepalived.core.vrrp import TRANSITION_TABLE, State, VirtualRouter

from .helpers import PEER, VIP, advert, backup, kinds, master, packed, params


def init() -> tuple[VirtualRouter, float]:
    return VirtualRouter(params()), 0.0


def in_backup() -> tuple[VirtualRouter, float]:
    return backup(), 1.0


def in_master() -> tuple[VirtualRouter, float]:
    r, t = master()
    return r, t + 0.5


def in_fault() -> tuple[VirtualRouter, float]:
    r = backup()
    r.handle(FaultChanged("script:chk", True), 0.5)
    assert r.state == State.FAULT
    return r, 1.0


def stopped() -> tuple[VirtualRouter, float]:
    r = backup()
    r.handle(Shutdown(), 0.5)
    return r, 1.0


def deleted() -> tuple[VirtualRouter, float]:
    r = backup()
    r.handle(InstanceDeleted(), 0.5)
    return r, 1.0


SETUPS: dict[State, Callable[[], tuple[VirtualRouter, float]]] = {
    State.INIT: init, State.BACKUP: in_backup, State.MASTER: in_master, State.FAULT: in_fault,
    State.STOP: stopped, State.DELETED: deleted,
}

P = params()
SAMPLE: dict[type, Event] = {
    Startup: Startup(),
    type(advert(P, 150)): advert(P, 150),
    AdvertRejected: AdvertRejected(RejectReason.LENGTH, packed(PEER)),
    DeadlineReached: DeadlineReached(),
    LinkChanged: LinkChanged(False),
    FaultChanged: FaultChanged("script:other", True),
    PriorityChanged: PriorityChanged(90),
    VipDeleted: VipDeleted(VIP.address),
    Shutdown: Shutdown(),
    InstanceDeleted: InstanceDeleted(),
}


@dataclass
class Cell:
    to: State
    check: Callable[[VirtualRouter, list[Action]], bool] = lambda r, a: True
    event: Event | None = None          # overrides SAMPLE
    at_deadline: bool = False           # deliver at router.deadline() instead of the setup's time


def notified(state: str) -> Callable[[VirtualRouter, list[Action]], bool]:
    return lambda r, a: any(isinstance(x, Notify) and x.state == state for x in a)


def nothing(r: VirtualRouter, a: list[Action]) -> bool:
    return a == []


S = State
CELLS: dict[tuple[State, type], Cell] = {
    (S.INIT, Startup): Cell(S.BACKUP, lambda r, a: kinds(a) == ["RemoveVips", "Notify"]),
    (S.INIT, AdvertReceived): Cell(S.INIT, nothing),
    (S.INIT, AdvertRejected): Cell(S.INIT, lambda r, a: a == [] and r.stats.packet_len_err == 0),
    (S.INIT, DeadlineReached): Cell(S.INIT, nothing),
    (S.INIT, LinkChanged): Cell(S.INIT, lambda r, a: a == [] and r.faults == {"interface"}),
    (S.INIT, FaultChanged): Cell(S.INIT, lambda r, a: a == [] and r.faults == {"script:other"}),
    (S.INIT, PriorityChanged): Cell(S.INIT, lambda r, a: a == [] and r.effective_priority == 90),
    (S.INIT, VipDeleted): Cell(S.INIT, nothing),
    (S.INIT, Shutdown): Cell(S.STOP, notified("STOP")),
    (S.INIT, InstanceDeleted): Cell(S.DELETED, notified("FAULT")),

    (S.BACKUP, Startup): Cell(S.BACKUP, nothing),
    (S.BACKUP, AdvertReceived): Cell(S.BACKUP, lambda r, a: a == [] and r.master_priority == 150
                                      and r.stats.advert_rcvd == 1),
    (S.BACKUP, AdvertRejected): Cell(S.BACKUP, lambda r, a: r.stats.packet_len_err == 1
                                     and r.deadline() == pytest.approx(3.609375)),
    (S.BACKUP, DeadlineReached): Cell(S.MASTER, lambda r, a: kinds(a)[:2] == ["SendAdvert", "StartAdvertising"],
                                      at_deadline=True),
    (S.BACKUP, LinkChanged): Cell(S.FAULT, lambda r, a: kinds(a) == ["Notify"]),
    (S.BACKUP, FaultChanged): Cell(S.FAULT, notified("FAULT")),
    (S.BACKUP, PriorityChanged): Cell(S.BACKUP, lambda r, a: r.effective_priority == 90
                                      and r.deadline() == pytest.approx(3 + 166 / 256)),
    (S.BACKUP, VipDeleted): Cell(S.BACKUP, nothing),
    (S.BACKUP, Shutdown): Cell(S.STOP, lambda r, a: kinds(a) == ["Notify"]),
    (S.BACKUP, InstanceDeleted): Cell(S.DELETED, lambda r, a: kinds(a) == ["Notify"]),

    (S.MASTER, Startup): Cell(S.MASTER, nothing),
    (S.MASTER, AdvertReceived): Cell(S.BACKUP, lambda r, a: kinds(a) == ["StopAdvertising", "RemoveVips",
                                                                         "Notify"]),
    (S.MASTER, AdvertRejected): Cell(S.MASTER, lambda r, a: a == [] and r.stats.packet_len_err == 1),
    (S.MASTER, DeadlineReached): Cell(S.MASTER, lambda r, a: kinds(a) == ["SendGratuitous"], at_deadline=True),
    (S.MASTER, LinkChanged): Cell(S.FAULT, lambda r, a: SendAdvert(0) in a and r.stats.pri_zero_sent == 1),
    (S.MASTER, FaultChanged): Cell(S.FAULT, lambda r, a: kinds(a) == ["StopAdvertising", "SendAdvert",
                                                                      "RemoveVips", "Notify"]),
    (S.MASTER, PriorityChanged): Cell(S.MASTER, lambda r, a: a == [StartAdvertising(1.0, 90)]),
    (S.MASTER, VipDeleted): Cell(S.BACKUP, lambda r, a: SendAdvert(0) not in a),
    (S.MASTER, Shutdown): Cell(S.STOP, lambda r, a: kinds(a) == ["StopAdvertising", "SendAdvert", "RemoveVips",
                                                                 "Notify"] and SendAdvert(0) in a),
    (S.MASTER, InstanceDeleted): Cell(S.DELETED, lambda r, a: SendAdvert(0) in a),

    (S.FAULT, Startup): Cell(S.FAULT, nothing),
    (S.FAULT, AdvertReceived): Cell(S.FAULT, lambda r, a: a == [] and r.stats.advert_rcvd == 0),
    (S.FAULT, AdvertRejected): Cell(S.FAULT, lambda r, a: a == [] and r.stats.packet_len_err == 0),
    (S.FAULT, DeadlineReached): Cell(S.FAULT, nothing),
    (S.FAULT, LinkChanged): Cell(S.FAULT, nothing),     # still faulted by the script
    (S.FAULT, FaultChanged): Cell(S.BACKUP, notified("BACKUP"), event=FaultChanged("script:chk", False)),
    (S.FAULT, PriorityChanged): Cell(S.FAULT, lambda r, a: a == [] and r.effective_priority == 90),
    (S.FAULT, VipDeleted): Cell(S.FAULT, nothing),
    (S.FAULT, Shutdown): Cell(S.STOP, lambda r, a: kinds(a) == ["Notify"]),
    (S.FAULT, InstanceDeleted): Cell(S.DELETED, lambda r, a: kinds(a) == ["Notify"]),
}
for _terminal in (S.STOP, S.DELETED):
    for _etype in EVENT_TYPES:
        CELLS[(_terminal, _etype)] = Cell(_terminal, nothing)


def test_table_is_complete() -> None:
    """The table has exactly one handler for every state x event type, and so do these tests."""
    assert set(TRANSITION_TABLE) == {(s, e) for s in State for e in EVENT_TYPES}
    assert set(CELLS) == set(TRANSITION_TABLE)


@pytest.mark.parametrize("cell", sorted(CELLS, key=lambda c: (c[0], c[1].__name__)),
                         ids=lambda c: f"{c[0].name}-{c[1].__name__}")
def test_cell(cell: tuple[State, type]) -> None:
    """Each cell moves to its expected state with its expected actions."""
    state, etype = cell
    spec = CELLS[cell]
    router, now = SETUPS[state]()
    assert router.state == state
    if spec.at_deadline:
        deadline = router.deadline()
        assert deadline is not None
        now = deadline
    event = spec.event or SAMPLE[etype]
    assert type(event) is etype
    actions = router.handle(event, now)
    assert router.state == spec.to
    assert spec.check(router, actions), actions
