"""The README's typical deployment, end to end: src/pykeepalived/data/example-haproxy.conf on
two haproxy nodes (lb1 as shipped, lb2 with priority 100), mixed with keepalived 2.2.7.

Each daemon runs in its own PID namespace (`unshare --pid --mount-proc`) with a fake haproxy
(a copy of sleep named haproxy) started inside it, so `killall -0 haproxy` on one node sees
only that node's haproxy, as on two real machines.

    both up        -> lb1 (150) is MASTER, lb2 BACKUP
    haproxy dies   -> lb1 FAULT (fall 2), lb2 MASTER
    haproxy back   -> lb1 BACKUP (rise 2); nopreempt: lb2 stays MASTER
    lb2 loses eth1 -> lb2 FAULT (track_interface), lb1 MASTER
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from prod import IMPLS, ScriptDir, wait_count

from harness.daemon import VrrpDaemon
from harness.lab import Host, Lab, Proc
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(240)]

VIP = "192.0.2.100"


class PidNsDaemon(VrrpDaemon):
    @property
    def argv(self) -> list[str]:
        return ["unshare", "--pid", "--fork", "--mount-proc", *super().argv]

    def ns_init(self) -> int:
        """The daemon's pid in the root PID namespace (the PID namespace's init)."""
        def child() -> int | None:
            p = Path(f"/proc/{self.pid}/task/{self.pid}/children")
            kids = p.read_text().split() if p.exists() else []
            return int(kids[0]) if kids else None
        return wait_until(child, 5, message="daemon under unshare")


def example() -> str:
    return resources.files("pykeepalived").joinpath("data/example-haproxy.conf").read_text()


@pytest.fixture
def sdir() -> Iterator[ScriptDir]:
    d = ScriptDir()
    yield d
    d.close()


def _haproxy(host: Host, d: PidNsDaemon, binary: str) -> Proc:
    return host.spawn(["nsenter", "-t", str(d.ns_init()), "-p", "-m", "--", binary, "3600"], name="haproxy")


@pytest.mark.parametrize("lb1_impl, lb2_impl", [("py", "py"), pytest.param("py", "ka", marks=pytest.mark.interop)])
def test_readme_haproxy_example(lab: Lab, sdir: ScriptDir, lb1_impl: str, lb2_impl: str) -> None:
    if shutil.which("killall") is None or shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("needs killall (psmisc), unshare and nsenter (util-linux)")
    conf1 = example()
    assert "priority 150" in conf1 and "router_id lb1" in conf1
    conf2 = conf1.replace("priority 150", "priority 100").replace("router_id lb1", "router_id lb2")
    haproxy = str(Path(sdir.script("haproxy", "")))
    shutil.copy("/bin/sleep", haproxy)

    lab.add_lan()
    lb1 = lab.add_host("lb1", lans=(0, 1))
    lb2 = lab.add_host("lb2", lans=(0, 1))
    d1 = PidNsDaemon(lb1, conf1, implementation=IMPLS[lb1_impl]).start()
    h1 = _haproxy(lb1, d1, haproxy)
    d1.wait_state("VI_1", "MASTER", timeout=20)
    d2 = PidNsDaemon(lb2, conf2, implementation=IMPLS[lb2_impl]).start()
    h2 = _haproxy(lb2, d2, haproxy)
    d2.wait_state("VI_1", "BACKUP", timeout=15)
    assert lb1.has_address(VIP) and not lb2.has_address(VIP)

    h1.kill()                                           # haproxy dies on lb1
    d1.wait_state("VI_1", "FAULT", timeout=15)
    d1.wait_log(r"VRRP_Script\(chk_haproxy\) failed", timeout=1)
    d2.wait_state("VI_1", "MASTER", timeout=10)
    wait_until(lambda: lb2.has_address(VIP) and not lb1.has_address(VIP) or None, 5, message="VIP on lb2")

    h1 = _haproxy(lb1, d1, haproxy)                     # back: lb1 is healthy but does not preempt
    wait_count(d1, r"VRRP_Script\(chk_haproxy\) succeeded", 2, timeout=15)
    wait_count(d1, r"\(VI_1\) Entering BACKUP STATE", 2, timeout=5)
    time.sleep(4)                                       # more than a master-down interval
    assert d1.log().count("Entering MASTER STATE") == 1, "nopreempt: lb1 took the VIP back"
    assert lb2.has_address(VIP)

    lb2.set_link(False, "eth1")                         # lb2 loses its backend side
    d2.wait_state("VI_1", "FAULT", timeout=10)
    wait_count(d1, r"\(VI_1\) Entering MASTER STATE", 2, timeout=10)
    wait_until(lambda: lb1.has_address(VIP) and not lb2.has_address(VIP) or None, 5, message="VIP back on lb1")
    h1.kill()
    h2.kill()
