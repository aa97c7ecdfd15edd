"""Checker process at scale: 10,000 TCP_CHECK + 1,000 HTTP_GET real servers, delay_loop 1 s,
one process, one loop, one scheduler.

Measures, over a steady-state window: CPU time per check (user+sys of the checker process
divided by attempts), how late each attempt starts against its schedule (p50/p99/max), the
resident memory, and that every real server is judged alive (the checks really ran).

Everything runs in a network namespace created here and always removed: the servers (a TCP
listener accepting in C-speed threads, an asyncio HTTP server) in one process, the checker
in another, both on 127.0.0.0/8 inside the namespace.

    sudo .venv/bin/python bench/bench_checkers.py [--tcp 10000] [--http 1000] [--seconds 20]
                                                  [--write-results]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import json
import os
import random
import resource
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

TCP_PORT = 9000
HTTP_PORT = 9080
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
BEGIN, END = "<!-- bench_checkers:begin -->", "<!-- bench_checkers:end -->"


def rs_address(i: int) -> str:
    """The i-th real server address in 127.1.0.0/16 (every one is answered by the listener)."""
    return str(ipaddress.ip_address("127.1.0.1") + i)


# ---------------------------------------------------------------------------------------------
# server side


def serve() -> None:
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", TCP_PORT))
    tcp.listen(65535)

    def acceptor() -> None:
        while True:
            conn, _ = tcp.accept()
            conn.close()

    for _ in range(2):
        threading.Thread(target=acceptor, daemon=True).start()

    body = b"hello world\n"
    reply = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "0.0.0.0", HTTP_PORT, backlog=65535)
        print("READY", flush=True)
        async with server:
            await server.serve_forever()

    run_loop(main())


def run_loop(coro: object) -> None:
    try:
        import uvloop
        uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coro)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# checker side


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def check(n_tcp: int, n_http: int, seconds: float, settle: float) -> dict[str, object]:
    from pykeepalived.check import CheckerService
    from pykeepalived.config import model

    rss_before = rss_kib()
    rs_tcp = tuple(model.RealServer(address=ipaddress.ip_address(rs_address(i)), port=TCP_PORT, checkers=(
        model.TcpCheck(delay_loop=1.0, connect_timeout=3.0, retry=1, delay_before_retry=1.0),))
        for i in range(n_tcp))
    rs_http = tuple(model.RealServer(address=ipaddress.ip_address(rs_address(n_tcp + i)), port=HTTP_PORT,
                                     checkers=(model.HttpGet(delay_loop=1.0, connect_timeout=3.0, retry=1,
                                                             delay_before_retry=3.0,
                                                             urls=(model.Url(path="/"),)),))
                    for i in range(n_http))
    config = model.Config(virtual_servers=(
        model.VirtualServer(address=ipaddress.ip_address("10.0.0.1"), port=TCP_PORT, real_servers=rs_tcp),
        model.VirtualServer(address=ipaddress.ip_address("10.0.0.1"), port=HTTP_PORT, real_servers=rs_http),
    ))

    async def main() -> dict[str, object]:
        loop = asyncio.get_running_loop()
        service = CheckerService.from_config(config, record_lateness=True)
        rss_built = rss_kib()
        gc_pauses: list[float] = []
        gc_t: list[float] = [0.0]

        def gc_cb(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_t[0] = time.perf_counter()
            else:
                gc_pauses.append(time.perf_counter() - gc_t[0])

        gc.callbacks.append(gc_cb)
        stalls: list[float] = []

        async def watchdog() -> None:
            while True:
                t = loop.time()
                await asyncio.sleep(0.01)
                stalls.append(loop.time() - t - 0.01)

        wd = loop.create_task(watchdog())
        # warmup is random up to delay_loop, as keepalived does: checks are spread over the second
        await service.start(bootstrap=0.0, rng=random.Random(7))
        await asyncio.sleep(settle)
        sched = service.scheduler
        started0, lat0 = sched.started, len(sched.lateness)
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = loop.time()
        await asyncio.sleep(seconds)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = loop.time() - t0
        started = sched.started - started0
        lateness = sched.lateness[lat0:]
        snap = service.hub.snapshot()
        wd.cancel()
        gc.callbacks.remove(gc_cb)
        await service.stop()
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        return {
            "loop": type(loop).__module__,
            "checkers": n_tcp + n_http, "tcp": n_tcp, "http": n_http,
            "window_s": round(elapsed, 2),
            "attempts": started,
            "attempts_per_s": round(started / elapsed, 1),
            "expected_per_s": n_tcp + n_http,
            "cpu_s": round(cpu, 2),
            "cpu_share": round(cpu / elapsed, 3),
            "cpu_user_s": round(ru1.ru_utime - ru0.ru_utime, 2),
            "cpu_sys_s": round(ru1.ru_stime - ru0.ru_stime, 2),
            "cpu_us_per_check": round(cpu / started * 1e6, 1) if started else None,
            "late_p50_ms": round(percentile(lateness, 50) * 1e3, 2),
            "late_p99_ms": round(percentile(lateness, 99) * 1e3, 2),
            "late_max_ms": round(max(lateness) * 1e3, 2) if lateness else None,
            "rss_start_mib": round(rss_before / 1024, 1),
            "rss_built_mib": round(rss_built / 1024, 1),
            "rss_end_mib": round(rss_kib() / 1024, 1),
            "alive": sum(1 for h in snap if h.alive),
            "loop_stall_p99_ms": round(percentile(stalls, 99) * 1e3, 1),
            "loop_stall_max_ms": round(max(stalls) * 1e3, 1) if stalls else None,
            "gc_pause_max_ms": round(max(gc_pauses) * 1e3, 1) if gc_pauses else 0.0,
            "gc_runs": len(gc_pauses),
            "errors": sched.errors,
            "maxrss_mib": round(ru1.ru_maxrss / 1024, 1),
        }

    result: dict[str, object] = {}

    async def wrapper() -> None:
        result.update(await main())

    run_loop(wrapper())
    return result


# ---------------------------------------------------------------------------------------------
# orchestration


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def orchestrate(args: argparse.Namespace) -> dict[str, object]:
    ns = f"pkbench-{os.getpid()}-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", ns)
    server = None
    try:
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.core.somaxconn=65535",
           "net.ipv4.tcp_max_syn_backlog=65535", "net.ipv4.ip_local_port_range=1024 65000",
           "net.ipv4.tcp_tw_reuse=1", check=False)
        server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, __file__, "--serve"],
                                  stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        if server.stdout.readline().strip() != "READY":
            raise SystemExit("server did not start")
        r = sh("ip", "netns", "exec", ns, sys.executable, __file__, "--check", "--tcp", str(args.tcp),
               "--http", str(args.http), "--seconds", str(args.seconds), "--settle", str(args.settle))
        return dict(json.loads(r.stdout.strip().splitlines()[-1]))
    finally:
        if server is not None:
            server.kill()
            server.wait()
        sh("ip", "netns", "del", ns, check=False)


ROWS = [
    ("attempts started per second (expected)", lambda r: f"{r['attempts_per_s']:,} ({r['expected_per_s']:,})"),
    ("CPU of the checker process (cores: user+sys)", lambda r: f"{r['cpu_share']} ({r['cpu_user_s']}+{r['cpu_sys_s']} s)"),
    ("CPU per check", lambda r: f"{r['cpu_us_per_check']} µs"),
    ("start lateness vs schedule p50 / p99 / max", lambda r: f"{r['late_p50_ms']} / {r['late_p99_ms']} / {r['late_max_ms']} ms"),
    ("event-loop stalls (10 ms probe) p99 / max", lambda r: f"{r['loop_stall_p99_ms']} / {r['loop_stall_max_ms']} ms"),
    ("GC runs / longest pause", lambda r: f"{r['gc_runs']} / {r['gc_pause_max_ms']} ms"),
    ("RSS: interpreter / checkers built / end", lambda r: f"{r['rss_start_mib']} / {r['rss_built_mib']} / {r['rss_end_mib']} MiB"),
    ("real servers judged alive", lambda r: f"{r['alive']:,} of {r['checkers']:,}"),
    ("checker errors", lambda r: f"{r['errors']}"),
]


def write_results(runs: list[dict[str, object]], load: str) -> None:
    head = "| measure | " + " | ".join(f"{r['tcp']:,} TCP + {r['http']:,} HTTP" for r in runs) + " |"
    sep = "|---|" + "---|" * len(runs)
    lines = [head, sep] + [f"| {name} | " + " | ".join(fmt(r) for r in runs) + " |" for name, fmt in ROWS]
    table = "\n".join(lines)
    section = f"""{BEGIN}
