"""The IPVS table pykeepalived programs equals the one real keepalived 2.2.7 programs, for the same config.

Both daemons run side by side (checker process only, -C), each in its own network namespace and so
with its own IPVS table, on the same configuration file. Health is forced through MISC_CHECK scripts
that test for a file, so removing a file takes a real server down in both at once. After every step
(start, servers down, quorum lost -> sorry server, servers back, reload changing one service) both
tables are read through netlink and must be identical.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import private_netns
from pykeepalived.core.lvs import Table
from pykeepalived.lvs.backend import BackendThread

pytestmark = pytest.mark.interop

KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"
# Both daemons log this line per checker once their checker process runs (pykeepalived after it
# has programmed its IPVS table). Under the VM's TCG emulation pykeepalived needed 40-60 s to get
# there (interpreter start, parsing, the checker child's imports; 13-20x slower than native, more
# when the host is loaded): settle()'s bound starts only after it, READY_TIMEOUT only catches a hang.
READY_LINE = "Activating healthchecker for service"
READY_TIMEOUT = 300.0


class Daemon:
    def __init__(self, argv: list[str], netns: str, workdir: Path, name: str) -> None:
        self.log = workdir / f"{name}.log"
        self.pid_file = workdir / f"{name}.pid"
        argv = [*argv, "-n", "-l", "-D", "-C", "-p", str(self.pid_file), "-c", str(workdir / f"{name}-c.pid")]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(["ip", "netns", "exec", netns, *argv], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def reload(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> bool:
        return READY_LINE in self.text()


class Pair:
    """keepalived and pykeepalived on one config, and the health files their MISC_CHECKs look at."""

    def __init__(self, workdir: Path, ns_ka: str, ns_py: str) -> None:
        self.dir = workdir
        self.up = workdir / "up"
        self.up.mkdir()
        check = workdir / "check.sh"
        check.write_text(f"#!/bin/sh\n[ -e {self.up}/$1 ]\n")
        check.chmod(0o755)
        self.conf = workdir / "keepalived.conf"
        self.ns_ka, self.ns_py = ns_ka, ns_py
        self.ka_table = BackendThread("ipvs", netns=ns_ka)
        self.py_table = BackendThread("ipvs", netns=ns_py)
        self.daemons: list[Daemon] = []

    def write(self, body: str) -> None:
        head = ("global_defs {\n  enable_script_security\n  script_user root\n}\n")
        body = re.sub(r"@M:([^@]+)@", lambda m: misc(m.group(1)), body)    # @M:addr@ = a MISC_CHECK on addr
        self.conf.write_text(head + body.replace("@CHECK@", str(self.dir / "check.sh")))

    def set_up(self, *addrs: str) -> None:
        for a in addrs:
            (self.up / a).touch()

    def set_down(self, *addrs: str) -> None:
        for a in addrs:
            (self.up / a).unlink(missing_ok=True)

    def start(self) -> None:
        """Start both daemons and wait until each one's checker process runs (see READY_LINE)."""
        self.daemons = [
            Daemon([KEEPALIVED, "-f", str(self.conf)], self.ns_ka, self.dir, "keepalived"),
            Daemon([sys.executable, "-m", "pykeepalived", "-f", str(self.conf), "--lvs-backend", "ipvs"],
                   self.ns_py, self.dir, "pykeepalived"),
        ]
        t0 = time.monotonic()
        deadline = t0 + READY_TIMEOUT
        while not all(d.ready() for d in self.daemons):
            exited = [d for d in self.daemons if d.proc.poll() is not None and not d.ready()]
            if exited or time.monotonic() > deadline:
                what = (f"{', '.join(d.log.name for d in exited)} exited" if exited
                        else f"no {READY_LINE!r} within {READY_TIMEOUT:.0f} s")
                pytest.fail(f"daemon not ready: {what}\n{self.logs()}")
            time.sleep(0.5)
        print(f"both daemons ready after {time.monotonic() - t0:.1f} s")

    def logs(self) -> str:
        return "\n".join(f"--- {d.log.name}\n{d.text()[-3000:]}" for d in self.daemons)

    def reload(self) -> None:
        for d in self.daemons:
            d.reload()

    def tables(self) -> tuple[Table, Table]:
        return self.ka_table.run(lambda b: b.read()), self.py_table.run(lambda b: b.read())

    def settle(self, check: Callable[[Table], bool] = lambda t: True, timeout: float = 60) -> Table:
        """Wait until both tables are equal, stable over two reads, and pass `check`; return it."""
        deadline = time.monotonic() + timeout
        last: tuple[Table, Table] | None = None
        while time.monotonic() < deadline:
            ka, py = self.tables()
            if ka.services == py.services and check(ka) and last is not None and last[0].services == ka.services:
                return ka
            last = (ka, py)
            time.sleep(1.0)
        ka, py = self.tables()
        pytest.fail(f"tables differ or never settled within {timeout:.0f} s\nkeepalived:   {_fmt(ka)}\n"
                    f"pykeepalived: {_fmt(py)}\n{self.logs()}")

    def close(self) -> None:
        for d in self.daemons:
            d.stop()
        self.ka_table.close()
        self.py_table.close()


