"""Operations with the real VRRP child (vrrp/) in namespaces, keepalived 2.2.7 as the peer:
respawn after kill -9, reload (broken and good), live dump files against live state and a capture."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from ops_helpers import burst_capture

from harness import Frame, Host, Lab, Proc, wait_until

pytestmark = [pytest.mark.privileged]

VIP = "192.0.2.100"


def conf(priority: int, *, extra_global: str = "", extra_instance: str = "", vips: str = f"{VIP}/24") -> str:
    return f"""
global_defs {{
  router_id r{priority}
{extra_global}
}}
vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int 1
  virtual_ipaddress {{ {vips} }}
{extra_instance}
}}
"""


class Daemon:
    """pykeepalived (our real VRRP child) -n -l -D -G with its files in the lab's workdir."""

    def __init__(self, host: Host, text: str, name: str = "pyka") -> None:
        wd = host.lab.workdir
        self.conf = wd / f"{name}.conf"
        self.conf.write_text(text)
        self.pid_file, self.vrrp_pid_file = wd / f"{name}.pid", wd / f"{name}.vrrp.pid"
        self.tmp = wd / f"{name}-tmp"
        self.tmp.mkdir(exist_ok=True)
        argv = [sys.executable, "-m", "pykeepalived", "-n", "-l", "-D", "-G", "-f", str(self.conf),
                "-p", str(self.pid_file), "-r", str(self.vrrp_pid_file), "-c", str(wd / f"{name}.check.pid")]
        env = {"TMPDIR": str(self.tmp)}
        os.environ.pop("PYKEEPALIVED_VRRP_ENTRY", None)
        self.proc: Proc = host.spawn(argv, name=name, env=env)

    def log(self) -> str:
        return self.proc.stdout() + self.proc.stderr()

    def wait_log(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        return self.proc.wait_output(pattern, timeout)

    def child(self) -> int | None:
        try:
            return int(self.vrrp_pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)


def one_master(a: Host, b: Host) -> bool:
    return a.has_address(VIP) != b.has_address(VIP)


@pytest.mark.interop
@pytest.mark.slow
def test_kill9_vrrp_child_is_respawned_and_the_pair_converges(lab: Lab, record_property: pytest.RecordProperty
                                                               ) -> None:
    r1, r2 = lab.add_hosts("r1", "r2")
    ours = Daemon(r1, conf(150))
    theirs = r2.keepalived(conf(100))
    ours.wait_log(r"\(VI_1\) Entering MASTER STATE", 20)
    theirs.wait_state("VI_1", "BACKUP", 10)
    wait_until(lambda: one_master(r1, r2) and r1.has_address(VIP), 10)
    old = wait_until(ours.child, 5)

    killed_at = time.monotonic()
    os.kill(old, signal.SIGKILL)
    new = wait_until(lambda: (p := ours.child()) not in (None, old) and p, 10)
    respawned_after = time.monotonic() - killed_at
    # The fresh child starts from BACKUP (init) and, with the higher priority, takes MASTER back.
    ours.wait_log(rf"Starting VRRP child process, pid={new}[\s\S]*\(VI_1\) Entering MASTER STATE", 20)
    wait_until(lambda: one_master(r1, r2) and r1.has_address(VIP), 10)
    converged_after = time.monotonic() - killed_at
    record_property("respawn_seconds", round(respawned_after, 3))
    record_property("converged_seconds", round(converged_after, 3))
    print(f"kill -9 of the VRRP child: respawned after {respawned_after:.3f} s, "
          f"one master again after {converged_after:.3f} s")
    assert f"pid {old} exited due to signal 9 (Killed)" in ours.log()
    assert "Restart of VRRP process delayed 0 seconds to limit respawn rate" in ours.log()
    assert ours.proc.alive
    # Backup again on the keepalived side: one master on the LAN.
    assert not r2.has_address(VIP)


@pytest.mark.slow
def test_broken_reload_keeps_everything_running_and_names_file_line(lab: Lab) -> None:
    r1 = lab.add_host("r1")
    check_log = lab.workdir / "check.log"
    good = conf(150, extra_global=f"  reload_check_config {check_log}")
    d = Daemon(r1, good)
    d.wait_log(r"\(VI_1\) Entering MASTER STATE", 20)
    child = d.child()
    transitions = d.log().count("Entering")

    # 1. An unknown keyword with reload_check_config: refused as keepalived does, the message
    #    (with file:line) in the check log and in our log.
    broken = good.replace("  priority 150\n", "  priority 150\n  no_such_keyword 1\n")
    d.conf.write_text(broken)
    line = broken.splitlines().index("  no_such_keyword 1") + 1
    message = f"({d.conf}: Line {line}) Unknown keyword 'no_such_keyword'"
    d.signal(signal.SIGHUP)
    d.wait_log(re.escape(message), 15)
    d.wait_log(rf"New config failed validation, see {re.escape(str(check_log))} for details", 15)
    assert message in check_log.read_text().splitlines()
    assert "Reloading ..." not in d.log()

    # 2. Without reload_check_config, a file that cannot run (interface missing) is refused
    #    too (keepalived 2.2.7's VRRP child would exit and stop the daemon).
    d.conf.write_text(conf(150))
    d.signal(signal.SIGHUP)
    d.wait_log(r"Reload finished", 15)
    d.conf.write_text(conf(150).replace("interface eth0", "interface nosuch9"))
    d.signal(signal.SIGHUP)
    d.wait_log(r"\(.*: Line \d+\) WARNING - interface nosuch9 for vrrp_instance VI_1 doesn't exist", 15)
    d.wait_log(r"keeping the running configuration", 15)
    time.sleep(3)   # a few advert intervals: nothing may change
    assert d.proc.alive and d.child() == child
    assert d.log().count("Entering") == transitions
    assert r1.has_address(VIP)
    assert d.log().count("Reload finished") == 1


@pytest.mark.slow
def test_good_reload_reaches_the_child_which_applies_it(lab: Lab) -> None:
    """A reload that adds an instance: the same VRRP process starts it, VI_1 is untouched."""
    r1 = lab.add_host("r1")
    d = Daemon(r1, conf(150))
    d.wait_log(r"\(VI_1\) Entering MASTER STATE", 20)
    child = d.child()
    second = conf(150).split("vrrp_instance", 1)[1].replace("VI_1", "VI_2").replace("virtual_router_id 51", "virtual_router_id 52")
    second = second.replace(f"{VIP}/24", "192.0.2.101/24")
    d.conf.write_text(conf(150) + "vrrp_instance" + second)
    d.signal(signal.SIGHUP)
    d.wait_log(r"Reload finished", 10)
    d.wait_log(r"\(VI_2\) Entering MASTER STATE", 15)
    wait_until(lambda: r1.has_address("192.0.2.101"), 5)
    assert d.proc.alive and d.child() == child      # the same VRRP process, not a restart
    assert r1.has_address(VIP)
    assert not re.search(r"\(VI_1\) Entering", d.log().split("Reloading ...")[-1])


def _counts_from_capture(frames: list[Frame], src: str) -> int:
    return sum(1 for f in frames if f.vrrp is not None and f.src == src)


@pytest.mark.slow
def test_live_dumps_match_state_and_capture(lab: Lab) -> None:
    r1, r2 = lab.add_hosts("r1", "r2")
    cap = burst_capture(r2)
    d = Daemon(r1, conf(150))
    d.wait_log(r"\(VI_1\) Entering MASTER STATE", 20)
    time.sleep(3.5)
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGRTMIN + 2):
        d.signal(sig)
    stats_file, json_file, data_file = d.tmp / "keepalived.stats", d.tmp / "keepalived.json", d.tmp / "keepalived.data"
    wait_until(lambda: stats_file.exists() and json_file.exists() and data_file.exists(), 10)
    frames = cap.stop()
    sent_in_capture = _counts_from_capture(frames, r1.ip)

    doc = json.loads(json_file.read_text())
    assert isinstance(doc, list) and len(doc) == 1
    data, stats = doc[0]["data"], doc[0]["stats"]
    assert data["iname"] == "VI_1" and data["state"] == 2 and data["vrid"] == 51
    assert data["effective_priority"] == 150 and data["vipset"] is True
    assert data["vips"] == [f"{VIP}/24 dev eth0 scope global set"]
    assert stats["become_master"] == 1
    # The capture stopped after the signals: it saw at least what was counted, at most ~1 more.
    assert abs(stats["advert_sent"] - sent_in_capture) <= 1, (stats["advert_sent"], sent_in_capture)

    text = stats_file.read_text()
    assert text.startswith("VRRP Instance: VI_1\n  Advertisements:\n")
    assert re.search(r"^  Became master: 1$", text, re.M)
    assert "   State = MASTER\n" in data_file.read_text()
    for f in (stats_file, json_file, data_file):
        assert oct(f.stat().st_mode & 0o777) == "0o600"
    assert re.search(r"Printing VRRP stats for process\(\d+\) on signal", d.log())


