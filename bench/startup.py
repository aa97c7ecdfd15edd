"""Start-up and respawn, pykeepalived beside keepalived 2.2.7 (issue 18 "Start-up", issue 24 item 11).

    .venv/bin/python bench/startup.py                      # everything, 7 runs per cell
    .venv/bin/python bench/startup.py --only one,respawn   # some cells
    .venv/bin/python bench/startup.py --python OTHER/.venv/bin/python --label before
                                      # another checkout's pykeepalived (a before/after table)

Runs in network namespaces built with the test harness, as root. Cells (median of --runs):

* one: exec of the daemon (`-n -l -D`, one VRRPv3 BACKUP instance) to its
  `(VI_1) Entering BACKUP STATE (init)` line, read from its output pipe as it is written, and
  the CPU time its processes had used by then (schedstat; what a loaded machine inflates
  least);
* respawn_init: SIGKILL of that daemon's VRRP child to the new child's BACKUP (init) line
  (a fresh daemon each run: a child that ran less than 60 s is respawned with a backoff);
* scale: N=1000 instances (`state MASTER`, priority 200, advert_int 0.1, 200 VRIDs on each of
  5 veth pairs, one VIP each) alone: exec to the last instance's first advert on the wire
  (kernel timestamps in the peer namespace) and to all 1000 VIPs present (`ip addr` polled
  every 20 ms);
* respawn: a pair at advert_int 1 (master priority 150, backup 100, same implementation);
  SIGKILL of the master's VRRP child: the gap in the master's adverts (last before the kill
  to first after it: respawn + start + master-down interval 3.41 s) and whether the backup
  sent adverts meanwhile (it takes over when the gap exceeds its own 3.61 s); and the kill to
  the first advert after it (the same without the random time since the last advert).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from scale import AdvertCapture, Adverts, scale_config, task_cpu_ns, veth_pairs  # noqa: E402

from harness import Lab, VrrpDaemon, keepalived_path  # noqa: E402
from harness.lab import Host  # noqa: E402
from harness.pcap import vrrp_frames  # noqa: E402

ONE = """vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  version 3
  advert_int 1
  virtual_ipaddress {
    192.0.2.200/24
  }
}
"""


def argv_for(d: VrrpDaemon, python: str | None) -> list[str]:
    return d.argv if d.implementation == "keepalived" or python is None else [python, *d.argv[1:]]


def group_cpu_ns(pgid: int) -> int:
    pids = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()
    return sum(task_cpu_ns(int(p)) for p in pids)


def run_one(lab: Lab, host: Host, impl: str, python: str | None) -> tuple[float, float]:
    d = VrrpDaemon(host, ONE, implementation=impl)
    d.conf_path.write_text(ONE)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}     # bytecode cached, as installed
    t0 = time.monotonic()
    p = subprocess.Popen(["ip", "netns", "exec", host.ns, *argv_for(d, python)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, bufsize=1, env=env, start_new_session=True)
    took = cpu = float("nan")
    assert p.stdout is not None
    for line in p.stdout:
        if "Entering BACKUP STATE (init)" in line:
            took = time.monotonic() - t0
            cpu = group_cpu_ns(p.pid) / 1e9
            break
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(10)
    return took, cpu


def run_respawn_init(lab: Lab, host: Host, impl: str, python: str | None) -> float:
    """SIGKILL of the VRRP child of a fresh daemon (one BACKUP instance) to the new child's
    `Entering BACKUP STATE (init)` line."""
    d = VrrpDaemon(host, ONE, implementation=impl)
    d.conf_path.write_text(ONE)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}
    p = subprocess.Popen(["ip", "netns", "exec", host.ns, *argv_for(d, python)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, bufsize=1, env=env, start_new_session=True)
    assert p.stdout is not None
    took = float("nan")
    killed = 0.0
    for line in p.stdout:
        if "Entering BACKUP STATE (init)" in line:
            if killed:
                took = time.monotonic() - killed
                break
            time.sleep(1.0)
            pid = d.vrrp_pid()
            if pid is None:
                break
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(10)
    return took


def run_scale(lab: Lab, impl: str, python: str | None, n: int = 1000) -> tuple[float, float]:
    m, p = lab.add_host(lab._unique("m"), lans=()), lab.add_host(lab._unique("p"), lans=())
    veth_pairs(lab, m, p, (n + 199) // 200)
    cap = AdvertCapture(p)
    conf = scale_config(n, 0.1, 200, "MASTER")
    d = VrrpDaemon(m, conf, implementation=impl)
    d.conf_path.write_text(conf)
    t0_ns = time.clock_gettime_ns(time.CLOCK_REALTIME)
    t0 = time.monotonic()
    d.proc = m.spawn(argv_for(d, python), name=d.conf_path.stem, env={"PYTHONDONTWRITEBYTECODE": ""})
    vips_at = float("nan")
    while time.monotonic() - t0 < 30:
        out = subprocess.run(["ip", "-n", m.ns, "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
        if out.count(" 198.19.") >= n:
            vips_at = time.monotonic() - t0
            break
        time.sleep(0.02)
    time.sleep(1.0)
    cap.stop()
    d.proc.stop()
    adverts = Adverts.read(cap.path, t0_ns)
    masters = {socket.inet_aton(f"198.18.{k}.1") for k in range((n + 199) // 200)}
    firsts = [min(ts) for (src, _), ts in adverts.times.items() if src in masters]
    last_first = (max(firsts) - t0_ns) / 1e9 if len(firsts) == n else float("nan")
    return last_first, vips_at


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


def run_respawn(impl: str, python: str | None, reps: int) -> list[tuple[float, bool, float]]:
    """A fresh master daemon each repetition: a VRRP child that ran less than 60 s is
    respawned after 0, 1, 2, 4 ... s by both implementations (keepalived's backoff).
    (gap, backup took over, kill -> first advert after it): the last figure leaves out where
    in its advert interval the master was killed (uniform over 1 s, the gap's main noise)."""
    out: list[tuple[float, bool, float]] = []
    with Lab() as lab:
        a, b = lab.add_hosts("a", "b")
        db = VrrpDaemon(b, PAIR.format(prio=100), implementation=impl)
        db.conf_path.write_text(db.config)
        db.proc = b.spawn(argv_for(db, python), name=db.conf_path.stem)
        db.wait_state("VI_1", "BACKUP", timeout=30)
        for _ in range(reps):
            da = VrrpDaemon(a, PAIR.format(prio=150), implementation=impl)
            da.conf_path.write_text(da.config)
            da.proc = a.spawn(argv_for(da, python), name=da.conf_path.stem)
            da.wait_state("VI_1", "MASTER", timeout=30)
            time.sleep(2.0)
            pid = da.vrrp_pid()
            assert pid is not None
            cap = lab.capture(bpf="ip proto 112")
            time.sleep(1.5)
            killed = time.time_ns()
            os.kill(pid, signal.SIGKILL)
            time.sleep(6.0)
            frames = vrrp_frames(cap.stop())
            da.proc.stop()
            before = [f.ts_ns for f in frames if f.src == a.ip and f.ts_ns < killed]
            after = [f.ts_ns for f in frames if f.src == a.ip and f.ts_ns > killed]
            took_over = any(f.src == b.ip and f.ts_ns > killed and f.vrrp is not None and f.vrrp.priority > 0
                            for f in frames)
            if before and after:
                out.append(((after[0] - before[-1]) / 1e9, took_over, (after[0] - killed) / 1e9))
            time.sleep(4.0)       # the backup is BACKUP again (or MASTER, alone) before the next round
    return out


def med(xs: list[float]) -> float:
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", default="one,respawn_init,scale,respawn")
    ap.add_argument("--impls", default="keepalived,pykeepalived")
    ap.add_argument("--python", default=None, help="the Python of another checkout for pykeepalived")
    ap.add_argument("--label", default="pykeepalived")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/startup.py needs root (network namespaces)", file=sys.stderr)
        return 2
    impls = [i for i in args.impls.split(",") if i != "keepalived" or keepalived_path()]
    only = set(args.only.split(","))
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load}, "
          f"{os.cpu_count()} cores; pykeepalived = {args.python or sys.executable} ({args.label})")
    for impl in impls:
        name = args.label if impl == "pykeepalived" else impl
        if "one" in only:
            with Lab() as lab:
                h = lab.add_host("h")
                rs = [run_one(lab, h, impl, args.python) for _ in range(args.runs)]
            ts = [t for t, _ in rs]
            print(f"one      {name:14s} exec -> BACKUP (init): median {med(ts) * 1000:7.1f} ms, CPU (all "
                  f"processes) {med([c for _, c in rs]) * 1000:6.1f} ms  runs {[round(t * 1000, 1) for t in ts]}",
                  flush=True)
        if "respawn_init" in only:
            with Lab() as lab:
                h = lab.add_host("h")
                ts = [run_respawn_init(lab, h, impl, args.python) for _ in range(args.runs)]
            print(f"respawn_init {name:10s} kill -> new child's BACKUP (init): median {med(ts) * 1000:7.1f} ms  "
                  f"runs {[round(t * 1000, 1) for t in ts]}", flush=True)
        if "scale" in only:
            res = []
            for _ in range(max(1, args.runs // 2)):
                with Lab() as lab:
                    res.append(run_scale(lab, impl, args.python))
            print(f"scale    {name:14s} N=1000: last first advert median {med([r[0] for r in res]):.3f} s, "
                  f"all VIPs {med([r[1] for r in res]):.3f} s  runs {[(round(x, 3), round(y, 3)) for x, y in res]}",
                  flush=True)
        if "respawn" in only:
            res2 = run_respawn(impl, args.python, args.runs)
            print(f"respawn  {name:14s} advert gap median {med([g for g, _, _ in res2]) * 1000:.0f} ms, "
                  f"kill -> adverts resumed median {med([k for _, _, k in res2]) * 1000:.0f} ms, "
                  f"backup took over {sum(t for _, t, _ in res2)}/{len(res2)}  runs "
                  f"{[(round(g * 1000), round(k * 1000)) for g, _, k in res2]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
