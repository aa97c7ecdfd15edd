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
import contextlib
import json
import multiprocessing as mp
import os
import queue
import resource
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import harness.lab as harness_lab  # noqa: E402
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


def _record(h: History, twin: str, status: str, r: Result | None, seconds: float, cpu: float,
            tag: str, reproduction: str | None = None) -> dict[str, object]:
    """One line of the --record file: enough to count the run and to replay the history."""
    impls = sorted({n.impl for n in h.cluster.nodes})
    rec: dict[str, object] = {
        "seed": h.seed, "cluster": h.cluster.describe(), "impls": impls, "mixed": len(impls) > 1,
        "nodes": len(h.cluster.nodes), "twin": twin, "events_planned": len(h.events),
        "events_applied": r.events_applied if r is not None else 0, "result": status,
        "seconds": round(seconds, 1), "cpu_s": round(cpu, 2), "tag": tag,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if r is not None and r.failure is not None:
        rec["failure"] = {"event_index": r.failure.event_index, "event": r.failure.event,
                          "message": r.failure.message}
        rec["starved"] = "adverts paused" in r.failure.message   # see Runner.pauses
    if reproduction:
        rec["reproduction"] = reproduction
    return rec


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_one(h: History, args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, object]:
    """Play one history (replayed once if it fails, then shrunk with --shrink); its record."""
    out = Path(args.out)
    pure = args.twins == "pure" or (args.twins == "mixed" and h.seed % 2 == 1)
    twin = "pure" if pure else "compiled"
    if pure:   # the daemons inherit the environment
        os.environ["PYKEEPALIVED_NO_EXTENSIONS"] = "1"
    else:
        os.environ.pop("PYKEEPALIVED_NO_EXTENSIONS", None)

    def play(cand: History, tag: str) -> Result | None:
        wd = out / tag
        shutil.rmtree(wd, ignore_errors=True)
        try:
            return run_history(cand, wd, verbose=args.verbose)
        except (HarnessError, OSError, TimeoutError) as exc:
            log(f"seed {h.seed}: harness error: {exc}")
            return None

    t0, c0 = time.time(), _cpu_children()
    r = play(h, f"seed-{h.seed}")
    secs, cpu = time.time() - t0, _cpu_children() - c0
    if r is None:
        return _record(h, twin, "error", None, secs, cpu, args.tag)
    status = "ok" if r.ok else "FAIL"
    log(f"seed {h.seed}: {status} {r.events_applied} events {secs:.0f}s cpu {cpu:.1f}s  "
        f"{h.cluster.describe()} [{twin}]")
    if r.ok:
        shutil.rmtree(out / f"seed-{h.seed}", ignore_errors=True)
        return _record(h, twin, "ok", r, secs, cpu, args.tag)
    assert r.failure is not None
    log(f"seed {h.seed}:   failure at event {r.failure.event_index} {r.failure.event}: {r.failure.message}\n  "
        + "\n  ".join(r.timeline))
    again = play(h, f"seed-{h.seed}-replay")
    reproducible = again is not None and not again.ok
    log(f"seed {h.seed}:   replay: {'fails again' if reproducible else 'passes (flaky)'}"
        + (f" at event {again.failure.event_index}: {again.failure.message}"
           if again is not None and again.failure is not None else ""))
    if not reproducible:
        return _record(h, twin, "flaky", r, secs, cpu, args.tag)
    assert again is not None and again.failure is not None
    if "adverts paused" in r.failure.message and "adverts paused" in again.failure.message:
        # both times a master went quiet longer than its backups' master-down interval: the load
        # of the machine on a process (or a stall in it: see the pauses in the records); not
        # shrunk, kept apart from protocol failures
        return _record(h, twin, "starved", r, secs, cpu, args.tag)
    shrunk = History(h.seed, h.cluster, h.events[:r.failure.event_index + 1])
    if args.shrink:
        shrunk = shrink(h, r.failure.event_index, _shrink_test(play, h.seed),
                        log=lambda s: log(f"seed {h.seed}:   {s}"))
    log(f"seed {h.seed}:   reproduction: {shrunk.describe()}\n  json: {shrunk.to_json()}")
    (out / f"seed-{h.seed}.json").write_text(shrunk.to_json() + "\n")
    return _record(h, twin, "fail", r, secs, cpu, args.tag, shrunk.to_json())


def _worker(tasks: Any, results: Any, args: argparse.Namespace) -> None:
    """A worker process: histories from `tasks` until None; its records (and log lines) to `results`.
    Its labs are its own (tags carry its pid); SIGTERM removes them (tests/harness) and ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # the parent handles ^C and SIGTERMs us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    harness_lab._handlers_installed = False           # the first Lab installs them in this process
    if args.worker_nice:
        os.nice(args.worker_nice)

    def log(text: str) -> None:
        results.put(("log", text))

    while True:
        item = tasks.get()
        if item is None:
            results.put(("done", os.getpid()))
            return
        seed, n_events = item
        h = generate(seed, n_events, impls=tuple(args.impls))
        results.put(("record", run_one(h, args, log)))


class CpuSampler:
    """CPU used by this process and its descendants, from /proc: each live one's utime + stime plus
    cutime + cstime (its children already waited for: the `ip`, `ping`, `nft` calls, stopped daemons),
    so the run's share of the machine while it runs, beside the load average."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.t, self.total = time.time(), self._total()

    def _total(self) -> int:
        parent: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                f = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parent[int(d)] = int(f[1])
            ticks[int(d)] = sum(int(x) for x in f[11:15])   # utime stime cutime cstime
        me, total = os.getpid(), 0
        for pid in parent:
            p, hops = pid, 0
            while p > 1 and hops < 64:
                if p == me:
                    total += ticks[pid]
                    break
                p, hops = parent.get(p, 0), hops + 1
        return total

    def sample(self) -> float:
        """Cores used since the last sample."""
        now, total = time.time(), self._total()
        cores = max(0, total - self.total) / self.tick / max(now - self.t, 1e-3)
        self.t, self.total = now, total
        return cores


def count_records(paths: list[str]) -> dict[str, object]:
    """Counts over --record files: a history played to its end or to its failure counts; a harness
    error (the lab could not be built) does not."""
    recs = [json.loads(line) for path in paths for line in Path(path).read_text().splitlines() if line.strip()]
    played = [r for r in recs if r["result"] != "error"]
    full = [r for r in played if r["events_applied"] == r["events_planned"] and r["result"] == "ok"]
    out: dict[str, object] = {
        "histories": len(played), "events": sum(r["events_applied"] for r in played),
        "histories_with_all_events_and_no_failure": len(full),
        "mixed": sum(1 for r in played if r["mixed"]),
        "pure_twins": sum(1 for r in played if r["twin"] == "pure" and "pykeepalived" in r["impls"]),
        "keepalived_only": sum(1 for r in played if r["impls"] == ["keepalived"]),
        "results": {k: sum(1 for r in recs if r["result"] == k) for k in ("ok", "fail", "flaky", "starved", "error")},
        "flaky_with_a_starved_master": sum(1 for r in recs if r["result"] == "flaky" and r.get("starved")),
        "seeds": f"{min(r['seed'] for r in recs)}-{max(r['seed'] for r in recs)}" if recs else "",
        "hours_of_history": round(sum(r["seconds"] for r in played) / 3600, 1),
    }
    return out


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
    ap.add_argument("--jobs", type=int, default=1,
                    help="histories played at once, each in its own worker process and labs (default 1)")
    ap.add_argument("--worker-nice", type=int, default=0, help="os.nice() increment for the workers")
    ap.add_argument("--record", help="append one JSON line per history (seed, nodes, twin, events, result) here")
    ap.add_argument("--tag", default="", help="recorded with each history (e.g. the commit under test)")
    ap.add_argument("--sample", type=float, default=60.0,
                    help="with --jobs > 1: print the load average and the run's CPU (cores) this often (s)")
    ap.add_argument("--count", nargs="+", metavar="RECORD",
                    help="print the counts of --record files (histories, events, mixed, pure twins, results) and exit")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.count:
        print(json.dumps(count_records(args.count), indent=1))
        return 0
    cleanup_stale()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    args.impls = [args.only_impl] if args.only_impl else list(IMPLS)
    record = open(args.record, "a") if args.record else None   # noqa: SIM115
    totals = {"histories_run": 0, "events_applied": 0, "failures": 0, "flaky": 0, "harness_errors": 0}
    t_start = time.time()

    def account(rec: dict[str, object]) -> None:
        status = rec["result"]
        if status == "error":
            totals["harness_errors"] += 1
        else:
            totals["histories_run"] += 1
            totals["events_applied"] += int(rec["events_applied"])  # type: ignore[call-overload]
            if status == "fail":
                totals["failures"] += 1
            elif status in ("flaky", "starved"):
                totals["flaky"] += 1
        if record is not None:
            record.write(json.dumps(rec) + "\n")
            record.flush()

    def log(text: str) -> None:
        print(text, flush=True)

    try:
        if args.history or args.jobs <= 1:
            if args.history:
                histories = [History.from_json(args.history)]
            else:
                histories = [generate(s, args.events, impls=tuple(args.impls)) for s in parse_seeds(args.seeds)]
            for h in histories:
                account(run_one(h, args, log))
        else:
            run_parallel(args, account, log)
    finally:
        if record is not None:
            record.close()
    summary = {**totals, "seconds": round(time.time() - t_start)}
    print("summary: " + json.dumps(summary), flush=True)
    return 1 if totals["failures"] else 0


def run_parallel(args: argparse.Namespace, account: Callable[[dict[str, object]], None],
                 log: Callable[[str], None]) -> None:
    """--jobs workers (forked before any thread of this process starts); SIGTERM/SIGINT here stop
    them (each removes its labs), then whatever a killed worker left is removed by cleanup_stale()."""
    ctx = mp.get_context("fork")
    tasks, results = ctx.Queue(), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(tasks, results, args), daemon=False)
               for _ in range(args.jobs)]
    stopping = []

    def on_signal(signum: int, frame: object) -> None:
        stopping.append(signum)
        for s in (signal.SIGTERM, signal.SIGINT):   # once: the clean-up below must finish
            signal.signal(s, signal.SIG_IGN)
        raise KeyboardInterrupt

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    for w in workers:
        w.start()
    try:
        for seed in parse_seeds(args.seeds):
            tasks.put((seed, args.events))
        for _ in workers:
            tasks.put(None)
        sampler = CpuSampler()
        next_sample = time.time() + args.sample
        done = 0
        while done < len(workers):
            try:
                kind, payload = results.get(timeout=5)
            except queue.Empty:
                kind, payload = "", None
            if kind == "log":
                log(str(payload))
            elif kind == "record":
                account(payload)
            elif kind == "done":
                done += 1
            if time.time() >= next_sample:
                cores = sampler.sample()
                load = os.getloadavg()
                log(f"# {time.strftime('%H:%M:%S')} load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, "
                    f"this run {cores:.2f} cores")
                next_sample = time.time() + args.sample
            if done < len(workers) and not any(w.is_alive() for w in workers):
                log("all workers gone")
                break
    except KeyboardInterrupt:
        log(f"stopping the workers (signal {stopping[0] if stopping else 'SIGINT'})")
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()          # SIGTERM: the worker's harness handler removes its labs
        for w in workers:
            w.join(30)
            if w.is_alive():
                w.kill()
                w.join(5)
        # drain what the workers finished meanwhile
        with contextlib.suppress(Exception):
            while True:
                kind, payload = results.get(timeout=0.5)
                if kind == "record":
                    account(payload)
        cleanup_stale()
        for s, h in old.items():
            signal.signal(s, h)


if __name__ == "__main__":
    sys.exit(main())
