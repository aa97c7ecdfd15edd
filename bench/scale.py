"""Precision at scale, pykeepalived beside keepalived 2.2.7 (issue: precision at scale).

    .venv/bin/python bench/scale.py                 # the full matrix (about 40 minutes)
    .venv/bin/python bench/scale.py --quick         # a reduced matrix (a few minutes)
    .venv/bin/python bench/scale.py --write         # also rewrite bench/RESULTS.md's section
    .venv/bin/python bench/scale.py --n 1000 --intervals 0.1 --loads idle,both \
        --failover 2:1.0,3:0.1 --kinds kill --reps 6 --window 15     # pick cells

Runs in network namespaces built with the test harness (tests/harness), as root:

1. scale: a master daemon with N VRRPv3 instances (VRIDs 1-200 per interface over several veth
   pairs, one VIP each) in namespace `m`, a peer namespace `p` capturing every advert with
   kernel timestamps (tcpdump -i any, short snaplen, 64 MiB ring: lossless at 100k adverts/s;
   tcpdump's own drop count is reported beside the figures). Reported: CPU of the VRRP process
   (schedstat, all its threads) per second and per advert, adverts/s on the wire against
   nominal, per-instance gap percentiles (gaps of each (source, VRID) pooled) and mean drift
   against the nominal interval, RSS and PSS of the whole daemon (parent + children).
   Optionally with the other core, or both cores, saturated by busy loops (the master is
   pinned to CPU 0 and the backup to CPU 1 with taskset, both implementations alike).
   Note: veth delivers into the peer namespace in the sender's context, so the master's CPU
   includes the kernel's receive work for the peer (its sockets and the capture).
2. backups under load (load `idle` only): the same N as backups (priority 100) in `p`;
   spurious MASTER transitions (log lines) and adverts sent by the backup during the window.
3. failover precision: a pair on a bridge; SIGKILL of the master's process group (takeover
   measured as backup's first advert - master's last advert, against 3*interval + skew) and
   SIGTERM (backup's first advert - master's priority-0 advert, against skew). Beside the
   advert, what a client waits for: the VIP on the new master's interface (bench/addrmon.py,
   an rtnetlink listener in its namespace) and its first GARP (bridge capture), each minus
   its first advert.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness import Host, Lab, VrrpDaemon, keepalived_path  # noqa: E402
from harness.lab import Proc  # noqa: E402

IMPLS = ("keepalived", "pykeepalived")
PER_IF = 200
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Precision at scale (bench/scale.py)"
START_LOAD = " ".join(Path("/proc/loadavg").read_text().split()[:3])
FAILOVER_CELLS = "2:1.0,3:0.1,3:0.05,3:0.01"


# ----------------------------------------------------------------------------- configs

def scale_config(n: int, interval: float, priority: int, state: str) -> str:
    out = ["global_defs {\n  vrrp_garp_master_repeat 1\n  vrrp_garp_master_delay 0\n}\n"]
    for i in range(n):
        ifidx, vrid = divmod(i, PER_IF)
        out.append(
            f"vrrp_instance VI_{i} {{\n  state {state}\n  interface v{ifidx}\n  virtual_router_id {vrid + 1}\n"
            f"  priority {priority}\n  version 3\n  advert_int {interval}\n"
            f"  virtual_ipaddress {{\n    198.19.{i // 250}.{i % 250 + 1}/32\n  }}\n}}\n")
    return "".join(out)


def pair_config(version: int, interval: float, priority: int) -> str:
    return (f"vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n"
            f"  priority {priority}\n  version {version}\n  advert_int {interval}\n"
            f"  virtual_ipaddress {{\n    192.0.2.200/24\n  }}\n}}\n")


# ----------------------------------------------------------------------------- measuring

def task_cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid` (schedstat: nanoseconds on a CPU)."""
    total = 0
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError, ValueError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    return total


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) summed over `pids`. RSS counts pages shared after fork once per process;
    PSS splits them, so its sum is what the daemon really occupies."""
    rss = pss = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            m = re.search(r"^Rss:\s+(\d+)", text, re.M)
            rss += int(m.group(1)) if m else 0
            m = re.search(r"^Pss:\s+(\d+)", text, re.M)
            pss += int(m.group(1)) if m else 0
    return rss, pss


def daemon_pids(d: VrrpDaemon) -> list[int]:
    """The parent and its children (keepalived and pykeepalived both fork a VRRP child)."""
    out = subprocess.run(["pgrep", "-g", str(d.pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def percentile(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


class AdvertCapture:
    """tcpdump in a namespace that keeps up with 100,000+ adverts per second.

    The test harness's capture (`-s 0 --immediate-mode`) wakes tcpdump for every packet and
    has only a few ring slots of 256 KiB: it drops most of a sendmmsg burst. Here: a short
    snaplen, a 64 MiB ring and block delivery. tcpdump's own drop count (kernel and
    interface) is read when it stops and reported beside the figures."""

    def __init__(self, host: Host, bpf: str = "ip proto 112", iface: str = "any") -> None:
        name = host.lab._unique(f"{host.name}-adverts")
        self.path = host.lab.workdir / f"{name}.pcap"
        self.proc: Proc = host.spawn(["tcpdump", "-i", iface, "-n", "-U", "--time-stamp-precision=nano",
                                      "-s", "96", "-B", "65536", "-w", str(self.path), bpf], name=name)
        self.proc.wait_output(r"listening on", timeout=10, stream="stderr")
        self.received = self.dropped = -1

    def stop(self) -> None:
        self.proc.stop(timeout=10, sig=signal.SIGINT)
        err = self.proc.stderr()
        m = re.search(r"(\d+) packets? received by filter", err)
        self.received = int(m.group(1)) if m else -1
        drops = [int(x) for x in re.findall(r"(\d+) packets? dropped by (?:kernel|interface)", err)]
        self.dropped = sum(drops) if drops else -1


@dataclass
class Adverts:
    """(source, vrid) -> kernel timestamps (ns) and priorities of captured adverts."""

    times: dict[tuple[bytes, int], list[int]] = field(default_factory=lambda: defaultdict(list))
    prios: dict[tuple[bytes, int], list[int]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def read(cls, path: Path, start_ns: int = 0, end_ns: int = 2**63) -> Adverts:
        """IPv4 VRRP adverts of a pcap (millions of them: a lean reader, not harness.pcap)."""
        a = cls()
        data = path.read_bytes()
        if len(data) < 24:
            return a
        magic = data[:4]
        endian, frac_ns = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
                           b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}[magic]
        linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
        # (offset of the link-layer protocol field, offset of the IP header)
        proto_at, ip_at = {1: (12, 14), 113: (14, 16), 276: (0, 20)}[linktype]
        rec = struct.Struct(endian + "IIII")
        off, end = 24, len(data)
        times, prios = a.times, a.prios
        while off + 16 <= end:
            sec, frac, caplen, _ = rec.unpack_from(data, off)
            off += 16
            pkt = off
            off += caplen
            if off > end:
                break
            ts = sec * 1_000_000_000 + frac * frac_ns
            if not start_ns <= ts <= end_ns or data[pkt + proto_at:pkt + proto_at + 2] != b"\x08\x00":
                continue
            ip = pkt + ip_at
            if data[ip + 9] != 112:
                continue
            v = ip + (data[ip] & 0x0F) * 4
            if v + 3 > off:
                continue
            key = (data[ip + 12:ip + 16], data[v + 1])
            times[key].append(ts)
            prios[key].append(data[v + 2])
        return a


def gap_stats(adverts: Adverts, sources: set[bytes], interval: float) -> dict[str, float]:
    gaps: list[float] = []
    drifts: list[float] = []
    for (src, _vrid), ts in adverts.times.items():
        if src not in sources or len(ts) < 3:
            continue
        ts = sorted(ts)
        g = [(b - a) / 1e9 for a, b in zip(ts, ts[1:], strict=False)]
        gaps.extend(g)
        drifts.append((statistics.fmean(g) - interval) / interval)
    gaps.sort()
    ms = 1000.0
    return {
        "gap_p50_ms": (percentile(gaps, 0.5) - interval) * ms,
        "gap_p99_ms": (percentile(gaps, 0.99) - interval) * ms,
        "gap_p999_ms": (percentile(gaps, 0.999) - interval) * ms,
        "gap_max_ms": ((gaps[-1] if gaps else float("nan")) - interval) * ms,
        "drift_pct": statistics.fmean(drifts) * 100 if drifts else float("nan"),
    }


# ----------------------------------------------------------------------------- topology

def veth_pairs(lab: Lab, a: Host, b: Host, count: int) -> None:
    """v0..v{count-1} between a and b; a has 198.18.k.1, b 198.18.k.2."""
    for k in range(count):
        subprocess.run(["ip", "-n", a.ns, "link", "add", f"v{k}", "type", "veth", "peer", "name", f"v{k}",
                        "netns", b.ns], check=True)
        for host, last in ((a, 1), (b, 2)):
            host.ip_cmd("addr", "add", f"198.18.{k}.{last}/24", "dev", f"v{k}")
            host.ip_cmd("link", "set", f"v{k}", "up")


def start_daemon(host: Host, impl: str, config: str, cpus: str | None) -> VrrpDaemon:
    d = VrrpDaemon(host, config, implementation=impl)
    d.conf_path.write_text(config)
    argv = d.argv if cpus is None else ["taskset", "-c", cpus, *d.argv]
    d.proc = host.spawn(argv, name=d.conf_path.stem)
    return d


@contextlib.contextmanager
def busy_loops(host: Host, cpus: list[str]) -> Iterator[None]:
    procs = [host.spawn(["taskset", "-c", c, sys.executable, "-c", "while True: pass"], name=f"busy{c}")
             for c in cpus]
    try:
        yield
    finally:
        for p in procs:
            p.kill()


def count_states(text: str, state: str) -> int:
    return len(re.findall(rf"Entering {state} STATE", text))


# ----------------------------------------------------------------------------- scenarios

def run_scale(impl: str, n: int, interval: float, load: str, window: float, backups: bool) -> dict[str, object]:
    ifaces = (n + PER_IF - 1) // PER_IF
    with Lab() as lab:
        m, p = lab.add_host("m", lans=()), lab.add_host("p", lans=())
        veth_pairs(lab, m, p, ifaces)
        master = start_daemon(m, impl, scale_config(n, interval, 200, "MASTER"), cpus="0")
        deadline = time.monotonic() + 30 + 5 * interval
        while count_states(master.log(), "MASTER") < n:
            if time.monotonic() > deadline or not master.alive:
                raise RuntimeError(f"{impl}: only {count_states(master.log(), 'MASTER')}/{n} became MASTER")
            time.sleep(0.2)
        backup = start_daemon(p, impl, scale_config(n, interval, 100, "BACKUP"), cpus="1") if backups else None
        if backup is not None:   # the warm-up starts once every backup instance has started
            deadline = time.monotonic() + 30
            while count_states(backup.log(), "BACKUP") < n and backup.alive and time.monotonic() < deadline:
                time.sleep(0.2)
        time.sleep(max(2.0, 5 * interval))  # warm-up
        if backup is not None and not backup.alive:
            raise RuntimeError(f"{impl}: the backup daemon exited:\n{backup.log()[-2000:]}")
        cap = AdvertCapture(p)
        busy = {"idle": [], "other": ["1"], "both": ["0", "1"]}[load]
        with busy_loops(p, busy):
            time.sleep(0.5)
            vrrp_pid = master.vrrp_pid() or master.pid
            backup_log_before = backup.log() if backup else ""
            cpu0, t0 = task_cpu_ns(vrrp_pid), time.monotonic()
            t0_ns = time.clock_gettime_ns(time.CLOCK_REALTIME)
            time.sleep(window)
            cpu1, t1 = task_cpu_ns(vrrp_pid), time.monotonic()
            t1_ns = time.clock_gettime_ns(time.CLOCK_REALTIME)
            rss, pss = memory_kib(daemon_pids(master))
            backup_log_after = backup.log() if backup else ""
            time.sleep(0.2)   # the window's last packets reach the capture file
        cap.stop()
        adverts = Adverts.read(cap.path, t0_ns, t1_ns)
        masters = {socket.inet_aton(f"198.18.{k}.1") for k in range(ifaces)}
        backups_src = {socket.inet_aton(f"198.18.{k}.2") for k in range(ifaces)}
        sent = sum(len(ts) for (src, _), ts in adverts.times.items() if src in masters)
        elapsed = t1 - t0
        cpu_s = (cpu1 - cpu0) / 1e9
        row: dict[str, object] = {
            "impl": impl, "n": n, "interval": interval, "load": load,
            "cpu_pct": 100 * cpu_s / elapsed,
            "cpu_us_per_advert": 1e6 * cpu_s / sent if sent else float("nan"),
            "adverts_per_s": sent / elapsed, "nominal_per_s": n / interval,
            "instances_seen": sum(1 for (src, _) in adverts.times if src in masters),
            "cap_received": cap.received, "cap_dropped": cap.dropped,
            "rss_mib": rss / 1024, "pss_mib": pss / 1024,
            **gap_stats(adverts, masters, interval),
        }
        if backup is not None:
            new_log = backup_log_after[len(backup_log_before):]
            row["backup_master_transitions"] = count_states(new_log, "MASTER")
            row["backup_adverts"] = sum(len(ts) for (src, _), ts in adverts.times.items() if src in backups_src)
            row["backup_instances_advertising"] = sum(1 for (src, _) in adverts.times if src in backups_src)
        return row


ADDRMON = Path(__file__).resolve().parent / "addrmon.py"
PAIR_VIP = "192.0.2.200"


def start_addrmon(host: Host) -> Proc:
    """bench/addrmon.py in `host`: its address events with CLOCK_REALTIME times (the pcap's
    clock). SCHED_FIFO when chrt is allowed: it sleeps until an address changes, and then
    reads the time within tens of microseconds instead of after a time slice."""
    argv = [sys.executable, str(ADDRMON)]
    if subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0:
        argv = ["chrt", "-f", "10", *argv]
    proc = host.spawn(argv, name="addrmon")
    proc.wait_output(r"listening", timeout=10, stream="stdout")
    return proc


def addr_events(proc: Proc, address: str, kind: str = "NEW") -> list[int]:
    out = []
    for line in proc.stdout().splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[1] == kind and parts[2] == address:
            out.append(int(parts[0]))
    return out


def run_failover(impl: str, version: int, interval: float, kind: str, reps: int) -> dict[str, object]:
    """kind: 'kill' (SIGKILL to the process group) or 'stop' (SIGTERM, priority-0 advert).

    Three rows per cell, what a client waits for:
    * advert: the backup's first advert - the master's last advert (kill) or priority-0 advert
      (stop) - the expected interval (3*interval + skew, or skew), both on the bridge capture;
    * vip: the VIP on the backup's interface (RTM_NEWADDR seen by bench/addrmon.py inside the
      backup's namespace) - the backup's first advert;
    * garp: the backup's first gratuitous ARP for the VIP on the bridge - its first advert."""
    prio_b = 100
    skew = (256 - prio_b) / 256 if version == 2 else (256 - prio_b) * interval / 256
    expected = skew if kind == "stop" else 3 * interval + skew
    deltas: list[float] = []
    vips: list[float] = []
    garps: list[float] = []
    per_rep: list[tuple[float | None, ...]] = []      # (advert, vip, garp) ms of each rep, for a look at outliers
    with Lab() as lab:
        a, b = lab.add_hosts("a", "b")
        mon = start_addrmon(b)
        mac_b = b.mac()
        backup = start_daemon(b, impl, pair_config(version, interval, prio_b), cpus=None)
        backup.wait_state("VI_1", "BACKUP", timeout=10)
        for _ in range(reps):
            master = start_daemon(a, impl, pair_config(version, interval, 150), cpus=None)
            wait = 3 * interval + 1 + 2 * interval
            master.wait_state("VI_1", "MASTER", timeout=10 + wait)
            with contextlib.suppress(Exception):
                backup.wait_log(r"Entering BACKUP STATE", timeout=1)
            time.sleep(max(3 * interval, 0.3))
            cap = lab.capture(bpf="ip proto 112 or arp")
            time.sleep(max(2 * interval, 0.2))
            if kind == "kill":
                master.kill()
            else:
                master.stop()
            time.sleep(expected + 4 * interval + 0.5)
            frames = cap.stop()
            a_frames = [f for f in frames if f.vrrp is not None and f.src == a.ip]
            b_frames = [f for f in frames if f.vrrp is not None and f.src == b.ip]
            if kind == "stop":
                zero = [f for f in a_frames if f.vrrp is not None and f.vrrp.priority == 0]
                last_a = zero[0].ts_ns if zero else None
            else:
                last_a = a_frames[-1].ts_ns if a_frames else None
            first_b = next((f.ts_ns for f in b_frames if last_a is not None and f.ts_ns > last_a), None)
            if last_a is not None and first_b is not None:
                deltas.append((first_b - last_a) / 1e9 - expected)
                # the VIP and GARP of this takeover: the first after the master's last advert
                added = next((t for t in addr_events(mon, PAIR_VIP) if t > last_a), None)
                if added is not None:
                    vips.append((added - first_b) / 1e9)
                # the backup's: the old master's delayed GARP (vrrp_garp_master_delay) can come just
                # before it was killed
                garp = next((f.ts_ns for f in frames if f.ts_ns > last_a and (arp := f.arp) is not None
                             and arp.sender_ip == PAIR_VIP and arp.target_ip == PAIR_VIP
                             and arp.sender_mac == mac_b), None)
                if garp is not None:
                    garps.append((garp - first_b) / 1e9)
                per_rep.append((round(deltas[-1] * 1e3, 3),
                                *(None if t is None else round((t - first_b) / 1e6, 3) for t in (added, garp))))
            if master.alive:
                master.kill()
            # let the backup settle as master before the next round makes it BACKUP again
            time.sleep(0.2)
    ms = 1000.0

    def stats(prefix: str, vals: list[float]) -> dict[str, object]:
        vals = sorted(vals)
        return {f"{prefix}median_ms": statistics.median(vals) * ms if vals else float("nan"),
                f"{prefix}max_ms": vals[-1] * ms if vals else float("nan"),
                f"{prefix}min_ms": vals[0] * ms if vals else float("nan")}

    return {"impl": impl, "version": version, "interval": interval, "kind": kind, "reps": len(deltas),
            "expected_ms": expected * ms, **stats("", deltas),
            "vip_reps": len(vips), **stats("vip_", vips), "garp_reps": len(garps), **stats("garp_", garps),
            "per_rep_ms": per_rep}


