"""lvs/ipvs against the real kernel: every operation the diff emits, read-back, reconcile counts, timeouts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from pykeepalived.core.lvs import (
    AF_INET,
    AF_INET6,
    PROTO_TCP,
    PROTO_UDP,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    SVC_F_SCHED1,
    SVC_F_SCHED2,
    DelService,
    DestAttrs,
    DestKey,
    Flush,
    Fwd,
    Service,
    ServiceAttrs,
    ServiceKey,
    SetTimeouts,
    Table,
    Timeouts,
    TunType,
    diff,
)
from pykeepalived.lvs.backend import BackendThread

V4 = ServiceKey(AF_INET, PROTO_TCP, "192.0.2.10", 80)
V4UDP = ServiceKey(AF_INET, PROTO_UDP, "192.0.2.10", 53)
V6 = ServiceKey(AF_INET6, PROTO_TCP, "2001:db8::10", 443)
FWM = ServiceKey(AF_INET, 0, "", 0, 7)
FWM6 = ServiceKey(AF_INET6, 0, "", 0, 8)

RICH = Table({
    V4: Service(ServiceAttrs("wrr"), {
        DestKey("10.0.0.1", 8080): DestAttrs(Fwd.MASQ, 3, u_thresh=100, l_thresh=10),
        DestKey("10.0.0.2", 80): DestAttrs(Fwd.ROUTE, 5),
        DestKey("10.0.0.3", 80): DestAttrs(Fwd.TUNNEL, 1, tun_type=TunType.GUE, tun_port=6080, tun_flags=1),
        DestKey("10.0.0.4", 80): DestAttrs(Fwd.TUNNEL, 0, tun_type=TunType.IPIP),
    }),
    V4UDP: Service(ServiceAttrs("sh", SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_ONEPACKET), {
        DestKey("10.0.0.1", 53): DestAttrs(Fwd.MASQ, 1)}),
    V6: Service(ServiceAttrs("rr", SVC_F_PERSISTENT, 300, 64), {
        DestKey("2001:db8::1", 443): DestAttrs(Fwd.MASQ, 2)}),
    FWM: Service(ServiceAttrs("lc", SVC_F_PERSISTENT, 360, 0xFFFFFF00), {
        DestKey("10.0.0.5", 0): DestAttrs(Fwd.ROUTE, 1), DestKey("10.0.0.6", 25): DestAttrs(Fwd.MASQ, 1)}),
    FWM6: Service(ServiceAttrs("mh", netmask=128), {DestKey("2001:db8::2", 0): DestAttrs(Fwd.ROUTE, 1)}),
})


@pytest.fixture
def ipvs(netns: str) -> Iterator[BackendThread]:
    worker = BackendThread("ipvs", netns=netns)
    try:
        yield worker
    finally:
        worker.close()


def ipvsadm(netns: str, *args: str) -> str:
    """ipvsadm's view of the namespace's table (an independent reader); skips when it is not installed."""
    if shutil.which("ipvsadm") is None:
        pytest.skip("needs ipvsadm (ci/setup.sh installs it) to cross-check the kernel table")
    return subprocess.run(["ip", "netns", "exec", netns, "ipvsadm", *(args or ("-Ln",))], capture_output=True,
                          text=True, check=True).stdout


def test_program_every_kind_of_entry_and_read_it_back(ipvs: BackendThread, netns: str) -> None:
    ops = diff(RICH, ipvs.run(lambda b: b.read()))
    assert ipvs.run(lambda b: b.apply(ops)) == []
    live = ipvs.run(lambda b: b.read())
    assert live.services == RICH.services
    assert diff(RICH, live) == []
    text = " ".join(ipvsadm(netns).split())
    # ipvsadm agrees on what the kernel holds (independent of our parser)
    for line in ("TCP 192.0.2.10:80 wrr", "-> 10.0.0.1:8080 Masq 3", "-> 10.0.0.2:80 Route 5",
                 "-> 10.0.0.3:80 Tunnel 1", "UDP 192.0.2.10:53 sh", "[2001:db8::10]:443 rr persistent 300 mask 64",
                 "FWM 7 lc persistent 360 mask 255.255.255.0", "-> 10.0.0.5:0 Route 1", "FWM 8 IPv6 mh"):
        assert line in text, text


def test_reconcile_fixes_exactly_the_difference(ipvs: BackendThread) -> None:
    ipvs.run(lambda b: b.apply(diff(RICH, Table())))
    # damage the kernel table: a stray dest, a stray service, a changed weight, a removed dest, a changed scheduler
    damaged = dict(RICH.services)
    v4 = dict(damaged[V4].dests)
    v4[DestKey("10.0.0.99", 8080)] = DestAttrs(Fwd.MASQ, 1)
    v4[DestKey("10.0.0.1", 8080)] = DestAttrs(Fwd.MASQ, 7, u_thresh=100, l_thresh=10)
    del v4[DestKey("10.0.0.2", 80)]
    damaged[V4] = Service(ServiceAttrs("rr"), v4)
    stray = ServiceKey(AF_INET, PROTO_TCP, "192.0.2.99", 80)
    damaged[stray] = Service(ServiceAttrs("wlc"), {DestKey("10.0.0.1", 80): DestAttrs()})
    ops = diff(Table(damaged), ipvs.run(lambda b: b.read()), managed=RICH.services)
    ipvs.run(lambda b: b.apply(ops))
    assert ipvs.run(lambda b: b.read()).services == damaged
    # now reconcile back; the stray service is ours (managed) and goes too
    live = ipvs.run(lambda b: b.read())
    ops = diff(RICH, live, managed=set(RICH.services) | {stray})
    assert len(ops) == 5   # edit service, add dest, edit dest, del dest, del service
    before = ipvs.run(lambda b: b.requests)
    assert ipvs.run(lambda b: b.apply(ops)) == []
    assert ipvs.run(lambda b: b.requests) - before == 5
    assert ipvs.run(lambda b: b.read()).services == RICH.services


def test_foreign_services_are_left_alone_at_startup(ipvs: BackendThread) -> None:
    foreign = ServiceKey(AF_INET, PROTO_TCP, "198.51.100.1", 22)
    ipvs.run(lambda b: b.apply(diff(Table({foreign: Service(ServiceAttrs("rr"))}), Table())))
    ops = diff(RICH, ipvs.run(lambda b: b.read()))
    assert DelService(foreign) not in ops
    ipvs.run(lambda b: b.apply(ops))
    assert foreign in ipvs.run(lambda b: b.read()).services


def test_errors_are_reported_per_operation(ipvs: BackendThread) -> None:
    from pykeepalived.core.lvs import AddDest

    ops = [AddDest(V4, DestKey("10.0.0.1", 80), DestAttrs())]     # no such service
    errors = ipvs.run(lambda b: b.apply(ops))
    assert len(errors) == 1 and "No such" in str(errors[0]) or "errno" in str(errors[0])


def test_timeouts_and_flush(ipvs: BackendThread) -> None:
    ipvs.run(lambda b: b.apply([SetTimeouts(Timeouts(tcp=1000, tcpfin=30, udp=45))]))
    assert ipvs.run(lambda b: b.read()).timeouts == Timeouts(1000, 30, 45)
    ipvs.run(lambda b: b.apply([SetTimeouts(Timeouts(udp=50))]))        # 0 leaves the others alone
    assert ipvs.run(lambda b: b.read()).timeouts == Timeouts(1000, 30, 50)
    ipvs.run(lambda b: b.apply(diff(RICH, Table())))
    ipvs.run(lambda b: b.apply([Flush()]))
    assert ipvs.run(lambda b: b.read()).services == {}


ADOPT_CONF = """
virtual_server 192.0.2.10 80 {
  protocol TCP
  lvs_sched wrr
  real_server 10.0.0.1 8080 { weight 2 }
  real_server 10.0.0.2 8080 { weight 3 }
  real_server 10.0.0.3 8080 { weight 1 }
}
virtual_server 192.0.2.11 80 {
  protocol TCP
  lvs_sched rr
  real_server 10.0.0.1 80 { }
}
"""


def test_runtime_start_adopts_existing_table_fixing_only_the_difference(netns: str) -> None:
    """A restarted checker process finds most of its table in the kernel: it sends only the fixes."""
    import asyncio

    from pykeepalived.checker.lvs_runtime import LvsRuntime
    from pykeepalived.config import load_text
    from pykeepalived.core.lvs import AddDest, AddService

    svc = ServiceKey(AF_INET, PROTO_TCP, "192.0.2.10", 80)
    foreign = ServiceKey(AF_INET, PROTO_TCP, "198.51.100.1", 22)
    worker = BackendThread("ipvs", netns=netns)
    try:
        # kernel: 10.0.0.1 right, 10.0.0.2 wrong weight, 10.0.0.3 missing, a stray 10.0.0.9,
        # 192.0.2.11 missing entirely, and somebody else's service
        worker.run(lambda b: b.apply([
            AddService(svc, ServiceAttrs("wrr")), AddDest(svc, DestKey("10.0.0.1", 8080), DestAttrs(Fwd.MASQ, 2)),
            AddDest(svc, DestKey("10.0.0.2", 8080), DestAttrs(Fwd.MASQ, 7)),
            AddDest(svc, DestKey("10.0.0.9", 8080), DestAttrs(Fwd.MASQ, 1)),
            AddService(foreign, ServiceAttrs("rr"))]))
        config = load_text(ADOPT_CONF).config
        before = worker.run(lambda b: b.requests)
        runtime = LvsRuntime(config, worker)

        async def start() -> None:
            await runtime.start()

        asyncio.run(start())
        # fixes: edit 10.0.0.2, add 10.0.0.3, del 10.0.0.9, add service .11 + its dest = 5 operations;
        # plus the read: one service dump, one dest dump for the one configured service the kernel
        # had (the foreign one is not even read) and one config read
        assert runtime.operations == 5
        assert worker.run(lambda b: b.requests) - before == 5 + 1 + 1 + 1
        live = worker.run(lambda b: b.read())
        assert live.services[svc].dests[DestKey("10.0.0.2", 8080)] == DestAttrs(Fwd.MASQ, 3)
        assert DestKey("10.0.0.9", 8080) not in live.services[svc].dests
        assert foreign in live.services      # not ours: left alone
    finally:
        worker.close()


def test_lvs_sync_daemon_follows_the_vrrp_role(ipvs: BackendThread, netns: str) -> None:
    from pykeepalived.lvs.ipvs import SYNC_BACKUP, SYNC_MASTER, SyncDaemon

    subprocess.run(["ip", "-n", netns, "link", "add", "sync0", "type", "dummy"], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "sync0", "up"], check=True)
    cfg = SyncDaemon(SYNC_MASTER, "sync0", 5, port=8848, ttl=2)
    ipvs.run(lambda b: b.set_sync_role(cfg, master=True))
    (d,) = ipvs.run(lambda b: b.sync_daemons())
    assert (d.state, d.ifname, d.syncid, d.port, d.ttl) == (SYNC_MASTER, "sync0", 5, 8848, 2)
    daemons = ipvsadm(netns, "-L", "--daemon")
    assert "master sync daemon (mcast=sync0, syncid=5" in daemons, daemons
    ipvs.run(lambda b: b.set_sync_role(cfg, master=False))
    assert [(d.state, d.syncid) for d in ipvs.run(lambda b: b.sync_daemons())] == [(SYNC_BACKUP, 5)]
    ipvs.run(lambda b: b.stop_sync_daemons())
    assert ipvs.run(lambda b: b.sync_daemons()) == []


def test_traffic_counters_are_the_kernels(ipvs: BackendThread, netns: str) -> None:
    """Issue 15: read_stats gives the kernel's counters as ipvsadm shows them, moved by real
    datagrams through a UDP virtual server (sent from this namespace: IPVS schedules local
    clients at LOCAL_OUT), and /metrics carries them under gen2brain's names."""
    import sys

    from pykeepalived.status.metrics import render_metrics
    from pykeepalived.status.snapshot import kernel_lvs_snapshot

    def ns(*argv: str) -> None:
        r = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (argv, r.stderr)

    ns("ip", "link", "set", "lo", "up")
    ns("ip", "link", "add", "d0", "type", "dummy")
    ns("ip", "link", "set", "d0", "up")
    ns("ip", "addr", "add", "10.9.9.1/24", "dev", "d0")
    ns("ip", "route", "add", "192.0.2.0/24", "dev", "d0")     # the VIP is routed, not local
    key = ServiceKey(AF_INET, PROTO_UDP, "192.0.2.50", 5353)
    dest = DestKey("10.9.9.2", 5353)
    want = Table({key: Service(ServiceAttrs("rr"), {dest: DestAttrs(Fwd.MASQ, 1)})})
    assert ipvs.run(lambda b: b.apply(diff(want, b.read()))) == []
    sender = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "for i in range(5):\n    s.sendto(b'x' * 100, ('192.0.2.50', 5353))\n")
    ns(sys.executable, "-c", sender)
    # The kernel folds its per-CPU counters into what a dump reports every 2 s (the rate
    # estimator's tick): wait until the five datagrams show, then both readers see the same.
    import time

    deadline = time.monotonic() + 15
    while True:
        rows = ipvs.run(lambda b: b.read_stats([key]))
        if rows and rows[0][1].get("inpkts", 0) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [(k, [d for d, _ in ds]) for k, _, ds in rows] == [(key, [dest])]
    svc, dstats = rows[0][1], rows[0][2][0][1]
    # ipvsadm -Ln --stats --exact: Prot LocalAddress:Port Conns InPkts OutPkts InBytes OutBytes
    lines = [line.split() for line in ipvsadm(netns, "-Ln", "--stats", "--exact").splitlines()]
    (vs_line,) = [f for f in lines if f[:2] == ["UDP", "192.0.2.50:5353"]]
    (rs_line,) = [f for f in lines if f[:2] == ["->", "10.9.9.2:5353"]]
    assert [svc[k] for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes")] == [int(x) for x in vs_line[2:7]]
    assert [dstats[k] for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes")] == \
        [int(x) for x in rs_line[2:7]]
    assert svc["conns"] >= 1 and svc["inpkts"] >= 5 and svc["inbytes"] >= 5 * 128, svc
    page = render_metrics({"daemon": {}, "children": {"checkers": {"kernel": kernel_lvs_snapshot(rows)}}}).decode()
    assert f'keepalived_lvs_vip_in_packets{{addr="192.0.2.50:5353",proto="17"}} {float(svc["inpkts"])}' in page
    assert f'keepalived_lvs_rs_conn{{addr="10.9.9.2:5353",proto="17",vip="192.0.2.50:5353"}} ' \
        f'{float(dstats["conns"])}' in page
