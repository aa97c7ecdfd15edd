"""Two issue-5 behaviours checked side by side with keepalived 2.2.7 in the same scenario:

* a master that receives a lower-priority advert logs it, answers with its own advert, runs
  `notify_master_rx_lower_pri` (only its configured arguments) and writes
  `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150` to the FIFO;
* in a sync group, a member's weighted track_script is ignored (warning, no priority change)
  unless `sync_group_tracking_weight` is set, when it changes the member's priority.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator

import pytest
from prod import ScriptDir, global_defs, instance, start

from harness.lab import Lab
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

VIP1, VIP2 = "192.0.2.100/24", "192.0.2.101/24"
IMPLS = ["py", pytest.param("ka", marks=pytest.mark.interop)]

RECORD_SH = """#!/bin/sh
line="$(printf '|%s' "$@")|"
echo "$line" >> {out}
"""


@pytest.fixture
def sdir() -> Iterator[ScriptDir]:
    d = ScriptDir()
    yield d
    d.close()


def _collapsed(lines: list[str]) -> list[str]:
    """Consecutive repeats as one line: how many lower-priority adverts arrive is timing."""
    return [k for k, _ in itertools.groupby(lines)]


@pytest.mark.parametrize("impl", IMPLS)
def test_master_rx_lower_pri(sdir: ScriptDir, impl: str) -> None:
    out = sdir.path / f"rx-{impl}"
    script = sdir.script(f"rx-{impl}.sh", RECORD_SH.format(out=out))
    fifo = sdir.fifo(f"fifo-{impl}")
    conf_a = (global_defs("router_id a", "script_user root", "enable_script_security", f"notify_fifo {fifo.path}")
              + instance("VI_1", 51, 150, [VIP1], extra=f'    notify_master_rx_lower_pri "{script} lower \'a b\'"\n'))
    conf_b = global_defs("router_id b") + instance("VI_1", 51, 100, [VIP1])
    try:
        with Lab() as lab:
            a, b = lab.add_hosts("a", "b")
            # Split brain first: neither hears the other, both become MASTER.
            a.drop("ip protocol vrrp")
            b.drop("ip protocol vrrp")
            da = start(a, impl, conf_a)
            db = start(b, "ka", conf_b)
            da.wait_state("VI_1", "MASTER", timeout=15)
            db.wait_state("VI_1", "MASTER", timeout=15)
            a.undrop()      # a (150) now hears b's adverts (100); b still hears nothing
            da.wait_log(r"\(VI_1\) Received advert from \S+ with lower priority 100, ours 150, "
                        r"forcing new election", timeout=5)
            wait_until(lambda: out.exists() or None, 5, message="notify_master_rx_lower_pri did not run")
            b.undrop()      # b hears a's answer and steps down: no more lower adverts
            db.wait_state("VI_1", "BACKUP", timeout=5)
            time.sleep(1.5)
            da.stop()
            time.sleep(0.3)
            lines = fifo.lines()
    finally:
        fifo.close()
    assert set(out.read_text().splitlines()) == {"|lower|a b|"}
    assert _collapsed(lines) == ['INSTANCE "VI_1" BACKUP 150', 'INSTANCE "VI_1" MASTER 150',
                                 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150', 'INSTANCE "VI_1" STOP 150'], lines


@pytest.mark.parametrize("weighted", [False, True], ids=["ignored", "sync_group_tracking_weight"])
@pytest.mark.parametrize("impl", IMPLS)
def test_sync_group_member_tracker_weight(lab: Lab, sdir: ScriptDir, impl: str, weighted: bool) -> None:
    fifo = sdir.fifo(f"fifo-{impl}")
    failing = sdir.script("failing.sh", "#!/bin/sh\nexit 1\n")
    sg = ("vrrp_sync_group SG1 {\n    group {\n        VI_1\n        VI_2\n    }\n"
          + ("    sync_group_tracking_weight\n" if weighted else "") + "}\n")
    script = f"vrrp_script chk {{\n    script {failing}\n    interval 1\n    weight -30\n    fall 1\n}}\n"
    conf = (global_defs("router_id a", "script_user root", "enable_script_security", f"notify_fifo {fifo.path}",
                        "vrrp_notify_priority_changes true")
            + sg + script
            + instance("VI_1", 51, 150, [VIP1], extra="    track_script {\n        chk\n    }\n")
            + instance("VI_2", 52, 150, [VIP2]))
    try:
        (a,) = lab.add_hosts("a")
        d = start(a, impl, conf)
        d.wait_state("VI_1", "MASTER", timeout=15)
        d.wait_state("VI_2", "MASTER", timeout=5)
        time.sleep(3)       # several failed runs of chk
        log = d.log()
        lines = fifo.lines()
    finally:
        fifo.close()
    if weighted:
        assert "(VI_1) Changing effective priority from 150 to 120" in log, log
        # BACKUP_ or MASTER_PRIORITY: the first failed run may come before or after the election
        assert any(re.fullmatch(r'INSTANCE "VI_1" (BACKUP|MASTER)_PRIORITY 120', line) for line in lines), lines
        assert 'INSTANCE "VI_1" MASTER 120' in lines or 'INSTANCE "VI_1" MASTER_PRIORITY 120' in lines, lines
    else:
        assert "(VI_1) ignoring tracked script chk with weights due to SYNC group" in log, log
        assert "Changing effective priority" not in log, log
        assert not any("PRIORITY" in line for line in lines), lines
    assert 'GROUP "SG1" MASTER 0' in lines, lines
    assert not any("FAULT" in line for line in lines), lines
