"""io.notify / io.trackers on their own (no namespaces): how scripts are started, timed out,
serialised and secured, FIFO line format, track_file parsing, process matching."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prod import ScriptDir

from harness.daemon import VrrpDaemon
from harness.lab import Lab
from harness.wait import wait_until
from pykeepalived.config.model import GlobalDefs, Script, TrackProcess, VrrpScript
from pykeepalived.core.actions import Notify
from pykeepalived.io.notify import ScriptRunner, fifo_line, insecure_component
from pykeepalived.io.trackers import ScriptTracker, _process_matches, read_track_file

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (script users, root-owned paths)")


@pytest.fixture
def sdir() -> Iterator[ScriptDir]:
    d = ScriptDir()
    yield d
    d.close()


def _script(path: str, *args: str) -> Script:
    return Script(cmd=" ".join((path, *args)), args=(path, *args))


def test_fifo_line_format() -> None:
    assert fifo_line(Notify("INSTANCE", "VI_1", "MASTER", 110)) == b'INSTANCE "VI_1" MASTER 110\n'
    assert fifo_line(Notify("GROUP", "SG1", "BACKUP", 0)) == b'GROUP "SG1" BACKUP 0\n'


@root_only
def test_insecure_component(sdir: ScriptDir) -> None:
    safe = sdir.script("safe.sh", "#!/bin/sh\n")
    assert insecure_component(safe) is None
    os.chmod(safe, 0o757)
    assert insecure_component(safe) == safe                        # world-writable file
    os.chmod(safe, 0o755)
    d = sdir.subdir("sticky", 0o1777)
    in_sticky = sdir.script("sticky/x.sh", "#!/bin/sh\n")
    assert insecure_component(in_sticky) is None                   # a sticky directory is fine
    os.chmod(d, 0o777)
    assert insecure_component(in_sticky) == str(d)
    os.chown(safe, 65534, 65534)
    assert insecure_component(safe) == safe                        # owned by nobody


@root_only
def test_runner_env_session_umask_and_args(sdir: ScriptDir) -> None:
    out = sdir.path / "out"
    script = sdir.script("env.sh", f"""#!/bin/sh
{{ echo "sid=$(ps -o sid= -p $$ | tr -d ' ') pid=$$"; echo "umask=$(umask)"; echo "ld=${{LD_PRELOAD:-unset}}"
   echo "ifs=${{IFS+set}}"; printf '[%s]' "$@"; echo; }} > {out}
""")
    os.environ["LD_PRELOAD"] = ""
    old = os.umask(0o177)
    try:
        async def main() -> int:
            runner = ScriptRunner(GlobalDefs(script_user="root"))
            prepared = runner.prepare(_script(script, "a b", "c"))
            assert prepared is not None
            child = runner.spawn(prepared, ("INSTANCE", "VI_1"))
            assert child is not None
            return await asyncio.wait_for(child.done, 5)
        assert asyncio.run(main()) == 0
    finally:
        os.umask(old)
        del os.environ["LD_PRELOAD"]
    lines = out.read_text().splitlines()
    sid, pid = (int(x.split("=")[1]) for x in lines[0].split())
    assert sid == pid, "the script is not the leader of its own session/process group"
    assert lines[1] == "umask=0177"
    assert lines[2] == "ld=unset"
    assert lines[4] == "[a b][c][INSTANCE][VI_1]"


@root_only
def test_script_timeout_term_then_kill_whole_group(sdir: ScriptDir) -> None:
    """A vrrp_script that ignores SIGTERM and has a child: both are gone after the timeout +
    grace, the run counts as a failure, and the next run never overlaps the previous one."""
    runs = sdir.path / "runs"
    pids = sdir.path / "pids"
    script = sdir.script("stuck.sh", f"""#!/bin/sh
