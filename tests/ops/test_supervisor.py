"""The parent supervisor in a namespace: pid files, refusal, respawn, exit codes, signals, systemd.

Children here are the test entries of child_entries.py (selected with PYKEEPALIVED_VRRP_ENTRY),
so that a test can choose how a child dies; tests/ops/test_vrrp_ops.py runs the real VRRP child.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import Host, Lab, Proc, wait_until
from pykeepalived.child import install_reload_handler
from pykeepalived.supervisor import children, process, reload_timer

pytestmark = pytest.mark.privileged

TESTS_DIR = str(Path(__file__).parent)
CONF = """
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress { 192.0.2.100/24 }
}
"""


# --- unit level ------------------------------------------------------------------------------


def test_restart_delay_is_keepalived_backoff() -> None:
    child = children.Child("vrrp", "VRRP", "/x")
    child.started = 1000.0
    delays = [children.calc_restart_delay(child, 1001.0) for _ in range(10)]
    assert delays == [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    child.started = 1000.0
    assert children.calc_restart_delay(child, 1060.5) == 0      # ran more than 60 s: at once, reset
    assert child.next_delay == 0
    assert children.calc_restart_delay(child, 1001.0) == 0      # then the backoff starts again
    assert child.next_delay == 1


def test_child_status_lines() -> None:
    assert children.describe_status(7, 2 << 8) == ("pid 7 exited with permanent error CONFIG. Terminating", 2)
    assert children.describe_status(7, 1 << 8) == ("pid 7 exited with permanent error FATAL. Terminating", 1)
    assert children.describe_status(7, 4 << 8)[1] == 4
    assert children.describe_status(7, 3 << 8) == ("pid 7 exited with status 3", None)
    assert children.describe_status(7, signal.SIGKILL) == (
        "pid 7 exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?", None)
    assert children.describe_status(7, 0) == ("", None)


@pytest.mark.parametrize("text,value", [("0177", 0o177), ("0x7f", 0x7F), ("127", 127), ("0", 0),
                                        ("abc", None), ("01000", None), ("-1", None)])
def test_umask_parsing(text: str, value: int | None) -> None:
    assert process.parse_umask(text) == value


# --- in a namespace --------------------------------------------------------------------------


class Pyka:
    """pykeepalived -n -l -D -G in a lab host with pid files and TMPDIR in the lab's workdir."""

    def __init__(self, host: Host, conf: str, *extra: str, name: str = "pyka", entry: str | None = "sleeper",
                 env: dict[str, str] | None = None) -> None:
        wd = host.lab.workdir
        self.conf = wd / f"{name}.conf"
        self.conf.write_text(conf)
        self.pid_file, self.vrrp_pid_file, self.check_pid_file = (wd / f"{name}.pid", wd / f"{name}.vrrp.pid",
                                                                  wd / f"{name}.check.pid")
        self.tmp = wd / f"{name}-tmp"
        self.tmp.mkdir(exist_ok=True)
        full_env = {"TMPDIR": str(self.tmp), "PYTHONPATH": TESTS_DIR, **(env or {})}
        if entry:
            full_env["PYKEEPALIVED_VRRP_ENTRY"] = f"child_entries:{entry}"
        self.argv = [sys.executable, "-m", "pykeepalived", "-n", "-l", "-D", "-G", "-f", str(self.conf),
                     "-p", str(self.pid_file), "-r", str(self.vrrp_pid_file), "-c", str(self.check_pid_file),
                     *extra]
        self.proc: Proc = host.spawn(self.argv, name=name, env=full_env)

    def log(self) -> str:
        return self.proc.stdout() + self.proc.stderr()

    def wait_log(self, pattern: str, timeout: float = 15) -> re.Match[str]:
        return self.proc.wait_output(pattern, timeout)

    def child_pid(self) -> int | None:
        try:
            return int(self.vrrp_pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def wait_exit(self, timeout: float = 15) -> int:
        return self.proc.popen.wait(timeout)


def test_pid_files_written_and_removed(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF)
    d.wait_log(r"test child running")
    assert d.pid_file.read_text() == f"{d.proc.pid}\n"
    child = wait_until(d.child_pid, 5)
    assert Path(f"/proc/{child}/status").read_text().count(f"PPid:\t{d.proc.pid}\n") == 1
    assert oct(d.pid_file.stat().st_mode & 0o777) == "0o644"
    assert f"Starting VRRP child process, pid={child}" in d.log()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert not d.pid_file.exists() and not d.vrrp_pid_file.exists()
    assert re.search(r"Stopping\n.*Stopped pykeepalived", d.log())


def test_second_daemon_refuses_while_first_runs(lab: Lab) -> None:
    h = lab.add_host("r1")
    first = Pyka(h, CONF)
    first.wait_log(r"test child running")
    child = first.child_pid()
    second = subprocess.run(["ip", "netns", "exec", h.ns, *first.argv], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": TESTS_DIR})
    assert second.returncode == 0                          # keepalived exits 0 here too
    assert second.stderr.rstrip().endswith("daemon is already running")
    assert first.proc.alive and first.child_pid() == child
    assert first.pid_file.read_text() == f"{first.proc.pid}\n"


def test_stale_pid_file_is_removed_and_daemon_starts(lab: Lab) -> None:
    h = lab.add_host("r1")
    dead = subprocess.Popen(["true"])
    dead.wait()
    wd = lab.workdir
    (wd / "pyka.pid").write_text(f"{dead.pid}\n")
    d = Pyka(h, CONF)
    d.wait_log(r"test child running")
    assert f"Remove a zombie pid file {wd / 'pyka.pid'}" in d.log()
    assert d.pid_file.read_text() == f"{d.proc.pid}\n"


def test_killed_child_is_respawned_with_backoff(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF)
    d.wait_log(r"test child running")
    pids = [wait_until(d.child_pid, 5)]
    for _ in range(3):
        os.kill(pids[-1], signal.SIGKILL)
        pids.append(wait_until(lambda: (p := d.child_pid()) not in (None, *pids) and p, 10))
    log = d.log()
    assert re.findall(r"Restart of VRRP process delayed (\d+) seconds", log) == ["0", "1", "2"]
    assert log.count("VRRP child process(") == 3 and log.count("died: Respawning") == 3
    assert f"pid {pids[0]} exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?" in log
    assert d.proc.alive


def test_children_run_with_the_cyclic_gc(lab: Lab) -> None:
    """The supervisor starts with the cyclic GC off (start-up CPU); a child, first or respawned,
    runs with it on."""
    h = lab.add_host("r1")
    d = Pyka(h, CONF)
    d.wait_log(r"test child running pid=\d+ ppid=\d+ gc=True")
    child = wait_until(d.child_pid, 5)
    os.kill(child, signal.SIGKILL)
    wait_until(lambda: d.log().count("gc=True") == 2 or None, 15, message=d.log())
    assert "gc=False" not in d.log()


@pytest.mark.parametrize("code,word", [(1, "FATAL"), (2, "CONFIG"), (4, "MISSING_PERMISSION")])
def test_permanent_child_errors_stop_the_daemon(lab: Lab, code: int, word: str) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF, entry="exit_with", env={"PYKA_TEST_EXIT": str(code)})
    assert d.wait_exit() == code
    assert re.search(rf"pid \d+ exited with permanent error {word}\. Terminating", d.log())
    assert "Respawning" not in d.log()
    assert not d.pid_file.exists()


def test_other_exit_status_is_respawned(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF, entry="exit_with", env={"PYKA_TEST_EXIT": "3"})
    d.wait_log(r"Restart of VRRP process delayed 1 seconds[\s\S]*Starting VRRP child", 15)
    assert re.search(r"pid \d+ exited with status 3", d.log())
    assert d.proc.alive


def test_dont_respawn_stops_the_daemon(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF, "-R")
    d.wait_log(r"test child running")
    child = wait_until(d.child_pid, 5)
    os.kill(child, signal.SIGKILL)
    assert d.wait_exit() == 0
    assert f"VRRP child process({child}) died: Exiting" in d.log()
    assert "Respawning" not in d.log()


def test_signals_are_relayed(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF)
    d.wait_log(r"test child running")
    # One at a time, each waited for: the relay is what is tested, not how a busy host orders a burst.
    for sig, name in ((signal.SIGUSR1, "USR1"), (signal.SIGUSR2, "USR2"), (signal.SIGRTMIN + 2, "JSON"),
                      (signal.SIGRTMAX - 1, "STATS_CLEAR")):
        d.proc.send_signal(sig)
        d.wait_log(rf"child got {name}\b", 10)
    d.wait_log(r"Printing parent data for process\(\d+\) on signal")
    parent_data = d.tmp / "keepalived_parent.data"
    assert parent_data.read_text().startswith("------< Global definitions >------\n")
    assert oct(parent_data.stat().st_mode & 0o777) == "0o600"
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"Reloading \.\.\.[\s\S]*child got HUP", 10)


