"""What a client waits for at a takeover: the new master's VIPs on its interface and its GARP /
unsolicited NA, right after its first advert (io/rtnl.py sends the prebuilt address requests
from the loop, then l2 the burst), and what happens when the kernel refuses an address.

Ordering only, with bounds of one advert interval: the milliseconds are bench/scale.py's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from vrrp_pair import CELLS, VRID, adverts, start, wait_count

from harness.lab import Lab, Proc
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(90)]

ADDRMON = Path(__file__).resolve().parents[2] / "bench" / "addrmon.py"


def addrmon(host: object) -> Proc:
    proc: Proc = host.spawn([sys.executable, str(ADDRMON)], name="addrmon")  # type: ignore[attr-defined]
    proc.wait_output(r"listening", timeout=10, stream="stdout")
    return proc


def seen_added(mon: Proc, address: str, after_ns: int) -> int | None:
    """CLOCK_REALTIME ns at which the listener saw `address` added after `after_ns`."""
    for line in mon.stdout().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1] == "NEW" and parts[2] == address and int(parts[0]) > after_ns:
            return int(parts[0])
    return None


@pytest.mark.parametrize("cell_name", ["v3-100ms", "v3-ipv6"])
def test_vip_and_garp_follow_the_takeover_advert(lab: Lab, cell_name: str) -> None:
    cell = CELLS[cell_name]
    a, b, c = lab.add_hosts("a", "b", "c")
    mon = addrmon(b)
    cap = lab.capture()
    src_a = a.ip if cell.family == 4 else a.link_local()     # before the VIPs (fe80::100) are there
    src_b = b.ip if cell.family == 4 else b.link_local()
    master = start(a, "py", cell.config(a, b, 150))
    backup = start(b, "py", cell.config(b, a, 100))
    master.wait_state("VI_1", "MASTER", timeout=10)
    backup.wait_state("VI_1", "BACKUP", timeout=10)
    vip = cell.client_vip
    c.run(["ping", "-c", "1", "-W", "2", vip])      # the client has a neighbour entry for the VIP: a
    time.sleep(3 * cell.advert_int)
    before = backup.log().count("Entering MASTER STATE")   # b may have been master while a started
    kill_ns = time.clock_gettime_ns(time.CLOCK_REALTIME)
    master.kill()
    wait_count(backup, r"\(VI_1\) Entering MASTER STATE", before + 1, timeout=5)
    time.sleep(3 * cell.advert_int)
    frames = cap.stop()
    olds = [f.ts_ns for f in adverts(frames, src_a) if f.ts_ns < kill_ns + 10**9]
    assert olds, "no advert from a before the kill"
    last_a = olds[-1]
    first_b = next((f.ts_ns for f in adverts(frames, src_b) if f.ts_ns > last_a), None)
    assert first_b is not None, (f"no advert from b after a's last: {[(f.src, f.ts_ns - last_a) for f in frames if f.vrrp]}"
                                 f"\n{backup.log()}")
    interval_ns = int(cell.advert_int * 1e9)
    mac_b = b.mac()
    if cell.family == 4:
        garps = [f.ts_ns for f in frames if f.ts_ns > last_a and (arp := f.arp) is not None
                 and arp.sender_ip == vip and arp.target_ip == vip and arp.sender_mac == mac_b]
    else:
        garps = [f.ts_ns for f in frames if f.ts_ns > last_a and (na := f.na) is not None
                 and na.target == vip and f.src_mac == mac_b]
    assert garps, f"no GARP / NA from b for {vip} after the takeover"
    # advert first (VRRP's order), then the GARP, within one advert interval of it
    assert first_b < garps[0] < first_b + interval_ns, (first_b, garps[0])
    added = wait_until(lambda: seen_added(mon, vip, last_a), 3, message=f"{vip} added on b")
    # the listener reads the time after the kernel added it: after the advert, well within an interval
    assert first_b < added < first_b + interval_ns, (first_b, added)
    wait_until(lambda: c.neigh(vip) == mac_b or None, 3, message="the client's neighbour entry follows b")
    assert "Traceback" not in backup.log()


def test_vip_on_a_vanished_interface_is_refused_and_the_takeover_completes(lab: Lab) -> None:
    """One VIP of the instance sits on an interface deleted before the takeover: the kernel
    refuses it (logged with its errno text), the other VIP is added and announced, the notify
    of the new state runs, and the instance stays MASTER."""
    (a,) = lab.add_hosts("a")
    a.ip_cmd("link", "add", "vx0", "type", "veth", "peer", "name", "vx0p")
    a.ip_cmd("link", "set", "vx0", "up")
    marker = lab.workdir / "notified-master"
    cap = lab.capture()
    config = (f"vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n"
              f"  priority 150\n  advert_int 1\n  notify_master \"/bin/touch {marker}\"\n"
              "  virtual_ipaddress {\n    192.0.2.100/24\n    198.51.100.1/32 dev vx0\n  }\n}\n")
    d = start(a, "py", config)
    d.wait_state("VI_1", "BACKUP", timeout=10)
    a.ip_cmd("link", "del", "vx0")
    d.wait_state("VI_1", "MASTER", timeout=10)
    wait_until(lambda: "(VI_1) add 198.51.100.1/32: (19, 'No such device')" in d.log() or None, 3,
               message=f"the refusal logged\n{d.log()}")
    wait_until(marker.exists, 3, message="notify_master ran")
    assert a.has_address("192.0.2.100")
    time.sleep(1.5)
    frames = cap.stop()
    assert any((arp := f.arp) is not None and arp.sender_ip == "192.0.2.100" for f in frames), "no GARP"
    assert len(adverts(frames, a.ip)) >= 2, "the master stopped advertising"
    assert "Traceback" not in d.log() and "Exception" not in d.log(), d.log()
    assert d.log().count("Entering MASTER STATE") == 1
    assert d.stop() == 0
    assert not a.has_address("192.0.2.100")