VS_CONF = conf(150) + """
virtual_server 192.0.2.100 80 {
  delay_loop 2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.12 80 {
    TCP_CHECK { connect_timeout 1 }
  }
}
"""


def _spawn(host: Host, text: str, *extra: str, name: str) -> tuple[Proc, Path]:
    wd = host.lab.workdir
    cfg = wd / f"{name}.conf"
    cfg.write_text(text)
    os.environ.pop("PYKEEPALIVED_VRRP_ENTRY", None)
    argv = [sys.executable, "-m", "pykeepalived", "-n", "-l", "-G", "-f", str(cfg), "-p", str(wd / f"{name}.pid"),
            "-r", str(wd / f"{name}.vrrp.pid"), "-c", str(wd / f"{name}.check.pid"), "--lvs-backend", "nftables",
            *extra]
    return host.spawn(argv, name=name, env={"TMPDIR": str(wd)}), wd


@pytest.mark.slow
@pytest.mark.parametrize("flags,vrrp,checker", [((), True, True), (("-P",), True, False), (("-C",), False, True)])
def test_children_started_by_config_and_flags(lab: Lab, flags: tuple[str, ...], vrrp: bool, checker: bool) -> None:
    r1 = lab.add_host("r1")
    p, wd = _spawn(r1, VS_CONF, *flags, name="sel")
    p.wait_output(r"Startup complete", 20)
    time.sleep(1)
    out = p.stdout() + p.stderr()
    assert ("Starting VRRP child process" in out) == vrrp
    assert ("Starting Healthcheck child process" in out) == checker
    assert (wd / "sel.vrrp.pid").exists() == vrrp
    assert (wd / "sel.check.pid").exists() == checker
    p.stop(10)
    assert p.returncode == 0
    assert not (wd / "sel.vrrp.pid").exists() and not (wd / "sel.check.pid").exists()


