"""nftables LVS backend with real traffic in namespaces.

    client (lan0) ── lb (lan0 + lan1, VIP 192.0.2.200, our nftables table) ── b1, b2, b3 (lan1)

The backends route through the load balancer (NAT needs the replies to come back through it) and
answer every TCP connection and UDP datagram on port 8080 with their own name. The client counts
who answered.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Iterator

import pytest

from harness import Host, Lab, wait_until
from pykeepalived.core.lvs import (
    PROTO_TCP,
    PROTO_UDP,
    Fwd,
    LvsConfig,
    LvsState,
    RealServerHealth,
    RealServerSpec,
    Table,
    VirtualServerSpec,
    diff,
)
from pykeepalived.lvs.backend import BackendThread
from pykeepalived.lvs.nftables import check_config

pytestmark = pytest.mark.privileged

VIP = "192.0.2.200"
VIP6 = "2001:db8:0::200"
PY = sys.executable

SERVER = r"""
import socket, sys, threading
name = sys.argv[1].encode()
t = socket.socket(socket.AF_INET6); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)      # IPv4 and IPv6 clients
t.bind(("::", 8080)); t.listen(128)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 8080))
def udp():
    while True:
        data, peer = u.recvfrom(100)
        u.sendto(name, peer)
def conn(c):
    with c:
        c.sendall(name + b"\n")
        for line in c.makefile("rb"):
            c.sendall(name + b"\n")
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
while True:
    c, _ = t.accept()
    threading.Thread(target=conn, args=(c,), daemon=True).start()
"""

CLIENT = r"""
import socket, sys
proto, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    if proto == "tcp":
        s = socket.create_connection((sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 80), timeout=3)
        print(s.makefile("rb").readline().decode().strip() or "-")
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
        s.sendto(b"hi", (sys.argv[3], 80))
        try:
            print(s.recv(100).decode())
        except socket.timeout:
            print("timeout")
    s.close()
"""

# one long-lived connection: says who answers, every 0.1 s
HOLDER = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=3)
f = s.makefile("rb")
while True:
    print(f.readline().decode().strip(), flush=True)
    time.sleep(0.1)
    s.sendall(b"ping\n")
"""


class Topology:
    def __init__(self, lab: Lab) -> None:
        lab.add_lan()
        self.lab = lab
        self.client = lab.add_host("client")
        self.lb = lab.add_host("lb", lans=(0, 1))
        self.backends = [lab.add_host(f"b{i}", lans=(1,)) for i in (1, 2, 3)]
        self.lb.ip_cmd("addr", "add", f"{VIP}/24", "dev", "eth0")
        self.lb.ip_cmd("addr", "add", f"{VIP6}/64", "dev", "eth0", "nodad")
        self.lb.run("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1")
        for b in self.backends:
            b.ip_cmd("route", "add", "default", "via", self.lb.addr4(1))
            b.ip_cmd("-6", "route", "add", "default", "via", self.lb.addr6(1))
            b.spawn([PY, "-c", SERVER, b.name], name="server").wait_output("ready")
        self.lvs = BackendThread("nftables", netns=self.lb.ns)

    def rs(self, b: Host, weight: int = 1, **kw: object) -> RealServerSpec:
        return RealServerSpec(addr=b.addr4(1), port=8080, weight=weight, has_checkers=True, **kw)  # type: ignore[arg-type]

    def program(self, state: LvsState, managed: Table | None = None) -> int:
        """Bring the kernel to the state's table; returns how many operations that took."""
        live = self.lvs.run(lambda b: b.read())
        ops = diff(state.table(), live, managed=(managed or live).services)
        assert self.lvs.run(lambda b: b.apply(ops)) == []
        assert self.lvs.run(lambda b: b.read()).services == state.table().services
        return len(ops)

    def names(self, proto: str, n: int, vip: str = VIP, port: int = 80) -> collections.Counter[str]:
        out = self.client.run([PY, "-c", CLIENT, proto, str(n), vip, str(port)], timeout=120).stdout.split()
        return collections.Counter(out)

    def name_of(self, addr: str) -> str:
        return next(b.name for b in self.backends if b.addr4(1) == addr)


@pytest.fixture
def topo(lab: Lab) -> Iterator[Topology]:
    t = Topology(lab)
    try:
        yield t
    finally:
        t.lvs.close()


def vs(t: Topology, sched: str, *servers: RealServerSpec, protocol: int = PROTO_TCP) -> VirtualServerSpec:
    return VirtualServerSpec(addr=VIP, port=80, protocol=protocol, sched=sched, real_servers=servers)


def test_wrr_distribution_follows_weights_tcp_and_udp(topo: Topology) -> None:
    b1, b2, b3 = topo.backends
    servers = (topo.rs(b1, 1), topo.rs(b2, 2), topo.rs(b3, 3))
    state = LvsState(LvsConfig((vs(topo, "wrr", *servers), vs(topo, "wrr", *servers, protocol=PROTO_UDP))))
    assert topo.program(state) == 2 + 6
    for proto in ("tcp", "udp"):
        got = topo.names(proto, 120)
        assert sum(got.values()) == 120 and "timeout" not in got, got
        for b, w in ((b1, 1), (b2, 2), (b3, 3)):
            assert abs(got[b.name] - 120 * w / 6) <= 120 * 0.05, (proto, got)


