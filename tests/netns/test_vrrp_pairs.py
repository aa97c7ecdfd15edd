"""VRRP pairs on a real LAN: pykeepalived with itself and with keepalived 2.2.7 in both roles.

Each test runs one cell of the matrix (see vrrp_pair.CELLS) with one pairing:
py-py, py-ka (pykeepalived is the high-priority node) or ka-py (keepalived is). The main
scenario walks a pair through cold-start election, a hard kill of the master (failover time
measured on the wire), the master's return with preemption and a graceful stop (priority 0),
checking VIP placement, the client's neighbour entry and both logs at every step.
"""

from __future__ import annotations

import re
import time

import pytest
from vrrp_pair import (
    CELLS,
    adverts,
    assert_clean_log,
    neigh_follow,
    reach,
    source_of,
    start,
    takeover_gap,
    vip_holders,
    wait_count,
    wait_gap,
)

from harness.lab import Lab

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

HIGH, LOW = 150, 100
# Wire timing bounds that hold on a loaded shared machine (issue 23: at load ~2 on 2 cores a 13 ms
# bound failed a correct takeover by 8 ms). A takeover may never come early: the backup restarts
# its timer when it receives the master's advert, after the capture saw it, so a gap shorter than
# the wait it owes is a protocol error whatever the load (EARLY covers timer rounding only). Late
# is allowed by one advert interval plus LATE_SLACK of scheduling; a wrong decision still fails:
# a priority-0 advert ignored (takeover only at the master-down interval, 3 intervals later) is
# caught by the bound at 1 s and by the backup's "received priority 0" log line at every interval,
# and a backup that never times out, or waits twice, is caught by the bound. Millisecond precision
# is measured beside keepalived in bench/scale.py (bench/RESULTS.md), not asserted here.
EARLY = 0.002
LATE_SLACK = 0.300
# A daemon's first state after its start: start-up takes seconds when the machine is busy; this
# bounds nothing in the protocol (the takeover times are measured on the wire).
STARTUP = 30
PAIRS = [("py", "py"), ("py", "ka"), ("ka", "py")]


def _pair_params() -> list[object]:
    out = []
    for cell in CELLS:
        for hi, lo in PAIRS:
            marks = [pytest.mark.interop] if "ka" in (hi, lo) else []
            out.append(pytest.param(cell, hi, lo, marks=marks, id=f"{cell}-{hi}-{lo}"))
    return out


def _late_bound(cell: object) -> float:
    """How late a one-shot takeover may be on a loaded machine: one advert interval + LATE_SLACK."""
    return cell.advert_int + LATE_SLACK  # type: ignore[attr-defined, no-any-return]


def _ping(client, cell) -> None:  # type: ignore[no-untyped-def]
    reach(client, cell)


