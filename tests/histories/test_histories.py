"""Randomised cluster histories: the model's rules (no root), a fixed-seed slice of real histories
in mixed pykeepalived/keepalived clusters, the kept regressions, and HISTORIES=N for more.

    .venv/bin/python -m pytest tests/histories                       # model + slice + regressions
    HISTORIES=50 HISTORIES_SEED=1000 .venv/bin/python -m pytest tests/histories -k env
    nice .venv/bin/python fuzz/histories.py --seeds 1-500 --shrink   # the long run (fuzz/README.md)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from histories.model import Cluster, Event, History, Model, NodeSpec, generate
from histories.regressions import REGRESSIONS
from histories.runner import Result, daemon_logs, run_history

KA, PY = "keepalived", "pykeepalived"

# Seeds of the CI slice: 6 events each, both implementations in each cluster, intervals 0.1-0.2 s (at
# 0.05 s a scheduling stall of the loaded CI box longer than the master-down interval is a real flap).
SLICE_SEEDS = (161, 169, 253, 389)
SLICE_EVENTS = 6


def _report(r: Result) -> str:
    assert r.failure is not None
    short = History(r.history.seed, r.history.cluster, r.history.events[:r.failure.event_index + 1])
    return (f"history failed at event {r.failure.event_index} {r.failure.event}: {r.failure.message}\n"
            + "\n".join(r.timeline) + f"\nreproduction: {short.to_json()}\n" + daemon_logs(r)[-20000:])


# ---------------------------------------------------------------------------------------------
# the model, against keepalived's rules (no lab)


def _model(*specs: NodeSpec) -> Model:
    return Model(Cluster(tuple(specs), 3, 0.1))


def _ok(m: Model) -> set[int]:
    (comp, ok), = m.acceptable()
    return ok


def test_generator_is_deterministic_and_round_trips() -> None:
    a, b = generate(7, 12), generate(7, 12)
    assert a.to_json() == b.to_json()
    assert len(a.events) == 12
    assert History.from_json(a.to_json()).to_json() == a.to_json()
    assert generate(8, 12).to_json() != a.to_json()


def test_unknown_event_is_a_clear_error() -> None:
    h = generate(7, 2).to_json().replace('"events": [[', '"events": [["explode", 0, null], [')
    with pytest.raises(ValueError, match="unknown event 'explode'"):
        History.from_json(h)


def test_cold_start_highest_priority_or_race_with_equal() -> None:
    m = _model(NodeSpec(PY, 100), NodeSpec(KA, 110), NodeSpec(KA, 110))
    assert _ok(m) == {1, 2}  # equal priorities: whoever times out first; the other accepts it


def test_equal_priority_backup_never_preempts_a_running_master() -> None:
    m = _model(NodeSpec(PY, 100), NodeSpec(KA, 100))
    m.observed({0})
    assert _ok(m) == {0}  # the higher address (node 1) accepts an equal priority as a backup


def test_two_masters_meet_higher_address_wins_on_equal_priority() -> None:
    m = _model(NodeSpec(PY, 100), NodeSpec(KA, 100))
    m.apply(Event("partition", -1, ((0,), (1,))))
    m.observed({0, 1})
    m.apply(Event("heal"))
    assert _ok(m) == {1}


def test_demoted_master_is_preempted_unless_nopreempt() -> None:
    m = _model(NodeSpec(PY, 110), NodeSpec(KA, 120, script_weight=-30))
    m.observed({1})
    m.apply(Event("script", 1, False))
    assert m.priority(1) == 90 and _ok(m) == {0}
    m = _model(NodeSpec(PY, 110, nopreempt=True), NodeSpec(KA, 120, script_weight=-30))
    m.observed({1})
    m.apply(Event("script", 1, False))
    assert _ok(m) == {1}


def test_weights_faults_and_clamp() -> None:
    m = _model(NodeSpec(PY, 250, script_weight=20, trk_weight=0, file_weight=-10))
    assert m.fault_and_priority(0) == (False, 254)
    m.apply(Event("trackfile", 0, 2))
    assert m.priority(0) == 250
    m.apply(Event("trackif", 0, False))
    assert m.fault_and_priority(0)[0]
    m = _model(NodeSpec(PY, 5, script_weight=-30), NodeSpec(KA, 100))
    m.apply(Event("script", 0, False))
    assert m.priority(0) == 1


def test_sigcont_master_meets_new_master() -> None:
    m = _model(NodeSpec(PY, 100), NodeSpec(KA, 120))
    m.observed({1})
    m.apply(Event("sigstop", 1))
    assert _ok(m) == {0}
    m.observed({0})
    m.apply(Event("sigcont", 1))
    assert _ok(m) == {1}


def test_state_master_clears_preempt_delay_and_nopreempt() -> None:
    """keepalived 2.2.7: 'Warning - preempt delay will not work with initial state MASTER - clearing'
    (found by seed 3002, a keepalived-only cluster: r2 preempted 0.36 s after the event)."""
    m = _model(NodeSpec(KA, 150, nopreempt=True), NodeSpec(KA, 110, state="MASTER", preempt_delay=1.0))
    assert m.preempt_delay(1) == 0.0
    m = _model(NodeSpec(KA, 100), NodeSpec(KA, 110, state="MASTER", nopreempt=True))
    m.observed({0})
    assert _ok(m) == {1}


def test_priority_changed_while_stopped_may_decide_with_the_old_one() -> None:
    """Seed 7006 (keepalived r1 SIGSTOPped as master at 120, its tracked interface down meanwhile, so
    100; pykeepalived r2 master at 100): continued, r1 advertised 120 before it saw the link change,
    r2 yielded, then r2 at 100 accepted r1 at 100.  Either order is keepalived's behaviour."""
    m = _model(NodeSpec(KA, 100, nopreempt=True, trk_weight=20), NodeSpec(PY, 100))
    m.observed({0})
    m.apply(Event("sigstop", 0))
    m.observed({1})
    m.apply(Event("trackif", 0, False))
    m.apply(Event("sigcont", 0))
    assert _ok(m) == {0, 1}
    m.observed({0})
    assert _ok(m) == {0}


