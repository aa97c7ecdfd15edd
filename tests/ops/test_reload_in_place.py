"""Reload (SIGHUP) of a changed instance, end to end in namespaces (issue 6 item 4).

* VIPs added / removed on a MASTER change in place: no state change, no advert gap above
  1.5 x the interval on the wire, the kernel gains / loses the address, gratuitous ARPs go
  out for the new VIP only, and the adverts carry the new address list;
* a priority change on reload moves mastership as keepalived does: not with nopreempt, at
  once (one master-down interval) without it; real keepalived 2.2.7 is the peer;
* an instance removed on reload notifies (FAULT, or DELETED with notify_deleted) and goes
  silent, its VIP removed; `fifo_write_vrrp_states_on_reload` rewrites every state;
* a broken file on reload leaves everything running: tests/ops/test_vrrp_ops.py
  (test_broken_reload_keeps_everything_running_and_names_file_line).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from ops_helpers import burst_capture

from harness import Frame, Host, Lab, wait_until
from harness.daemon import VrrpDaemon, keepalived_path

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

VIP_A, VIP_B = "192.0.2.100", "198.51.100.1"


def instance(name: str, vrid: int, priority: int, vips: list[str], extra: str = "") -> str:
    addrs = "\n".join(f"    {v}/32" for v in vips)
    return f"""vrrp_instance {name} {{
  interface eth0
  virtual_router_id {vrid}
  priority {priority}
  advert_int 1
{extra}
  virtual_ipaddress {{
{addrs}
  }}
}}
"""


def global_defs(*lines: str) -> str:
    body = "\n".join(f"  {line}" for line in ("vrrp_garp_master_delay 0", *lines))
    return f"global_defs {{\n{body}\n}}\n"


def pyka(host: Host, text: str, name: str = "pyka") -> VrrpDaemon:
    os.environ.pop("PYKEEPALIVED_VRRP_ENTRY", None)
    return VrrpDaemon(host, text, implementation="pykeepalived", name=name).start()


def reload(d: VrrpDaemon, text: str) -> None:
    d.conf_path.write_text(text)
    count = d.log().count("Reload finished")
    d.reload()
    wait_until(lambda: d.log().count("Reload finished") > count, 15)


def after_last_reload(d: VrrpDaemon) -> str:
    return d.log().split("Reloading ...")[-1]


def since_first_reload(d: VrrpDaemon) -> str:
    return d.log().split("Reloading ...", 1)[1]


def adverts(frames: list[Frame], src: str, vrid: int) -> list[Frame]:
    return [f for f in frames if f.vrrp is not None and f.src == src and f.vrrp.vrid == vrid]


def largest_gap(frames: list[Frame]) -> float:
    return max(b.ts - a.ts for a, b in zip(frames, frames[1:], strict=False))


def garps(frames: list[Frame], mac: str, after: float) -> list[str]:
    """Addresses of the gratuitous ARPs sent from `mac` after `after`."""
    return [f.arp.sender_ip for f in frames
            if f.arp is not None and f.ts > after and f.src_mac == mac and f.arp.sender_ip == f.arp.target_ip]


class Fifo:
    """A notify FIFO kept open for reading, so every line written stays readable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""

    def lines(self) -> list[str]:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.data += chunk
        return self.data.decode().splitlines()

    def close(self) -> None:
        os.close(self.fd)