@pytest.mark.slow
def test_no_checker_child_without_virtual_servers(lab: Lab) -> None:
    r1 = lab.add_host("r1")
    p, wd = _spawn(r1, conf(150), name="novs")
    p.wait_output(r"Startup complete", 20)
    time.sleep(0.5)
    assert "Healthcheck" not in p.stdout() + p.stderr()
    assert not (wd / "novs.check.pid").exists()


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True])
def test_dont_release_vrrp_leaves_vips_on_stop(lab: Lab, keep: bool) -> None:
    r1 = lab.add_host("r1")
    p, _ = _spawn(r1, conf(150), *(["-V"] if keep else []), name="rel")
    p.wait_output(r"\(VI_1\) Entering MASTER STATE", 20)
    wait_until(lambda: r1.has_address(VIP), 5)
    assert p.stop(10) == 0
    assert r1.has_address(VIP) == keep


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True])
def test_dont_release_ipvs_leaves_lvs_rules_on_stop(lab: Lab, keep: bool) -> None:
    r1 = lab.add_host("r1")
    p, _ = _spawn(r1, VS_CONF, "-C", *(["-I"] if keep else []), name="ipvs")
    p.wait_output(r"Activating healthchecker for service", 20)

    def programmed() -> bool:
        r = r1.run(["nft", "list", "table", "inet", "pykeepalived_lvs"], check=False)
        return r.returncode == 0 and "192.0.2.100" in r.stdout

    wait_until(programmed, 10)
    assert p.stop(10) == 0
    assert programmed() == keep