def _fmt(t: Table) -> str:
    return "\n  ".join([""] + [f"{k}: {s.attrs} {dict(s.dests)}" for k, s in sorted(t.services.items())])


@pytest.fixture
def pair() -> Iterator[Pair]:
    if not os.path.exists(KEEPALIVED):
        pytest.skip("needs the real keepalived 2.2.7")
    workdir = Path(f"/run/pka-ipvs-{os.getpid()}-{time.monotonic_ns() % 100000}")   # root-owned: script security
    workdir.mkdir(mode=0o755)
    try:
        with private_netns("ka") as ka_ns, private_netns("py") as py_ns:
            p = Pair(workdir, ka_ns, py_ns)
            try:
                yield p
            finally:
                p.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def misc(addr: str) -> str:
    return f'MISC_CHECK {{\n misc_path "@CHECK@ {addr}"\n delay_loop 1\n }}'


NAT_QUORUM = """
virtual_server 192.0.2.10 80 {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  quorum 4
  hysteresis 1
  sorry_server 192.0.2.99 8080
  real_server 10.0.0.1 8080 { weight 1
    @M:10.0.0.1@ }
  real_server 10.0.0.2 8080 { weight 2
    inhibit_on_failure
    @M:10.0.0.2@ }
  real_server 10.0.0.3 8080 { weight 3
    @M:10.0.0.3@ }
}
virtual_server 192.0.2.10 53 {
  lvs_sched sh
  sh-port
  sh-fallback
  ops
  protocol UDP
  real_server 10.0.0.1 53 { @M:10.0.0.1@ }
  real_server 10.0.0.2 53 { }
}
"""


def test_nat_quorum_sorry_server_and_reload(pair: Pair) -> None:
    pair.set_up("10.0.0.1", "10.0.0.2", "10.0.0.3")
    pair.write(NAT_QUORUM)
    pair.start()
    t = pair.settle(lambda t: len(t.services) == 2 and t.dest_count() == 5)
    # one real server down: removed (10.0.0.1) / weight 0 (10.0.0.2, inhibit_on_failure)
    pair.set_down("10.0.0.1", "10.0.0.2")
    t = pair.settle(lambda t: t.dest_count() == 3)
    # quorum 4 - hysteresis 1 = 3 > 3? no: 3 alive weight stays up; take 10.0.0.3 down too -> sorry server
    pair.set_down("10.0.0.3")
    t = pair.settle(lambda t: any(d.addr == "192.0.2.99" for s in t.services.values() for d in s.dests))
    # back up: quorum needs 4+1 = 5 -> 10.0.0.2 (2) + 10.0.0.3 (3)
    pair.set_up("10.0.0.2", "10.0.0.3")
    t = pair.settle(lambda t: not any(d.addr == "192.0.2.99" for s in t.services.values() for d in s.dests))
    # reload: one service changes (scheduler and a weight), the other stays
    pair.write(NAT_QUORUM.replace("lb_algo wrr", "lb_algo rr").replace("weight 3", "weight 5"))
    pair.reload()
    t = pair.settle(lambda t: any(s.attrs.sched == "rr" for s in t.services.values()))
    del t


