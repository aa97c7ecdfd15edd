#!/usr/bin/env python3
"""Randomised cluster histories, the long run (issue 23 item 1).  As root, after ci/setup.sh:

    nice .venv/bin/python fuzz/histories.py --seeds 1000-1999 --events 10 [--shrink] [--out DIR]

Plays one history per seed (a cluster of 2-3 nodes, each pykeepalived or keepalived 2.2.7, and
`--events` random events; see tests/histories/), one at a time, and prints a line per history
and a summary: histories run, events applied, failures found.  A failing history is replayed
once to tell a reproducible failure from a flaky one; with --shrink it is then reduced by delta
debugging and printed as JSON, ready to paste into tests/histories/regressions.py.  Daemon logs,
configs and the capture of a failing history stay in --out/seed-N/.  --only-impl restricts the
nodes to one implementation (e.g. keepalived alone, to check the model against the reference).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness.lab import HarnessError, cleanup_stale  # noqa: E402
from histories.model import IMPLS, History, generate  # noqa: E402
from histories.runner import Result, run_history  # noqa: E402
from histories.shrink import shrink  # noqa: E402


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def _shrink_test(play: Callable[[History, str], Result | None], seed: int) -> Callable[[History], bool]:
    count = [0]

    def fails(cand: History) -> bool:
        count[0] += 1
        res = play(cand, f"seed-{seed}-shrink-{count[0]}")
        return res is not None and not res.ok

    return fails


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1-20", help="seed list/ranges, e.g. 1-100,205")
    ap.add_argument("--events", type=int, default=10, help="events per history (default 10)")
    ap.add_argument("--shrink", action="store_true", help="shrink reproducible failures")
    ap.add_argument("--out", default="/tmp/histories", help="where failing histories' logs are kept")
    ap.add_argument("--only-impl", choices=IMPLS, help="every node runs this implementation")
    ap.add_argument("--history", help="replay one history given as JSON (from a report) instead of seeds")
    ap.add_argument("--twins", choices=("compiled", "pure", "mixed"), default="compiled",
                    help="pykeepalived's fast path: compiled, the pure-Python twins "
                         "(PYKEEPALIVED_NO_EXTENSIONS=1), or mixed (pure for odd seeds)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    cleanup_stale()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    impls = (args.only_impl,) if args.only_impl else IMPLS
    if args.history:
        histories = [History.from_json(args.history)]
    else:
        histories = [generate(s, args.events, impls=impls) for s in parse_seeds(args.seeds)]
    runs = events = failures = flaky = errors = 0
    t_start = time.time()

    def play(h: History, tag: str) -> Result | None:
        wd = out / tag
        shutil.rmtree(wd, ignore_errors=True)
        pure = args.twins == "pure" or (args.twins == "mixed" and h.seed % 2 == 1)
        if pure:   # the daemons inherit the environment
            os.environ["PYKEEPALIVED_NO_EXTENSIONS"] = "1"
        else:
            os.environ.pop("PYKEEPALIVED_NO_EXTENSIONS", None)
        try:
            return run_history(h, wd, verbose=args.verbose)
        except (HarnessError, OSError, TimeoutError) as exc:
            print(f"  harness error: {exc}", flush=True)
            return None

    for h in histories:
        t0 = time.time()
        r = play(h, f"seed-{h.seed}")
        if r is None:
            errors += 1
            continue
        runs += 1
        events += r.events_applied
        status = "ok" if r.ok else "FAIL"
        twin = "pure" if os.environ.get("PYKEEPALIVED_NO_EXTENSIONS") else "compiled"
        print(f"seed {h.seed}: {status} {r.events_applied} events {time.time() - t0:.0f}s  {h.cluster.describe()}"
              f" [{twin}]", flush=True)
        if r.ok:
            shutil.rmtree(out / f"seed-{h.seed}", ignore_errors=True)
            continue
        assert r.failure is not None
        print(f"  failure at event {r.failure.event_index} {r.failure.event}: {r.failure.message}")
        print("  " + "\n  ".join(r.timeline))
        again = play(h, f"seed-{h.seed}-replay")
        reproducible = again is not None and not again.ok
        print(f"  replay: {'fails again' if reproducible else 'passes (flaky)'}", flush=True)
        if not reproducible:
            flaky += 1
            continue
        failures += 1
        shrunk = History(h.seed, h.cluster, h.events[:r.failure.event_index + 1])
        if args.shrink:
            shrunk = shrink(h, r.failure.event_index, _shrink_test(play, h.seed))
        print(f"  reproduction: {shrunk.describe()}")
        print(f"  json: {shrunk.to_json()}", flush=True)
        (out / f"seed-{h.seed}.json").write_text(shrunk.to_json() + "\n")
    summary = {"histories_run": runs, "events_applied": events, "failures": failures, "flaky": flaky,
               "harness_errors": errors, "seconds": round(time.time() - t_start)}
    print("summary: " + json.dumps(summary), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
