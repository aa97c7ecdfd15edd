"""A VRRP flood beside a master/backup pair, pykeepalived and keepalived 2.2.7 (issue 24 items 2-3).

    .venv/bin/python bench/flood.py [--seconds 3] [--reps 2] [--processes 1 2] [--advert-int 0.1]

For each implementation (both roles the same), each number of flooding processes and each
rep: a fresh lab (tests/netns/flood_lab.py: master a, backup b, flooder f sending as fast as
the machine goes with a compiled sendmmsg loop), then one line: packets/s reached, the master's
longest advert gap on the wire during the flood, gaps over 1.5 intervals, backup takeovers,
the VRRP children's RSS before -> after and the log lines written. As root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "netns"))

from flood_lab import run_flood  # noqa: E402

from harness import Lab, keepalived_path  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--advert-int", type=float, default=0.1)
    ap.add_argument("--implementations", nargs="+", default=["pykeepalived", "keepalived"])
    args = ap.parse_args()
    impls = [i for i in args.implementations if i != "keepalived" or keepalived_path()]
    print("| implementation | flooders | packets/s | master's longest gap | gaps > 1.5 int | backup takeovers "
          "| RSS a (MiB) | RSS b (MiB) | log lines a / b |")
    print("|---|---|---|---|---|---|---|---|---|")
    for procs in args.processes:
        for impl in impls:
            for _ in range(args.reps):
                with Lab() as lab:
                    r = run_flood(lab, impl, advert_int=args.advert_int, seconds=args.seconds,
                                  max_packets=50_000_000, processes=procs)
                (a0, a1), (b0, b1) = r.rss_kib["a"], r.rss_kib["b"]
                print(f"| {impl} | {procs} | {r.rate / 1000:.0f} k | {r.max_gap * 1000:.0f} ms | {r.gaps_over} "
                      f"| {r.backup_takeovers} | {a0 / 1024:.1f} -> {a1 / 1024:.1f} | {b0 / 1024:.1f} -> {b1 / 1024:.1f} "
                      f"| {r.log_lines['a']} / {r.log_lines['b']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