@pytest.mark.parametrize("cell_name, hi_impl, lo_impl", _pair_params())
def test_failover_cycle(lab: Lab, cell_name: str, hi_impl: str, lo_impl: str) -> None:
    cell = CELLS[cell_name]
    a, b, client = lab.add_hosts("a", "b", "c")   # a: high priority, b: low priority
    hosts = [a, b]
    conf_a = cell.config(a, b, HIGH)
    conf_b = cell.config(b, a, LOW)
    src_a, src_b = source_of(a, cell), source_of(b, cell)
    cap = lab.capture()

    # 1. cold start: the high priority wins; one VIP holder; the client follows it.  The high
    # node's timer starts first (startup times differ by more than the skew difference).
    da = start(a, hi_impl, conf_a)
    da.wait_state("VI_1", "BACKUP", timeout=STARTUP)
    db = start(b, lo_impl, conf_b)
    da.wait_state("VI_1", "MASTER", timeout=STARTUP)
    db.wait_state("VI_1", "BACKUP", timeout=STARTUP)
    time.sleep(max(0.3, cell.advert_int + 0.1))
    takeovers = db.log().count("Entering MASTER STATE")
    # At 10 ms a 36 ms scheduling hiccup of the busy 2-core test box lets the backup time out
    # (keepalived pairs show it too); it must then yield at once to the higher priority.
    allowed = 1 if cell.advert_int < 0.05 else 0
    assert takeovers <= allowed, f"low-priority node became master {takeovers} times at cold start"
    if takeovers:
        wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", takeovers, timeout=1)
    assert vip_holders(hosts, cell) == ["a"]
    _ping(client, cell)
    assert client.neigh(cell.client_vip) == a.mac()

    # 2. hard kill of the master: b takes over after 3 * interval + skew, measured on the wire
    kill_ns = time.time_ns()
    da.kill()
    wait_count(db, r"\(VI_1\) Entering MASTER STATE", takeovers + 1, timeout=cell.master_down(LOW) + 3)
    neigh_follow(client, cell, b)
    assert vip_holders(hosts, cell) == ["b"] or vip_holders(hosts, cell) == ["a", "b"]  # a died holding it
    gap = wait_gap(cap, src_a, src_b, after_ns=kill_ns)
    expected = cell.master_down(LOW)
    print(f"\n[failover] {cell_name} {hi_impl}->{lo_impl} hard kill: {gap * 1000:.3f} ms "
          f"(expected {expected * 1000:.3f}, delta {(gap - expected) * 1000:+.3f})")
    assert -EARLY <= gap - expected <= _late_bound(cell), \
        f"hard-kill takeover {gap * 1000:.2f} ms, expected {expected * 1000:.2f} ms (-{EARLY * 1000:g} ms, " \
        f"+{_late_bound(cell) * 1000:g} ms)"

    # 3. the master returns and preempts (it removes its stale VIP copy first)
    da = start(a, hi_impl, conf_a)
    da.wait_state("VI_1", "MASTER", timeout=cell.master_down(HIGH) + STARTUP)
    wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", takeovers + 1, timeout=5)
    neigh_follow(client, cell, a)
    time.sleep(max(0.3, cell.advert_int + 0.1))
    assert vip_holders(hosts, cell) == ["a"]
    _ping(client, cell)

    # 4. graceful stop: priority 0 on the wire, b takes over after its skew time
    stop_ns = time.time_ns()
    da.stop()
    wait_count(db, r"\(VI_1\) Entering MASTER STATE", takeovers + 2, timeout=5)
    neigh_follow(client, cell, b)
    assert vip_holders(hosts, cell) == ["b"], "VIP not removed on graceful stop"
    time.sleep(0.3)
    frames = cap.stop()
    zero = [f for f in adverts(frames, src_a) if f.ts_ns > stop_ns and f.vrrp.priority == 0]  # type: ignore[union-attr]
    assert zero, "no priority-0 advert on graceful stop"
    gap = takeover_gap(frames, src_a, src_b, after_ns=stop_ns, old_priority_zero=True)
    print(f"[failover] {cell_name} {hi_impl}->{lo_impl} priority 0: {gap * 1000:.3f} ms "
          f"(expected {cell.skew(LOW) * 1000:.3f}, delta {(gap - cell.skew(LOW)) * 1000:+.3f})")
    assert -EARLY <= gap - cell.skew(LOW) <= _late_bound(cell), \
        f"priority-0 takeover {gap * 1000:.2f} ms, expected skew {cell.skew(LOW) * 1000:.2f} ms " \
        f"(-{EARLY * 1000:g} ms, +{_late_bound(cell) * 1000:g} ms)"
    # the decision itself: the backup took the priority-0 advert as the master's resignation
    assert "(VI_1) Backup received priority 0 advertisement" in db.log(), \
        f"{lo_impl} backup did not act on the priority-0 advert:\n{db.log()}"
    _ping(client, cell)

    # Neither side complained about the other's packets.
    assert_clean_log(da)
    assert_clean_log(db)


def _scenario_params(pairs: list[tuple[str, str]]) -> list[object]:
    out = []
    for cell in CELLS:
        for first, second in pairs:
            marks = [pytest.mark.interop] if "ka" in (first, second) else []
            out.append(pytest.param(cell, first, second, marks=marks, id=f"{cell}-{first}-{second}"))
    return out


@pytest.mark.parametrize("cell_name, hi_impl, lo_impl", _scenario_params([("py", "ka"), ("ka", "py")]))
def test_nopreempt(lab: Lab, cell_name: str, hi_impl: str, lo_impl: str) -> None:
    """A higher-priority nopreempt node joining a running master stays BACKUP, and takes over
    only when that master dies."""
    cell = CELLS[cell_name]
    a, b, client = lab.add_hosts("a", "b", "c")
    dl = start(b, lo_impl, cell.config(b, a, LOW, nopreempt=True))
    dl.wait_state("VI_1", "MASTER", timeout=cell.master_down(LOW) + STARTUP)
    dh = start(a, hi_impl, cell.config(a, b, HIGH, nopreempt=True))
    dh.wait_state("VI_1", "BACKUP", timeout=STARTUP)
    time.sleep(cell.master_down(HIGH) + cell.advert_int + 0.2)   # it would have preempted by now
    assert "Entering MASTER STATE" not in dh.log(), "nopreempt node took over from a lower-priority master"
    assert vip_holders([a, b], cell) == ["b"]
    _ping(client, cell)
    assert client.neigh(cell.client_vip) == b.mac()
    dl.kill()
    dh.wait_state("VI_1", "MASTER", timeout=cell.master_down(HIGH) + 3)
    neigh_follow(client, cell, a)
    assert_clean_log(dh)
    assert_clean_log(dl)