def test_vip_added_then_removed_on_a_master_in_place(lab: Lab) -> None:
    r1, r2 = lab.add_hosts("r1", "r2")
    base = global_defs() + instance("VI_1", 51, 150, [VIP_A])
    more = global_defs() + instance("VI_1", 51, 150, [VIP_A, VIP_B])
    d = pyka(r1, base)
    d.wait_state("VI_1", "MASTER", 15)
    time.sleep(2)                                 # the start-up GARP burst is over
    cap = burst_capture(r2, bpf="ip proto 112 or arp")
    time.sleep(1.5)

    added_at = time.time()
    reload(d, more)
    wait_until(lambda: r1.has_address(VIP_B), 10)
    assert r1.has_address(VIP_A)
    time.sleep(3)
    removed_at = time.time()
    reload(d, base)
    wait_until(lambda: not r1.has_address(VIP_B), 10)
    time.sleep(3)
    frames = cap.stop()

    assert "Entering" not in since_first_reload(d)           # no state change at all
    assert r1.has_address(VIP_A)
    ours = adverts(frames, r1.ip, 51)
    assert ours[0].ts < added_at and ours[-1].ts > removed_at + 2
    gap = largest_gap(ours)
    print(f"largest advert gap over two in-place reloads: {gap:.3f} s")
    assert gap < 1.5
    # The adverts carry the address list in force.
    assert set(ours[-1].vrrp.addresses) == {VIP_A}                        # type: ignore[union-attr]
    middle = [f for f in ours if added_at + 1 < f.ts < removed_at]
    assert middle and all(set(f.vrrp.addresses) == {VIP_A, VIP_B} for f in middle)  # type: ignore[union-attr]
    # Gratuitous ARPs: only for the new VIP, and none on the removal.
    sent = garps(frames, r1.mac(), added_at)
    assert sent and set(sent) == {VIP_B}
    assert not garps(frames, r1.mac(), removed_at)


@pytest.mark.interop
def test_priority_change_on_reload_moves_mastership_as_keepalived(lab: Lab) -> None:
    if keepalived_path() is None:
        pytest.skip("/usr/sbin/keepalived is not installed")
    r1, r2 = lab.add_hosts("r1", "r2")
    ka = VrrpDaemon(r1, global_defs() + instance("VI_1", 51, 150, [VIP_A]), name="ka").start()
    ka.wait_state("VI_1", "MASTER", 15)
    nopreempt = "  state BACKUP\n  nopreempt\n"
    d = pyka(r2, global_defs() + instance("VI_1", 51, 100, [VIP_A], nopreempt))
    d.wait_state("VI_1", "BACKUP", 15)
    time.sleep(2)

    # Higher priority, but nopreempt: keepalived stays master.
    reload(d, global_defs() + instance("VI_1", 51, 200, [VIP_A], nopreempt))
    time.sleep(4)
    assert "Entering" not in since_first_reload(d)
    assert r1.has_address(VIP_A) and not r2.has_address(VIP_A)

    # Preempt allowed: we take over after the master-down interval, keepalived steps down.
    reload(d, global_defs() + instance("VI_1", 51, 200, [VIP_A]))
    d.wait_state("VI_1", "MASTER", 6)
    ka.wait_state("VI_1", "BACKUP", 5)
    wait_until(lambda: r2.has_address(VIP_A) and not r1.has_address(VIP_A), 5)
    assert "BACKUP STATE (init)" not in since_first_reload(d)          # not deleted and added again

    # Our priority below keepalived's again: keepalived (preempting) takes it back.
    reload(d, global_defs() + instance("VI_1", 51, 100, [VIP_A]))
    ka.wait_state("VI_1", "MASTER", 8)
    d.wait_log(r"\(VI_1\) Master received advert from \S+ with higher priority 150, ours 100", 5)
    wait_until(lambda: r1.has_address(VIP_A) and not r2.has_address(VIP_A), 5)


@pytest.mark.parametrize("notify_deleted", [False, True])
def test_instance_removed_on_reload_notifies_and_goes_silent(lab: Lab, notify_deleted: bool) -> None:
    r1, r2 = lab.add_hosts("r1", "r2")
    fifo = Fifo(lab.workdir / "notify.fifo")
    try:
        gd = global_defs(f"notify_fifo {fifo.path}", "fifo_write_vrrp_states_on_reload")
        extra = "  notify_deleted\n" if notify_deleted else ""
        both = gd + instance("VI_1", 51, 150, [VIP_A]) + instance("VI_2", 52, 150, [VIP_B], extra)
        d = pyka(r1, both)
        wait_until(lambda: 'INSTANCE "VI_2" MASTER 150' in fifo.lines() and r1.has_address(VIP_B), 15)
        cap = burst_capture(r2)
        time.sleep(1.5)
        removed_at = time.time()
        reload(d, gd + instance("VI_1", 51, 150, [VIP_A]))
        word = "DELETED" if notify_deleted else "FAULT"
        wait_until(lambda: f'INSTANCE "VI_2" {word} 150' in fifo.lines(), 10)
        wait_until(lambda: not r1.has_address(VIP_B), 5)
        time.sleep(3)
        frames = cap.stop()
        lines = fifo.lines()
    finally:
        fifo.close()
    assert r1.has_address(VIP_A)
    assert not re.search(r"\(VI_1\) Entering", after_last_reload(d))
    gone = adverts(frames, r1.ip, 52)
    assert [f.vrrp.priority for f in gone if f.ts > removed_at] == [0]  # type: ignore[union-attr]
    kept = adverts(frames, r1.ip, 51)
    assert kept[-1].ts > removed_at + 2 and largest_gap(kept) < 1.5
    # fifo_write_vrrp_states_on_reload: the states in force are written again on reload.
    assert lines.count('INSTANCE "VI_1" MASTER 150') == 2


