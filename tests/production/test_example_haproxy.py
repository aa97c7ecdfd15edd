"""The README's typical deployment, end to end: src/pykeepalived/data/example-haproxy.conf on
two haproxy nodes (the file as shipped on lb1, router_id lb2 on lb2), mixed with keepalived 2.2.7.

Each daemon runs in its own PID namespace (`unshare --pid --mount-proc`) with a fake haproxy
(a copy of sleep named haproxy) started inside it, so `pidof haproxy` on one node sees only
that node's haproxy, as on two real machines. The same mount namespace holds a private
/etc/passwd with the unprivileged script user keepalived_script (see prod.PrivateUser).

    eth1 (backend switch) down on both, lb1 started first, haproxy only on lb2
                            -> both FAULT; lb2 at 120 (100 + weight 20), lb1 at 100
    switch back up          -> election: lb2 (120) MASTER, lb1 BACKUP, never MASTER
    lb2 loses eth1          -> lb2 FAULT, lb1 MASTER, VIP on lb1
    lb2's eth1 back         -> lb2 BACKUP at 120; nopreempt: lb1 (100, no haproxy) keeps the VIP
    every notify ran as keepalived_script with its state argument
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from prod import IMPLS, PrivateUser, ScriptDir, wait_count

from harness.daemon import VrrpDaemon
from harness.lab import Host, Lab, Proc
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(240)]

VIP = "192.0.2.100"
# keepalived starting with eth1 down logs `(VI_1) entering FAULT state`; later `Entering FAULT STATE`
FAULT = r"\(VI_1\):? [Ee]ntering FAULT (STATE|state)"
NOTIFY = "/etc/keepalived/notify.sh"


class PidNsDaemon(VrrpDaemon):
    """The daemon in its own PID and mount namespaces, where `user` exists and `binds` (source,
    target) are bind-mounted."""

    def __init__(self, host: Host, config: str, user: PrivateUser, implementation: str,
                 binds: list[tuple[str, str]]) -> None:
        super().__init__(host, config, implementation=implementation)
        self.user, self.binds = user, binds

    @property
    def argv(self) -> list[str]:
        argv = self.user.in_mount_ns(super().argv)
        for source, target in self.binds:
            argv = ["sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", source, target, *argv]
        return ["unshare", "--pid", "--fork", "--mount-proc", *argv]

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


def _real_pidof(sdir: ScriptDir) -> list[tuple[str, str]]:
    """Debian 12's /bin/pidof is a symlink to killall5, which acts as pidof only when called by
    that name. keepalived 2.2.7 (enable_script_security) execs the symlink's target, so it runs
    killall5 itself and the check always fails (the example's comment says so). The daemons get
    a pidof that works whatever its name, as procps' pidof does: only in their mount namespace."""
    target = os.path.realpath("/bin/pidof")
    if Path(target).name == "pidof":
        return []
    shutil.copy(target, sdir.path / "pidof")
    return [(sdir.script("pidof-by-any-name", f'#!/bin/sh\nexec {sdir.path}/pidof "$@"\n'), target)]


def _haproxy(host: Host, d: PidNsDaemon, binary: str) -> Proc:
    return host.spawn(["nsenter", "-t", str(d.ns_init()), "-p", "-m", "--", binary, "3600"], name="haproxy")


def _backend_switch(lab: Lab, up: bool, *hosts: Host) -> None:
    """The bridge-side ends of the hosts' eth1, in one `ip -batch`: both links change together."""
    cmds = "".join(f"link set dev p{h.index}l1 {'up' if up else 'down'}\n" for h in hosts)
    subprocess.run(["ip", "-n", lab.bridge_ns, "-batch", "-"], input=cmds, text=True, check=True)


def _wait_fault(d: VrrpDaemon, n: int = 1) -> None:
    wait_count(d, FAULT, n, timeout=15)


def _notified(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _wait_notified(log: Path, line: str, n: int = 1) -> None:
    wait_until(lambda: _notified(log).count(line) >= n or None, 10,
               message=f"{line!r} not notified {n} times: {_notified(log)}")


@pytest.mark.parametrize("lb1_impl, lb2_impl", [("py", "py"), pytest.param("py", "ka", marks=pytest.mark.interop)])
def test_readme_haproxy_example(lab: Lab, sdir: ScriptDir, lb1_impl: str, lb2_impl: str) -> None:
    if shutil.which("pidof") is None or shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("needs pidof (procps or sysvinit-utils), unshare and nsenter (util-linux)")
    conf = example()
    for line in ("script_user keepalived_script", 'script "/bin/pidof haproxy"', "weight 20", "nopreempt",
                 "priority 100", "state BACKUP", "router_id lb1", f'"{NOTIFY} MASTER"'):
        assert line in conf, line
    user = PrivateUser("keepalived_script", lab.workdir)
    out = sdir.subdir("out", mode=0o755)
    os.chown(out, user.uid, user.gid)           # only the script user may write the notify records
    logs = {name: out / f"{name}.log" for name in ("lb1", "lb2")}
    confs = {}
    for name in ("lb1", "lb2"):
        notify = sdir.script(f"notify-{name}.sh", f'#!/bin/sh\necho "$(id -u) $*" >> {logs[name]}\n')
        confs[name] = conf.replace("router_id lb1", f"router_id {name}").replace(NOTIFY, notify)
    haproxy = str(Path(sdir.script("haproxy", "")))
    shutil.copy("/bin/sleep", haproxy)
    binds = _real_pidof(sdir)

    lab.add_lan()
    lb1 = lab.add_host("lb1", lans=(0, 1))
    lb2 = lab.add_host("lb2", lans=(0, 1))

    # The backend switch is down while both nodes boot; lb1 boots first and has no haproxy.
    _backend_switch(lab, False, lb1, lb2)
    d1 = PidNsDaemon(lb1, confs["lb1"], user, IMPLS[lb1_impl], binds).start()
    _wait_fault(d1)
    d2 = PidNsDaemon(lb2, confs["lb2"], user, IMPLS[lb2_impl], binds).start()
    h2 = _haproxy(lb2, d2, haproxy)
    _wait_fault(d2)
    d2.wait_log(r"\(VI_1\) Changing effective priority from 100 to 120", timeout=15)
    d1.wait_log(r"VRRP_Script\(chk_haproxy\) failed", timeout=10)
    assert "effective priority" not in d1.log()  # lb1 stays at 100

    # The switch comes back: both elect at once, and the healthier node wins.
    _backend_switch(lab, True, lb1, lb2)
    d2.wait_state("VI_1", "MASTER", timeout=10)
    d1.wait_state("VI_1", "BACKUP", timeout=5)
    wait_until(lambda: lb2.has_address(VIP) and not lb1.has_address(VIP) or None, 5, message="VIP on lb2")
    time.sleep(2)
    assert "Entering MASTER STATE" not in d1.log(), "lb1 (100) became master against lb2 (120)"

    # Notify scripts ran as the unprivileged script user, with their argument.
    _wait_notified(logs["lb2"], f"{user.uid} MASTER")
    _wait_notified(logs["lb1"], f"{user.uid} BACKUP")
    assert f"{user.uid} FAULT" in _notified(logs["lb1"]) and f"{user.uid} FAULT" in _notified(logs["lb2"])
    assert user.uid != 0

    # lb2 loses its backend side: FAULT, and the VIP moves to lb1 although lb1 has no haproxy.
    faults = len(re.findall(FAULT, d2.log()))
    lb2.set_link(False, "eth1")
    _wait_fault(d2, faults + 1)
    d1.wait_state("VI_1", "MASTER", timeout=10)
    wait_until(lambda: lb1.has_address(VIP) and not lb2.has_address(VIP) or None, 5, message="VIP on lb1")
    _wait_notified(logs["lb2"], f"{user.uid} FAULT", 2)
    _wait_notified(logs["lb1"], f"{user.uid} MASTER")

    # eth1 back: lb2 is healthier (120 against 100) but nopreempt keeps lb1 master. This is also
    # the example's caveat: a master without haproxy keeps the VIP.
    backups = d2.log().count("Entering BACKUP STATE")
    lb2.set_link(True, "eth1")
    wait_count(d2, r"\(VI_1\) Entering BACKUP STATE", backups + 1, timeout=10)
    time.sleep(5)                               # more than a master-down interval (3 + 136/256 s)
    assert d2.log().count("Entering MASTER STATE") == 1, "nopreempt: lb2 took the VIP back"
    assert lb1.has_address(VIP) and not lb2.has_address(VIP)
    assert all(line.split()[0] == str(user.uid) for log in logs.values() for line in _notified(log))
    h2.kill()
