"""Notify scripts and FIFOs, pykeepalived beside keepalived 2.2.7 in the same scenarios.

* the FIFO content across start -> failover -> stop is byte-identical to keepalived's;
* the generic `notify` script gets exactly its configured arguments (quotes and spaces
  intact) plus the four keepalived adds, runs as script_user with umask 0177, and the
  invocations are the same as keepalived's;
* a script that a non-root user could modify is refused under enable_script_security;
* the notify_fifo_script gets the FIFO path as its last argument and SIGTERM at exit.
"""

from __future__ import annotations

import collections
import os
import pwd
import time
from collections.abc import Iterator

import pytest
from prod import ScriptDir, global_defs, instance, start, throwaway_user, wait_count

from harness.lab import Lab

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

VIP1, VIP2 = "192.0.2.100/24", "192.0.2.101/24"


@pytest.fixture
def sdir() -> Iterator[ScriptDir]:
    d = ScriptDir()
    yield d
    d.close()


def _sync_pair_configs(fifo: str, *, low: int, high: int) -> tuple[str, str]:
    """Node under test (priority `low`, with the FIFO) and its peer (priority `high`)."""
    sg = "vrrp_sync_group SG1 {\n    group {\n        VI_1\n        VI_2\n    }\n}\n"
    mine = (global_defs("router_id a", f"notify_fifo {fifo}") + sg
            + instance("VI_1", 51, low, [VIP1]) + instance("VI_2", 52, low, [VIP2]))
    peer = (global_defs("router_id b") + sg
            + instance("VI_1", 51, high, [VIP1]) + instance("VI_2", 52, high, [VIP2]))
    return mine, peer


def _fifo_scenario(impl: str, sdir: ScriptDir, tag: str) -> bytes:
    """b (keepalived, priority 150) is master of the sync group; a (impl, 100) starts as its
    backup; b stops (priority-0 adverts, VI_1 then VI_2) and a takes both over; a stops."""
    fifo = sdir.fifo(f"fifo-{tag}")
    try:
        with Lab() as lab:
            a, b = lab.add_hosts("a", "b")
            conf_a, conf_b = _sync_pair_configs(fifo.path, low=100, high=150)
            db = start(b, "ka", conf_b)
            db.wait_state("VI_1", "MASTER", timeout=15)
            db.wait_state("VI_2", "MASTER", timeout=5)
            da = start(a, impl, conf_a)
            fifo.wait_line('INSTANCE "VI_2" BACKUP 100', timeout=10)
            time.sleep(2)
            db.stop()
            fifo.wait_line('GROUP "SG1" MASTER 0', timeout=10)
            time.sleep(1)
            da.stop()
            time.sleep(0.3)
            return fifo.read()
    finally:
        fifo.close()


@pytest.mark.interop
def test_fifo_start_failover_stop_identical_to_keepalived(sdir: ScriptDir) -> None:
    ours = _fifo_scenario("py", sdir, "py")
    theirs = _fifo_scenario("ka", sdir, "ka")
    # The peer's priority-0 adverts come VI_1 then VI_2, so our VI_2's timer fires last: it
    # goes MASTER first and takes VI_1 along (keepalived's vrrp_sync_master).
    expected = (b'GROUP "SG1" BACKUP 0\nINSTANCE "VI_1" BACKUP 100\nINSTANCE "VI_2" BACKUP 100\n'
                b'INSTANCE "VI_2" MASTER 100\nINSTANCE "VI_1" MASTER 100\nGROUP "SG1" MASTER 0\n'
                b'INSTANCE "VI_1" STOP 100\nINSTANCE "VI_2" STOP 100\nGROUP "SG1" STOP 0\n')
    assert theirs == expected, "keepalived 2.2.7 itself wrote:\n" + theirs.decode()
    assert ours == theirs, f"pykeepalived:\n{ours.decode()}\nkeepalived 2.2.7:\n{theirs.decode()}"


NOTIFY_SH = """#!/bin/sh
# one line per run: uid, umask, then every argument between | marks; built first and written with
# one write, so that scripts the daemon runs at the same moment cannot interleave their lines
line="$(id -u) $(umask) $(printf '|%s' "$@")|"
echo "$line" >> {out}/calls
"""


def _notify_run(impl: str, sdir: ScriptDir, user: str, tag: str) -> list[str]:
    out = sdir.subdir(f"out-{tag}", 0o755, owner=user)
    script = sdir.script(f"notify-{tag}.sh", NOTIFY_SH.format(out=out))
    master = sdir.script(f"master-{tag}.sh", NOTIFY_SH.format(out=out))
    extra = (f"    notify \"{script} 'two words' \\\"double quoted\\\" plain\"\n"
             f"    notify_master \"{master} only-mine 'x y'\"\n")
    conf = (global_defs("router_id a", f"script_user {user}", "enable_script_security")
            + instance("VI_1", 51, 110, [VIP1], extra=extra))
    with Lab() as lab:
        (a,) = lab.add_hosts("a")
        d = start(a, impl, conf)
        d.wait_state("VI_1", "MASTER", timeout=15)
        time.sleep(0.5)
        d.stop()
    calls = out / "calls"
    time.sleep(0.3)
    return sorted(calls.read_text().splitlines()) if calls.exists() else []


