"""A pykeepalived backup takes over from a master that should no longer be master.

Issue 18 bug 1 and issue 24 item 1: the backup's steady-state shortcut (compiled code that
absorbs copies of the master's advert, vrrp/runtime.py `_maybe_shortcut`) also armed itself on
adverts the core had discarded, so their copies restarted the master-down timer:

* a master whose advertised priority falls below the backup's (preempt allowed) was never
  preempted: the backup logged "received lower priority (90) ... discarding" once and stayed
  BACKUP. Every way the master's priority can fall is tried here: a weighted vrrp_script
  (weight -20, fall 2), track_interface with a weight, track_file, vrrp_track_process, a SIGHUP
  reload to a lower priority, and priority 0 (stop);
* a third host repeating an invalid advert (IP TTL 64, priority 50, unicast to the backup)
  five times a second kept a SIGKILLed master "alive" for ever; so did the master's adverts
  after a reload with another auth_pass.

Pair: A (priority 110; pykeepalived or keepalived 2.2.7) and B (pykeepalived, priority 100,
default preempt), VRRPv3. B must send its first advert within its master-down interval (plus
slack for the loaded machine) of A's first lower-priority advert on the wire; with the bug it
never did. The twin under test is the one the run selects (CI runs the suite once compiled and
once with PYKEEPALIVED_NO_EXTENSIONS=1; the daemons inherit it).

CI runs every way at advert_int 0.2 and one way (track_file: immediate, so the least exposed
to a loaded machine at 0.01) at 1, 0.1 and 0.01; set
PYKEEPALIVED_FULL_MATRIX=1 for every way at every interval (48 cases; with the third host at
1 s too, 54 cases ran in 6 min with -n 2). B taking over before A's first lower advert (A
went quiet for longer than B's master-down interval) fails: at 0.01 a pykeepalived A that
polled /proc for vrrp_track_process on its loop (inside a namespace) did that in 7 of 9 runs,
until the scan moved to a worker thread (tests/production/test_track_process_scan.py).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.daemon import VrrpDaemon
from harness.lab import Host, Lab, Proc
from harness.pcap import Frame, vrrp_frames
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

VRID = 51
HIGH, LOW, DEMOTED = 110, 100, 90
VIP = "192.0.2.100"
IMPLS = {"py": "pykeepalived", "ka": "keepalived"}
FULL = os.environ.get("PYKEEPALIVED_FULL_MATRIX") == "1"
WAYS = ("script", "interface", "file", "process", "reload", "stop")
INTERVALS = (1.0, 0.2, 0.1, 0.01)


def master_down(interval: float, priority: int = LOW) -> float:
    return 3 * interval + skew(interval, priority)


def skew(interval: float, priority: int = LOW) -> float:
    return (256 - priority) * interval / 256


def slack(interval: float) -> float:
    """Generous: the machine is shared and loaded; the bug is an unbounded wait."""
    return 0.5 + interval


def config(host: Host, priority: int, interval: float, *, version: int = 3, glob: str = "", top: str = "",
           inst: str = "", auth: str | None = None, iface: str = "eth0") -> str:
    auth_block = (f"    authentication {{\n        auth_type PASS\n        auth_pass {auth}\n    }}\n"
                  if auth else "")
    return (f"global_defs {{\n    router_id {host.name}\n{glob}}}\n{top}"
            f"vrrp_instance VI_1 {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id {VRID}\n"
            f"    priority {priority}\n    advert_int {interval:g}\n    version {version}\n{inst}{auth_block}"
            f"    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n")


def start(host: Host, impl: str, conf: str) -> VrrpDaemon:
    return VrrpDaemon(host, conf, implementation=IMPLS[impl]).start()


class RootNsDaemon(VrrpDaemon):
    """Started from the root namespace; `net_namespace` in its config moves it into the host
    (where the proc connector that keepalived's vrrp_track_process needs exists)."""

    def start(self) -> RootNsDaemon:
        self.conf_path.write_text(self.config)
        lab = self.host.lab
        stem = lab._unique(f"{self.conf_path.stem}.log")
        out, err = lab.workdir / f"{stem}.out", lab.workdir / f"{stem}.err"
        proc = object.__new__(Proc)
        proc.argv, proc.ns, proc.out, proc.err = list(self.argv), "(root)", out, err
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc.popen = subprocess.Popen(proc.argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        proc.pid = proc.popen.pid
        self.proc = proc
        lab.procs.append(proc)
        return self


@pytest.fixture
def scripts() -> Iterator[Path]:
    """A root-owned 0755 directory (enable_script_security accepts scripts there)."""
    d = Path(tempfile.mkdtemp(prefix="pka-demote-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Tracked:
    """A process with a unique comm (a symlink to python), for vrrp_track_process."""

    def __init__(self, directory: Path) -> None:
        self.name = f"pkdm{secrets.token_hex(4)}"      # comm: at most 15 characters
        link = directory / self.name
        link.symlink_to(os.path.realpath(sys.executable))
        self.proc = subprocess.Popen([str(link), "-c", "import signal\nwhile True: signal.pause()"])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def adverts(frames: list[Frame], src: str, after_ns: int) -> list[Frame]:
    return [f for f in vrrp_frames(frames, vrid=VRID, src=src) if f.ts_ns > after_ns]


def last_state(d: VrrpDaemon) -> str | None:
    states = re.findall(r"\(VI_1\) Entering (\w+) STATE", d.log())
    return states[-1] if states else None


def prio(f: Frame) -> int:
    return f.vrrp.priority  # type: ignore[union-attr,no-any-return]


# ------------------------------------------------------------------ the demotion scenario


class Demotion:
    """Sets up A's config for one way of lowering its advertised priority, and does it."""

    def __init__(self, way: str, a: Host, a_impl: str, interval: float, scripts: Path) -> None:
        self.way, self.a, self.a_impl, self.interval, self.dir = way, a, a_impl, interval, scripts
        self.tracked: Tracked | None = None
        glob = top = inst = ""
        if way == "script":
            (scripts / "ok").touch()
            check = scripts / "check.sh"
            check.write_text(f"#!/bin/sh\n[ -e {scripts}/ok ]\n")
            os.chmod(check, 0o755)
            glob = "    script_user root\n    enable_script_security\n"
            top = (f"vrrp_script chk {{\n    script {check}\n    interval 1\n    weight -20\n"
                   "    fall 2\n    rise 2\n}\n")
            inst = "    track_script {\n        chk\n    }\n"
        elif way == "interface":
            a.ip_cmd("link", "add", "trk0", "type", "veth", "peer", "name", "trk0p")
            a.ip_cmd("link", "set", "trk0p", "up")
            a.ip_cmd("link", "set", "trk0", "up")
            inst = "    track_interface {\n        trk0 weight -20\n    }\n"
        elif way == "file":
            (scripts / "prio").write_text("0\n")
            top = f"track_file tf {{\n    file {scripts / 'prio'}\n    weight -20\n}}\n"
            inst = "    track_file {\n        tf\n    }\n"
        elif way == "process":
            self.tracked = Tracked(scripts)
            top = f"vrrp_track_process tp {{\n    process {self.tracked.name}\n    weight -20\n}}\n"
            inst = "    track_process {\n        tp\n    }\n"
        self.ifname = "eth0"
        self.root_ns = way == "process" and a_impl == "ka"
        if self.root_ns:
            # keepalived ignores vrrp_track_process inside a netns (no proc connector): start it
            # from the root namespace with `net_namespace`. Its interface gets a name that
            # exists only in A's namespace, so that a daemon that failed to enter it cannot run
            # the instance (or add the VIP) in the root namespace.
            self.ifname = f"pk{secrets.token_hex(4)}"
            a.ip_cmd("link", "set", "eth0", "down")
            a.ip_cmd("link", "set", "eth0", "name", self.ifname)
            a.ip_cmd("link", "set", self.ifname, "up")
        self.parts: dict[str, str] = dict(glob=glob, top=top, inst=inst, iface=self.ifname)
        self.conf = (f"net_namespace {a.ns}\n" if self.root_ns else "") + config(a, HIGH, interval, **self.parts)
        self.daemon: VrrpDaemon | None = None

    def start(self) -> VrrpDaemon:
        cls = RootNsDaemon if self.root_ns else VrrpDaemon
        self.daemon = cls(self.a, self.conf, implementation=IMPLS[self.a_impl]).start()
        return self.daemon

    def trigger(self) -> None:
        d = self.daemon
        assert d is not None
        if self.way == "script":
            (self.dir / "ok").unlink()
        elif self.way == "interface":
            self.a.ip_cmd("link", "set", "trk0", "down")
        elif self.way == "file":
            (self.dir / "prio").write_text("1\n")
        elif self.way == "process":
            assert self.tracked is not None
            self.tracked.kill()
        elif self.way == "reload":
            d.conf_path.write_text(config(self.a, DEMOTED, self.interval, **self.parts))   # not with root_ns
            d.reload()
        elif self.way == "stop":
            d._p().send_signal(signal.SIGTERM)

    def close(self) -> None:
        if self.tracked is not None:
            self.tracked.kill()


def _params() -> list[Any]:
    out = []
    for way in WAYS:
        for interval in INTERVALS:
            for a_impl in ("ka", "py"):
                ci = interval == 0.2 or way == "file"
                marks = [pytest.mark.interop] if a_impl == "ka" else []
                if not (ci or FULL):
                    marks.append(pytest.mark.skip(reason="full matrix only: PYKEEPALIVED_FULL_MATRIX=1"))
                if interval >= 1 or way in ("script", "process"):
                    marks.append(pytest.mark.slow)
                out.append(pytest.param(way, interval, a_impl, marks=marks, id=f"{way}-{interval:g}-{a_impl}"))
    return out


@pytest.mark.parametrize(("way", "interval", "a_impl"), _params())
def test_backup_takes_over_from_a_demoted_master(lab: Lab, scripts: Path, way: str, interval: float,
                                                 a_impl: str) -> None:
    a, b = lab.add_hosts("a", "b")
    cap = lab.capture()
    demotion = Demotion(way, a, a_impl, interval, scripts)
    try:
        # B first, then A preempts it: B does not start beside a live master (that start-up
        # race is issue 18 bug 2, not this test's).
        db = start(b, "py", config(b, LOW, interval))
        db.wait_state("VI_1", "MASTER", timeout=15)
        da = demotion.start()
        da.wait_state("VI_1", "MASTER", timeout=15)
        wait_until(lambda: last_state(db) == "BACKUP" or None, 10, message=f"B never yielded to A\n{db.log()}")
        time.sleep(max(1.0, 5 * interval))          # steady state: B absorbs A's copies
        assert last_state(db) == "BACKUP", f"A:\n{da.log()}\nB:\n{db.log()}"

        mark = time.time_ns()
        demotion.trigger()
        want = 0 if way == "stop" else DEMOTED

        bound = (skew(interval) if way == "stop" else master_down(interval)) + slack(interval)

        def lowered() -> tuple[Frame, Frame | None] | None:
            """A's first advert at the lower priority and B's first advert after it; or, if A
            went quiet instead and B took over first, A's last advert and B's first."""
            frames = cap.frames()
            low = next((f for f in adverts(frames, a.ip, mark) if prio(f) == want), None)
            takes = [f for f in adverts(frames, b.ip, mark) if prio(f) == LOW]
            if takes and (low is None or takes[0].ts_ns < low.ts_ns):
                last_a = [f for f in vrrp_frames(frames, vrid=VRID, src=a.ip) if f.ts_ns < takes[0].ts_ns]
                return (last_a[-1], takes[0]) if last_a else None
            if low is not None:
                return low, next((f for f in takes if f.ts_ns > low.ts_ns), None)
            return None

        wait_until(lowered, 10, message=f"A never advertised priority {want} (logs: {lab.workdir})")
        # Without the fix B never takes over here: it absorbs A's lower-priority adverts.
        found = wait_until(lambda: (r := lowered()) is not None and r[1] is not None and r or None, bound + 3,
                           message=f"B never took over from A advertising {want} (logs: {lab.workdir})")
        first_low, first_b = found[0], found[1]
        assert first_b is not None
        gap = (first_b.ts_ns - first_low.ts_ns) / 1e9
        # B must take over because A advertised a lower priority, not because A went quiet.
        assert prio(first_low) == want, (
            f"A went quiet {gap:.3f} s after its advert of priority {prio(first_low)} (longer than B's "
            f"master-down interval {master_down(interval):.3f}): B took over before A advertised {want}\n"
            f"A:\n{da.log()}\nB:\n{db.log()}")
        assert gap <= bound, (f"B took over {gap:.3f} s after A's advert of priority {prio(first_low)} "
                              f"(bound {bound:.3f})\nA:\n{da.log()}\nB:\n{db.log()}")
        wait_until(lambda: last_state(db) == "MASTER" or None, 3, message=f"B not MASTER\n{db.log()}")
        if way != "stop":
            if prio(first_low) == DEMOTED:   # B discarded A's lower adverts (keepalived's line)
                assert "received lower priority (90) advert" in db.log()
            wait_until(lambda: last_state(da) == "BACKUP" or None, 5, message=f"A did not yield\n{da.log()}")
        wait_until(lambda: (b.has_address(VIP) and not a.has_address(VIP, demotion.ifname)) or None, 5,
                   message="the VIP is on B only")
    finally:
        demotion.close()


# ------------------------------------------------------------------ invalid adverts from elsewhere


SENDER = r"""
import ipaddress, socket, sys, time
from pykeepalived._fastpath import advert_io_py, codec
src, dst, vip, interval, rate, vrid = sys.argv[1:4] + [float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])]
pk = lambda a: ipaddress.ip_address(a).packed
payload = codec.encode_advert(3, vrid, 50, round(interval * 100), [pk(vip)], codec.AF_INET, pk(src), pk(dst))
packet = advert_io_py.ipv4_header(pk(src), pk(dst), len(payload), 64) + payload
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
print("sending", flush=True)
while True:
    s.sendto(packet, (dst, 0))
    time.sleep(1 / rate)
"""


def _third_host_params() -> list[Any]:
    out = []
    for interval in (0.1, 1.0):
        for a_impl in ("ka", "py"):
            marks = [pytest.mark.interop] if a_impl == "ka" else []
            if interval >= 1:
                marks.append(pytest.mark.slow)
                if not FULL:
                    marks.append(pytest.mark.skip(reason="full matrix only: PYKEEPALIVED_FULL_MATRIX=1"))
            out.append(pytest.param(interval, a_impl, marks=marks, id=f"{interval:g}-{a_impl}"))
    return out


@pytest.mark.parametrize(("interval", "a_impl"), _third_host_params())
def test_third_host_invalid_adverts_do_not_keep_a_dead_master_alive(lab: Lab, interval: float,
                                                                   a_impl: str) -> None:
    """Issue 24 item 1: host C repeats one advert B must ignore (IP TTL 64 on a multicast
    instance, priority 50, unicast to B) 5 times per advert interval (5/s at 1 s, as measured;
    50/s at 0.1 s: without the fix a rate below that let the shortcut's hold run out between
    two copies, by chance, and hid the bug); A is SIGKILLed; B takes over
    within its master-down interval of A's last advert (keepalived: 3.4-3.7 s at 1 s)."""
    a, b, c = lab.add_hosts("a", "b", "c")
    cap = lab.capture()
    da = start(a, a_impl, config(a, HIGH, interval))
    da.wait_state("VI_1", "MASTER", timeout=15)
    db = start(b, "py", config(b, LOW, interval))
    db.wait_state("VI_1", "BACKUP", timeout=10)
    sender = c.spawn([sys.executable, "-c", SENDER, c.ip, b.ip, VIP, f"{interval:g}", f"{5 / interval:g}", str(VRID)],
                     name="sender")
    sender.wait_output("sending", timeout=10)
    time.sleep(max(1.5, 5 * interval))             # the master's and C's adverts interleave
    assert "MASTER" not in db.log()
    assert "invalid TTL/HL" in db.log(), db.log()   # B saw C's adverts (and rejected them)

    mark = time.time_ns()
    da.kill()
    bound = master_down(interval) + slack(interval)
    db.wait_state("VI_1", "MASTER", timeout=bound + 2)
    wait_until(lambda: adverts(cap.frames(), b.ip, mark) or None, 3, message="B's advert in the capture")
    frames = cap.frames()
    first_b = next(f for f in adverts(frames, b.ip, mark) if prio(f) == LOW)
    last_a = [f for f in vrrp_frames(frames, vrid=VRID, src=a.ip) if f.ts_ns < first_b.ts_ns]
    assert last_a, "no advert of A in the capture"
    gap = (first_b.ts_ns - last_a[-1].ts_ns) / 1e9
    assert 0 < gap <= bound, f"B took over {gap:.3f} s after A's last advert (bound {bound:.3f})"
    # C kept sending all along
    wait_until(lambda: any(f.ts_ns > first_b.ts_ns for f in vrrp_frames(cap.frames(), vrid=VRID, src=c.ip))
               or None, 3, message="C's adverts after the takeover")


@pytest.mark.parametrize("a_impl", [pytest.param("ka", marks=pytest.mark.interop), "py"])
@pytest.mark.slow
def test_master_reloaded_with_another_auth_pass_is_taken_over(lab: Lab, a_impl: str) -> None:
    """Issue 24 item 1: A reloads with another auth_pass (VRRPv2 PASS, advert_int 1): B
    rejects every advert of A from then on ("received an invalid passwd!") and takes over one
    master-down interval after A's last valid advert, as keepalived does."""
    a, b = lab.add_hosts("a", "b")
    cap = lab.capture()
    da = start(a, a_impl, config(a, HIGH, 1.0, version=2, auth="secret1"))
    da.wait_state("VI_1", "MASTER", timeout=15)
    db = start(b, "py", config(b, LOW, 1.0, version=2, auth="secret1"))
    db.wait_state("VI_1", "BACKUP", timeout=10)
    time.sleep(2.5)
    assert "MASTER" not in db.log()
    mark = time.time_ns()
    da.conf_path.write_text(config(a, HIGH, 1.0, version=2, auth="other22"))
    da.reload()
    bound = master_down(1.0, LOW) + slack(1.0)
    db.wait_state("VI_1", "MASTER", timeout=bound + 5)
    assert "received an invalid passwd!" in db.log()
    wait_until(lambda: adverts(cap.frames(), b.ip, mark) or None, 3, message="B's advert in the capture")
    frames = cap.frames()
    first_b = next(f for f in adverts(frames, b.ip, mark) if prio(f) == LOW)
    # A's last advert with the old password: the last one B accepted
    old = [f for f in vrrp_frames(frames, vrid=VRID, src=a.ip)
           if f.ts_ns < first_b.ts_ns and f.vrrp.auth_data.startswith(b"secret1")]  # type: ignore[union-attr]
    assert old
    gap = (first_b.ts_ns - old[-1].ts_ns) / 1e9
    assert 0 < gap <= bound, f"B took over {gap:.3f} s after A's last valid advert (bound {bound:.3f})"
