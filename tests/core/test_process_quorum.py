"""vrrp_track_process quorum with fork_delay / terminate_delay (core.track.ProcessQuorum),
keepalived's track_process.c rules driven by hand."""

from __future__ import annotations

import logging

import pytest

from pykeepalived.core.track import ProcessQuorum, ProcessStep


def test_no_delay_reports_every_quorum_crossing_at_once() -> None:
    q = ProcessQuorum("p", quorum=1)
    assert q.start(0) is False
    assert q.change(1, "exec") == ProcessStep(report=True)
    assert q.change(2, "fork") == ProcessStep()             # still in quorum: nothing
    assert q.change(1, "exit") == ProcessStep()
    assert q.change(0, "exit") == ProcessStep(report=False)


def test_terminate_delay_reports_loss_when_timer_fires() -> None:
    q = ProcessQuorum("p", quorum=1, terminate_delay=2.0)
    q.start(1)
    assert q.change(0, "exit") == ProcessStep(arm=2.0)
    assert q.ok is True
    assert q.expire() is False
    assert q.ok is False


def test_restart_within_terminate_delay_is_never_reported() -> None:
    q = ProcessQuorum("p", quorum=1, terminate_delay=2.0)
    q.start(1)
    assert q.change(0, "exit") == ProcessStep(arm=2.0)
    # a new process (started by exec) before the timer fires: the timer goes, nothing changes
    assert q.change(1, "exec") == ProcessStep(cancel=True)
    assert q.ok is True and q.waiting is None


def test_fork_delay_and_a_short_lived_child() -> None:
    q = ProcessQuorum("p", quorum=2, fork_delay=3.0)
    q.start(1)
    assert q.change(2, "fork") == ProcessStep(arm=3.0)
    # the child exits within the fork delay: timer cancelled, quorum never reported
    assert q.change(1, "exit") == ProcessStep(cancel=True)
    assert q.ok is False
    assert q.change(2, "fork") == ProcessStep(arm=3.0)
    assert q.expire() is True


def test_exec_is_never_delayed_and_cancels_a_waiting_timer() -> None:
    q = ProcessQuorum("p", quorum=1, fork_delay=5.0, terminate_delay=5.0)
    q.start(0)
    assert q.change(1, "exec") == ProcessStep(report=True)
    assert q.change(0, "exec") == ProcessStep(report=False)
    assert q.change(1, "exec") == ProcessStep(report=True)
    assert q.change(0, "exit") == ProcessStep(arm=5.0)
    assert q.change(1, "exec") == ProcessStep(cancel=True)


def test_timer_reports_the_state_when_it_fires() -> None:
    # quorum_max: a second crossing of the same kind leaves the running timer alone
    q = ProcessQuorum("p", quorum=1, quorum_max=1, fork_delay=1.0)
    q.start(0)
    assert q.change(1, "exec") == ProcessStep(report=True)
    assert q.change(2, "fork") == ProcessStep(arm=1.0)      # above quorum_max, by fork
    assert q.change(3, "fork") == ProcessStep()
    assert q.expire() is False


def test_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    q = ProcessQuorum("haproxy", quorum=1)
    q.start(1)
    with caplog.at_level(logging.INFO, logger="pykeepalived.core.track"):
        q.change(0, "exit")
        q.change(1, "exec")
    assert [r.getMessage() for r in caplog.records] == ["Quorum lost for tracked process haproxy",
                                                       "Quorum gained for tracked process haproxy"]