def test_rolling_vip_reload_may_move_the_master_by_address() -> None:
    """Seeds 15003/15011: during a reload changing the VIPs, a backup already reloaded rejects the
    master's adverts (other addresses: keepalived's VRRP_PACKET_KO) and times out; at equal
    priority the higher address then wins the meeting of the two masters."""
    m = _model(NodeSpec(PY, 100), NodeSpec(PY, 100), NodeSpec(PY, 100))
    m.observed({0})
    m.apply(Event("reload_vips", -1, 1))
    assert _ok(m) == {0, 1, 2}


def test_vip_deleted_on_master_makes_it_backup() -> None:
    m = _model(NodeSpec(PY, 100, nopreempt=True), NodeSpec(KA, 120, nopreempt=True))
    m.observed({1})
    m.apply(Event("vip_delete"))
    assert _ok(m) == {0, 1}  # an election among nopreempt nodes: either may win the race


def test_unicast_link_up_may_take_over_until_it_meets_the_master() -> None:
    """Seed 110021 (unicast, 0.05 s): r1's link came up, r2's adverts to it sat in r2's neighbour
    queue (its ARP entry for r1 had failed) until r1, master after 0.18 s of silence, sent its own
    ARP request; then r1 met r2 (120) and yielded.  Multicast needs no ARP: no such window."""
    m = Model(Cluster((NodeSpec(PY, 100), NodeSpec(KA, 120)), 3, 0.05, unicast=True))
    m.observed({1})
    m.apply(Event("link", 0, False))
    m.observed({1})
    m.apply(Event("link", 0, True))
    assert 0 in m.possible and _ok(m) == {1}    # the meeting: r2 stays
    m = _model(NodeSpec(PY, 100), NodeSpec(KA, 120))
    m.observed({1})
    m.apply(Event("link", 0, False))
    m.apply(Event("link", 0, True))
    assert not m.possible


# ---------------------------------------------------------------------------------------------
# real histories


def _play(h: History, tmp_path: Path) -> None:
    r = run_history(h, tmp_path / "lab")
    assert r.ok, _report(r)


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", SLICE_SEEDS)
def test_history_slice(seed: int, tmp_path: Path) -> None:
    _play(generate(seed, SLICE_EVENTS), tmp_path)


def _regressions() -> list[object]:
    out = []
    for reg in REGRESSIONS:
        marks = [pytest.mark.xfail(reason=reg.known, strict=False)] if reg.known else []
        out.append(pytest.param(reg, id=reg.name, marks=marks))
    return out


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.timeout(240)
@pytest.mark.parametrize("reg", _regressions())
def test_regression(reg: object, tmp_path: Path) -> None:
    _play(History.from_json(reg.history), tmp_path)  # type: ignore[attr-defined]


HISTORIES = int(os.environ.get("HISTORIES", "0") or 0)
HISTORIES_SEED = int(os.environ.get("HISTORIES_SEED", "1000") or 1000)


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.skipif(not HISTORIES, reason="set HISTORIES=N (and HISTORIES_SEED) for N random histories")
@pytest.mark.timeout(0)
@pytest.mark.parametrize("seed", range(HISTORIES_SEED, HISTORIES_SEED + HISTORIES))
def test_history_env(seed: int, tmp_path: Path) -> None:
    _play(generate(seed, int(os.environ.get("HISTORIES_EVENTS", "10"))), tmp_path)