@pytest.mark.parametrize("cell_name, a_impl, b_impl", _scenario_params([("py", "ka"), ("ka", "py")]))
def test_equal_priority(lab: Lab, cell_name: str, a_impl: str, b_impl: str) -> None:
    """Two masters of equal priority (after a partition heals): the lower source address yields."""
    cell = CELLS[cell_name]
    a, b, client = lab.add_hosts("a", "b", "c")   # b has the higher address in every cell
    for h in (a, b):
        h.drop("meta l4proto 112")
    da = start(a, a_impl, cell.config(a, b, LOW))
    db = start(b, b_impl, cell.config(b, a, LOW))
    da.wait_state("VI_1", "MASTER", timeout=cell.master_down(LOW) + STARTUP)
    db.wait_state("VI_1", "MASTER", timeout=cell.master_down(LOW) + STARTUP)
    for h in (a, b):
        h.undrop()
    wait_count(da, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=3 * cell.advert_int + 2)
    time.sleep(max(0.5, 3 * cell.advert_int))
    assert not re.search(r"Entering BACKUP STATE$", db.log(), re.M), "the higher address yielded"
    assert vip_holders([a, b], cell) == ["b"]
    _ping(client, cell)
    assert client.neigh(cell.client_vip) == b.mac()
    assert_clean_log(da)
    assert_clean_log(db)


PRECISION_REPEATS = 5


@pytest.mark.parametrize("cell_name", ["v3-100ms"])
@pytest.mark.parametrize("master_impl", [pytest.param("ka", marks=pytest.mark.interop), "py"])
def test_takeover_precision(lab: Lab, cell_name: str, master_impl: str) -> None:
    """pykeepalived as the backup: the master's adverts vanish (dropped at its output) and the
    backup's first advert follows the master's last one after 3 * interval + skew.  Repeated:
    none early (by more than timer rounding), none later than one interval + LATE_SLACK, and the
    backup yields again at once each time. The millisecond figures (median, max against
    keepalived's) are bench/scale.py's failover section, measured beside keepalived."""
    cell = CELLS[cell_name]
    a, b = lab.add_hosts("a", "b")
    src_a, src_b = source_of(a, cell), source_of(b, cell)
    da = start(a, master_impl, cell.config(a, b, HIGH))
    da.wait_state("VI_1", "BACKUP", timeout=STARTUP)
    db = start(b, "py", cell.config(b, a, LOW))
    da.wait_state("VI_1", "MASTER", timeout=STARTUP)
    db.wait_state("VI_1", "BACKUP", timeout=STARTUP)
    cap = lab.capture()
    gaps = []
    for n in range(1, PRECISION_REPEATS + 1):
        time.sleep(3 * cell.advert_int + 0.1)
        mark = time.time_ns()
        a.drop("meta l4proto 112", hook="output")
        wait_count(db, r"\(VI_1\) Entering MASTER STATE", n, timeout=cell.master_down(LOW) + 3)
        time.sleep(cell.advert_int)
        gaps.append(wait_gap(cap, src_a, src_b, after_ns=mark, race=cell.advert_int / 2))
        a.undrop()
        wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", n, timeout=3)
    cap.stop()
    expected = cell.master_down(LOW)
    deltas = sorted((g - expected) * 1000 for g in gaps)
    print(f"\n[precision] {cell_name} {master_impl}->py takeover minus {expected * 1000:.3f} ms: "
          + ", ".join(f"{d:+.3f}" for d in deltas) + " ms")
    assert deltas[0] >= -EARLY * 1000, f"took over before the master-down interval: {deltas} ms"
    assert deltas[-1] <= _late_bound(cell) * 1000, f"takeover later than one interval + slack: {deltas} ms"
