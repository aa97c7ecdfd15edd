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
)
