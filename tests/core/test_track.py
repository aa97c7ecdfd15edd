"""Trackers -> effective priority / FAULT (core.track), alone and driving routers on the LAN."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pykeepalived.config import load_text
from pykeepalived.core.actions import Notify
from pykeepalived.core.events import FaultChanged, PriorityChanged, Startup
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.core.track import ScriptState, Track, Tracking, effective_priority
from pykeepalived.core.vrrp import State, VirtualRouter

from .lan import Lan


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    loggers = [logging.getLogger(n) for n in ("pykeepalived.core.track", "pykeepalived.core.vrrp")]
    h = H()
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(h)
        lg.setLevel(logging.INFO)
    yield lines
    for lg, level in zip(loggers, saved, strict=True):
        lg.removeHandler(h)
        lg.setLevel(level)


def test_effective_priority_is_clamped_and_owner_fixed() -> None:
    """base + weights, clamped to [1, 254]; 255 never moves."""
    assert effective_priority(100, 200) == 254
    assert effective_priority(100, -200) == 1
    assert effective_priority(100, -20) == 80
    assert effective_priority(255, -100) == 255


def test_script_first_result_decides_then_rise_fall(logs: list[str]) -> None:
    """Without init_fail one result decides; afterwards rise/fall consecutive results are needed."""
    s = ScriptState("chk", rise=2, fall=2)
    assert s.ok is None
    assert s.record(True) is True and logs[-1] == "VRRP_Script(chk) succeeded"
    assert s.record(False) is None and s.ok is True
    assert s.record(False) is False and logs[-1] == "VRRP_Script(chk) failed"
    assert s.record(True) is None and s.ok is False
    assert s.record(True) is True


def test_script_first_failure_decides_too() -> None:
    """The first result decides even with rise 3."""
    s = ScriptState("chk", rise=3, fall=3)
    assert s.record(False) is False


def test_script_init_fail_needs_rise_successes(logs: list[str]) -> None:
    """init_fail: the script starts failed and needs `rise` successes."""
    s = ScriptState("chk", rise=2, fall=1, init_fail=True)
    assert s.ok is False
    assert s.record(True) is None
    assert s.record(True) is True
    s.record(False, timed_out=True)
    assert logs[-2:] == ["VRRP_Script(chk) timed_out", "VRRP_Script(chk) failed"]


def test_weighted_script_moves_priority() -> None:
    """A negative weight subtracts while failed; before the first result it counts nothing."""
    t = Tracking("VI_1", 100, [Track("script", "chk", weight=-20)])
    assert t.initial_events() == []
    assert t.update("script", "chk", True) == []
    assert t.update("script", "chk", False) == [PriorityChanged(80)]
    assert t.update("script", "chk", False) == []
    assert t.update("script", "chk", True) == [PriorityChanged(100)]


def test_unweighted_script_without_result_starts_in_silent_fault(logs: list[str]) -> None:
    """A weight-0 script with no result yet: FAULT at start without log or notify (as keepalived),
    then BACKUP once it succeeds."""
    t = Tracking("VI_1", 100, [Track("script", "chk")])
    assert t.initial_events() == [FaultChanged("script:chk", True, initial=True)]
    router = VirtualRouter(RouterParams(name="VI_1", vrid=51))
    for ev in t.initial_events():
        router.handle(ev, 0.0)
    actions = router.handle(Startup(), 0.0)
    assert router.state == State.FAULT and actions == []
    assert not any("FAULT" in line for line in logs)
    for ev in t.update("script", "chk", True):
        actions = router.handle(ev, 1.0)
    assert router.state == State.BACKUP and actions == [Notify("INSTANCE", "VI_1", "BACKUP", 100)]


def test_unweighted_script_failing_its_first_run_notifies_fault(logs: list[str]) -> None:
    """The silent FAULT at start becomes a logged and notified FAULT when the script's first
    result is a failure, as keepalived 2.2.7 writes FAULT to the FIFO (randomised histories,
    seed 21024: we wrote nothing, so FIFO readers never learnt the instance was in FAULT)."""
    t = Tracking("VI_1", 100, [Track("script", "chk")])
    router = VirtualRouter(RouterParams(name="VI_1", vrid=51))
    for ev in t.initial_events():
        router.handle(ev, 0.0)
    assert router.handle(Startup(), 0.0) == [] and router.state == State.FAULT
    events = t.update("script", "chk", False)
    assert events == [FaultChanged("script:chk", True)]
    actions = [a for ev in events for a in router.handle(ev, 1.0)]
    assert router.state == State.FAULT and actions == [Notify("INSTANCE", "VI_1", "FAULT", 100)]
    assert logs[-1] == "(VI_1) Entering FAULT STATE"
    assert t.update("script", "chk", False) == []             # said once
    actions = [a for ev in t.update("script", "chk", True) for a in router.handle(ev, 2.0)]
    assert router.state == State.BACKUP and actions == [Notify("INSTANCE", "VI_1", "BACKUP", 100)]


def test_positive_weight_adds_while_ok_and_reverse_flips() -> None:
    """weight > 0 adds while OK; `reverse` adds it while failed instead."""
    t = Tracking("VI_1", 100, [Track("interface", "eth1", weight=10),
                               Track("interface", "eth2", weight=5, reverse=True)])
    assert t.priority == 110
    assert t.update("interface", "eth2", False) == [PriorityChanged(115)]
    assert t.update("interface", "eth1", False) == [PriorityChanged(105)]


def test_weight_zero_means_fault() -> None:
    """An unweighted tracker going down is a FAULT; reverse makes 'up' the fault."""
    t = Tracking("VI_1", 100, [Track("interface", "eth1"), Track("interface", "eth2", reverse=True)])
    assert t.faults == {"interface:eth2"}
    assert t.update("interface", "eth1", False) == [FaultChanged("interface:eth1", True)]
    assert t.update("interface", "eth2", False) == [FaultChanged("interface:eth2", False)]


def test_track_file_value_times_weight() -> None:
    """track_file: value * weight is added; weight 0 faults on non-zero; below -253 faults."""
    t = Tracking("VI_1", 100, [Track("file", "f", weight=-10), Track("file", "g")])
    assert t.update("file", "f", 3) == [PriorityChanged(70)]
    assert t.update("file", "g", 1) == [FaultChanged("file:g", True)]
    assert t.update("file", "f", 30) == [FaultChanged("file:f", True), PriorityChanged(100)]


def test_owner_drops_weighted_trackers(logs: list[str]) -> None:
    """Priority 255: weighted trackers are dropped at load (as 2.2.7), weight 0 ones kept."""
    t = Tracking("VI_1", 255, [Track("file", "priority_drop", weight=-10), Track("interface", "eth1")])
    assert "(VI_1) ignoring tracked file priority_drop with weight -10 due to address_owner" in logs
    assert set(t.tracks) == {("interface", "eth1")}
    assert t.update("interface", "eth1", False) == [FaultChanged("interface:eth1", True)]


def test_sync_group_members_ignore_weights(logs: list[str]) -> None:
    """Member trackers with non-zero weights are ignored in a sync group."""
    t = Tracking("VI_1", 100, [Track("script", "chk", weight=-20)], ignore_weights=True)
    assert t.tracks == {}
    assert "(VI_1) ignoring tracked script chk with weights due to SYNC group" in logs


CONF = """
vrrp_script chk_haproxy {
  script "/bin/pidof haproxy"
  interval 2
  weight 20
  rise 2
  fall 2
}
vrrp_script chk_haproxy2 {
  script "/bin/true"
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  track_interface {
    eth1 weight -5
  }
  track_script {
    chk_haproxy
    chk_haproxy2 weight -30
  }
  virtual_ipaddress {
    192.168.77.100
  }
}
"""


def test_tracking_from_a_parsed_config() -> None:
    """Script default weights come from vrrp_script; per-instance weights override."""
    cfg = load_text(CONF, interfaces=frozenset({"eth0", "eth1"})).config
    assert cfg is not None
    t = Tracking.from_model(cfg.vrrp_instances[0], cfg)
    assert t.tracks[("script", "chk_haproxy")] == Track("script", "chk_haproxy", 20)
    assert t.tracks[("script", "chk_haproxy2")].weight == -30
    assert t.tracks[("interface", "eth1")] == Track("interface", "eth1", -5)


def test_failing_check_moves_the_master_and_recovery_moves_it_back(logs: list[str]) -> None:
    """A weighted track_script failing on the master lets the backup preempt; recovery
    brings the master back (the README's haproxy example)."""
    vip = (VipSpec("192.168.77.100"),)
    lan = Lan()
    lan.add("a", "192.168.77.1", RouterParams(name="VI_1", vrid=51, priority=110, vips=vip))
    lan.add("b", "192.168.77.2", RouterParams(name="VI_1", vrid=51, priority=100, vips=vip))
    ta = Tracking("VI_1", 110, [Track("script", "chk_haproxy", weight=-30)])
    script = ScriptState("chk_haproxy", rise=2, fall=2)

    def run_check(t: float, ok: bool) -> None:
        state = script.record(ok)
        if state is not None:
            for ev in ta.update("script", "chk_haproxy", state):
                lan.at(t, "a", ev)

    run_check(0.0, True)     # first result: OK
    lan.start()
    lan.run_for(10)
    assert lan.masters() == ["a"]
    run_check(10.0, False)
    lan.run_for(2)
    assert lan.masters() == ["a"]                     # fall 2: one failure changes nothing
    run_check(12.0, False)
    lan.run_for(10)
    assert lan.masters() == ["b"]
    assert "(VI_1) Changing effective priority from 110 to 80" in logs
    run_check(22.0, True)
    run_check(24.0, True)
    lan.run_for(10)
    assert lan.masters() == ["a"] and lan["b"].state == State.BACKUP
