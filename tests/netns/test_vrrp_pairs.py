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
# One-shot takeover times in the cycle may catch a scheduling hiccup of the shared CPU;
# test_takeover_precision holds the strict (2 ms, repeated) bound.
SINGLE_SHOT_SLACK = 0.003
KEEPALIVED_BACKUP_SLACK = 0.100
PAIRS = [("py", "py"), ("py", "ka"), ("ka", "py")]


def _pair_params() -> list[object]:
    out = []
    for cell in CELLS:
        for hi, lo in PAIRS:
            marks = [pytest.mark.interop] if "ka" in (hi, lo) else []
            out.append(pytest.param(cell, hi, lo, marks=marks, id=f"{cell}-{hi}-{lo}"))
    return out


def _late_bound(cell: object, backup_impl: str) -> float:
    """How late a one-shot takeover may be. The backup's precision is what is measured: ours
    gets the cell's tolerance (plus a little for the shared CPU); keepalived's is not ours to
    test, so there only gross lateness (a whole extra master-down wait, i.e. our priority-0
    advert or our last adverts not accepted) fails."""
    tolerance = cell.tolerance + SINGLE_SHOT_SLACK  # type: ignore[attr-defined]
    # at most two intervals: a rejected priority-0 advert (full master-down wait) still fails
    slack = min(KEEPALIVED_BACKUP_SLACK, 2 * cell.advert_int)  # type: ignore[attr-defined]
    return tolerance if backup_impl == "py" else tolerance + slack


def _ping(client, cell) -> None:  # type: ignore[no-untyped-def]
    assert client.ping(cell.client_vip, timeout=2), f"client cannot reach {cell.client_vip}"


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
    da.wait_state("VI_1", "BACKUP", timeout=10)
    db = start(b, lo_impl, conf_b)
    da.wait_state("VI_1", "MASTER", timeout=10)
    db.wait_state("VI_1", "BACKUP", timeout=5)
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
    assert -0.0005 <= gap - expected <= _late_bound(cell, lo_impl), \
        f"hard-kill takeover {gap * 1000:.2f} ms, expected {expected * 1000:.2f} ms +- {cell.tolerance * 1000:g}"

    # 3. the master returns and preempts (it removes its stale VIP copy first)
    da = start(a, hi_impl, conf_a)
    da.wait_state("VI_1", "MASTER", timeout=cell.master_down(HIGH) + 8)
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
    assert -0.0005 <= gap - cell.skew(LOW) <= _late_bound(cell, lo_impl), \
        f"priority-0 takeover {gap * 1000:.2f} ms, expected skew {cell.skew(LOW) * 1000:.2f} ms"
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
    dl.wait_state("VI_1", "MASTER", timeout=cell.master_down(LOW) + 8)
    dh = start(a, hi_impl, cell.config(a, b, HIGH, nopreempt=True))
    dh.wait_state("VI_1", "BACKUP", timeout=10)
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
    da.wait_state("VI_1", "MASTER", timeout=cell.master_down(LOW) + 8)
    db.wait_state("VI_1", "MASTER", timeout=cell.master_down(LOW) + 8)
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


@pytest.mark.parametrize("cell_name", ["v3-100ms", "v3-10ms"])
@pytest.mark.parametrize("master_impl", [pytest.param("ka", marks=pytest.mark.interop), "py"])
def test_takeover_precision(lab: Lab, cell_name: str, master_impl: str) -> None:
    """pykeepalived as the backup: the master's adverts vanish (dropped at its output) and the
    backup's first advert follows the master's last one after 3 * interval + skew.  Repeated:
    the median must be within 2 ms, none early."""
    cell = CELLS[cell_name]
    a, b = lab.add_hosts("a", "b")
    src_a, src_b = source_of(a, cell), source_of(b, cell)
    da = start(a, master_impl, cell.config(a, b, HIGH))
    da.wait_state("VI_1", "BACKUP", timeout=10)
    db = start(b, "py", cell.config(b, a, LOW))
    da.wait_state("VI_1", "MASTER", timeout=10)
    db.wait_state("VI_1", "BACKUP", timeout=10)
    cap = lab.capture()
    gaps = []
    for n in range(1, PRECISION_REPEATS + 1):
        time.sleep(3 * cell.advert_int + 0.1)
        mark = time.time_ns()
        a.drop("meta l4proto 112", hook="output")
        wait_count(db, r"\(VI_1\) Entering MASTER STATE", n, timeout=cell.master_down(LOW) + 3)
        time.sleep(cell.advert_int)
        gaps.append(wait_gap(cap, src_a, src_b, after_ns=mark))
        a.undrop()
        wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", n, timeout=3)
    cap.stop()
    expected = cell.master_down(LOW)
    deltas = sorted((g - expected) * 1000 for g in gaps)
    print(f"\n[precision] {cell_name} {master_impl}->py takeover minus {expected * 1000:.3f} ms: "
          + ", ".join(f"{d:+.3f}" for d in deltas) + " ms")
    # The median, because the CPU is shared: a late outlier is scheduling, not protocol.
    assert abs(deltas[len(deltas) // 2]) <= 2.0, f"median takeover error {deltas[len(deltas) // 2]:+.3f} ms"
    assert deltas[0] >= -0.5, f"took over before the master-down interval: {deltas} ms"
