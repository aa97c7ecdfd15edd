"""Trackers in mixed pairs: pykeepalived tracks, keepalived 2.2.7 (or pykeepalived) is the peer.

* a weighted vrrp_script that starts failing moves the master, recovery moves it back, and a
  single odd result never changes anything with rise 2 / fall 2;
* an unweighted script, or a tracked interface going down, puts the instance in FAULT: VIPs
  removed, a priority-0 advert sent, notify_fault run, `INSTANCE "VI_1" FAULT 110` on the FIFO;
* a two-instance sync group fails over as a unit, with GROUP lines on the FIFO;
* track_file: the value in the file times the weight moves the priority, inotify-driven.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prod import ScriptDir, count, global_defs, instance, start, wait_count

from harness.lab import Lab
from harness.pcap import vrrp_frames
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

VIP1, VIP2 = "192.0.2.100/24", "192.0.2.101/24"
# The tracking node is pykeepalived; its peer is keepalived 2.2.7 (pykeepalived as a peer is
# covered by tests/netns).
PEERS = [pytest.param("ka", marks=pytest.mark.interop)]

# Exit status from the file `ok` in DIR; the file `once` inverts one single run.
CHECK_SH = """#!/bin/sh
d={d}
echo run >> $d/runs
if [ -e $d/once ]; then
    rm -f $d/once
    if [ -e $d/ok ]; then exit 1; else exit 0; fi