def test_rr_ignores_weights_and_sh_sticks_to_one_source(topo: Topology) -> None:
    b1, b2, b3 = topo.backends
    state = LvsState(LvsConfig((vs(topo, "rr", topo.rs(b1, 1), topo.rs(b2, 5), topo.rs(b3, 9)),)))
    topo.program(state)
    got = topo.names("tcp", 90)
    assert got == {"b1": 30, "b2": 30, "b3": 30}, got
    sh = LvsState(LvsConfig((vs(topo, "sh", topo.rs(b1), topo.rs(b2), topo.rs(b3)),)))
    topo.program(sh, managed=state.table())
    got = topo.names("tcp", 30)
    assert len(got) == 1 and sum(got.values()) == 30, got


def test_down_backend_gets_no_new_connections(topo: Topology) -> None:
    b1, b2, b3 = topo.backends
    spec = vs(topo, "wrr", topo.rs(b1), topo.rs(b2), topo.rs(b3, inhibit=True))
    state = LvsState(LvsConfig((spec,)))
    topo.program(state)
    assert set(topo.names("tcp", 30)) == {"b1", "b2", "b3"}
    state.update(spec.vs_id, topo.rs(b2).rs_id, RealServerHealth(False))     # removed
    state.update(spec.vs_id, topo.rs(b3).rs_id, RealServerHealth(False))     # inhibited: weight 0
    assert topo.program(state) == 2
    got = topo.names("tcp", 30)
    assert got == {"b1": 30}, got
    got = topo.names("udp", 10)
    assert got == {"timeout": 10}, "no UDP service configured: nothing may answer"
    # all down: new connections are refused, not sent to the load balancer itself
    state.update(spec.vs_id, topo.rs(b1).rs_id, RealServerHealth(False))
    topo.program(state)
    r = topo.client.run([PY, "-c", CLIENT, "tcp", "1", VIP], check=False)
    assert r.returncode != 0 and ("refused" in r.stderr.lower() or "unreachable" in r.stderr.lower()), r.stderr


def test_reload_adding_backend_keeps_established_connections(topo: Topology) -> None:
    b1, b2, b3 = topo.backends
    old = LvsConfig((vs(topo, "rr", topo.rs(b1)),))
    state = LvsState(old)
    topo.program(state)
    holder = topo.client.spawn([PY, "-c", HOLDER, VIP], name="holder")
    holder.wait_output(r"^b1$")
    before = topo.lvs.run(lambda b: b.read())
    state.reload(LvsConfig((vs(topo, "rr", topo.rs(b1), topo.rs(b2), topo.rs(b3)),)))
    assert topo.program(state, managed=before) == 2          # two real servers added, nothing else touched
    got = topo.names("tcp", 30)
    assert got == {"b1": 10, "b2": 10, "b3": 10}, got
    lines_before = len(holder.stdout().split())
    wait_until(lambda: len(holder.stdout().split()) >= lines_before + 5, 10, message="holder stalled")
    assert holder.alive and set(holder.stdout().split()) == {"b1"}


def test_ipv6_service_and_fwmark_service(topo: Topology) -> None:
    b1, b2, b3 = topo.backends
    v6 = VirtualServerSpec(addr=VIP6, port=80, sched="wrr", real_servers=tuple(
        RealServerSpec(addr=b.addr6(1), port=8080, weight=w) for b, w in ((b1, 1), (b2, 3))))
    # packets to VIP port 8000 get mark 7 before NAT; the fwmark service balances them
    topo.lb.nft("table inet pkamark {\n chain pre {\n type filter hook prerouting priority mangle;\n"
                f" ip daddr {VIP} tcp dport 8000 meta mark set 7\n }}\n}}")
    fwm = VirtualServerSpec(fwmark=7, sched="rr", real_servers=(topo.rs(b2), topo.rs(b3)))
    state = LvsState(LvsConfig((v6, fwm)))
    topo.program(state)
    got = topo.names("tcp", 40, vip=VIP6)
    assert got == {"b1": 10, "b2": 30}, got
    got = topo.names("tcp", 20, vip=VIP, port=8000)
    assert got == {"b2": 10, "b3": 10}, got


def test_unsupported_features_are_config_errors_with_position() -> None:
    bad = VirtualServerSpec(addr=VIP, port=80, sched="wlc", persistence_timeout=300, source="/etc/k.conf:12",
                            real_servers=(RealServerSpec(addr="10.0.0.1", port=80, fwd=Fwd.ROUTE, source="/etc/k.conf:14"),))
    errors = check_config(LvsConfig((bad,)))
    assert any(e.startswith("/etc/k.conf:12: lvs_sched wlc is not supported") for e in errors), errors
    assert any(e.startswith("/etc/k.conf:12: persistence_timeout") for e in errors), errors
    assert any(e.startswith("/etc/k.conf:14: real_server 10.0.0.1 lvs_method DR") for e in errors), errors
    good = VirtualServerSpec(addr=VIP, port=80, sched="wrr", real_servers=(RealServerSpec(addr="10.0.0.1", port=80),))
    assert check_config(LvsConfig((good,))) == []
