"""A SIGKILLed VRRP child is back quickly (issue 24 item 11).

The master's VRRP child is killed; the supervisor forks a new one, which starts as BACKUP and
becomes MASTER again after its master-down interval (3 x 1 s + skew = 3.41 s at priority
150). keepalived 2.2.7 is back in its init state 10-40 ms after the kill on this machine; the
old pykeepalived child needed about 2 s here (the supervisor imported asyncio to compute a
socket path before respawning, the child ran `ldconfig -p` twice and imported every module
itself), and its adverts stopped for 6.1 s where keepalived's stopped for 4.0 s (the same
loaded machine; the issue measured 3.96 s against 3.45 s on a quieter one). Bounds here are
loaded-machine-safe: at most 1.2 s from the kill to the new child's `Entering BACKUP STATE
(init)`, and at most 1.5 s more than the master-down interval without adverts.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from harness.daemon import VrrpDaemon, keepalived_path
from harness.lab import Lab
from harness.pcap import vrrp_frames

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

PAIR = """vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {prio}
  version 3
  advert_int 1
  virtual_ipaddress {{
    192.0.2.200/24
  }}
}}
"""
MASTER_DOWN = 3 * 1.0 + (256 - 150) / 256


def test_killed_vrrp_child_is_back_quickly(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    backup = VrrpDaemon(b, PAIR.format(prio=100),
                        implementation="keepalived" if keepalived_path() else "pykeepalived").start()
    master = VrrpDaemon(a, PAIR.format(prio=150), implementation="pykeepalived").start()
    master.wait_state("VI_1", "MASTER", timeout=30)
    backup.wait_state("VI_1", "BACKUP", timeout=30)
    time.sleep(1.5)
    pid = master.vrrp_pid()
    assert pid is not None
    cap = lab.capture(bpf="ip proto 112")
    time.sleep(1.5)
    inits = len(re.findall(r"\(VI_1\) Entering BACKUP STATE \(init\)", master.log()))
    masters = len(re.findall(r"\(VI_1\) Entering MASTER STATE", master.log()))
    killed_ns = time.time_ns()
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    back = None
    while time.monotonic() - killed < 10:
        if len(re.findall(r"\(VI_1\) Entering BACKUP STATE \(init\)", master.log())) > inits:
            back = time.monotonic() - killed
            break
        time.sleep(0.01)
    assert back is not None, "the VRRP child was not respawned:\n" + master.log()[-2000:]
    while len(re.findall(r"\(VI_1\) Entering MASTER STATE", master.log())) <= masters:
        assert time.monotonic() - killed < 15, "the new VRRP child never became MASTER"
        time.sleep(0.05)
    time.sleep(0.5)
    frames = vrrp_frames(cap.stop())
    before = [f.ts_ns for f in frames if f.src == a.ip and f.ts_ns < killed_ns]
    after = [f.ts_ns for f in frames if f.src == a.ip and f.ts_ns > killed_ns]
    assert before and after, "no adverts of the master around the kill"
    gap = (after[0] - before[-1]) / 1e9
    assert back <= 1.2, f"the new VRRP child reached BACKUP (init) {back:.3f} s after the kill"
    assert gap <= MASTER_DOWN + 1.5, f"the master's adverts stopped for {gap:.3f} s"