@pytest.mark.interop
def test_generic_notify_arguments_and_script_user(sdir: ScriptDir) -> None:
    with throwaway_user() as user:
        uid = pwd.getpwnam(user).pw_uid
        ours = _notify_run("py", sdir, user, "py")
        theirs = _notify_run("ka", sdir, user, "ka")
    expected = sorted([
        f"{uid} 0177 |two words|double quoted|plain|INSTANCE|VI_1|BACKUP|110|",
        f"{uid} 0177 |two words|double quoted|plain|INSTANCE|VI_1|MASTER|110|",
        f"{uid} 0177 |only-mine|x y|",
        f"{uid} 0177 |two words|double quoted|plain|INSTANCE|VI_1|STOP|110|",
    ])
    assert theirs == expected, "keepalived 2.2.7 itself differs from the expectation"
    assert ours == expected


def test_insecure_script_refused(sdir: ScriptDir) -> None:
    unsafe = sdir.subdir("unsafe", 0o777)           # anyone may replace the script
    marker = sdir.path / "ran"
    script = sdir.script("unsafe/notify.sh", f"#!/bin/sh\ntouch {marker}\n")
    safe = sdir.script("safe.sh", f"#!/bin/sh\ntouch {marker}-safe\n")
    conf = (global_defs("router_id a", "script_user root", "enable_script_security")
            + instance("VI_1", 51, 110, [VIP1], extra=f"    notify_master {script}\n    notify_backup {safe}\n"))
    assert os.stat(unsafe).st_mode & 0o777 == 0o777
    with Lab() as lab:
        (a,) = lab.add_hosts("a")
        d = start(a, "py", conf)
        d.wait_state("VI_1", "MASTER", timeout=15)
        time.sleep(0.5)
        d.stop()
        log = d.log()
    assert f"Unsafe permissions found for script '{script}'." in log
    assert f"Disabling notify script {script} due to insecure" in log
    assert not marker.exists(), "the insecure notify_master script ran"
    assert (sdir.path / "ran-safe").exists(), "the secure notify_backup script did not run"


FIFO_SCRIPT = """#!/bin/sh
# args: OUTDIR FIFO (the FIFO path is appended by keepalived)
printf '%s\\n' "$@" > "$1/args"
trap 'echo TERM >> "$1/events"; exit 0' TERM
while true; do
    if read -r line; then echo "$line" >> "$1/events"; fi
done < "$2"
"""


@pytest.mark.parametrize("impl", ["py", pytest.param("ka", marks=pytest.mark.interop)])
def test_fifo_script_gets_path_and_sigterm(sdir: ScriptDir, impl: str) -> None:
    out = sdir.subdir("out")
    script = sdir.script("fifo.sh", FIFO_SCRIPT)
    fifo = str(sdir.path / "vrrp.fifo")
    conf = (global_defs("router_id a", "script_user root", "enable_script_security",
                        f"vrrp_notify_fifo {fifo}", f"vrrp_notify_fifo_script \"{script} {out}\"")
            + instance("VI_1", 51, 110, [VIP1]))
    with Lab() as lab:
        (a,) = lab.add_hosts("a")
        d = start(a, impl, conf)
        d.wait_state("VI_1", "MASTER", timeout=15)
        wait_count(d, "Entering MASTER STATE", 1)
        time.sleep(0.5)
        d.stop()
    time.sleep(0.5)
    assert (out / "args").read_text().splitlines() == [str(out), fifo]
    events = (out / "events").read_text().splitlines()
    assert events[:2] == ['INSTANCE "VI_1" BACKUP 110', 'INSTANCE "VI_1" MASTER 110']
    assert events[-1] == "TERM", events
    assert not os.path.exists(fifo), "the FIFO created by the daemon was left behind"


def test_notify_scripts_never_block_the_loop(sdir: ScriptDir) -> None:
    """A notify script that sleeps does not delay adverts or the next state change."""
    slow = sdir.script("slow.sh", "#!/bin/sh\nsleep 30\n")
    conf = (global_defs("router_id a", "script_user root", "enable_script_security")
            + instance("VI_1", 51, 110, [VIP1], extra=f"    notify_backup {slow}\n    notify_master {slow}\n"))
    with Lab() as lab:
        (a,) = lab.add_hosts("a")
        t0 = time.monotonic()
        d = start(a, "py", conf)
        d.wait_state("VI_1", "MASTER", timeout=10)
        assert time.monotonic() - t0 < 8
        counts = collections.Counter(line.split(":", 3)[-1] for line in d.log().splitlines())
        assert counts[" (VI_1) Entering MASTER STATE"] == 1
        rc = d.stop(timeout=10)
    assert rc == 0