# ----------------------------------------------------------------------------- report

def fmt(v: object) -> str:
    if isinstance(v, float):
        return "n/a" if v != v else f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def ratio(ours: object, theirs: object) -> str:
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and theirs and ours == ours \
            and theirs == theirs:
        return f"{ours / theirs:.2f}"
    return "n/a"


def table(rows: list[dict[str, object]], key: tuple[str, ...], cols: tuple[str, ...]) -> list[str]:
    by_key: dict[tuple[object, ...], dict[str, dict[str, object]]] = defaultdict(dict)
    for r in rows:
        by_key[tuple(r[k] for k in key)][str(r["impl"])] = r
    head = [*key, *(f"{c} (ka / py / ratio)" for c in cols)]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k, impls in by_key.items():
        ka, py = impls.get("keepalived", {}), impls.get("pykeepalived", {})
        cells = [fmt(x) for x in k]
        for c in cols:
            cells.append(f"{fmt(ka.get(c, 'n/a'))} / {fmt(py.get(c, 'n/a'))} / {ratio(py.get(c), ka.get(c))}")
        out.append("| " + " | ".join(cells) + " |")
    return out


def _cells(rows: list[dict[str, object]], **match: object) -> dict[str, dict[str, object]]:
    """The ka/py rows of one cell: {"keepalived": row, "pykeepalived": row}."""
    return {str(r["impl"]): r for r in rows if all(r.get(k) == v for k, v in match.items())}


