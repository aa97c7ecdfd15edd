"""A VRRP flood beside a master/backup pair: what tests/netns/test_flood.py asserts and
bench/flood.py measures (pykeepalived or keepalived 2.2.7 in both roles).

Three hosts on one LAN: `a` (master, priority 150), `b` (backup, priority 100) and `f`, which
floods with a small C sender (flood.c, compiled with gcc at run time) as fast as the machine
goes, for a bounded time and count:

* to the backup (its MAC, IP destination 224.0.0.18): well-formed adverts for the pair's VRID
  with priority 50 and 60, alternately, from `f` ("received lower priority (50) advert ... discarding", one log line
  per packet in keepalived);
* to the master (its MAC): adverts for other VRIDs ("Unknown VRID ..." with
  log_unknown_vrids) and adverts for the pair's VRID with a bad checksum.

Neither kind is sent to the master's MAC in a form it answers (a master answers every
lower-priority advert with one of its own, keepalived's "forcing new election"), so the
master's adverts on the wire are its periodic ones only: a gap there is starvation.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pykeepalived._fastpath import checksum, codec

from harness.daemon import VrrpDaemon
from harness.lab import Host, Lab
from harness.pcap import vrrp_frames

VRID = 51
GROUP = bytes([224, 0, 0, 18])
FLOOD_C = Path(__file__).with_name("flood.c")


def config(me: Host, priority: int, advert_int: float) -> str:
    return f"""global_defs {{
    router_id {me.name}
    log_unknown_vrids
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id {VRID}
    priority {priority}
    advert_int {advert_int:g}
    version 3
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"""


def compile_flooder(workdir: Path) -> Path:
    out = workdir / "flood"
    subprocess.run(["gcc", "-O2", "-o", str(out), str(FLOOD_C)], check=True, capture_output=True, text=True)
    return out


def ipv4(src: bytes, dst: bytes, payload: bytes, ttl: int = 255) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0, 0, ttl, 112, 0, src, dst)
    csum = checksum.internet_checksum(header)
    return header[:10] + struct.pack("!H", csum) + header[12:] + payload


def _packed(ip: str) -> bytes:
    return bytes(int(x) for x in ip.split("."))


def flood_packets(master: Host, backup: Host, flooder: Host) -> list[str]:
    """`DSTMAC:HEX` arguments of flood.c (see the module docstring)."""
    src = _packed(flooder.ip)
    vip = [_packed("192.0.2.100")]
    out = []
    # two different ones, so that no "identical copies" shortcut can absorb them
    lower = [codec.encode_advert(3, VRID, prio, 10, vip, codec.AF_INET, src, GROUP) for prio in (50, 60)]
    out.append(f"{backup.mac()}:{ipv4(src, GROUP, lower[0]).hex()}")
    for vrid in (1, 2, 3):
        other = codec.encode_advert(3, vrid, 50, 10, vip, codec.AF_INET, src, GROUP)
        out.append(f"{master.mac()}:{ipv4(src, GROUP, other).hex()}")
    bad = bytearray(codec.encode_advert(3, VRID, 50, 10, vip, codec.AF_INET, src, GROUP))
    bad[6] ^= 0xFF          # checksum
    out.append(f"{master.mac()}:{ipv4(src, GROUP, bytes(bad)).hex()}")
    out.append(f"{backup.mac()}:{ipv4(src, GROUP, lower[1]).hex()}")
    return out


def rss_kib(pid: int) -> int:
    m = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


@dataclass
class FloodResult:
    implementation: str
    advert_int: float
    sent: int = 0
    seconds: float = 0.0
    max_gap: float = 0.0                 # master's periodic adverts on the wire, during the flood
    gaps_over: int = 0                   # gaps longer than 1.5 intervals
    backup_takeovers: int = 0
    master_lost: int = 0                 # the master entered BACKUP
    rss_kib: dict[str, tuple[int, int]] = field(default_factory=dict)   # host: (before, after)
    log_lines: dict[str, int] = field(default_factory=dict)            # host: lines written
    takeover: float | None = None        # kill_master_after: master's last advert -> backup's first

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def rss_growth_kib(self, host: str) -> int:
        before, after = self.rss_kib[host]
        return after - before

    def summary(self) -> str:
        rss = ", ".join(f"{h} {b / 1024:.1f}->{a / 1024:.1f} MiB" for h, (b, a) in self.rss_kib.items())
        return (f"{self.implementation} advert_int {self.advert_int:g}: {self.sent} packets in {self.seconds:.2f} s "
                f"({self.rate / 1000:.0f} k/s); master's longest advert gap {self.max_gap * 1000:.0f} ms, "
                f"{self.gaps_over} gaps > 1.5 intervals; backup takeovers {self.backup_takeovers}, "
                f"master lost {self.master_lost}; RSS {rss}; log lines {self.log_lines}"
                + ("" if self.takeover is None else f"; takeover after the kill {self.takeover * 1000:.0f} ms"))


def _start(host: Host, implementation: str, conf: str) -> VrrpDaemon:
    return VrrpDaemon(host, conf, implementation=implementation).start()


def _wait_pid(d: VrrpDaemon, timeout: float = 10) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pid = d.vrrp_pid()
        if pid is not None and Path(f"/proc/{pid}").exists():
            return pid
        time.sleep(0.05)
    raise AssertionError(f"{d.implementation} on {d.host.name}: no VRRP child pid")


def run_flood(lab: Lab, implementation: str = "pykeepalived", *, advert_int: float = 0.1,
              seconds: float = 3.0, max_packets: int = 2_000_000, settle: float = 1.0,
              processes: int = 1, kill_master_after: float | None = None, rate: int = 0) -> FloodResult:
    """One flood (see the module docstring); with `kill_master_after`, the master is killed
    (SIGKILL) that many seconds into the flood and the backup's takeover is timed on the wire;
    `rate`: packets a second at most, per flooding process (0: as fast as the machine goes)."""
    a, b, f = lab.add_hosts("a", "b", "f")
    flooder = compile_flooder(lab.workdir)
    cap = lab.capture(bpf=f"(ether src {a.mac()} or ether src {b.mac()}) and ip proto 112", name="adverts")
    da = _start(a, implementation, config(a, 150, advert_int))
    da.wait_state("VI_1", "BACKUP", timeout=10)
    db = _start(b, implementation, config(b, 100, advert_int))
    da.wait_state("VI_1", "MASTER", timeout=10)
    db.wait_state("VI_1", "BACKUP", timeout=10)
    time.sleep(settle)
    assert b.ping(a.ip) and f.ping(a.ip)    # the bridge learns every MAC: unicast frames go to one port
    pids = {"a": _wait_pid(da), "b": _wait_pid(db)}
    result = FloodResult(implementation, advert_int)
    before = {h: rss_kib(p) for h, p in pids.items()}
    lines_before = {h: len(d.log().splitlines()) for h, d in (("a", da), ("b", db))}
    masters_before = db.log().count("Entering MASTER STATE")
    backups_before = da.log().count("Entering BACKUP STATE")
    start_ns = time.time_ns()
    argv = ["ip", "netns", "exec", f.ns, str(flooder), "eth0", f"{seconds:g}", str(max_packets // processes),
            *flood_packets(a, b, f)]
    env = {**os.environ, "FLOOD_RATE": str(rate)}
    senders = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for _ in range(processes)]
    kill_ns = None
    if kill_master_after is not None:
        time.sleep(kill_master_after)
        kill_ns = time.time_ns()
        da.kill()
        pids.pop("a")
    for p in senders:
        out, err = p.communicate(timeout=seconds + 30)
        m = re.search(r"sent (\d+) packets in ([\d.]+) seconds", out)
        assert m, f"flooder said: {out!r} {err!r}"
        result.sent += int(m.group(1))
        result.seconds = max(result.seconds, float(m.group(2)))
    end_ns = time.time_ns()
    time.sleep(settle)          # what the daemons still had queued, and their log writing
    after = {h: rss_kib(p) for h, p in pids.items()}
    result.rss_kib = {h: (before[h], after[h]) for h in pids}
    result.log_lines = {h: len(d.log().splitlines()) - lines_before[h] for h, d in (("a", da), ("b", db))}
    result.backup_takeovers = db.log().count("Entering MASTER STATE") - masters_before
    result.master_lost = da.log().count("Entering BACKUP STATE") - backups_before
    frames = cap.stop()
    window_end = end_ns + settle * 1e9 if kill_ns is None else kill_ns
    times = [fr.ts_ns for fr in vrrp_frames(frames, vrid=VRID, src=a.ip)
             if fr.vrrp is not None and fr.vrrp.priority == 150
             and start_ns - 1e9 <= fr.ts_ns <= window_end]
    gaps = [(t2 - t1) / 1e9 for t1, t2 in zip(times, times[1:], strict=False)]
    assert times, "no advert from the master in the capture"
    # adverts stopping before the end of the window (or the kill) also count
    gaps.append((window_end - times[-1]) / 1e9)
    result.max_gap = max(gaps)
    result.gaps_over = sum(1 for g in gaps if g > 1.5 * advert_int)
    if kill_ns is not None:
        new = [fr.ts_ns for fr in vrrp_frames(frames, vrid=VRID, src=b.ip)
               if fr.vrrp is not None and fr.vrrp.priority == 100 and fr.ts_ns > kill_ns]
        if new:
            result.takeover = (new[0] - times[-1]) / 1e9
    else:
        da.stop()
    db.stop()
    return result
