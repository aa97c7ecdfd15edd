"""LVS programming speed: 1000 services x 10 real servers from empty, then a reload changing 1 % of them.

    # nftables backend (any host, root):
    .venv/bin/python bench/bench_lvs.py --backend nftables
    # IPVS backend, beside real keepalived 2.2.7, inside the IPVS VM:
    ../shared/tools/ipvs-vm/run-in-ipvs-vm.sh '/work/main/.venv/bin/python bench/bench_lvs.py --backend ipvs --keepalived'

Three measurements per backend, each in a fresh network namespace (its own IPVS table / nftables):

* backend: diff + apply of the whole table from empty, then of the 1 % change (10 services get a new
  scheduler, a changed weight and one more real server: 30 operations), then a full reconcile
  (read the kernel table back + diff, nothing to do);
* daemon (IPVS only): `pykeepalived -C` and `keepalived -C` on the same generated keepalived.conf,
  from process start until /proc/net/ip_vs lists every entry, and from SIGHUP with the changed
  config until it shows the change.

Prints a Markdown table; wall-clock seconds, best of --repeat runs for the backend numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pykeepalived.core.lvs import (  # noqa: E402
    AF_INET,
    PROTO_TCP,
    DestAttrs,
    DestKey,
    Fwd,
    Service,
    ServiceAttrs,
    ServiceKey,
    Table,
    diff,
)
from pykeepalived.lvs.backend import BackendThread  # noqa: E402


def vip(i: int) -> str:
    return f"10.{100 + i // 250}.{i % 250}.1"


def rs_addr(i: int, j: int) -> str:
    return f"10.{i // 250}.{i % 250}.{10 + j}"


def table(n: int, m: int, changed: int = 0) -> Table:
    services = {}
    for i in range(n):
        hit = i < changed
        dests = {DestKey(rs_addr(i, j), 8080): DestAttrs(Fwd.MASQ, (j % 3 + 1) + (5 if hit and j == 0 else 0))
                 for j in range(m + (1 if hit else 0))}
        services[ServiceKey(AF_INET, PROTO_TCP, vip(i), 80)] = Service(ServiceAttrs("rr" if hit else "wrr"), dests)
    return Table(services)


def config_text(n: int, m: int, changed: int = 0) -> str:
    out = []
    for i in range(n):
        hit = i < changed
        out.append(f"virtual_server {vip(i)} 80 {{\n  protocol TCP\n  lvs_sched {'rr' if hit else 'wrr'}\n"
                   "  lvs_method NAT\n")
        for j in range(m + (1 if hit else 0)):
            w = (j % 3 + 1) + (5 if hit and j == 0 else 0)
            out.append(f"  real_server {rs_addr(i, j)} 8080 {{ weight {w} }}\n")
        out.append("}\n")
    return "".join(out)


def netns() -> str:
    name = f"pkabench-{os.getpid()}-{time.monotonic_ns() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    return name


def bench_backend(backend: str, n: int, m: int, repeat: int) -> dict[str, float]:
    best: dict[str, float] = {}
    full, changed = table(n, m), table(n, m, changed=max(1, n // 100))
    for _ in range(repeat):
        ns = netns()
        worker = BackendThread(backend, netns=ns)
        try:
            t0 = time.perf_counter()
            ops = diff(full, worker.run(lambda b: b.read()))
            errors = worker.run(lambda b, ops=ops: b.apply(ops))
            t1 = time.perf_counter()
            assert not errors, errors[:3]
            ops = diff(changed, full, managed=full.services)
            errors = worker.run(lambda b, ops=ops: b.apply(ops))
            t2 = time.perf_counter()
            assert not errors and len(ops) == 3 * max(1, n // 100), (errors[:3], len(ops))
            live = worker.run(lambda b: b.read())
            left = diff(changed, live, managed=live.services)
            t3 = time.perf_counter()
            assert left == [], left[:3]
            for k, v in (("from empty", t1 - t0), ("1 % change", t2 - t1), ("reconcile (read + diff)", t3 - t2)):
                best[k] = min(best.get(k, v), v)
        finally:
            worker.close()
            subprocess.run(["ip", "netns", "del", ns], check=False)
    return best


def ip_vs_lines(ns: str) -> list[str]:
    r = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/ip_vs"], capture_output=True, text=True,
                       check=False)
    return r.stdout.splitlines()[3:]


def bench_daemon(argv: list[str], n: int, m: int, workdir: Path, name: str) -> dict[str, float]:
    """Start -> complete table, and SIGHUP with the 1 % change -> change visible, via /proc/net/ip_vs."""
    changed = max(1, n // 100)
    conf = workdir / f"{name}.conf"
    conf.write_text(config_text(n, m))
    ns = netns()
    log = open(workdir / f"{name}.log", "wb")
    cmd = [*argv, "-n", "-l", "-C", "-f", str(conf), "-p", str(workdir / f"{name}.pid"),
           "-c", str(workdir / f"{name}-c.pid")]
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        want = n * (m + 1)
        while len(ip_vs_lines(ns)) < want:
            if proc.poll() is not None or time.perf_counter() - t0 > 1800:
                raise RuntimeError(f"{name} did not program the table:\n{(workdir / f'{name}.log').read_text()[-2000:]}")
            time.sleep(0.05)
        out["start -> table complete"] = time.perf_counter() - t0
        conf.write_text(config_text(n, m, changed))
        t1 = time.perf_counter()
        proc.send_signal(signal.SIGHUP)
        while True:
            lines = ip_vs_lines(ns)
            if len(lines) >= want + changed and sum(" rr " in line for line in lines) >= changed:
                break
            if time.perf_counter() - t1 > 600:
                raise RuntimeError(f"{name} did not apply the reload")
            time.sleep(0.05)
        out["reload (SIGHUP) -> change visible"] = time.perf_counter() - t1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("ipvs", "nftables"), required=True)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--real-servers", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keepalived", action="store_true", help="also time both daemons (IPVS only)")
    a = ap.parse_args()
    n, m = a.services, a.real_servers
    rows = [(f"pykeepalived {a.backend} backend", k, v) for k, v in bench_backend(a.backend, n, m, a.repeat).items()]
    if a.keepalived and a.backend == "ipvs":
        workdir = Path(tempfile.mkdtemp(prefix="pkabench-"))
        try:
            ka = shutil.which("keepalived") or "/usr/sbin/keepalived"
            for k, v in bench_daemon([ka], n, m, workdir, "keepalived").items():
                rows.append(("keepalived 2.2.7 daemon", k, v))
            for k, v in bench_daemon([sys.executable, "-m", "pykeepalived", "--lvs-backend", "ipvs"], n, m, workdir,
                                     "pykeepalived").items():
                rows.append(("pykeepalived daemon", k, v))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{n} services x {m} real servers; 1 % change = {max(1, n // 100)} services "
          f"({3 * max(1, n // 100)} operations)\n")
    print("| what | step | seconds |\n|---|---|---|")
    for who, step, secs in rows:
        print(f"| {who} | {step} | {secs:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