@pytest.mark.slow
def test_namespace_and_instance_pid_files(lab: Lab) -> None:
    """`net_namespace` + `instance`: the daemon enters the namespace itself (started outside it),
    its VIP appears there, and the pid files are /run/keepalived/{keepalived,vrrp}_<instance>.pid."""
    import secrets
    import subprocess

    r1 = lab.add_host("r1")
    inst = f"t{secrets.token_hex(4)}"
    text = f"net_namespace {r1.ns}\ninstance {inst}\n" + conf(150)
    cfg = lab.workdir / "ns.conf"
    cfg.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYKEEPALIVED_VRRP_ENTRY"}
    env["TMPDIR"] = str(lab.workdir)
    out = open(lab.workdir / "ns.log", "wb")
    p = subprocess.Popen([sys.executable, "-m", "pykeepalived", "-n", "-l", "-G", "-f", str(cfg)],
                         stdout=out, stderr=out, env=env, start_new_session=True)
    main, vrrp = Path(f"/run/keepalived/keepalived_{inst}.pid"), Path(f"/run/keepalived/vrrp_{inst}.pid")
    try:
        wait_until(lambda: r1.has_address(VIP), 20)
        assert main.read_text() == f"{p.pid}\n"
        assert vrrp.exists()
        assert os.stat(f"/proc/{p.pid}/ns/net").st_ino == os.stat(f"/run/netns/{r1.ns}").st_ino
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0
        assert not main.exists() and not vrrp.exists()
        assert not Path("/run/keepalived").exists() or not any(Path("/run/keepalived").glob(f"*_{inst}*"))
        assert not r1.has_address(VIP)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
        out.close()
        # the VRRP child's status channel socket (/run/keepalived/vrrp_<inst>.sock) stays behind
        for f in (main, vrrp, Path(f"/run/keepalived/vrrp_{inst}.sock")):
            f.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.rmdir("/run/keepalived")


@pytest.mark.slow
def test_reload_starts_a_child_whose_configuration_appears(lab: Lab) -> None:
    r1 = lab.add_host("r1")
    p, wd = _spawn(r1, conf(150), name="grow")
    p.wait_output(r"\(VI_1\) Entering MASTER STATE", 20)
    assert "Healthcheck" not in p.stdout() + p.stderr()
    vrrp_child = (wd / "grow.vrrp.pid").read_text()
    (wd / "grow.conf").write_text(VS_CONF)
    p.send_signal(signal.SIGHUP)
    p.wait_output(r"Reload finished", 15)
    p.wait_output(r"Starting Healthcheck child process, pid=\d+", 15)
    wait_until(lambda: (wd / "grow.check.pid").exists(), 10)
    assert (wd / "grow.vrrp.pid").read_text() == vrrp_child      # the VRRP child was not restarted


