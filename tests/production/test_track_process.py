"""vrrp_track_process with real processes: quorum, fork_delay, terminate_delay.

The tracked process is a Python interpreter started through a symlink with a unique name (so
its comm is that name and no other test's process can match); it forks copies of itself on
request.  keepalived's rules (track_process.c): a quorum change caused by a fork of a counted
process waits fork_delay, one caused by an exit waits terminate_delay, and a change back within
the delay is never reported; a process that appears by exec is counted at once.

Two ways to run the daemon:
* "netns": started inside the host namespace (`ip netns exec`), where the proc connector does
  not exist: pykeepalived scans /proc every second (keepalived ignores the tracker there);
* "net_namespace": started from the root namespace with `net_namespace HOST` in the config,
  the connector opened before setns() (keepalived 2.2.7 runs the same scenario).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prod import IMPLS, count, global_defs

from harness.daemon import VrrpDaemon
from harness.lab import Host, Lab, Proc
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

CONTROLLER = """
import os, signal, sys
kids = []
for line in sys.stdin:
    if line.strip() == "fork":
        pid = os.fork()
        if pid == 0:
            while True:
                signal.pause()
        kids.append(pid)
    elif line.strip() == "kill" and kids:
        pid = kids.pop()
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    print("ok", flush=True)
"""


class Tracked:
    """A process whose comm is `name`, which forks copies of itself (same comm) on request."""

    def __init__(self, link: Path) -> None:
        self.proc = subprocess.Popen([str(link), "-c", CONTROLLER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def _do(self, cmd: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def fork(self) -> None:
        self._do("fork")

    def kill_child(self) -> None:
        self._do("kill")

    def kill(self) -> None:
        """SIGKILL the process and its children (the children see EOF on stdin too)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[tuple[str, list[Tracked], Path]]:
    name = f"pktp{secrets.token_hex(4)}"        # comm is at most 15 characters
    link = tmp_path / name
    link.symlink_to(os.path.realpath(sys.executable))
    started: list[Tracked] = []
    yield name, started, link
    for t in started:
        t.kill()
    subprocess.run(["pkill", "-KILL", "-x", name], check=False)    # forked copies, by their unique name


