"""smtp_alert sends real emails to smtp_server (an SMTP sink on the namespace's loopback),
with the same subjects and bodies as keepalived 2.2.7; vrrp_track_process follows a process."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prod import ScriptDir, global_defs, instance, start, wait_count

from harness.lab import Lab
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

SINK = Path(__file__).with_name("smtp_sink.py")
VIP = "192.0.2.100/24"


@pytest.fixture
def sdir() -> Iterator[ScriptDir]:
    d = ScriptDir()
    yield d
    d.close()


def _mails(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _subject_body(mail: dict[str, object]) -> tuple[str, str]:
    data = [str(x) for x in mail["data"]]  # type: ignore[attr-defined]
    blank = data.index("")
    subject = next(h for h in data[:blank] if h.startswith("Subject: "))
    return subject, "\n".join(data[blank + 1:]).strip()


def _smtp_run(lab: Lab, impl: str, out: Path, group: bool = False) -> list[tuple[str, str, list[str]]]:
    (a,) = lab.add_hosts(f"s{impl}{'g' if group else ''}")
    sink = a.spawn([sys.executable, str(SINK), "127.0.0.1", "2525", str(out)], name="smtp")
    sink.wait_output("listening", 10)
    conf = global_defs("router_id lb1", "notification_email {\n        ops@example.com\n    }",
                       "notification_email_from keepalived@example.com", "smtp_server 127.0.0.1 2525",
                       "smtp_connect_timeout 5")
    if group:
        conf += ("vrrp_sync_group SG1 {\n    group {\n        VI_1\n        VI_2\n    }\n    smtp_alert\n}\n"
                 + instance("VI_2", 52, 110, ["192.0.2.101/24"]))
    conf += instance("VI_1", 51, 110, [VIP], extra="    smtp_alert\n")
    d = start(a, impl, conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    wait_until(lambda: len(_mails(out)) >= (4 if group else 2) or None, 10, message=f"emails from {impl}")
    d.stop()
    time.sleep(1)
    mails = _mails(out)
    assert all(m["to"] == ["<ops@example.com>"] and m["from"] == "<keepalived@example.com>" for m in mails), mails
    return [(*_subject_body(m), [h for h in m["data"] if not h.startswith("Date: ")]) for m in mails]


def test_smtp_alert_on_state_changes(lab: Lab, sdir: ScriptDir) -> None:
    ours = _smtp_run(lab, "py", sdir.path / "mail-py.jsonl")
    assert [m[:2] for m in ours] == [
        ("Subject: [lb1] VRRP Instance VI_1 - Entering BACKUP state",
         "=> VRRP Instance is no longer owning VRRP VIPs <="),
        ("Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    ]


@pytest.mark.interop
@pytest.mark.parametrize("group", [False, True], ids=["instance", "sync-group"])
def test_smtp_alert_same_as_keepalived(lab: Lab, sdir: ScriptDir, group: bool) -> None:
    ours = _smtp_run(lab, "py", sdir.path / "mail-py.jsonl", group)
    theirs = _smtp_run(lab, "ka", sdir.path / "mail-ka.jsonl", group)
    assert ours == theirs      # headers (but the date) and bodies, no email at stop


def test_track_process_quorum(lab: Lab, sdir: ScriptDir) -> None:
    """A weight-0 vrrp_track_process: FAULT while the process is missing (/proc polling)."""
    name = f"pkt{int(time.time() * 1000) % 100000}"
    binary = sdir.path / name
    shutil.copy("/bin/sleep", binary)
    conf = (global_defs("router_id a")
            + f"vrrp_track_process proc {{\n    process {name}\n    weight 0\n}}\n"
            + instance("VI_1", 51, 110, [VIP], extra="    track_process {\n        proc\n    }\n"))
    (a,) = lab.add_hosts("a")
    p = a.spawn([str(binary), "3600"], name="tracked")
    d = start(a, "py", conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    p.kill()
    d.wait_state("VI_1", "FAULT", timeout=5)
    p = a.spawn([str(binary), "3600"], name="tracked2")
    wait_count(d, r"\(VI_1\) Entering MASTER STATE", 2, timeout=15)
    p.kill()