@pytest.mark.slow
def test_live_stats_clear_and_backup_view(lab: Lab) -> None:
    """SIGRTMAX-1 writes the stats then zeroes them; a BACKUP's data dump names its master."""
    r1, r2 = lab.add_hosts("r1", "r2")
    master = Daemon(r2, conf(200), name="m")
    master.wait_log(r"\(VI_1\) Entering MASTER STATE", 20)
    d = Daemon(r1, conf(100), name="b")
    d.wait_log(r"\(VI_1\) Entering BACKUP STATE", 20)
    time.sleep(3)
    d.signal(signal.SIGRTMAX - 1)
    stats = d.tmp / "keepalived.stats"
    wait_until(stats.exists, 10)
    received = int(re.search(r"Advertisements:\n    Received: (\d+)", stats.read_text()).group(1))  # type: ignore[union-attr]
    assert received >= 2
    d.signal(signal.SIGRTMIN + 2)
    wait_until((d.tmp / "keepalived.json").exists, 10)
    after = json.loads((d.tmp / "keepalived.json").read_text())[0]
    assert after["stats"]["advert_rcvd"] < received         # cleared, counting again
    assert after["data"]["state"] == 1 and after["data"]["master_priority"] == 200
    d.signal(signal.SIGUSR1)
    wait_until((d.tmp / "keepalived.data").exists, 10)
    text = (d.tmp / "keepalived.data").read_text()
    assert "   State = BACKUP\n" in text
    assert f"   Master router = {r2.ip}\n" in text and "   Master priority = 200\n" in text