fi
[ -e $d/ok ]
"""


@pytest.fixture
def sdir() -> Iterator[ScriptDir]:
    d = ScriptDir()
    yield d
    d.close()


def _runs(state: Path) -> int:
    runs = state / "runs"
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def _wait_runs(state: Path, n: int) -> None:
    target = _runs(state) + n
    wait_until(lambda: _runs(state) >= target or None, 10, message=f"{n} more script runs")


def _holder(hosts: list, vip: str) -> list[str]:  # type: ignore[type-arg]
    return [h.name for h in hosts if h.has_address(vip.split("/")[0])]


@pytest.mark.parametrize("peer", PEERS)
def test_weighted_script_moves_master_and_back(lab: Lab, sdir: ScriptDir, peer: str) -> None:
    state = sdir.subdir("state")
    (state / "ok").touch()
    check = sdir.script("check.sh", CHECK_SH.format(d=state))
    gd = global_defs("script_user root", "enable_script_security")
    script = (f"vrrp_script chk {{\n    script {check}\n    interval 1\n    weight -60\n"
              "    rise 2\n    fall 2\n}\n")
    conf_a = gd + script + instance("VI_1", 51, 150, [VIP1], extra="    track_script {\n        chk\n    }\n")
    conf_b = global_defs("router_id b") + instance("VI_1", 51, 100, [VIP1])
    a, b = lab.add_hosts("a", "b")
    da = start(a, "py", conf_a)
    da.wait_state("VI_1", "MASTER", timeout=15)
    db = start(b, peer, conf_b)
    db.wait_state("VI_1", "BACKUP", timeout=10)
    time.sleep(1)

    # one failed run with fall 2: nothing changes
    (state / "once").touch()
    _wait_runs(state, 3)
    assert "Changing effective priority" not in da.log()
    assert _holder([a, b], VIP1) == ["a"]

    # persistent failure: 150 - 60 = 90 < 100, b takes over
    (state / "ok").unlink()
    da.wait_log(r"VRRP_Script\(chk\) failed", timeout=10)
    da.wait_log(r"\(VI_1\) Changing effective priority from 150 to 90", timeout=5)
    db.wait_state("VI_1", "MASTER", timeout=10)
    wait_count(da, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=5)
    wait_until(lambda: _holder([a, b], VIP1) == ["b"] or None, 5, message="VIP moved to b")

    # one good run with rise 2: still failed
    (state / "once").touch()
    _wait_runs(state, 3)
    assert "succeeded" not in da.log().split("VRRP_Script(chk) failed", 1)[1]

    # recovery: back to 150, a preempts
    (state / "ok").touch()
    da.wait_log(r"VRRP_Script\(chk\) succeeded", timeout=10)
    da.wait_log(r"\(VI_1\) Changing effective priority from 90 to 150", timeout=5)
    wait_count(da, r"\(VI_1\) Entering MASTER STATE", 2, timeout=10)
    wait_until(lambda: _holder([a, b], VIP1) == ["a"] or None, 5, message="VIP back on a")
    wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=5)


@pytest.mark.parametrize("kind", ["script", "interface"])
@pytest.mark.parametrize("peer", PEERS)
def test_unweighted_tracker_fault(lab: Lab, sdir: ScriptDir, kind: str, peer: str) -> None:
    state = sdir.subdir("state")
    (state / "ok").touch()
    out = sdir.subdir("out")
    check = sdir.script("check.sh", CHECK_SH.format(d=state))
    fault_sh = sdir.script("fault.sh", f"#!/bin/sh\necho \"$@\" >> {out}/fault\n")
    fifo = sdir.fifo()
    gd = global_defs("script_user root", "enable_script_security", f"notify_fifo {fifo.path}")
    if kind == "script":
        tracker = f"vrrp_script chk {{\n    script {check}\n    interval 1\n    weight 0\n}}\n"
        track = "    track_script {\n        chk\n    }\n"
    else:
        tracker = ""
        track = "    track_interface {\n        eth1\n    }\n"
    conf_a = gd + tracker + instance("VI_1", 51, 110, [VIP1],
                                     extra=track + f"    notify_fault \"{fault_sh} VI_1 went 'to fault'\"\n")
    conf_b = global_defs("router_id b") + instance("VI_1", 51, 100, [VIP1])
    if kind == "interface":
        lab.add_lan()
    a = lab.add_host("a", lans=(0, 1) if kind == "interface" else (0,))
    b = lab.add_host("b")
    cap = lab.capture()
    try:
        da = start(a, "py", conf_a)
        da.wait_state("VI_1", "MASTER", timeout=15)
        db = start(b, peer, conf_b)
        db.wait_state("VI_1", "BACKUP", timeout=10)
        time.sleep(1)
        t_fault = time.time_ns()
        if kind == "script":
            (state / "ok").unlink()
        else:
            a.set_link(False, "eth1")
        da.wait_state("VI_1", "FAULT", timeout=10)
        fifo.wait_line('INSTANCE "VI_1" FAULT 110', timeout=5)
        db.wait_state("VI_1", "MASTER", timeout=5)
        wait_until(lambda: not a.has_address(VIP1.split("/")[0]) or None, 5, message="VIP removed from a")
        wait_until(lambda: (out / "fault").exists() or None, 5, message="notify_fault ran")
        assert (out / "fault").read_text() == "VI_1 went to fault\n"
        time.sleep(0.3)
        zero = [f for f in vrrp_frames(cap.frames(), vrid=51, src=a.ip)
                if f.ts_ns > t_fault and f.vrrp is not None and f.vrrp.priority == 0]
        assert zero, "no priority-0 advert from the faulted master"
        assert fifo.lines()[-1] == 'INSTANCE "VI_1" FAULT 110'

        # the tracker recovers: a leaves FAULT, and with the higher priority takes over again
        if kind == "script":
            (state / "ok").touch()
        else:
            a.set_link(True, "eth1")
        wait_count(da, r"\(VI_1\) Entering MASTER STATE", 2, timeout=15)
        assert fifo.lines()[-2:] == ['INSTANCE "VI_1" BACKUP 110', 'INSTANCE "VI_1" MASTER 110']
        assert count(da, "Traceback") == 0
    finally:
        cap.stop()
        fifo.close()


@pytest.mark.parametrize("peer", PEERS)
def test_sync_group_fails_over_as_unit(lab: Lab, sdir: ScriptDir, peer: str) -> None:
    fifo = sdir.fifo()
    sg = "vrrp_sync_group SG1 {\n    group {\n        VI_1\n        VI_2\n    }\n}\n"
    track = "    track_interface {\n        eth1\n    }\n"
    conf_a = (global_defs("router_id a", f"notify_fifo {fifo.path}") + sg
              + instance("VI_1", 51, 150, [VIP1]) + instance("VI_2", 52, 150, [VIP2], extra=track))
    conf_b = (global_defs("router_id b") + sg
              + instance("VI_1", 51, 100, [VIP1]) + instance("VI_2", 52, 100, [VIP2]))
    lab.add_lan()
    a = lab.add_host("a", lans=(0, 1))
    b = lab.add_host("b")
    try:
        da = start(a, "py", conf_a)
        fifo.wait_line('GROUP "SG1" MASTER 0', timeout=15)
        db = start(b, peer, conf_b)
        db.wait_state("VI_2", "BACKUP", timeout=10)
        time.sleep(1)
        n = len(fifo.lines())

        a.set_link(False, "eth1")           # only VI_2 tracks it; VI_1 follows through the group
        fifo.wait_line('GROUP "SG1" FAULT 0', timeout=10)
        db.wait_state("VI_1", "MASTER", timeout=10)
        db.wait_state("VI_2", "MASTER", timeout=5)
        assert sorted(fifo.lines()[n:]) == sorted(['INSTANCE "VI_2" FAULT 150', 'INSTANCE "VI_1" FAULT 150',
                                                   'GROUP "SG1" FAULT 0'])
        assert fifo.lines()[-1] == 'GROUP "SG1" FAULT 0'
        assert not a.has_address(VIP1.split("/")[0]) and not a.has_address(VIP2.split("/")[0])
        da.wait_log(r"VRRP_Group\(SG1\) Syncing instances to FAULT state", timeout=2)

        n = len(fifo.lines())
        a.set_link(True, "eth1")
        fifo.wait_line('GROUP "SG1" MASTER 0', timeout=15, count=2)
        new = fifo.lines()[n:]
        assert new[0] == 'GROUP "SG1" BACKUP 0' or 'GROUP "SG1" BACKUP 0' in new
        assert new[-1] == 'GROUP "SG1" MASTER 0'
        assert {'INSTANCE "VI_1" MASTER 150', 'INSTANCE "VI_2" MASTER 150'} <= set(new)
        wait_until(lambda: a.has_address(VIP1.split("/")[0]) and a.has_address(VIP2.split("/")[0]) or None,
                   5, message="both VIPs back on a")
        wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=5)
        wait_count(db, r"\(VI_2\) Entering BACKUP STATE$", 1, timeout=5)
    finally:
        fifo.close()


def test_track_file_weight(lab: Lab, sdir: ScriptDir) -> None:
    state = sdir.subdir("state")
    tf = state / "prio"
    conf_a = (global_defs("router_id a")
              + f"track_file tf {{\n    file {tf}\n    weight -10\n    init_file 0\n}}\n"
              + instance("VI_1", 51, 150, [VIP1], extra="    track_file {\n        tf\n    }\n"))
    conf_b = global_defs("router_id b") + instance("VI_1", 51, 100, [VIP1])
    a, b = lab.add_hosts("a", "b")
    da = start(a, "py", conf_a)
    da.wait_state("VI_1", "MASTER", timeout=15)
    assert tf.read_text().strip() == "0", "init_file did not create the file"
    db = start(b, "py", conf_b)
    db.wait_state("VI_1", "BACKUP", timeout=10)
    tf.write_text("6\n")                    # 150 - 60 = 90 < 100
    da.wait_log(r"\(VI_1\) Changing effective priority from 150 to 90", timeout=5)
    db.wait_state("VI_1", "MASTER", timeout=10)
    tmp = state / "prio.new"
    tmp.write_text("1\n")
    tmp.rename(tf)                          # an atomic replace is seen too: 150 - 10 = 140
    da.wait_log(r"\(VI_1\) Changing effective priority from 90 to 140", timeout=5)
    wait_count(da, r"\(VI_1\) Entering MASTER STATE", 2, timeout=10)


FIFO_READER = """#!/bin/sh
# args: OUTDIR FIFO; one line per start, then every FIFO line
echo "start $$" >> "$1/events"
while true; do
    if read -r line; then echo "$line" >> "$1/events"; fi