def _num(row: dict[str, object] | None, key: str) -> float:
    v = (row or {}).get(key)
    return float(v) if isinstance(v, (int, float)) else float("nan")


def targets(scale: list[dict[str, object]], failover: list[dict[str, object]]) -> list[str]:
    """Issue 8's target table, judged from this run's figures (n/a where a cell did not run)."""
    out = ["| target | cell | keepalived | pykeepalived | ratio | met |", "|---|---|---|---|---|---|"]

    def row(target: str, cell: str, ka: float, py: float, met: bool | None) -> None:
        verdict = "n/a" if met is None or py != py else ("yes" if met else "**no**")
        out.append(f"| {target} | {cell} | {fmt(ka)} | {fmt(py)} | {ratio(py, ka)} | {verdict} |")

    loads = sorted({str(r["load"]) for r in scale}, key=("idle", "other", "both").index)
    for load in loads:
        c = _cells(scale, n=1000, interval=0.1, load=load)
        ka, py = _num(c.get("keepalived"), "cpu_pct"), _num(c.get("pykeepalived"), "cpu_pct")
        row("CPU % of a core, ratio <= 1.0", f"N=1000, 0.1, {load}", ka, py, py <= ka if ka == ka else None)
        ka, py = _num(c.get("keepalived"), "gap_p99_ms"), _num(c.get("pykeepalived"), "gap_p99_ms")
        row("gap p99 (ms) <= keepalived", f"N=1000, 0.1, {load}", ka, py, py <= ka if ka == ka else None)
    for r in scale:
        if r["impl"] == "pykeepalived" and r["n"] in (1000, 2000) and r["interval"] == 0.1:
            ka_row = _cells(scale, n=r["n"], interval=0.1, load=r["load"]).get("keepalived")
            py = _num(r, "drift_pct")
            # 0 to the measure's precision: the first and last rounds of a 20 s window can each be
            # a few ms late (busy cells), and 10 ms over 20 s reads as 0.05 %.
            row("mean drift % = 0 (within +-0.05)", f"N={r['n']}, 0.1, {r['load']}", _num(ka_row, "drift_pct"),
                py, abs(py) <= 0.05)
    c = _cells(scale, n=1000, interval=0.01, load="idle")
    ka, py = _num(c.get("keepalived"), "backup_master_transitions"), _num(c.get("pykeepalived"),
                                                                          "backup_master_transitions")
    row("backup flaps = 0", "N=1000, 0.01, idle", ka, py, py == 0)
    ka, py = _num(c.get("keepalived"), "cpu_pct"), _num(c.get("pykeepalived"), "cpu_pct")
    row("CPU % of a core < 50", "N=1000, 0.01, idle", ka, py, py < 50)
    for f in failover:
        if f["impl"] != "pykeepalived":
            continue
        ka_row = _cells(failover, version=f["version"], interval=f["interval"], kind=f["kind"]).get("keepalived")
        cell = f"v{f['version']} {fmt(f['interval'])} s, {f['kind']}, {f['reps']} reps"
        py = _num(f, "median_ms")
        row("takeover median (ms over expected) <= 0.5", cell, _num(ka_row, "median_ms"), py, py <= 0.5)
        py = _num(f, "max_ms")
        row("takeover max (ms over expected) <= 1.5", cell, _num(ka_row, "max_ms"), py, py <= 1.5)
        for key, what in (("vip", "VIP on the interface"), ("garp", "first GARP")):
            py = _num(f, f"{key}_median_ms")
            row(f"{what} - first advert, median (ms) <= 0.5", cell, _num(ka_row, f"{key}_median_ms"), py,
                py <= 0.5)
            py = _num(f, f"{key}_max_ms")
            row(f"{what} - first advert, max (ms) <= 0.5", cell, _num(ka_row, f"{key}_max_ms"), py, py <= 0.5)
    rss = [r for r in scale if r["n"] == 1000]
    if rss:
        ka = max(_num(r, "rss_mib") for r in rss if r["impl"] == "keepalived") if any(
            r["impl"] == "keepalived" for r in rss) else float("nan")
        py = max(_num(r, "rss_mib") for r in rss if r["impl"] == "pykeepalived")
        row("RSS MiB, whole daemon, <= 29", "N=1000, largest of its cells", ka, py, py <= 29)
    return out