def test_ignore_sigint(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF, "--ignore-sigint")
    d.wait_log(r"test child running")
    d.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert d.proc.alive
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_daemonizes_without_n(lab: Lab, tmp_path: Path) -> None:
    h = lab.add_host("r1")
    conf = tmp_path / "k.conf"
    conf.write_text(CONF)
    pid_file = tmp_path / "k.pid"
    argv = [sys.executable, "-m", "pykeepalived", "-G", "-f", str(conf), "-p", str(pid_file),
            "-r", str(tmp_path / "v.pid"), "-c", str(tmp_path / "c.pid")]
    env = {**os.environ, "PYTHONPATH": TESTS_DIR, "PYKEEPALIVED_VRRP_ENTRY": "child_entries:sleeper",
           "TMPDIR": str(tmp_path)}
    started = subprocess.run(["ip", "netns", "exec", h.ns, *argv], capture_output=True, text=True, timeout=30,
                             env=env)
    assert started.returncode == 0
    pid = wait_until(lambda: pid_file.exists() and int(pid_file.read_text()), 10)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        assert re.search(r"^PPid:\t(\d+)$", status, re.M)
        assert os.getsid(pid) == pid or os.getsid(pid) != os.getsid(0)   # detached from our session
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
        assert wait_until(lambda: (tmp_path / "v.pid").exists(), 10)
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_file.exists(), 10)
    assert not (tmp_path / "v.pid").exists()


