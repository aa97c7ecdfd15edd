"""MISC_CHECK (real programs: exit codes, misc_dynamic weights, timeouts killing the whole
process group, user) and FILE_CHECK (inotify on a real file, weights). No network needed,
but they run through the same scheduler and hub as the network checkers."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from pykeepalived.check.common import Target
from pykeepalived.check.file import FileChecker
from pykeepalived.check.hub import HealthHub, RealServerHealth
from pykeepalived.check.misc import MiscChecker
from pykeepalived.check.scheduler import Scheduler
from pykeepalived.config import model

TOL = 0.3


def script(path: Path, body: str) -> model.Script:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return model.Script(cmd=str(path), args=(str(path),))


def misc(s: model.Script, **kw: object) -> model.MiscCheck:
    base: dict[str, object] = {"misc_path": s, "retry": 0, "delay_before_retry": 0.2, "delay_loop": 0.5,
                               "warmup": 0.0}
    base.update(kw)
    return model.MiscCheck(**base)  # type: ignore[arg-type]


def run(checkers_for: object, duration: float, weight: int = 10,
        stop_when: object = None) -> tuple[list[tuple[float, RealServerHealth]], list[RealServerHealth]]:
    async def main() -> tuple[list[tuple[float, RealServerHealth]], list[RealServerHealth]]:
        loop = asyncio.get_running_loop()
        hub = HealthHub()
        rs = model.RealServer(address=__import__("ipaddress").ip_address("192.0.2.50"), port=80, weight=weight)
        vs = model.VirtualServer(address=__import__("ipaddress").ip_address("192.0.2.100"), port=80,
                                 real_servers=(rs,))
        target = Target.of(vs, rs)
        hub.add_real_server(target, rs)
        checkers = checkers_for(target, hub)  # type: ignore[operator]
        for c in checkers:
            hub.attach(c)
        events: list[tuple[float, RealServerHealth]] = []
        t0 = loop.time()
        hub.subscribe(lambda h: events.append((loop.time() - t0, h)))
        sched = Scheduler()
        sched.start(checkers, bootstrap=0.0)
        end = t0 + duration
        while loop.time() < end and not (stop_when and stop_when(events)):  # type: ignore[operator]
            await asyncio.sleep(0.05)
        await sched.stop()
        return events, hub.snapshot()

    return asyncio.run(main())


def test_misc_exit_codes_and_dynamic_weight(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pykeepalived")
    ok = script(tmp_path / "ok.sh", "exit 0")
    bad = script(tmp_path / "bad.sh", "exit 1")
    dyn = script(tmp_path / "dyn.sh", "exit 7")
    events, snap = run(lambda t, h: [MiscChecker(misc(ok), t, h)], 0.3)
    assert snap[0].alive and snap[0].weight == 10
    events, snap = run(lambda t, h: [MiscChecker(misc(bad), t, h)], 0.3)
    assert not snap[0].alive
    assert (f"Misc check for [[192.0.2.50]:tcp:80 VS [192.0.2.100]:tcp:80] by [{bad.args[0]}] failed "
            "with retry disabled (exited with status 1).") in caplog.messages
    events, snap = run(lambda t, h: [MiscChecker(misc(dyn, misc_dynamic=True), t, h)], 0.3)
    assert snap[0].alive and snap[0].weight == 5  # exit 7 - 2
    assert "Changing weight from 10 to 5 for active service [192.0.2.50]:tcp:80 of VS [192.0.2.100]:tcp:80" \
        in caplog.messages
    events, snap = run(lambda t, h: [MiscChecker(misc(dyn), t, h)], 0.3)  # not dynamic: 7 is a failure
    assert not snap[0].alive


def test_misc_retry_timing_counts_from_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pykeepalived")
    flag = tmp_path / "ran"
    flaky = script(tmp_path / "flaky.sh", f"sleep 0.1; [ -e {flag} ] && exit 1; touch {flag}; exit 0")
    spec = misc(flaky, retry=2, delay_before_retry=0.3, delay_loop=1.0)
    events, snap = run(lambda t, h: [MiscChecker(spec, t, h)], 4.0, stop_when=lambda ev: any(not h.alive for _, h in ev))
    # success at 0; failures at 1.0, 1.3, 1.6 (each run counts from the start of the previous one);
    # down when the third failing run ends (~1.7)
    down = [t for t, h in events if not h.alive]
    assert down and down[0] == pytest.approx(1.7, abs=TOL)
    assert any(m.endswith(f"by [{flaky.args[0]}] failed after 2 retries (exited with status 1).")
               for m in caplog.messages)


def test_misc_timeout_kills_the_process_group(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pykeepalived")
    pidfile = tmp_path / "child.pid"
    hang = script(tmp_path / "hang.sh", f"sleep 60 & echo $! > {pidfile}; trap '' TERM; sleep 60; exit 0")
    start = time.monotonic()
    events, snap = run(lambda t, h: [MiscChecker(misc(hang, misc_timeout=0.5, delay_loop=10), t, h)], 4.0,
                       stop_when=lambda ev: any(not h.alive for _, h in ev))
    elapsed = time.monotonic() - start
    assert not snap[0].alive
    # SIGTERM is ignored by the script, so SIGKILL follows 2 s later: down at ~2.5 s
    assert [t for t, h in events if not h.alive][0] == pytest.approx(2.5, abs=0.5)
    assert elapsed < 4.0
    child = int(pidfile.read_text())
    time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert any(m.endswith("timed out with retry disabled.") for m in caplog.messages)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_misc_runs_as_user() -> None:
    d = Path(tempfile.mkdtemp(prefix="pykchk-"))
    try:
        d.chmod(0o777)
        who = script(d / "who.sh", f"id -u > {d}/uid")
        run(lambda t, h: [MiscChecker(misc(who, user="nobody"), t, h)], 3.0,
            stop_when=lambda ev: (d / "uid").exists() and (d / "uid").read_text().strip())
        assert int((d / "uid").read_text()) == pwd.getpwnam("nobody").pw_uid
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_file_check_weights_and_fault(tmp_path: Path) -> None:
    f = tmp_path / "state"
    f.write_text("0\n")
    tf = model.TrackFile(name="tf", file=str(f), weight=5)
    spec = model.FileCheck(track_file="tf", delay_loop=60.0)

    async def scenario() -> list[RealServerHealth]:
        import ipaddress
        hub = HealthHub()
        rs = model.RealServer(address=ipaddress.ip_address("192.0.2.50"), port=80, weight=10)
        vs = model.VirtualServer(address=ipaddress.ip_address("192.0.2.100"), port=80, real_servers=(rs,))
        target = Target.of(vs, rs)
        hub.add_real_server(target, rs)
        checker = FileChecker(spec, target, hub, track_file=tf)
        hub.attach(checker)
        seen: list[RealServerHealth] = []
        hub.subscribe(seen.append)
        sched = Scheduler()
        sched.start([checker], bootstrap=0.0)
        await asyncio.sleep(0.2)
        f.write_text("2\n")  # +10 weight, seen through inotify well before delay_loop
        await asyncio.sleep(0.3)
        f.write_text("-1\n")  # -5
        await asyncio.sleep(0.3)
        await sched.stop()
        return seen

    seen = asyncio.run(scenario())
    assert [h.weight for h in seen] == [20, 5]
    assert all(h.alive for h in seen)


def test_file_check_unweighted_nonzero_is_failure(tmp_path: Path) -> None:
    f = tmp_path / "state"
    f.write_text("0\n")
    tf = model.TrackFile(name="tf", file=str(f), weight=0)

    async def scenario() -> list[bool]:
        import ipaddress
        hub = HealthHub()
        rs = model.RealServer(address=ipaddress.ip_address("192.0.2.50"), port=80)
        vs = model.VirtualServer(address=ipaddress.ip_address("192.0.2.100"), port=80, real_servers=(rs,))
        target = Target.of(vs, rs)
        hub.add_real_server(target, rs)
        checker = FileChecker(model.FileCheck(track_file="tf"), target, hub, track_file=tf)
        hub.attach(checker)
        seen: list[bool] = []
        hub.subscribe(lambda h: seen.append(h.alive))
        sched = Scheduler()
        sched.start([checker], bootstrap=0.0)
        await asyncio.sleep(0.2)
        f.write_text("1\n")
        await asyncio.sleep(0.3)
        f.write_text("0\n")
        await asyncio.sleep(0.3)
        await sched.stop()
        return seen

    assert asyncio.run(scenario()) == [False, True]


def test_file_check_polls_without_inotify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where inotify is unavailable the file is polled every POLL_INTERVAL."""
    import pykeepalived.check.file as file_mod

    def no_inotify() -> None:
        raise OSError(38, "inotify_init1")

    monkeypatch.setattr(file_mod, "_Inotify", no_inotify)
    monkeypatch.setattr(file_mod, "POLL_INTERVAL", 0.2)
    f = tmp_path / "state"
    f.write_text("0\n")
    tf = model.TrackFile(name="tf", file=str(f), weight=0)

    async def scenario() -> list[tuple[float, bool]]:
        import ipaddress
        loop = asyncio.get_running_loop()
        hub = HealthHub()
        rs = model.RealServer(address=ipaddress.ip_address("192.0.2.50"), port=80)
        vs = model.VirtualServer(address=ipaddress.ip_address("192.0.2.100"), port=80, real_servers=(rs,))
        target = Target.of(vs, rs)
        hub.add_real_server(target, rs)
        checker = FileChecker(model.FileCheck(track_file="tf"), target, hub, track_file=tf)
        hub.attach(checker)
        t0 = loop.time()
        seen: list[tuple[float, bool]] = []
        hub.subscribe(lambda h: seen.append((loop.time() - t0, h.alive)))
        sched = Scheduler()
        sched.start([checker], bootstrap=0.0)
        await asyncio.sleep(0.3)
        f.write_text("1\n")
        await asyncio.sleep(0.6)
        await sched.stop()
        assert checker._inotify is None
        return seen

    seen = asyncio.run(scenario())
    assert [a for _, a in seen] == [False]
    assert 0.3 <= seen[0][0] <= 0.3 + 0.2 + TOL  # noticed at the next poll
