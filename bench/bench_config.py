"""`-t` on large generated configs: pykeepalived vs keepalived, whole process (start-up included).

    .venv/bin/python bench/bench_config.py [--runs N] [--sizes 250,500,1000]

Generates (in a temp dir) a config with N vrrp_instances (2 VIPs, a track_script and notify
scripts each) and one with 100 virtual_servers x 10 real_servers, runs `keepalived -t` and
`python -m pykeepalived -t` on each, and prints the best-of-N wall times. The linearity check
runs ours on 250/500/1000/2000 instances. Both run inside a private network namespace with an
`eth0` so that interface checks pass the same way for both (removed afterwards).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"
KEEPALIVED = "/usr/sbin/keepalived"
# As installed: bytecode cached (this environment sets PYTHONDONTWRITEBYTECODE, which an install does not).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def vrrp_config(n: int, script: str) -> str:
    out = ["global_defs {", "    enable_script_security", "    script_user root", "}",
           "vrrp_script chk {", f"    script {script}", "    interval 2", "}"]
    for i in range(n):
        a, b = divmod(i, 250)
        out += [f"vrrp_instance VI_{i} {{", "    state BACKUP", "    interface eth0",
                f"    virtual_router_id {i % 255 + 1}", "    priority 100", "    advert_int 1",
                f"    mcast_dst_ip 224.0.{a + 1}.{b + 1}" if True else "",
                "    virtual_ipaddress {", f"        10.{a}.{b}.1/24", f"        10.{a}.{b}.2/24", "    }",
                "    track_script {", "        chk", "    }",
                f'    notify_master "{script} master VI_{i}"', f'    notify_backup "{script} backup VI_{i}"',
                f'    notify "{script}"', "}"]
    return "\n".join(out) + "\n"


def lvs_config(nvs: int, nrs: int) -> str:
    out = []
    for v in range(nvs):
        out += [f"virtual_server 10.1.{v // 250}.{v % 250 + 1} 80 {{", "    delay_loop 6", "    lb_algo rr",
                "    lb_kind NAT", "    protocol TCP"]
        for r in range(nrs):
            out += [f"    real_server 10.2.{v % 250}.{r + 1} 8080 {{", "        weight 1", "        TCP_CHECK {",
                    "            connect_timeout 3", "        }", "    }"]
        out.append("}")
    return "\n".join(out) + "\n"


def timed(cmd: list[str], runs: int) -> tuple[float, int]:
    best = float("inf")
    rc = -1
    subprocess.run(cmd, capture_output=True, env=ENV)  # warm-up: writes bytecode, fills caches
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, env=ENV)
        best = min(best, time.perf_counter() - t)
        rc = p.returncode
    return best, rc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="250,500,1000,2000")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespace)", file=sys.stderr)
        return 1
    ns = "cfgb" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"], check=True)
        exe = ["ip", "netns", "exec", ns]
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            script = os.path.join(d, "notify.sh")
            Path(script).write_text("#!/bin/sh\nexit 0\n")
            os.chmod(script, 0o755)
            files = {"vrrp_1000": vrrp_config(1000, script), "lvs_100x10": lvs_config(100, 10)}
            for n in (int(x) for x in args.sizes.split(",")):
                files[f"vrrp_{n}"] = vrrp_config(n, script)
            paths = {}
            for name, text in files.items():
                p = Path(d) / f"{name}.conf"
                p.write_text(text)
                os.chmod(p, 0o644)
                paths[name] = p
            print(f"{'config':<12} {'lines':>7} {'keepalived':>11} {'pykeepalived':>13} {'ratio':>6}")
            for name in ("vrrp_1000", "lvs_100x10"):
                p = paths[name]
                k, krc = timed(exe + [KEEPALIVED, "-t", "-f", str(p)], args.runs) if Path(KEEPALIVED).exists() \
                    else (float("nan"), -1)
                o, orc = timed(exe + [str(PY), "-m", "pykeepalived", "-t", "-f", str(p)], args.runs)
                lines = files[name].count("\n")
                print(f"{name:<12} {lines:>7} {k * 1000:>9.1f}ms {o * 1000:>11.1f}ms {o / k:>6.1f}"
                      f"   (exit {krc}/{orc})")
            print("\nlinearity (ours, instances -> time; in-process load() and whole process):")
            sys.path.insert(0, str(ROOT / "src"))
            from pykeepalived.config import load
            for n in (int(x) for x in args.sizes.split(",")):
                p = paths[f"vrrp_{n}"]
                best = float("inf")
                for _ in range(args.runs):
                    t = time.perf_counter()
                    load(str(p), interfaces=frozenset({"lo", "eth0"}))
                    best = min(best, time.perf_counter() - t)
                o, _ = timed(exe + [str(PY), "-m", "pykeepalived", "-t", "-f", str(p)], args.runs)
                print(f"  {n:>5} instances: load() {best * 1000:7.1f}ms  ({best / n * 1e6:5.1f}us/instance)"
                      f"   process {o * 1000:7.1f}ms")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
