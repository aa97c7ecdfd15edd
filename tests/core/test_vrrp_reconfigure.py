"""VirtualRouter.reconfigure: a reload's changed parameters applied without a state change."""

from __future__ import annotations

import dataclasses

import pytest

from pykeepalived.core.actions import AddVips, RemoveVips, SendAdvert, SendGratuitous, StartAdvertising
from pykeepalived.core.events import DeadlineReached, PriorityChanged
from pykeepalived.core.params import VipSpec
from pykeepalived.core.vrrp import State

from .helpers import VIP, advert, backup, kinds, master, params

NEW_VIP = VipSpec("198.51.100.1")


def test_master_adds_a_vip_in_place_with_garps_only_for_it() -> None:
    p = params(garp_master_repeat=3)
    r, t = master(p)
    actions = r.reconfigure(dataclasses.replace(p, vips=(VIP, NEW_VIP)), t + 0.5)
    assert r.state == State.MASTER
    assert kinds(actions) == ["AddVips", "SendGratuitous"]
    add, garp = actions
    assert isinstance(add, AddVips) and add.vips == (NEW_VIP,) and add.evips == ()
    assert isinstance(garp, SendGratuitous) and garp.addresses == (NEW_VIP,) and garp.count == 3


def test_master_removes_a_vip_in_place() -> None:
    p = params(vips=(VIP, NEW_VIP), evips=(VipSpec("10.9.9.9"),))
    r, t = master(p)
    actions = r.reconfigure(dataclasses.replace(p, vips=(VIP,), evips=()), t + 0.5)
    assert r.state == State.MASTER
    assert len(actions) == 1 and isinstance(actions[0], RemoveVips)
    assert actions[0].vips == (NEW_VIP,) and actions[0].evips == (VipSpec("10.9.9.9"),)


def test_backup_vip_change_touches_nothing_but_checks_adverts_against_the_new_list() -> None:
    p = params()
    r = backup(p)
    new = dataclasses.replace(p, vips=(VIP, NEW_VIP))
    assert r.reconfigure(new, 0.5) == []
    assert r.state == State.BACKUP
    down = r.deadline()
    r.handle(advert(p), 1.0)                    # the master still sends the old list: rejected
    assert r.deadline() == down
    r.handle(advert(new), 1.1)                  # the master reloaded too
    assert r.deadline() is not None and r.deadline() > down  # type: ignore[operator]


def test_master_priority_change_reschedules_adverts_with_the_new_priority() -> None:
    p = params(priority=150)
    r, t = master(p)
    actions = r.reconfigure(dataclasses.replace(p, priority=120), t + 0.2)
    assert r.state == State.MASTER and r.base_priority == 120 and r.effective_priority == 120
    assert kinds(actions) == ["SendAdvert", "StartAdvertising"]
    assert actions[0] == SendAdvert(120) and actions[1] == StartAdvertising(1.0, 120)


def test_base_priority_change_keeps_the_tracking_offset() -> None:
    p = params(priority=100)
    r = backup(p)
    r.handle(PriorityChanged(90), 0.1)              # a tracker took 10 off
    r.reconfigure(dataclasses.replace(p, priority=150), 0.2)
    assert (r.base_priority, r.effective_priority) == (150, 140)


def test_backup_with_a_raised_priority_preempts_a_lower_master() -> None:
    p = params(priority=100)
    r = backup(p)
    r.handle(advert(p, priority=120), 0.5)
    r.reconfigure(dataclasses.replace(p, priority=200), 1.0)
    r.handle(advert(p, priority=120), 1.5)          # lower than ours now: discarded
    t = r.deadline()
    assert t is not None
    r.handle(DeadlineReached(), t)
    assert r.state == State.MASTER


def test_nopreempt_backup_with_a_raised_priority_stays_backup() -> None:
    p = params(priority=100, nopreempt=True)
    r = backup(p)
    r.handle(advert(p, priority=120), 0.5)
    r.reconfigure(dataclasses.replace(p, priority=200), 1.0)
    for i in range(10):
        r.handle(advert(p, priority=120), 1.5 + i)
    assert r.state == State.BACKUP


def test_interval_change_reschedules_a_master() -> None:
    p = params(version=3, advert_int=1.0)
    r, t = master(p)
    actions = r.reconfigure(dataclasses.replace(p, advert_int=0.5), t + 0.1)
    assert actions == [SendAdvert(100), StartAdvertising(0.5, 100)]
    assert r.adver_int == 0.5


def test_unchanged_params_do_nothing() -> None:
    p = params()
    r, t = master(p)
    assert r.reconfigure(dataclasses.replace(p), t + 1) == []
    assert r.state == State.MASTER


@pytest.mark.parametrize("change", [dict(vrid=52), dict(version=3), dict(name="VI_2")])
def test_identity_change_is_refused(change: dict[str, object]) -> None:
    p = params()
    r = backup(p)
    with pytest.raises(ValueError, match="identity changed"):
        r.reconfigure(dataclasses.replace(p, **change), 0.5)  # type: ignore[arg-type]