def test_missing_config_exits_6(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "pykeepalived", "-n", "-l", "-G", "-f", str(tmp_path / "none.conf"),
                        "-p", str(tmp_path / "k.pid")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 6
    assert f"Config files missing '{tmp_path / 'none.conf'}'." in p.stderr
    assert not (tmp_path / "k.pid").exists()


def test_bad_umask_is_refused(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "pykeepalived", "-n", "-G", "-u", "banana", "-f", "/x"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "Invalid --umask option banana" in p.stderr


def test_systemd_notify_protocol(lab: Lab, tmp_path: Path) -> None:
    h = lab.add_host("r1")
    sock_path = tmp_path / "notify.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(sock_path))
    s.settimeout(15)
    try:
        d = Pyka(h, CONF, env={"NOTIFY_SOCKET": str(sock_path)})
        assert s.recv(4096).decode() == f"READY=1\nMAINPID={d.proc.pid}"
        d.proc.send_signal(signal.SIGHUP)
        assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", s.recv(4096).decode())
        assert s.recv(4096).decode() == f"READY=1\nMAINPID={d.proc.pid}\nSTATUS=Running; configuration reloaded"
        # a refused reload: systemd's STATUS= says so (`systemctl status` shows it)
        d.conf.write_text("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  priority\n}\n"
                          "include /nonexistent/*.conf\nglobal_defs {\n  include_check\n}\n")
        d.proc.send_signal(signal.SIGHUP)
        assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", s.recv(4096).decode())
        refused = s.recv(4096).decode()
        assert refused.startswith(f"READY=1\nMAINPID={d.proc.pid}\nSTATUS=Reload refused, running the previous "
                                  f"configuration: "), refused
        d.proc.send_signal(signal.SIGTERM)
        assert s.recv(4096).decode() == "STOPPING=1"
        assert d.wait_exit() == 0
    finally:
        s.close()


def test_syslog_idents_of_parent_and_child(lab: Lab, tmp_path: Path) -> None:
    h = lab.add_host("r1")
    sock_path = tmp_path / "log.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(sock_path))
    s.settimeout(15)
    try:
        conf = lab.workdir / "s.conf"
        conf.write_text(CONF)
        wd = lab.workdir
        p = h.spawn([sys.executable, "-m", "pykeepalived", "-n", "-S", "local3", "-f", str(conf),
                     "-p", str(wd / "s.pid"), "-r", str(wd / "s.vrrp.pid"), "-c", str(wd / "s.chk.pid")],
                    name="syslog", env={"PYKEEPALIVED_SYSLOG_SOCKET": str(sock_path), "PYTHONPATH": TESTS_DIR,
                                        "PYKEEPALIVED_VRRP_ENTRY": "child_entries:sleeper"})
        seen: list[str] = []
        while not any("test child running" in m for m in seen):
            seen.append(s.recv(4096).decode())
        child = int(re.search(r"pid=(\d+)", seen[-1]).group(1))  # type: ignore[union-attr]
        assert re.fullmatch(rf"<158>\w{{3}} [ \d]\d \d\d:\d\d:\d\d Keepalived\[{p.pid}\]: Starting pykeepalived v.*",
                            seen[0])
        assert any(m.endswith(f"Keepalived[{p.pid}]: Starting VRRP child process, pid={child}") for m in seen)
        assert re.search(rf"Keepalived_vrrp\[{child}\]: test child running", seen[-1])
        assert p.stdout() + p.stderr() == ""      # -l not given: nothing on the console
    finally:
        s.close()


def test_reload_time_parsing() -> None:
    now = time.mktime((2026, 11, 25, 12, 0, 0, 0, 0, -1))
    assert reload_timer.parse_reload_time("13:00:00", now) == (now + 3600, False)
    assert reload_timer.parse_reload_time("11:00:00", now) == (now + 23 * 3600, False)   # tomorrow
    assert reload_timer.parse_reload_time("2026-11-25 12:00:05", now) == (now + 5, True)
    assert reload_timer.parse_reload_time("26-11-25 12:00:05", now) == (now + 5, True)
    assert reload_timer.parse_reload_time("2026-11-25 11:00:00", now) == "past"
    assert reload_timer.parse_reload_time("25:00:00", now) == "invalid"
    assert reload_timer.parse_reload_time("tomorrow", now) == "invalid"
    utc = reload_timer.parse_reload_time("2030-01-01 00:00:00Z", now)
    assert utc == (1893456000.0, True)


def test_reload_time_file_triggers_a_reload(lab: Lab) -> None:
    h = lab.add_host("r1")
    when_file = lab.workdir / "reload-at"
    conf = CONF.replace("vrrp_instance", f"global_defs {{\n  reload_time_file {when_file}\n}}\nvrrp_instance", 1)
    d = Pyka(h, conf)
    d.wait_log(r"test child running")
    at = time.time() + 2.5
    when_file.write_text(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) + "\n")
    d.wait_log(r"Scheduling reload for \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", 5)
    d.wait_log(r"Reloading \.\.\.[\s\S]*child got HUP", 10)
    assert time.time() >= int(at)
    wait_until(lambda: not when_file.exists(), 5)           # a dated reload happens once
    assert d.log().count("Reloading ...") == 1


def test_pid_paths_variants() -> None:
    from pykeepalived.pidfile import pid_paths

    d = pid_paths()
    assert (d.main, d.vrrp, d.checkers) == ("/run/keepalived.pid", "/run/vrrp.pid", "/run/checkers.pid")
    d = pid_paths(use_pid_dir=True)
    assert (d.main, d.vrrp, d.checkers) == ("/run/keepalived/keepalived.pid", "/run/keepalived/vrrp.pid",
                                            "/run/keepalived/checkers.pid")
    d = pid_paths(namespace="blue")
    assert d.main == "/run/keepalived/keepalived.pid" and d.uses_pid_dir
    d = pid_paths(instance="east")
    assert (d.main, d.vrrp, d.checkers) == ("/run/keepalived/keepalived_east.pid", "/run/keepalived/vrrp_east.pid",
                                            "/run/keepalived/checkers_east.pid")
    d = pid_paths(main="/tmp/a.pid", vrrp="/tmp/b.pid", instance="east")
    assert (d.main, d.vrrp, d.checkers) == ("/tmp/a.pid", "/tmp/b.pid", "/run/keepalived/checkers_east.pid")


def test_process_names(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, "global_defs {\n  process_names\n}\n" + CONF)
    d.wait_log(r"test child running")
    child = wait_until(d.child_pid, 5)
    assert Path(f"/proc/{d.proc.pid}/comm").read_text().strip() == "keepalived"
    assert Path(f"/proc/{child}/comm").read_text().strip() == "keepalived_vrrp"
    plain = Pyka(h, CONF, name="plain")
    plain.wait_log(r"test child running")
    assert Path(f"/proc/{plain.proc.pid}/comm").read_text().strip() == "pykeepalived"


def test_startup_and_shutdown_scripts(lab: Lab) -> None:
    h = lab.add_host("r1")
    wd = lab.workdir
    up, down = wd / "started", wd / "stopped"
    conf = (f'global_defs {{\n  startup_script "/bin/touch {up}"\n  shutdown_script "/bin/touch {down}"\n'
            f'  shutdown_script_timeout 5\n}}\n' + CONF)
    d = Pyka(h, conf)
    d.wait_log(r"test child running")
    assert up.exists() and not down.exists()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert down.exists()


def test_child_that_ignores_sigterm_is_killed_after_child_wait_time(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, "child_wait_time 2\n" + CONF, entry="stubborn")
    d.wait_log(r"stubborn child running")
    child = wait_until(d.child_pid, 5)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit(20) == 0
    took = time.monotonic() - t0
    assert 1.8 <= took < 6, took
    assert f"VRRP child process({child}) failed to stop within 2 seconds - killing it" in d.log()
    assert not Path(f"/proc/{child}").exists()
    assert not d.pid_file.exists() and not d.vrrp_pid_file.exists()


def test_child_reload_handler_reads_off_loop_and_applies(tmp_path: Path) -> None:
    import argparse
    import asyncio

    import uvloop

    cfg = tmp_path / "k.conf"
    # dynamic_interfaces: the interface need not exist in the namespace the test runs in
    cfg.write_text("global_defs {\n  dynamic_interfaces\n}\n" + CONF.replace("priority 100", "priority 101"))
    opts = argparse.Namespace(config_file=str(cfg), config_id=None, all_config=False)
    applied: list[object] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reload = install_reload_handler(loop, opts, applied.append)

        async def finished(n: int) -> None:     # a parse takes seconds on a loaded machine
            for _ in range(3000):
                if reload.done >= n:
                    return
                await asyncio.sleep(0.01)

        try:
            os.kill(os.getpid(), signal.SIGHUP)
            await finished(1)
            cfg.write_text("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  priority\n}\n")
            os.kill(os.getpid(), signal.SIGHUP)
            await finished(2)
        finally:
            reload.close()

    uvloop.run(main())
    assert len(applied) == 1
    vi = applied[0].vrrp_instances[0]  # type: ignore[attr-defined]
    assert (vi.name, vi.priority) == ("VI_1", 101)


@pytest.mark.parametrize("args,conf_umask,mode", [((), None, 0o600), (("-u", "022"), None, 0o644),
                                                  ((), "umask 027", 0o640), (("-u", "0002"), "umask 077", 0o664)])
def test_umask_reaches_scripts(lab: Lab, args: tuple[str, ...], conf_umask: str | None, mode: int) -> None:
    """Scripts inherit the daemon's umask: keepalived's 0177 by default, `umask` in global_defs,
    and -u winning over the configuration."""
    h = lab.add_host("r1")
    made = lab.workdir / "made"
    gd = f"global_defs {{\n  startup_script \"/bin/touch {made}\"\n  {conf_umask or ''}\n}}\n"
    d = Pyka(h, gd + CONF, *args)
    d.wait_log(r"test child running")
    assert made.stat().st_mode & 0o777 == mode


def test_core_dump_option_lifts_rlimit(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF, "-m")
    d.wait_log(r"test child running")
    limits = Path(f"/proc/{d.proc.pid}/limits").read_text()
    assert re.search(r"^Max core file size\s+unlimited\s+unlimited", limits, re.M), limits


def test_status_api_started_by_the_supervisor(lab: Lab) -> None:
    import json as _json

    h = lab.add_host("r1")
    d = Pyka(h, CONF, "--status-listen", "127.0.0.1:9650")
    d.wait_log(r"Status API listening on 127\.0\.0\.1:9650")
    d.wait_log(r"test child running")
    child = wait_until(d.child_pid, 5)

    def get(path: str) -> dict[str, object]:
        code = f"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9650{path}').read().decode())"
        return dict(_json.loads(h.run([sys.executable, "-c", code]).stdout))

    info = get("/v1/daemon")
    assert info["pid"] == d.proc.pid and info["reload_count"] == 0
    assert info["config_file"] == str(d.conf)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"Reload finished")
    wait_until(lambda: get("/v1/daemon")["reload_count"] == 1, 5)
    # Only the parent listens: the forked child dropped its copy of the socket.
    ss = h.run(["ss", "-Hltnp", "sport = :9650"]).stdout
    assert f"pid={d.proc.pid}," in ss and f"pid={child}," not in ss
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_unusable_status_options_do_not_stop_the_daemon(lab: Lab) -> None:
    """The status API never takes the failover daemon down: a bad option is an ERROR line and the
    daemon runs without the API (it used to exit 1, and restart-loop under systemd)."""
    h = lab.add_host("r1")
    d = Pyka(h, CONF, "--status-listen", "192.0.2.250:9650", "--status-token-file", "/nonexistent-token")
    d.wait_log(r"test child running")
    assert "Status API not started: --status-token-file /nonexistent-token: No such file or directory" in d.log()
    assert d.pid_file.exists()
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_status_port_in_use_does_not_stop_the_daemon(lab: Lab) -> None:
    """A taken port (9650 is gen2brain's exporter default) is logged at ERROR with the address and
    retried; the daemon and its children run on, and the API comes up once the port is free."""
    h = lab.add_host("r1")
    holder = h.spawn([sys.executable, "-c", "import socket,time\ns=socket.create_server(('127.0.0.1', 9650))\n"
                      "print('held', flush=True)\ntime.sleep(60)"], name="holder")
    holder.wait_output("held")
    d = Pyka(h, CONF, "--status-listen", "127.0.0.1:9650")
    d.wait_log(r"Status API: cannot listen on 127\.0\.0\.1:9650: Address already in use - retrying")
    d.wait_log(r"test child running")
    assert d.proc.alive and d.pid_file.exists()
    holder.stop()
    d.wait_log(r"Status API listening on 127\.0\.0\.1:9650", 30)
    d.proc.send_signal(signal.SIGTERM)
    assert d.wait_exit() == 0