class RootProc(Proc):
    """A process started in the root network namespace (Proc runs everything under ip netns exec)."""

    def __init__(self, argv: Sequence[str], out: Path, err: Path) -> None:
        self.argv, self.ns, self.out, self.err = list(argv), "(root)", out, err
        with open(out, "wb") as fo, open(err, "wb") as fe:
            self.popen = subprocess.Popen(self.argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        self.pid = self.popen.pid


class RootNsDaemon(VrrpDaemon):
    """Started from the root namespace; `net_namespace` in its config moves it into the host."""

    def start(self) -> RootNsDaemon:
        self.conf_path.write_text(self.config)
        lab = self.host.lab
        stem = lab._unique(f"{self.conf_path.stem}.log")
        self.proc = RootProc(self.argv, lab.workdir / f"{stem}.out", lab.workdir / f"{stem}.err")
        lab.procs.append(self.proc)
        return self


def _config(host: Host, mode: str, name: str, tracker: str, ifname: str) -> str:
    ns = f"net_namespace {host.ns}\n" if mode == "net_namespace" else ""
    return (ns + global_defs("router_id a")
            + f"vrrp_track_process tp {{\n    process {name}\n{tracker}}}\n"
            + f"vrrp_instance VI_1 {{\n    state BACKUP\n    interface {ifname}\n    virtual_router_id 51\n"
              "    priority 100\n    advert_int 1\n    track_process {\n        tp\n    }\n"
              "    virtual_ipaddress {\n        192.0.2.100/24\n    }\n}\n")


def _start(lab: Lab, impl: str, mode: str, name: str, tracker: str) -> VrrpDaemon:
    (a,) = lab.add_hosts("a")
    # The instance's interface exists only in the host namespace: a daemon that failed to
    # enter it could not run the instance in the root namespace.
    ifname = f"tp{secrets.token_hex(3)}"
    a.ip_cmd("link", "add", ifname, "type", "veth", "peer", "name", f"{ifname}p")
    a.ip_cmd("link", "set", f"{ifname}p", "up")
    a.ip_cmd("link", "set", ifname, "up")
    a.ip_cmd("addr", "add", "192.0.2.1/24", "dev", ifname)
    conf = _config(a, mode, name, tracker, ifname)
    cls = RootNsDaemon if mode == "net_namespace" else VrrpDaemon
    return cls(a, conf, implementation=IMPLS[impl]).start()


def _wait_line(d: VrrpDaemon, pattern: str, n: int, timeout: float) -> float:
    """Seconds (monotonic) at which the n-th `pattern` line was seen."""
    wait_until(lambda: count(d, pattern) >= n or None, timeout, interval=0.02,
               message=f"{d.implementation}: {pattern!r} not seen {n} times\n{d.log()}")
    return time.monotonic()


MODES = [pytest.param("py", "netns", id="py-netns"),
         pytest.param("py", "net_namespace", id="py-net_namespace"),
         pytest.param("ka", "net_namespace", id="ka-net_namespace", marks=pytest.mark.interop)]
LOST, GAINED = r"Quorum lost for tracked process tp$", r"Quorum gained for tracked process tp$"
DELAY = 3.0
SLACK = 2.0     # one /proc poll interval plus scheduling


@pytest.mark.parametrize(("impl", "mode"), MODES)
def test_terminate_delay(lab: Lab, procs: tuple[str, list[Tracked], Path], impl: str, mode: str) -> None:
    """`delay 3`: a process restarted within 3 s is never reported; one that stays away makes
    the instance FAULT only 3 s after it exited; a new process (exec) counts at once."""
    name, started, link = procs
    started.append(Tracked(link))
    d = _start(lab, impl, mode, name, f"    delay {DELAY}\n")
    d.wait_state("VI_1", "MASTER", timeout=15)

    started[0].kill()                   # the blip: gone for about a second, then back
    time.sleep(1.2)
    started.append(Tracked(link))
    time.sleep(DELAY + SLACK)
    assert count(d, LOST) == 0 and "FAULT" not in d.log(), d.log()

    t0 = time.monotonic()
    started[1].kill()
    t_lost = _wait_line(d, LOST, 1, DELAY + SLACK + 2)
    assert DELAY - 0.1 <= t_lost - t0 <= DELAY + SLACK, f"quorum lost after {t_lost - t0:.2f} s"
    d.wait_state("VI_1", "FAULT", timeout=3)

    t0 = time.monotonic()
    started.append(Tracked(link))       # appears by exec: no delay
    t_gained = _wait_line(d, GAINED, 1, SLACK + 2)
    assert t_gained - t0 <= SLACK, f"quorum gained after {t_gained - t0:.2f} s"
    wait_until(lambda: count(d, r"\(VI_1\) Entering MASTER STATE") >= 2 or None, 10, message=d.log())


@pytest.mark.parametrize(("impl", "mode"), MODES)
def test_fork_delay(lab: Lab, procs: tuple[str, list[Tracked], Path], impl: str, mode: str) -> None:
    """quorum 2, `fork_delay 3`: a forked copy that lives 1.5 s is never reported; one that
    stays gives the quorum 3 s after the fork; its exit (no terminate_delay) is reported at once."""
    name, started, link = procs
    parent = Tracked(link)
    started.append(parent)
    d = _start(lab, impl, mode, name, f"    quorum 2\n    fork_delay {DELAY}\n")
    # keepalived logs `(VI_1) entering FAULT state (tracked process tp quorum not achieved)` at start
    wait_until(lambda: re.search(r"(?i)entering FAULT state", d.log()) or None, 15,
               message="no FAULT with 1 of 2 processes")

    parent.fork()                       # the blip: a copy that lives 1.5 s (seen by a 1 s poll too)
    time.sleep(1.5)
    parent.kill_child()
    time.sleep(DELAY + SLACK - 1.5)
    assert count(d, GAINED) == 0 and "Entering MASTER STATE" not in d.log(), d.log()

    t0 = time.monotonic()
    parent.fork()
    t_gained = _wait_line(d, GAINED, 1, DELAY + SLACK + 2)
    assert DELAY - 0.1 <= t_gained - t0 <= DELAY + SLACK, f"quorum gained after {t_gained - t0:.2f} s"
    d.wait_state("VI_1", "MASTER", timeout=10)

    t0 = time.monotonic()
    parent.kill_child()
    t_lost = _wait_line(d, LOST, 1, SLACK + 2)
    assert t_lost - t0 <= SLACK, f"quorum lost after {t_lost - t0:.2f} s"
    wait_until(lambda: "(VI_1) Entering FAULT STATE" in d.log().rsplit("Entering MASTER STATE", 1)[1] or None, 5,
               message="FAULT again")


def _holds_proc_connector(pid: int) -> bool:
    """Whether `pid` has a NETLINK_CONNECTOR socket open (root namespace's netlink table)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/1/net/netlink") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return any(row[1] == "11" and row[-1] in inodes for row in rows)


@pytest.mark.parametrize("mode", ["net_namespace", "netns"])
def test_proc_connector_opened_before_setns(lab: Lab, procs: tuple[str, list[Tracked], Path], mode: str) -> None:
    """With net_namespace the VRRP process inside the namespace holds the connector the supervisor
    opened in the root namespace; started inside the namespace it has none (and polls)."""
    name, started, link = procs
    started.append(Tracked(link))
    d = _start(lab, "py", mode, name, "")
    d.wait_state("VI_1", "MASTER", timeout=15)
    vrrp = wait_until(d.vrrp_pid, 5, message="VRRP pid file")
    assert os.stat(f"/proc/{vrrp}/ns/net").st_ino == os.stat(f"/run/netns/{d.host.ns}").st_ino
    assert _holds_proc_connector(vrrp) is (mode == "net_namespace")
    if mode == "netns":
        return
    # A reload that changes the tracker builds it again: inside the namespace the connector could
    # not be opened again, so the one opened before setns() must still be in use.
    d.conf_path.write_text(d.config.replace(f"process {name}",
                                            f"process {name}\n    terminate_delay 0.5"))
    d.reload()
    d.wait_log("Reload", timeout=10)
    time.sleep(1)
    assert d.vrrp_pid() == vrrp and _holds_proc_connector(vrrp)
    t0 = time.monotonic()
    started[0].kill()
    t_lost = _wait_line(d, LOST, 1, 5)
    assert 0.4 <= t_lost - t0 <= 0.5 + SLACK, f"quorum lost {t_lost - t0:.2f} s after the exit (delay 0.5 s)"
    d.wait_state("VI_1", "FAULT", timeout=3)
