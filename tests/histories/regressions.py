"""Failing histories found by the randomised runs, reduced, replayed by test_histories.py.

Each entry: a name, why it failed (the implementation, the bug), and the history as JSON
(fuzz/histories.py prints it).  `known` names a bug that is open: the replay is then an
expected failure (non-strict xfail) until the fix lands, when the mark should go.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Regression:
    name: str
    what: str
    history: str        # History.to_json()
    known: str = ""     # an open bug: xfail with this reason


REGRESSIONS: tuple[Regression, ...] = (
    Regression(
        "demoted-keepalived-master",
        "pykeepalived backup (110) never preempts a keepalived master whose weighted script fails "
        "(120 - 30 = 90): it logs 'received lower priority (90) advert ... discarding' and stays BACKUP "
        "(found by seed 137; issue 18 bug 1, fixed in a6365c8: fails before, passes after)",
        '{"seed": 137, "cluster": {"nodes": [{"impl": "pykeepalived", "priority": 110, "state": "BACKUP", '
        '"nopreempt": false, "preempt_delay": 0.0, "script_weight": null, "trk_weight": null, "file_weight": null}, '
        '{"impl": "keepalived", "priority": 120, "state": "MASTER", "nopreempt": false, "preempt_delay": 0.0, '
        '"script_weight": -30, "trk_weight": null, "file_weight": null}], "version": 3, "advert_int": 0.05, '
        '"unicast": false}, "events": [["script", 1, false]]}'),
    Regression(
        "track-file-fault-at-start",
        "pykeepalived started with a tracked file (weight 0) already non-zero: it logged 'Entering BACKUP "
        "STATE (init)' then 'Entering FAULT STATE' but wrote FAULT then BACKUP to the notify FIFO (the file "
        "was read after Startup and its FAULT notified before the BACKUP it followed), so a FIFO reader "
        "believed the FAULT instance was BACKUP; keepalived 2.2.7 in the same history passes "
        "(found by seed 11009; fails before the fix, passes after)",
        '{"seed": 11009, "cluster": {"nodes": [{"impl": "pykeepalived", "priority": 120, "state": "MASTER", '
        '"nopreempt": false, "preempt_delay": 0.0, "script_weight": null, "trk_weight": null, "file_weight": 0}, '
        '{"impl": "pykeepalived", "priority": 110, "state": "BACKUP", "nopreempt": false, "preempt_delay": 0.0, '
        '"script_weight": -30, "trk_weight": null, "file_weight": 5}], "version": 3, "advert_int": 0.05, '
        '"unicast": false}, "events": [["trackfile", 0, 2], ["kill", 0, null], ["start", 0, null]]}'),
    Regression(
        "script-fails-first-run",
        "pykeepalived started with a weight-0 vrrp_script whose first run fails: it logged 'VRRP_Script(chk) "
        "failed' but no state line and wrote nothing to the notify FIFO (the silent FAULT at start was never "
        "announced); keepalived 2.2.7 writes FAULT (found by seed 21024; fails before the fix, passes after)",
        '{"seed": 21024, "cluster": {"nodes": [{"impl": "keepalived", "priority": 110, "state": "BACKUP", '
        '"nopreempt": false, "preempt_delay": 0.0, "script_weight": -10, "trk_weight": null, "file_weight": null}, '
        '{"impl": "pykeepalived", "priority": 100, "state": "MASTER", "nopreempt": false, "preempt_delay": 0.0, '
        '"script_weight": 0, "trk_weight": null, "file_weight": null}], "version": 3, "advert_int": 0.1, '
        '"unicast": false}, "events": [["script", 1, false], ["stop", 1, null], ["start", 1, null]]}'),
    Regression(
        "killed-master-vips-reloaded",
        "a runner rule, not a daemon bug: r2, SIGKILLed as master of 192.0.2.102, keeps .102 on eth0; the VIPs "
        "are then reloaded to .100/.101 and r2 restarted. Neither keepalived 2.2.7 nor pykeepalived removes an "
        "address its config no longer has, so the runner removes such leftovers before a restart; the check "
        "failed 'r2 (not master) has VIPs' before (seed 70042, with r2 pykeepalived or keepalived)",
        '{"seed": 70042, "cluster": {"nodes": [{"impl": "pykeepalived", "priority": 100, "state": "BACKUP", '
        '"nopreempt": false, "preempt_delay": 0.0, "script_weight": 20, "trk_weight": null, '
        '"file_weight": null}, {"impl": "pykeepalived", "priority": 100, "state": "BACKUP", "nopreempt": true, '
        '"preempt_delay": 0.0, "script_weight": null, "trk_weight": null, "file_weight": null}], "version": 3, '
        '"advert_int": 0.05, "unicast": true}, "events": [["reload_vips", -1, 2], ["partition", -1, [[1], '
        '[0]]], ["kill", 1, null], ["heal", -1, null], ["reload_vips", -1, 1], ["start", 1, null]]}'),
)