def test_scripts_do_not_inherit_the_blocked_signals(lab: Lab) -> None:
    h = lab.add_host("r1")
    wd = lab.workdir
    script = wd / "mask.sh"
    script.write_text(f"#!/bin/sh\ngrep -E '^Sig(Blk|Ign)' /proc/self/status > {wd / 'mask.txt'}\n")
    script.chmod(0o755)
    d = Pyka(h, f'global_defs {{\n  startup_script "{script}"\n}}\n' + CONF)
    d.wait_log(r"test child running")
    status = dict(line.split(":\t") for line in (wd / "mask.txt").read_text().splitlines())
    assert int(status["SigBlk"], 16) == 0
    assert int(status["SigIgn"], 16) & (1 << (signal.SIGPIPE - 1)) == 0


def test_script_overrunning_its_timeout_is_killed(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, 'global_defs {\n  startup_script "/bin/sleep 30"\n  startup_script_timeout 1\n}\n' + CONF)
    d.wait_log(r"startup_script /bin/sleep 30 timed out", 10)
    d.wait_log(r"test child running")


def test_children_stop_when_the_parent_is_killed(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF)
    d.wait_log(r"test child running")
    child = wait_until(d.child_pid, 5)
    os.kill(d.proc.pid, signal.SIGKILL)
    d.wait_exit(5)
    # PR_SET_PDEATHSIG: the child gets SIGTERM and stops (and removes its pid file) by itself.
    wait_until(lambda: not Path(f"/proc/{child}").exists() or
               "State:\tZ" in Path(f"/proc/{child}/status").read_text(), 10)
    wait_until(lambda: not d.vrrp_pid_file.exists(), 5)