def report(scale: list[dict[str, object]], failover: list[dict[str, object]], command: str,
           section: str = SECTION) -> str:
    lines = [section, "",
             f"Measured {datetime.date.today()} on {os.cpu_count()} cores, kernel {platform.release()}, "
             f"with `{command}`. keepalived 2.2.7 and pykeepalived run the same generated configs in the same "
             "namespaces, the master pinned to CPU 0 and the backup to CPU 1; gaps are per-instance gaps "
             "between consecutive adverts on the wire minus the nominal interval (kernel timestamps in the "
             "peer namespace), pooled over all instances; drift is the mean per-instance period against "
             "nominal; CPU is the VRRP process (all threads, schedstat); RSS and PSS are summed over the "
             f"daemon's processes. Load average at the start: {START_LOAD}.", ""]
    if scale:
        lines += ["### Scale (master with N instances, VRRPv3)", ""]
        lines += table(scale, ("n", "interval", "load"),
                       ("cpu_pct", "cpu_us_per_advert", "adverts_per_s", "gap_p50_ms", "gap_p99_ms",
                        "gap_p999_ms", "gap_max_ms", "drift_pct", "rss_mib", "pss_mib"))
        lines += ["", "Capture check (tcpdump in the peer namespace, per cell ka / py): instances seen, "
                  "packets received by the filter, packets tcpdump reports dropped.", ""]
        lines += table(scale, ("n", "interval", "load"), ("instances_seen", "cap_received", "cap_dropped"))
        if any("backup_master_transitions" in r for r in scale):
            lines += ["", "### Backups under load (same N as backups in the peer namespace)", ""]
            lines += table([r for r in scale if "backup_master_transitions" in r], ("n", "interval", "load"),
                           ("backup_master_transitions", "backup_adverts"))
        lines.append("")
    if failover:
        lines += ["### Failover precision (takeover minus expected; ms)", "",
                  "advert: the backup's first advert - the master's last (kill) or priority-0 (stop) advert "
                  "- expected, on the bridge capture. vip: the VIP on the backup's interface (RTM_NEWADDR read "
                  "by bench/addrmon.py in the backup's namespace, SCHED_FIFO) - that first advert. garp: the "
                  "backup's first gratuitous ARP for the VIP on the bridge - that first advert.", ""]
        lines += table(failover, ("version", "interval", "kind", "expected_ms"),
                       ("reps", "median_ms", "max_ms", "vip_median_ms", "vip_max_ms", "garp_median_ms",
                        "garp_max_ms"))
        lines.append("")
    if scale or failover:
        lines += ["### Targets of issue 8, judged from this run", ""]
        lines += targets(scale, failover)
        lines.append("")
    return "\n".join(lines)