def _supervisor_lines(text: str) -> list[str]:
    """The parent's respawn lines, pids and timestamps normalised."""
    keep = re.compile(r"exited due to signal|died: Respawning|Restart of VRRP process delayed|"
                      r"Starting VRRP child process")
    out = []
    for line in text.splitlines():
        body = line.split(": ", 1)[1] if re.match(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: ", line) else line
        if keep.search(body):
            out.append(re.sub(r"\d{2,}", "N", body))
    return out


@pytest.mark.interop
@pytest.mark.slow
def test_respawn_log_lines_match_keepalived(lab: Lab) -> None:
    """kill -9 the VRRP child twice under keepalived 2.2.7 and under pykeepalived: the parent's
    lines are the same (keepalived also prints 3 'Please log an issue at github.com/acassen'
    lines that do not apply to us)."""
    r1, r2 = lab.add_hosts("r1", "r2")
    theirs = r1.keepalived(conf(150))
    ours = r2.keepalived(conf(150), implementation="pykeepalived")
    for d in (theirs, ours):
        d.wait_log(r"\(VI_1\) Entering", 20)
        for _ in range(2):
            old = wait_until(d.vrrp_pid, 10)
            os.kill(old, signal.SIGKILL)
            wait_until(lambda d=d, old=old: d.vrrp_pid() not in (None, old), 15)
        d.wait_log(r"(Starting VRRP child process[\s\S]*){3}", 10)
    assert _supervisor_lines(ours.log()) == _supervisor_lines(theirs.log())
    assert len(_supervisor_lines(ours.log())) == 9


@pytest.mark.interop
@pytest.mark.slow
def test_second_start_and_pid_files_match_keepalived(lab: Lab) -> None:
    import subprocess

    r1, r2 = lab.add_hosts("r1", "r2")
    results = {}
    for host, impl in ((r1, "keepalived"), (r2, "pykeepalived")):
        d = host.keepalived(conf(150), implementation=impl)
        d.wait_log(r"\(VI_1\) Entering", 20)
        main = d.pid_file.read_text()
        vrrp = d.vrrp_pid_file.read_text()
        assert main == f"{d.pid}\n" and re.fullmatch(r"\d+\n", vrrp)
        again = subprocess.run(["ip", "netns", "exec", host.ns, *d.argv], capture_output=True, text=True,
                               timeout=30)
        last = again.stderr.strip().splitlines()[-1].split(": ", 1)[1]
        modes = (oct(d.pid_file.stat().st_mode & 0o777), oct(d.vrrp_pid_file.stat().st_mode & 0o777))
        assert d.stop() == 0
        gone = (d.pid_file.exists(), d.vrrp_pid_file.exists())
        results[impl] = (again.returncode, last, modes, gone)
    assert results["pykeepalived"] == results["keepalived"]
    assert results["keepalived"] == (0, "daemon is already running", ("0o644", "0o644"), (False, False))


@pytest.mark.interop
@pytest.mark.slow
def test_live_json_and_stats_have_keepalived_layout(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same instance under keepalived 2.2.7 and under pykeepalived (own VRIDs on one LAN):
    the JSON dumps have the same keys in the same order with the same types and, apart from
    identity and timing, the same values; the stats files have the same lines."""
    r1, r2 = lab.add_hosts("r1", "r2")
    their_tmp = lab.workdir / "theirs-tmp"
    their_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(their_tmp))
    theirs = r1.keepalived(conf(150))
    monkeypatch.delenv("TMPDIR")
    ours = Daemon(r2, conf(150).replace("virtual_router_id 51", "virtual_router_id 52")
                  .replace(f"{VIP}/24", "192.0.2.101/24"), name="ours")
    theirs.wait_state("VI_1", "MASTER", 20)
    ours.wait_log(r"\(VI_1\) Entering MASTER STATE", 20)
    time.sleep(2)
    for sig in (signal.SIGRTMIN + 2, signal.SIGUSR2):
        ours.signal(sig)
        os.kill(theirs.pid, sig)
    files = [d / n for d in (their_tmp, ours.tmp) for n in ("keepalived.json", "keepalived.stats")]
    wait_until(lambda: all(f.exists() and f.stat().st_size for f in files), 10)

    a = json.loads((their_tmp / "keepalived.json").read_text())[0]
    b = json.loads((ours.tmp / "keepalived.json").read_text())[0]
    for part in ("data", "stats"):
        assert list(a[part]) == list(b[part]), part
        assert {k: type(v).__name__ for k, v in a[part].items()} == {k: type(v).__name__ for k, v in b[part].items()}
    differ = {"vrid", "ifp_ifname", "last_transition", "vips"}
    assert {k: v for k, v in a["data"].items() if k not in differ} == \
        {k: v for k, v in b["data"].items() if k not in differ}
    assert a["data"]["vips"] == [f"{VIP}/24 dev eth0 scope global set"]
    assert b["data"]["vips"] == ["192.0.2.101/24 dev eth0 scope global set"]
    assert a["stats"]["become_master"] == b["stats"]["become_master"] == 1

    def labels(path: Path) -> list[str]:
        return [line.split(":")[0] for line in path.read_text().splitlines()]

    assert labels(their_tmp / "keepalived.stats") == labels(ours.tmp / "keepalived.stats")


@pytest.mark.slow
def test_namespace_option_overrides_config(lab: Lab) -> None:
    """-s NAME: the daemon, started outside, enters NAME before checking the interfaces and
    logs keepalived's override line when the file names another namespace."""
    import subprocess

    r1 = lab.add_host("r1")
    cfg = lab.workdir / "s.conf"
    cfg.write_text("net_namespace nosuchns\n" + conf(150))
    env = {k: v for k, v in os.environ.items() if k != "PYKEEPALIVED_VRRP_ENTRY"}
    env["TMPDIR"] = str(lab.workdir)
    wd = lab.workdir
    with open(wd / "s.log", "wb") as out:
        p = subprocess.Popen([sys.executable, "-m", "pykeepalived", "-n", "-l", "-G", "-s", r1.ns, "-f", str(cfg),
                              "-p", str(wd / "s.pid"), "-r", str(wd / "s.vrrp.pid"), "-c", str(wd / "s.chk.pid")],
                             stdout=out, stderr=out, env=env, start_new_session=True)
        try:
            wait_until(lambda: r1.has_address(VIP), 20)
            text = (wd / "s.log").read_text()
            assert f"Overriding config net_namespace 'nosuchns' with command line namespace '{r1.ns}'" in text
            p.send_signal(signal.SIGTERM)
            assert p.wait(15) == 0
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def test_unsupported_features_are_named_and_the_rest_runs(lab: Lab) -> None:
    """BFD and use_ipvlan are not implemented: each is named in the log once, and the daemon runs
    the rest of the configuration (the VIP goes on eth0 itself)."""
    r1 = lab.add_host("r1")
    text = conf(150, extra_instance="  use_ipvlan\n") + "bfd_instance nbr {\n  neighbor_ip 192.0.2.12\n}\n"
    p, _ = _spawn(r1, text, name="unsup")
    p.wait_output(r"Startup complete", 20)
    wait_until(lambda: r1.has_address(VIP) or None, 10, message="VIP not on eth0")
    out = p.stdout() + p.stderr()
    assert out.count("BFD is not supported by pykeepalived - bfd_instance blocks are ignored") == 1, out
    assert out.count("(VI_1) use_ipvlan is not supported by pykeepalived - ignored, VIPs go on the interface "
                     "itself") == 1, out
    assert "Traceback" not in out
    p.stop(10)
    assert p.returncode == 0


def test_children_are_forked_with_their_code_loaded_and_the_supervisor_runs_no_loop(lab: Lab) -> None:
    """Issue 19 item 1: the supervisor imports the VRRP child's code before it forks (the child and
    every respawned one start with it loaded, the pages shared), but it never runs an event loop
    or a thread itself: one task, no epoll instance; the child runs on uvloop."""
    r1 = lab.add_host("r1")
    p, wd = _spawn(r1, conf(150), name="lean")
    p.wait_output(r"Startup complete", 20)
    wait_until(lambda: r1.has_address(VIP) or None, 10, message="VIP not on eth0")
    child = int((wd / "lean.vrrp.pid").read_text().split()[0])

    def libs(pid: int) -> str:
        return Path(f"/proc/{pid}/maps").read_text()

    def epolls(pid: int) -> int:
        fds = Path(f"/proc/{pid}/fd")
        return sum(1 for fd in fds.iterdir() if "eventpoll" in os.readlink(fd))

    parent = int((wd / "lean.pid").read_text().split()[0])
    assert "uvloop" in libs(parent), "the supervisor did not load the child's code before the fork"
    assert len(list(Path(f"/proc/{parent}/task").iterdir())) == 1, "the supervisor runs a thread"
    assert epolls(parent) == 0, "the supervisor runs an event loop"
    assert "uvloop" in libs(child) and epolls(child) >= 1, "the VRRP child runs on uvloop"
    p.stop(10)


def test_reload_with_the_file_missing_keeps_everything(lab: Lab) -> None:
    """Issue 24 item 9: SIGHUP while the file is missing (moved away mid-deploy). keepalived
    2.2.7 reads it as an empty configuration and removes every instance and VIP; we refuse
    the reload and keep running. Back in place, the next SIGHUP reloads normally."""
    r1 = lab.add_host("r1")
    d = Daemon(r1, conf(150))
    d.wait_log(r"\(VI_1\) Entering MASTER STATE", 20)
    child = d.child()
    aside = d.conf.with_suffix(".aside")
    d.conf.rename(aside)
    before = len(d.log())
    d.signal(signal.SIGHUP)
    d.wait_log(rf"Reload refused: configuration file {re.escape(str(d.conf))} cannot be read "
               r"\(No such file or directory\) - keeping the running configuration", 15)
    time.sleep(3)  # three advert intervals: nothing may change
    assert d.proc.alive and d.child() == child
    assert r1.has_address(VIP)
    after = d.log()[before:]
    assert "Reloading ..." not in after and "Entering" not in after and "removing" not in after.lower(), after

    aside.rename(d.conf)
    d.signal(signal.SIGHUP)
    d.wait_log(r"Reload finished", 15)
    time.sleep(2)
    assert d.child() == child and r1.has_address(VIP)
    assert d.log().count("Entering MASTER STATE") == 1