ADVANCED = """
virtual_server 2001:db8::10 443 {
  protocol TCP
  lvs_sched rr
  lvs_method DR
  persistence_timeout 300
  persistence_granularity 64
  real_server 2001:db8::1 443 { @M:2001:db8::1@ }
  real_server 2001:db8::2 443 { weight 3 }
}
virtual_server fwmark 7 {
  lvs_sched lc
  lvs_method TUN type gue port 6080 csum
  persistence_timeout
  persistence_granularity 255.255.255.0
  real_server 10.0.0.5 0 { }
  real_server 10.0.0.6 25 { lvs_method NAT
    uthreshold 100
    lthreshold 10
    @M:10.0.0.6@ }
}
virtual_server_group WEB {
  192.0.2.20-22 80
  192.0.2.30 8080
  fwmark 12
}
virtual_server group WEB {
  protocol TCP
  lvs_sched wlc
  lvs_method DR
  alpha
  real_server 10.0.1.1 80 { @M:10.0.1.1@ }
  real_server 10.0.1.2 80 { @M:10.0.1.2@ }
}
"""


def test_ipv6_fwmark_tunnel_persistence_groups_and_alpha(pair: Pair) -> None:
    pair.set_up("2001:db8::1", "10.0.0.6", "10.0.1.1")
    pair.write(ADVANCED)
    pair.start()
    # group: 3 + 1 addresses + 1 fwmark = 5 services; alpha 10.0.1.2 never came up
    pair.settle(lambda t: len(t.services) == 7 and t.dest_count() == 2 + 2 + 5)
    pair.set_up("10.0.1.2")
    pair.set_down("2001:db8::1", "10.0.0.6")
    pair.settle(lambda t: t.dest_count() == 1 + 1 + 10)


STOP_CONF = """
global_defs {
  lvs_timeouts tcp 1000 tcpfin 30 udp 45
}
virtual_server 192.0.2.40 443 {
  protocol TCP
  lvs_sched wrr
  lvs_method NAT
  quorum 2
  sorry_server 192.0.2.98 443
  sorry_server_inhibit
  sorry_server_lvs_method DR
  real_server 10.0.2.1 443 { weight 2
    @M:10.0.2.1@ }
  real_server 10.0.2.2 443 { alpha
    inhibit_on_failure
    @M:10.0.2.2@ }
}
"""


def test_inhibited_sorry_server_timeouts_and_stop_leave_foreign_services(pair: Pair) -> None:
    from pykeepalived.core.lvs import AF_INET, PROTO_TCP, AddService, ServiceAttrs, ServiceKey

    foreign = ServiceKey(AF_INET, PROTO_TCP, "198.51.100.1", 22)
    for t in (pair.ka_table, pair.py_table):
        assert t.run(lambda b: b.apply([AddService(foreign, ServiceAttrs("rr"))])) == []
    pair.set_up("10.0.2.1")
    pair.write(STOP_CONF)   # the second global_defs block merges with the test's own
    pair.start()
    t = pair.settle(lambda t: len(t.services) == 2 and t.dest_count() == 3)
    ka, py = pair.tables()
    assert ka.timeouts == py.timeouts and ka.timeouts is not None and ka.timeouts.tcp == 1000
    pair.set_down("10.0.2.1")          # quorum lost: the inhibited sorry server gets its weight
    pair.settle(lambda t: any(a.weight > 0 and d.addr == "192.0.2.98" for s in t.services.values()
                              for d, a in s.dests.items()))
    for d in pair.daemons:
        d.stop()
    ka, py = pair.tables()
    assert ka.services == py.services and set(ka.services) == {foreign}, (_fmt(ka), _fmt(py))
    del t