def test_interval_and_routes_change_in_place_on_a_master(lab: Lab) -> None:
    r1, r2 = lab.add_hosts("r1", "r2")
    route = "  virtual_routes {\n    10.99.0.0/24 dev eth0\n  }\n"
    d = pyka(r1, global_defs() + instance("VI_1", 51, 150, [VIP_A]))
    d.wait_state("VI_1", "MASTER", 15)
    cap = burst_capture(r2)
    time.sleep(2.5)
    reload_at = time.time()
    reload(d, global_defs() + instance("VI_1", 51, 150, [VIP_A], route).replace("advert_int 1", "advert_int 2"))
    wait_until(lambda: "10.99.0.0/24" in r1.run(["ip", "route", "show", "10.99.0.0/24"]).stdout, 5)
    time.sleep(7)
    frames = cap.stop()
    assert "Entering" not in since_first_reload(d)
    ours = adverts(frames, r1.ip, 51)
    before = [f for f in ours if f.ts < reload_at]
    after = [f for f in ours if f.ts > reload_at + 0.5]
    assert largest_gap(before) < 1.5
    assert all(f.vrrp.adver_int == 2 for f in after)                      # type: ignore[union-attr]
    gaps = [b.ts - a.ts for a, b in zip(after, after[1:], strict=False)]
    # 2 s apart now, not 1 (bounds for a loaded machine: a late advert, never a 1 s one)
    assert len(gaps) >= 2 and all(1.6 < g < 2.6 for g in gaps), gaps
    assert largest_gap(ours) < 2.6            # the change itself leaves no hole either


def test_vip_added_to_a_sync_group_member_in_place(lab: Lab) -> None:
    r1 = lab.add_host("r1")
    sg = "vrrp_sync_group SG1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"
    text = global_defs() + sg + instance("VI_1", 51, 150, [VIP_A]) + instance("VI_2", 52, 150, ["192.0.2.101"])
    d = pyka(r1, text)
    d.wait_state("VI_1", "MASTER", 15)
    d.wait_state("VI_2", "MASTER", 5)
    reload(d, text.replace(f"    {VIP_A}/32\n", f"    {VIP_A}/32\n    {VIP_B}/32\n"))
    wait_until(lambda: r1.has_address(VIP_B), 5)
    time.sleep(3)
    assert "Entering" not in since_first_reload(d)
    assert r1.has_address(VIP_A) and r1.has_address("192.0.2.101")


def test_identity_change_deletes_and_adds_the_instance(lab: Lab) -> None:
    """A new VRID is another virtual router: the old one says goodbye (priority 0), the new one
    starts from BACKUP (init) like any added instance."""
    r1, r2 = lab.add_hosts("r1", "r2")
    d = pyka(r1, global_defs() + instance("VI_1", 51, 150, [VIP_A]))
    d.wait_state("VI_1", "MASTER", 15)
    cap = burst_capture(r2)
    time.sleep(1.5)
    reload_at = time.time()
    reload(d, global_defs() + instance("VI_1", 61, 150, [VIP_A]))
    d.wait_log(r"Reloading[\s\S]*\(VI_1\) Entering BACKUP STATE \(init\)[\s\S]*\(VI_1\) Entering MASTER STATE", 10)
    wait_until(lambda: r1.has_address(VIP_A), 5)
    time.sleep(1.5)
    frames = cap.stop()
    assert [f.vrrp.priority for f in adverts(frames, r1.ip, 51) if f.ts > reload_at] == [0]  # type: ignore[union-attr]
    assert adverts(frames, r1.ip, 61)