trap '' TERM
echo start >> {runs}
sleep 30 & echo $! >> {pids}
echo $$ >> {pids}
wait
""")
    spec = VrrpScript(name="stuck", script=_script(script), interval=0.3, timeout=0.5, fall=1, rise=1)
    results: list[tuple[str, str, object]] = []

    async def main() -> None:
        runner = ScriptRunner(GlobalDefs(script_user="root"))
        prepared = runner.prepare(spec.script)
        assert prepared is not None
        tracker = ScriptTracker(spec, prepared, runner, lambda k, n, v: results.append((k, n, v)))
        import pykeepalived.io.notify as notify_mod
        grace, notify_mod.KILL_GRACE = notify_mod.KILL_GRACE, 0.5
        try:
            tracker.start()
            await asyncio.sleep(2.4)
            tracker.stop()
        finally:
            notify_mod.KILL_GRACE = grace
        await runner.drain(3)

    t0 = time.monotonic()
    asyncio.run(main())
    assert results and results[0] == ("script", "stuck", False)
    starts = len(runs.read_text().splitlines())
    # each run lasts timeout + grace = 1 s: at most 3 runs in 2.4 s although interval is 0.3 s
    assert 2 <= starts <= 3, starts
    for pid in map(int, pids.read_text().split()):
        wait_until(lambda p=pid: not Path(f"/proc/{p}").exists() or None, 3, message=f"pid {pid} still alive")
    assert time.monotonic() - t0 < 10


def test_track_file_values(tmp_path: Path) -> None:
    f = tmp_path / "v"
    assert read_track_file(str(f)) == 0
    f.write_text("  -12 trailing\n")
    assert read_track_file(str(f)) == -12
    f.write_text("junk")
    assert read_track_file(str(f)) == 0


def test_process_match_rules() -> None:
    spec = TrackProcess(name="p", process="haproxy")
    assert _process_matches(spec, "haproxy", ["/usr/sbin/haproxy", "-f", "x"])
    assert not _process_matches(spec, "haproxy-x", ["haproxy-x"])
    full = TrackProcess(name="p", process="/usr/sbin/haproxy", parameters=("-f", "x"), param_match="initial")
    assert _process_matches(full, "haproxy", ["/usr/sbin/haproxy", "-f", "x", "-D"])
    assert not _process_matches(full, "haproxy", ["/usr/sbin/haproxy", "-D"])


@pytest.mark.privileged
def test_scripts_die_with_the_vrrp_process(lab: Lab, sdir: ScriptDir) -> None:
    """PDEATHSIG: a notify script still running when the VRRP process is killed gets SIGTERM."""
    pidfile = sdir.path / "pid"
    slow = sdir.script("slow.sh", f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    conf = ("global_defs {\n    script_user root\n    enable_script_security\n}\n"
            "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 110\n"
            f"    notify_backup {slow}\n    virtual_ipaddress {{\n        192.0.2.100/24\n    }}\n}}\n")
    (a,) = lab.add_hosts("a")
    d: VrrpDaemon = a.keepalived(conf, implementation="pykeepalived")
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() or None, 10, message="script started")
    pid = int(pidfile.read_text())
    assert Path(f"/proc/{pid}").exists()
    d.kill()                                     # SIGKILL: no clean shutdown
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or None, 5, message="script outlived the daemon")
    assert stat.S_ISREG(os.stat(slow).st_mode)


@root_only
def test_track_process_through_the_proc_connector(sdir: ScriptDir) -> None:
    """In the initial network namespace the proc connector drives the rescans (no polling)."""
    import shutil
    import subprocess

    from pykeepalived.io.trackers import ProcessTracker

    name = f"pkc{os.getpid() % 100000}"
    binary = sdir.path / name
    shutil.copy("/bin/sleep", binary)
    seen: list[object] = []

    async def main() -> None:
        tracker = ProcessTracker([TrackProcess(name="p", process=name)], lambda k, n, v: seen.append(v))
        tracker.start()
        try:
            if tracker.connector is None:
                pytest.skip("no proc connector here (not the initial network namespace)")
            assert tracker.task is None, "the connector mode must not poll"
            assert seen == [False]
            proc = subprocess.Popen([str(binary), "30"])
            for _ in range(40):
                await asyncio.sleep(0.05)
                if seen[-1] is True:
                    break
            assert seen[-1] is True, "exec not seen"
            proc.kill()
            proc.wait()
            for _ in range(40):
                await asyncio.sleep(0.05)
                if seen[-1] is False:
                    break
            assert seen == [False, True, False]
        finally:
            tracker.stop()

    asyncio.run(main())


@root_only
@pytest.mark.parametrize("runner", ["notify", "checker", "startup"])
def test_script_environment_is_keepalived_s(sdir: ScriptDir, monkeypatch: pytest.MonkeyPatch, runner: str) -> None:
    """Every runner gives the one script_env: our environment as it is, no PATH added when we
    have none (keepalived 2.2.7 under `env -i FOO=bar`: a notify script sees FOO, no PATH),
    IFS/LD_PRELOAD/LD_LIBRARY_PATH dropped. The notify runner added a PATH before; the
    supervisor's startup/shutdown scripts kept IFS/LD_PRELOAD."""
    out = sdir.path / f"env-{runner}"
    script = sdir.script(f"env-{runner}.sh", f"#!/bin/sh\nexec /usr/bin/env > {out}\n")
    monkeypatch.delenv("PATH", raising=False)
    monkeypatch.setenv("PYKA_MARKER", "kept")
    monkeypatch.setenv("LD_PRELOAD", "")
    monkeypatch.setenv("IFS", "x")

    async def main() -> object:
        if runner == "notify":
            scripts = ScriptRunner(GlobalDefs(script_user="root"))
            prepared = scripts.prepare(_script(script))
            assert prepared is not None
            child = scripts.spawn(prepared, ())
            assert child is not None
            return await asyncio.wait_for(child.done, 5)
        if runner == "startup":
            from pykeepalived.supervisor.process import run_script as run_startup
            run_startup(_script(script), 5, "startup_script")
            return 0
        from pykeepalived.check.hub import run_script
        return await run_script(_script(script), 5)

    assert asyncio.run(main()) == 0
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env.get("PYKA_MARKER") == "kept"
    assert "PATH" not in env, env
    assert not {"LD_PRELOAD", "IFS", "LD_LIBRARY_PATH"} & env.keys(), env


def test_checker_runner_status_missing_program_and_overrun(sdir: ScriptDir) -> None:
    """scripts.run_script (the checker process's notify runner): the exit status; None when the
    program cannot start or overruns its timeout, and then its whole group is killed."""
    from pykeepalived.scripts import run_script
    pids = sdir.path / "pids"
    stuck = sdir.script("stuck-group.sh", f"#!/bin/sh\nsleep 30 & echo $! > {pids}\nwait\n")
    ok = sdir.script("exit3.sh", "#!/bin/sh\nexit 3\n")

    async def main() -> tuple[int | None, int | None, int | None]:
        return (await run_script([ok], ok, 5), await run_script(["/nonexistent/x"], "/nonexistent/x", 5),
                await run_script([stuck], stuck, 0.5))

    assert asyncio.run(main()) == (3, None, None)
    child = int(pids.read_text())

    def gone() -> bool | None:
        try:
            return Path(f"/proc/{child}/stat").read_text().split(") ")[1].startswith("Z") or None   # unreaped
        except (OSError, IndexError):
            return True

    wait_until(gone, 5, message="the script's child killed")