done < "$2"
"""


@pytest.mark.parametrize("change", ["same", "router_id"])
def test_reload_keeps_tracking_and_kernel_state(lab: Lab, sdir: ScriptDir, change: str) -> None:
    """SIGHUP on a tracked, no_accept master: no FAULT flap, no FIFO lines, rules not
    duplicated, the daemon-created FIFO and its reader script carry on."""
    state = sdir.subdir("state")
    (state / "ok").touch()
    out = sdir.subdir("out")
    check = sdir.script("check.sh", CHECK_SH.format(d=state))
    reader = sdir.script("reader.sh", FIFO_READER)
    fifo = str(sdir.path / "vrrp.fifo")            # created by the daemon

    def conf(router_id: str) -> str:
        return (global_defs(f"router_id {router_id}", "script_user root", "enable_script_security",
                            f"vrrp_notify_fifo {fifo}", f"vrrp_notify_fifo_script \"{reader} {out}\"")
                + f"vrrp_script chk {{\n    script {check}\n    interval 1\n    weight 0\n}}\n"
                + instance("VI_1", 51, 110, [VIP1], extra="    no_accept\n    track_script {\n        chk\n    }\n"
                           "    virtual_routes {\n        10.9.0.0/16 via 192.0.2.1 dev eth0\n    }\n"))

    def events() -> list[str]:
        return (out / "events").read_text().splitlines() if (out / "events").exists() else []

    (a,) = lab.add_hosts("a")
    d = start(a, "py", conf("a"))
    d.wait_state("VI_1", "MASTER", timeout=15)
    wait_until(lambda: 'INSTANCE "VI_1" MASTER 110' in events() or None, 5, message="FIFO reader")
    time.sleep(1)
    before = events()
    rules_before = a.run(["nft", "list", "table", "ip", "keepalived"]).stdout
    d.conf_path.write_text(conf("a" if change == "same" else "a2"))
    d.reload()
    d.wait_log("Reload", timeout=10)
    _wait_runs(state, 3)
    assert "FAULT" not in d.log(), d.log()
    assert events() == before, "FIFO lines or a second reader start on reload"
    assert a.run(["nft", "list", "table", "ip", "keepalived"]).stdout == rules_before
    assert "10.9.0.0/16" in a.run(["ip", "route"]).stdout
    assert a.has_address(VIP1.split("/")[0])
    (state / "ok").unlink()                 # the tracker and the FIFO still work after the reload
    d.wait_state("VI_1", "FAULT", timeout=10)
    wait_until(lambda: events()[-1:] == ['INSTANCE "VI_1" FAULT 110'] or None, 3, message=f"FIFO: {events()}")
    wait_until(lambda: "10.9.0.0/16" not in a.run(["ip", "route"]).stdout or None, 3,
               message="virtual route left after FAULT")
    assert sum(e.startswith("start ") for e in events()) == 1


def _priority_scenario(impl: str, sdir: ScriptDir, tag: str) -> bytes:
    """a (impl, 150, track_interface eth1 weight -60, priority-change events) against b
    (keepalived, 100): eth1 down moves the master to b, eth1 up brings it back."""
    fifo = sdir.fifo(f"fifo-{tag}")
    track = "    track_interface {\n        eth1 weight -60\n    }\n"
    conf_a = (global_defs("router_id a", f"notify_fifo {fifo.path}", "vrrp_notify_priority_changes true")
              + instance("VI_1", 51, 150, [VIP1], extra=track))
    conf_b = global_defs("router_id b") + instance("VI_1", 51, 100, [VIP1])
    try:
        with Lab() as lab:
            lab.add_lan()
            a = lab.add_host("a", lans=(0, 1))
            b = lab.add_host("b")
            da = start(a, impl, conf_a)
            fifo.wait_line('INSTANCE "VI_1" MASTER 150', timeout=15)
            db = start(b, "ka", conf_b)
            db.wait_state("VI_1", "BACKUP", timeout=10)
            time.sleep(1)
            a.set_link(False, "eth1")
            fifo.wait_line('INSTANCE "VI_1" BACKUP 90', timeout=10)
            db.wait_state("VI_1", "MASTER", timeout=5)
            time.sleep(1)
            a.set_link(True, "eth1")
            fifo.wait_line('INSTANCE "VI_1" MASTER 150', timeout=10, count=2)
            wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=5)
            time.sleep(1.5)
            da.stop()
            time.sleep(0.3)
            return fifo.read()
    finally:
        fifo.close()


@pytest.mark.interop
def test_weighted_interface_priority_fifo_identical_to_keepalived(sdir: ScriptDir) -> None:
    ours = _priority_scenario("py", sdir, "py")
    theirs = _priority_scenario("ka", sdir, "ka")
    assert b'MASTER_PRIORITY 90' in theirs, theirs.decode()
    assert ours == theirs, f"pykeepalived:\n{ours.decode()}\nkeepalived 2.2.7:\n{theirs.decode()}"


def test_interface_up_down_delays(lab: Lab) -> None:
    """A tracked link going down counts only after its down delay; a flap shorter than the
    delay is not seen at all."""
    conf = ("interface_up_down_delays {\n    eth1 2 0\n}\n" + global_defs("router_id a")
            + instance("VI_1", 51, 110, [VIP1], extra="    track_interface {\n        eth1\n    }\n"))
    lab.add_lan()
    a = lab.add_host("a", lans=(0, 1))
    d = start(a, "py", conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    a.set_link(False, "eth1")
    time.sleep(0.5)
    a.set_link(True, "eth1")
    time.sleep(3)
    assert "FAULT" not in d.log(), "a 0.5 s flap shorter than the 2 s down delay was acted on"
    t0 = time.monotonic()
    a.set_link(False, "eth1")
    d.wait_state("VI_1", "FAULT", timeout=5)
    assert time.monotonic() - t0 >= 1.8, "the down delay was not applied"
    a.set_link(True, "eth1")
    wait_count(d, r"\(VI_1\) Entering MASTER STATE", 2, timeout=10)


@pytest.mark.parametrize("impl", ["py", pytest.param("ka", marks=pytest.mark.interop)])
def test_dynamic_interfaces_tracked_interface_recreated(lab: Lab, impl: str) -> None:
    """With dynamic_interfaces, a tracked interface that is deleted faults the instance and
    its re-creation (a new ifindex) clears the fault."""
    conf = (global_defs("router_id a", "dynamic_interfaces")
            + instance("VI_1", 51, 110, [VIP1], extra="    track_interface {\n        trk0\n    }\n"))
    (a,) = lab.add_hosts("a")

    def create() -> None:          # a veth pair inside the host: up once both ends are up
        a.ip_cmd("link", "add", "trk0", "type", "veth", "peer", "name", "trk1")
        a.ip_cmd("link", "set", "trk1", "up")
        a.ip_cmd("link", "set", "trk0", "up")

    create()
    d = start(a, impl, conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    a.ip_cmd("link", "del", "trk0")
    d.wait_state("VI_1", "FAULT", timeout=5)
    create()
    wait_count(d, r"\(VI_1\) Entering MASTER STATE", 2, timeout=10)