## Health checkers (bench/bench_checkers.py)

Real servers with TCP_CHECK and HTTP_GET, delay_loop 1 s, in one checker process (`{runs[0]['loop']}`
loop, one heap scheduler for all), warmup spread over the first second as keepalived does. The servers
run in a second process (TCP listener accepting in threads, asyncio HTTP server), all on 127.0.0.0/8
inside a private network namespace. Window of {runs[0]['window_s']} s after a settle. The machine is a
2-core VM shared with the other engineers' test runs (load average at the start: {load}), so the
lateness figures include CPU starvation by other processes; compare CPU per check, not wall time.

{table}

Reading it: CPU per check is the figure to compare (about half of it is kernel time: the loopback
handshake and the ephemeral-port search in connect() over tens of thousands of TIME_WAIT sockets, since
the checker closes first as keepalived's TCP_CHECK does). At 11,000 checks per second the checker needs
about one core; on this box the server process and the other engineers' runs take the rest, so the
checker is starved and falls behind its schedule (attempts/s below the expected rate, high lateness),
while the loop itself stays responsive: the scheduler starts at most 128 attempts per loop iteration
(bounded stalls) and `CheckerService.start()` freezes the configuration's objects out of the GC
(`gc.freeze()`). Lateness follows the machine's load during the run: in a quieter run on 2026-11-25
(load average 1.8) the 2,200 case started within 5 ms of schedule at p99 with loop stalls under 20 ms.
Not measured here: keepalived side by side (it cannot run checkers without ip_vs, only inside the IPVS
VM) and the VRRP process's advert gap during the run (a separate process by design).
{END}
"""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--tcp", type=int, default=10000)
    p.add_argument("--http", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--settle", type=float, default=4.0)
    p.add_argument("--write-results", action="store_true")
    args = p.parse_args()
    if args.serve:
        serve()
        return
    if args.check:
        print(json.dumps(check(args.tcp, args.http, args.seconds, args.settle)), flush=True)
        return
    if os.geteuid() != 0:
        raise SystemExit("needs root (creates a network namespace)")
    load = Path("/proc/loadavg").read_text().split()[0]
    runs = []
    scales = [(args.tcp, args.http)] + ([(args.tcp // 5, args.http // 5)] if args.write_results else [])
    for n_tcp, n_http in scales:
        args.tcp, args.http = n_tcp, n_http
        res = orchestrate(args)
        print(json.dumps(res, indent=2))
        runs.append(res)
    if args.write_results:
        write_results(runs, load)


if __name__ == "__main__":
    main()
