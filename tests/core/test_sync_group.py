"""vrrp_sync_group: two hosts, two instances each, members moving together on the LAN."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pykeepalived.core.actions import Notify
from pykeepalived.core.events import FaultChanged
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.core.sync_group import SyncGroup
from pykeepalived.core.vrrp import State, VirtualRouter

from .lan import Lan, Wire

A, B = "192.168.77.1", "192.168.77.2"


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    lg = logging.getLogger("pykeepalived.core.sync_group")
    h, level = H(), lg.level
    lg.addHandler(h)
    lg.setLevel(logging.INFO)
    yield lines
    lg.removeHandler(h)
    lg.setLevel(level)


def p(name: str, vrid: int, prio: int) -> RouterParams:
    return RouterParams(name=name, vrid=vrid, priority=prio, vips=(VipSpec(f"192.168.{vrid}.100"),))


def two_hosts(b1: int = 100, b2: int = 100) -> Lan:
    """Host a: VI_1 (vrid 51) 150, VI_2 (vrid 52) 150; host b: VI_1 b1, VI_2 b2; one group each."""
    lan = Lan()
    lan.add("a1", A, p("VI_1", 51, 150))
    lan.add("a2", A, p("VI_2", 52, 150))
    lan.add("b1", B, p("VI_1", 51, b1))
    lan.add("b2", B, p("VI_2", 52, b2))
    lan.sync_group("SG1", "a1", "a2")
    lan.sync_group("SG1", "b1", "b2")
    return lan


def group_notifies(lan: Lan, name: str) -> list[str]:
    return [f"{a.kind} {a.name} {a.state}" for _, a in lan[name].actions if isinstance(a, Notify)]


def test_cold_start_one_host_masters_both() -> None:
    """Both instances of the better host become MASTER; the other host stays BACKUP."""
    lan = two_hosts()
    lan.start()
    lan.run_for(20)
    assert sorted(lan.masters()) == ["a1", "a2"]
    assert lan["b1"].state == lan["b2"].state == State.BACKUP


def test_master_waits_until_every_member_wants_it() -> None:
    """Host a dies: b's VI_1 times out first but waits for VI_2; both go MASTER together."""
    lan = two_hosts(b1=200, b2=50)
    lan.start("a1", when=0.0)
    lan.start("a2", when=0.0)
    lan.run_for(10)
    lan.start("b1")
    lan.start("b2")
    lan.run_for(10)
    assert sorted(lan.masters()) == ["a1", "a2"]       # b1 (200) would preempt alone, but b2 (50) won't
    lan.kill("a1")
    lan.kill("a2")
    killed = lan.now
    lan.run_for(10)
    assert sorted(lan.masters()) == ["b1", "b2"]
    t1, t2 = lan["b1"].states[-1][0], lan["b2"].states[-1][0]
    assert t1 == t2                                     # together, at the later timer
    last_a = max(w.time for w in lan.wire if w.src == A and w.vrid == 52)
    assert t2 == pytest.approx(last_a + 3 + (256 - 50) / 256)
    assert t2 > killed


def test_one_member_losing_its_master_alone_does_not_move_the_group() -> None:
    """Only VI_1's adverts are lost: b's VI_1 wants MASTER but VI_2 still hears its master."""
    lan = two_hosts()
    lan.start()
    lan.run_for(10)
    lan.drop_rules.append(lambda s, d, w: isinstance(w, Wire) and w.vrid == 51)
    lan.run_for(20)
    assert sorted(lan.masters()) == ["a1", "a2"]
    assert lan["b1"].router.wantstate == State.MASTER and lan["b1"].state == State.BACKUP


def test_fault_of_one_member_faults_the_group(logs: list[str]) -> None:
    """A fault on a1 puts a2 in FAULT too; b takes over both; clearing it brings a back."""
    lan = two_hosts()
    lan.start()
    lan.run_for(10)
    lan.at(10.0, "a1", FaultChanged("interface:eth1", True))
    lan.run_for(10)
    assert lan["a1"].state == lan["a2"].state == State.FAULT
    assert sorted(lan.masters()) == ["b1", "b2"]
    assert "VRRP_Group(SG1) Syncing instances to FAULT state" in logs
    assert "GROUP SG1 FAULT" in group_notifies(lan, "a1")
    lan.at(20.0, "a1", FaultChanged("interface:eth1", False))
    lan.run_for(10)
    assert sorted(lan.masters()) == ["a1", "a2"]
    assert lan["b1"].state == lan["b2"].state == State.BACKUP


def test_group_notifies_follow_the_group_state() -> None:
    """GROUP notifications carry priority 0: BACKUP first, MASTER when all members are MASTER."""
    lan = two_hosts()
    lan.start()
    lan.run_for(10)
    notes = [(a.kind, a.state, a.priority) for n in ("a1", "a2") for _, a in lan[n].actions
             if isinstance(a, Notify) and a.kind == "GROUP"]
    assert notes == [("GROUP", "BACKUP", 0), ("GROUP", "MASTER", 0)]


def test_member_overtaken_takes_the_group_to_backup(logs: list[str]) -> None:
    """A higher-priority advert on one member sends the whole group to BACKUP."""
    lan = two_hosts(b1=200, b2=200)
    lan.start("a1", when=0.0)
    lan.start("a2", when=0.0)
    lan.run_for(10)
    lan.start("b1")
    lan.start("b2")
    lan.run_for(10)
    assert sorted(lan.masters()) == ["b1", "b2"]
    assert "VRRP_Group(SG1) Syncing instances to BACKUP state" in logs
    assert lan["a1"].states[-1][0] == lan["a2"].states[-1][0]
    assert lan["a1"].state == lan["a2"].state == State.BACKUP


def test_start_puts_the_group_notification_first() -> None:
    """SyncGroup.start(): GROUP BACKUP before the instances' BACKUP (init), as on 2.2.7."""
    r1 = VirtualRouter(p("VI_1", 51, 100))
    r2 = VirtualRouter(p("VI_2", 52, 100))
    group = SyncGroup("SG1", [r1, r2])
    notes = [a for _, acts in group.start(0.0) for a in acts if isinstance(a, Notify)]
    assert notes == [Notify("GROUP", "SG1", "BACKUP", 0), Notify("INSTANCE", "VI_1", "BACKUP", 100),
                     Notify("INSTANCE", "VI_2", "BACKUP", 100)]


def test_member_stays_faulted_while_another_member_is(logs: list[str]) -> None:
    """Two members faulted on their own: clearing one keeps the group in FAULT."""
    r1 = VirtualRouter(p("VI_1", 51, 100))
    r2 = VirtualRouter(p("VI_2", 52, 100))
    g = SyncGroup("SG1", [r1, r2])
    g.start(0.0)
    g.handle(r1, FaultChanged("a", True), 1.0)
    g.handle(r2, FaultChanged("b", True), 2.0)
    g.handle(r1, FaultChanged("a", False), 3.0)
    assert r1.state == r2.state == State.FAULT
    g.handle(r2, FaultChanged("b", False), 4.0)
    assert r1.state == r2.state == State.BACKUP
