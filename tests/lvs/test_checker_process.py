"""The checker process end to end (pykeepalived -C, nftables backend, in a namespace).

MISC_CHECK scripts look for a file per real server, so a test takes servers down and up by
removing and creating files. Observed: the nftables table, the lvs_notify_fifo byte stream
(keepalived's line format with its trailing NUL), quorum_up/quorum_down and notify_up/notify_down
scripts, and the refusal of a configuration the nftables backend cannot realise.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import HarnessError, Host, Lab, wait_until

pytestmark = pytest.mark.privileged

CONF = """
global_defs {
  enable_script_security
  script_user root
  lvs_notify_fifo @D@/lvs.fifo
}
virtual_server 192.0.2.200 80 {
  protocol TCP
  lvs_sched wrr
  lvs_method NAT
  quorum 3
  quorum_up "@D@/mark quorum-up"
  quorum_down "@D@/mark quorum-down"
  sorry_server 198.51.100.99 8080
  real_server 198.51.100.11 8080 {
    weight 2
    notify_down "@D@/mark rs1-down"
    notify_up "@D@/mark rs1-up"
    MISC_CHECK {
      misc_path "@D@/check.sh 198.51.100.11"
      delay_loop 1
    }
  }
  real_server 198.51.100.12 8080 {
    weight 1
    inhibit_on_failure
    MISC_CHECK {
      misc_path "@D@/check.sh 198.51.100.12"
      delay_loop 1
    }
  }
}
"""


class Run:
    def __init__(self, host: Host, workdir: Path) -> None:
        self.host, self.dir = host, workdir
        (workdir / "up").mkdir()
        (workdir / "check.sh").write_text(f"#!/bin/sh\n[ -e {workdir}/up/$1 ]\n")
        (workdir / "mark").write_text(f"#!/bin/sh\necho \"$@\" >> {workdir}/marks\n")
        for f in ("check.sh", "mark"):
            (workdir / f).chmod(0o755)
        os.mkfifo(workdir / "lvs.fifo", 0o600)
        self.fifo = os.open(workdir / "lvs.fifo", os.O_RDONLY | os.O_NONBLOCK)
        self.fifo_bytes = b""

    def start(self, conf: str, *extra: str) -> Any:
        path = self.dir / "keepalived.conf"
        path.write_text(conf.replace("@D@", str(self.dir)))
        return self.host.keepalived(path.read_text(), implementation="pykeepalived",
                                    extra_args=("-C", "--lvs-backend", "nftables", *extra))

    def up(self, *addrs: str) -> None:
        for a in addrs:
            (self.dir / "up" / a).touch()

    def down(self, *addrs: str) -> None:
        for a in addrs:
            (self.dir / "up" / a).unlink(missing_ok=True)

    def fifo_read(self) -> bytes:
        try:
            while chunk := os.read(self.fifo, 65536):
                self.fifo_bytes += chunk
        except BlockingIOError:
            pass
        return self.fifo_bytes

    def marks(self) -> list[str]:
        p = self.dir / "marks"
        return p.read_text().split("\n")[:-1] if p.exists() else []

    def dnat(self) -> str:
        out = self.host.run(["nft", "list", "table", "inet", "pykeepalived_lvs"], check=False).stdout
        return "\n".join(line.strip() for line in out.splitlines() if "dnat" in line or "reject" in line)

    def close(self) -> None:
        os.close(self.fifo)


@pytest.fixture
def run(lab: Lab) -> Iterator[Run]:
    workdir = Path(f"/run/pka-lvsproc-{os.getpid()}-{time.monotonic_ns() % 100000}")   # root-owned for script security
    workdir.mkdir(mode=0o755)
    r = Run(lab.add_host("lb"), workdir)
    try:
        yield r
    finally:
        r.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_health_quorum_sorry_server_fifo_and_scripts(run: Run) -> None:
    run.up("198.51.100.11", "198.51.100.12")
    daemon: Any = run.start(CONF)
    wait_until(lambda: "198.51.100.11 . 8080" in run.dnat() and "198.51.100.12 . 8080" in run.dnat(), 30,
               message="table never programmed")
    assert "0-1 : 198.51.100.11 . 8080, 2 : 198.51.100.12 . 8080" in run.dnat()

    run.down("198.51.100.12")            # inhibited: weight 0, no slots; quorum 2 < 3 -> sorry server
    wait_until(lambda: b"VS [192.0.2.200]:tcp:80 DOWN\n\0" in run.fifo_read(), 20, message=run.fifo_read())
    wait_until(lambda: "quorum-down" in run.marks(), 10, message=str(run.marks()))
    wait_until(lambda: "map { 0 : 198.51.100.99 . 8080 }" in run.dnat(), 10, message=run.dnat())

    run.down("198.51.100.11")
    wait_until(lambda: b"RS [198.51.100.11]:tcp:8080 [192.0.2.200]:tcp:80 DOWN\n\0" in run.fifo_read(), 20)
    wait_until(lambda: "rs1-down" in run.marks(), 10, message=str(run.marks()))

    run.up("198.51.100.11", "198.51.100.12")
    wait_until(lambda: b"VS [192.0.2.200]:tcp:80 UP\n\0" in run.fifo_read(), 20, message=run.fifo_read())
    wait_until(lambda: "198.51.100.99" not in run.dnat() and "198.51.100.12 . 8080" in run.dnat(), 10)
    wait_until(lambda: "quorum-up" in run.marks() and "rs1-up" in run.marks(), 10, message=str(run.marks()))

    # the exact byte stream keepalived writes: every line ends "\n\0"
    stream = run.fifo_read()
    lines = [x for x in stream.split(b"\n\0") if x]
    assert stream.endswith(b"\n\0") and all(not x.startswith(b"\0") for x in lines), stream
    assert lines[:3] == [b"RS [198.51.100.12]:tcp:8080 [192.0.2.200]:tcp:80 DOWN",
                         b"VS [192.0.2.200]:tcp:80 DOWN",
                         b"RS [198.51.100.11]:tcp:8080 [192.0.2.200]:tcp:80 DOWN"], stream
    assert set(lines[3:]) == {b"RS [198.51.100.11]:tcp:8080 [192.0.2.200]:tcp:80 UP",
                              b"RS [198.51.100.12]:tcp:8080 [192.0.2.200]:tcp:80 UP",
                              b"VS [192.0.2.200]:tcp:80 UP"}, stream
    assert "Lost quorum 3-0=3 > 2 for VS [192.0.2.200]:tcp:80" in daemon.log()
    assert "Adding sorry server [198.51.100.99]:tcp:8080 to VS [192.0.2.200]:tcp:80" in daemon.log()

    daemon.stop()
    assert run.dnat() == "", "services are removed at stop (lvs_flush_on_stop off: one by one)"


def test_nftables_backend_refuses_what_it_cannot_do_naming_the_line(run: Run) -> None:
    conf = CONF.replace("lvs_sched wrr", "lvs_sched wlc").replace("lvs_method NAT", "lvs_method DR")
    daemon: Any = run.start(conf)
    daemon.wait_log(r"keepalived\.conf:7: lvs_sched wlc is not supported by the nftables LVS backend", 30)
    daemon.wait_log(r"keepalived\.conf:\d+: real_server 198\.51\.100\.11 lvs_method DR is not supported", 5)
    wait_until(lambda: not daemon.alive, 30, message="daemon kept running with an impossible table")
    assert run.dnat() == ""


HA_SUSPEND = """
global_defs {
  enable_script_security
  script_user root
  lvs_notify_fifo @D@/lvs.fifo
}
virtual_server 192.0.2.200 80 {
  protocol TCP
  lvs_sched rr
  ha_suspend
  real_server 198.51.100.11 8080 {
    MISC_CHECK {
      misc_path "@D@/check.sh 198.51.100.11"
      delay_loop 1
    }
  }
}
"""


def test_ha_suspend_runs_checks_only_while_the_address_is_local(run: Run) -> None:
    daemon: Any = run.start(HA_SUSPEND)            # the real server's check would fail: no "up" file
    wait_until(lambda: "198.51.100.11 . 8080" in run.dnat(), 30, message="table never programmed")
    time.sleep(3)                                  # three check intervals: suspended, nothing happens
    assert run.fifo_read() == b"" and "198.51.100.11 . 8080" in run.dnat()
    def count(word: str) -> int:
        return int(daemon.log().count(f"{word} healthchecker for service [198.51.100.11]:tcp:8080"))

    assert count("Suspending") == 1
    activations = count("Activating")
    run.host.ip_cmd("addr", "add", "192.0.2.200/32", "dev", "eth0")
    wait_until(lambda: count("Activating") == activations + 1, 10, message=daemon.log())
    wait_until(lambda: b"RS [198.51.100.11]:tcp:8080 [192.0.2.200]:tcp:80 DOWN\n\0" in run.fifo_read(), 10)
    wait_until(lambda: run.dnat() == "meta l4proto tcp reject", 10, message=run.dnat())
    run.host.ip_cmd("addr", "del", "192.0.2.200/32", "dev", "eth0")
    wait_until(lambda: count("Suspending") == 2, 10, message=daemon.log())


def _api(host: Host, path: str) -> str:
    code = (f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9652{path}', timeout=5)"
            ".read().decode())")
    return host.run([sys.executable, "-c", code]).stdout


def test_status_api_reports_virtual_and_real_servers(run: Run) -> None:
    run.up("198.51.100.11", "198.51.100.12")
    run.start(CONF, "--status-listen", "127.0.0.1:9652")

    def servers() -> dict[str, Any] | None:
        try:
            vss = json.loads(_api(run.host, "/v1/lvs/virtual-servers"))
        except (ValueError, HarnessError):
            return None  # not listening yet
        rs = {r["address"]: r for r in vss[0]["real_servers"]} if vss else {}
        return rs if len(rs) == 2 else None

    rs = wait_until(servers, 60, message="the API never listed the real servers")
    assert rs["198.51.100.11"]["alive"] and rs["198.51.100.11"]["weight"] == 2
    run.down("198.51.100.12")
    wait_until(lambda: (s := servers()) is not None and not s["198.51.100.12"]["alive"], 20,
               message="the API never showed the real server down")
    metrics = _api(run.host, "/metrics")
    assert 'pykeepalived_real_server_up{rs="[198.51.100.12]:8080",vs="192.0.2.200:80/TCP"} 0.0' in metrics
    assert 'pykeepalived_real_server_up{rs="[198.51.100.11]:8080",vs="192.0.2.200:80/TCP"} 1.0' in metrics
    # the nftables backend has no per-service traffic counters: no keepalived_lvs_* series (issue 15)
    assert "keepalived_lvs_" not in metrics
