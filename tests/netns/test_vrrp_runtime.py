"""pykeepalived's VRRP runtime against the kernel: link and address monitoring, SIGTERM, dumps.

Single-node scenarios (no peer needed) on a LAN with a client; the pair behaviour lives in
test_vrrp_pairs.py.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from vrrp_pair import CELLS, VRID, assert_clean_log, start, vip_holders, wait_count

from harness.lab import Lab
from harness.pcap import vrrp_frames
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(60)]

CELL = CELLS["v3-100ms"]


def test_link_down_fault_and_recovery(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    d = start(a, "py", CELL.config(a, b, 150))
    d.wait_state("VI_1", "MASTER", timeout=10)
    a.set_link(False)
    d.wait_state("VI_1", "FAULT", timeout=3)
    assert vip_holders([a], CELL) == []
    a.set_link(True)
    wait_count(d, r"\(VI_1\) Entering MASTER STATE", 2, timeout=5)
    wait_until(lambda: vip_holders([a], CELL) == ["a"] or None, 3, message="VIP back after link up")
    assert_clean_log(d)


def test_external_vip_deletion_reelects(lab: Lab) -> None:
    """keepalived 2.2.7: a master whose VIP is deleted goes BACKUP and is MASTER again after
    about Skew_Time, re-adding the VIP (spec Appendix B)."""
    a, b = lab.add_hosts("a", "b")
    d = start(a, "py", CELL.config(a, b, 150))
    d.wait_state("VI_1", "MASTER", timeout=10)
    wait_until(lambda: vip_holders([a], CELL) == ["a"] or None, 3, message="VIP added")
    a.ip_cmd("addr", "del", CELL.vips()[0], "dev", "eth0")
    wait_count(d, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=3)
    wait_count(d, r"\(VI_1\) Entering MASTER STATE", 2, timeout=3)
    wait_until(lambda: vip_holders([a], CELL) == ["a"] or None, 3, message="VIP re-added")


def test_sigterm_priority_zero_vips_removed_exit_0(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    cap = lab.capture()
    d = start(a, "py", CELL.config(a, b, 150))
    d.wait_state("VI_1", "MASTER", timeout=10)
    wait_until(lambda: vip_holders([a], CELL) == ["a"] or None, 3, message="VIP added")
    assert d.stop() == 0
    time.sleep(0.1)
    prios = [f.vrrp.priority for f in vrrp_frames(cap.stop(), vrid=VRID, src=a.ip)]  # type: ignore[union-attr]
    assert prios[-1] == 0 and prios.count(0) == 1 and prios[:-1] and set(prios[:-1]) == {150}
    assert vip_holders([a], CELL) == []


def test_stats_dump_counts_periodic_adverts(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGUSR2 writes <TMPDIR>/keepalived.stats; 'Sent' includes the adverts the IO layer sends
    on its own (not only the core's one-offs), matching the wire within a couple of adverts."""
    monkeypatch.setenv("TMPDIR", str(lab.workdir))
    a, b = lab.add_hosts("a", "b")
    cap = lab.capture()
    d = start(a, "py", CELL.config(a, b, 150))
    d.wait_state("VI_1", "MASTER", timeout=10)
    time.sleep(1.0)
    pid = wait_until(d.vrrp_pid, 5, message="VRRP pid file")
    stats = Path(lab.workdir, "keepalived.stats")
    os.kill(pid, signal.SIGUSR2)
    wait_until(lambda: stats.exists() and "Sent" in stats.read_text() or None, 5, message="stats file")
    on_wire = len(vrrp_frames(cap.stop(), vrid=VRID, src=a.ip))
    sent = int(re.search(r"Sent: *(\d+)", stats.read_text()).group(1))  # type: ignore[union-attr]
    assert on_wire >= 8 and abs(sent - on_wire) <= 2, f"stats say {sent} sent, the wire saw {on_wire}"