@pytest.mark.parametrize("body,message", [
    ("  interface nosuch9\n  virtual_router_id 51\n  priority 100\n",
     "WARNING - interface nosuch9 for vrrp_instance VI_1 doesn't exist"),
    ("  interface nosuch9\n  virtual_router_id 51\n  priority\n", "is missing a parameter after keyword `priority`"),
])
def test_configuration_that_cannot_run_exits_2(tmp_path: Path, body: str, message: str) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("vrrp_instance VI_1 {\n" + body + "}\n")
    p = subprocess.run([sys.executable, "-m", "pykeepalived", "-n", "-l", "-G", "-f", str(conf),
                        "-p", str(tmp_path / "k.pid"), "-r", str(tmp_path / "v.pid")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    assert not (tmp_path / "k.pid").exists()


def test_log_files_per_process(lab: Lab) -> None:
    h = lab.add_host("r1")
    base = lab.workdir / "ka.log"
    d = Pyka(h, CONF, f"--log-file={base}", "--flush-log-file")
    d.wait_log(r"test child running")
    child = wait_until(d.child_pid, 5)
    # the child may run (and log) before the parent logs the fork: wait for the parent's line
    parent_log = wait_until(lambda: base.exists() and f"Starting VRRP child process, pid={child}" in base.read_text()
                            and base.read_text(), 5, message="the parent's log file has no 'Starting VRRP child'")
    child_log = wait_until(lambda: (lab.workdir / "ka_vrrp.log").exists() and
                           (lab.workdir / "ka_vrrp.log").read_text(), 5)
    assert "test child running" in child_log and "test child running" not in parent_log
    assert re.match(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: Starting pykeepalived", parent_log)


def test_reload_cannot_change_instance_name(lab: Lab) -> None:
    h = lab.add_host("r1")
    d = Pyka(h, CONF)
    d.wait_log(r"test child running")
    d.conf.write_text("instance other\n" + CONF)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"Cannot change instance name at a reload - please restart pykeepalived")
    d.wait_log(r"keeping the running configuration")
    assert "child got HUP" not in d.log() and "Reload finished" not in d.log()