def write_section(text: str, section: str = SECTION) -> None:
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = current.find(section + "\n")
    if start < 0:
        RESULTS.write_text(current.rstrip() + "\n\n" + text + "\n")
        return
    end = current.find("\n## ", start + len(section))
    RESULTS.write_text(current[:start] + text + ("\n" + current[end + 1:] if end >= 0 else "\n"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a reduced matrix with short windows")
    ap.add_argument("--n", default="10,100,1000,2000")
    ap.add_argument("--intervals", default="0.1,0.02,0.01")
    ap.add_argument("--loads", default="idle,other,both")
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--reps", type=int, default=12)
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-failover", action="store_true")
    ap.add_argument("--failover", default=FAILOVER_CELLS, help="version:advert_int cells, comma-separated")
    ap.add_argument("--kinds", default="kill,stop", help="failover kinds: kill (SIGKILL), stop (SIGTERM)")
    ap.add_argument("--write", action="store_true", help="rewrite this benchmark's section of bench/RESULTS.md")
    ap.add_argument("--section", default=SECTION[3:], help="the RESULTS.md section (heading) to write")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/scale.py needs root (network namespaces)", file=sys.stderr)
        return 2
    impls = [i for i in args.impls.split(",") if i != "keepalived" or keepalived_path()]
    if args.quick:
        args.n, args.intervals, args.loads, args.window, args.reps = "100,1000", "0.1,0.01", "idle,both", 5.0, 4
    scale_rows: list[dict[str, object]] = []
    failover_rows: list[dict[str, object]] = []
    if not args.skip_scale:
        for n in map(int, args.n.split(",")):
            for interval in map(float, args.intervals.split(",")):
                for load in args.loads.split(","):
                    for impl in impls:
                        try:
                            row = run_scale(impl, n, interval, load, args.window, backups=(load == "idle"))
                        except Exception as exc:  # noqa: BLE001 - one failed cell must not lose the others
                            row = {"impl": impl, "n": n, "interval": interval, "load": load, "error": str(exc)}
                        print(row, flush=True)
                        scale_rows.append(row)
    if not args.skip_failover:
        cells = [(int(v), float(i)) for v, i in (c.split(":") for c in args.failover.split(","))]
        for version, interval in cells:
            for kind in args.kinds.split(","):
                for impl in impls:
                    try:
                        row = run_failover(impl, version, interval, kind, args.reps)
                    except Exception as exc:  # noqa: BLE001
                        row = {"impl": impl, "version": version, "interval": interval, "kind": kind,
                               "error": str(exc)}
                    print(row, flush=True)
                    failover_rows.append(row)
    command = "python bench/scale.py " + " ".join(sys.argv[1:])
    text = report([r for r in scale_rows if "error" not in r], [r for r in failover_rows if "error" not in r],
                  command.strip(), "## " + args.section)
    errors = [r for r in scale_rows + failover_rows if "error" in r]
    if errors:
        text += "\nCells that failed to run:\n\n" + "\n".join(f"- {r}" for r in errors) + "\n"
    print(text)
    if args.write:
        write_section(text, "## " + args.section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
