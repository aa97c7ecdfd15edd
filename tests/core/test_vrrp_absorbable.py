"""`VirtualRouter.absorbable`: which adverts the IO layer may absorb copies of in compiled code.

The runtime's steady-state shortcut (vrrp/runtime.py `_maybe_shortcut`) lets the socket absorb
byte-identical copies of an advert and replays only the last one. That is right only for an
advert whose copies would do nothing but restart the master-down timer: a master's advert
accepted the plain way. Arming it on an advert the core discarded or rejected let every copy
of that advert hold off the takeover (issue 18 bug 1: a demoted master was never preempted;
issue 24 item 1: a third host repeating an invalid advert kept a dead master "alive").
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from pykeepalived.core.events import (
    AdvertReceived,
    AdvertRejected,
    DeadlineReached,
    LinkChanged,
    PriorityChanged,
    RejectReason,
)
from pykeepalived.core.params import AUTH_NONE, AUTH_PASS, RouterParams, UnicastPeer, VipSpec
from pykeepalived.core.vrrp import State, VirtualRouter

from .helpers import ME, PEER, advert, backup, master, packed, params

LOGGER = "pykeepalived.core.vrrp"
DOWN_V2 = 3 + 156 / 256      # master-down interval at priority 100, advert_int 1


@dataclasses.dataclass(frozen=True)
class _Advert:
    """A decoded advert with one field changed (fields the codec cannot be made to produce)."""

    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int
    adver_int: int
    addresses: tuple[bytes, ...]
    auth_data: bytes


def _with(event: AdvertReceived, **changes: Any) -> AdvertReceived:
    a = event.advert
    fields = {f.name: getattr(a, f.name) for f in dataclasses.fields(_Advert)}
    fields.update(changes)
    return dataclasses.replace(event, advert=_Advert(**fields))


def _state(r: VirtualRouter) -> dict[str, Any]:
    """Everything of the router except what a copy of an accepted advert legitimately moves."""
    out = {k: v for k, v in vars(r).items()
           if k not in ("_down_at", "_last_master_advert_at", "_absorbable", "_now", "stats", "sync_gate",
                        "lines")}     # lines: the log rate limit's bookkeeping (no log line is asserted below)
    out["stats"] = {k: v for k, v in r.stats.as_dict().items() if k != "advert_rcvd"}
    return copy.deepcopy(out)


def _assert_copy_only_restarts_the_timer(r: VirtualRouter, event: AdvertReceived, at: float,
                                         logs: list[str]) -> None:
    """What the shortcut assumes of an absorbable advert: a copy, later, restarts the
    master-down timer from its arrival, counts, logs nothing and changes nothing else."""
    before, lines, rcvd = _state(r), len(logs), r.stats.advert_rcvd
    assert r.handle(event, at) == []
    assert r.absorbable(event)
    assert _state(r) == before
    assert logs[lines:] == []
    assert r.stats.advert_rcvd == rcvd + 1
    assert r.deadline() == pytest.approx(at + r._master_down_s())


# ------------------------------------------------------------------ absorbable: the master's plain advert


@pytest.mark.parametrize("prio", [101, 100, 150, 254])
def test_the_masters_plain_advert_is_absorbable(prio: int, logs: list[str]) -> None:
    r = backup()
    ev = advert(r.params, prio)
    assert r.handle(ev, 1.0) == []
    assert r.absorbable(ev)
    for t in (2.0, 3.0, 4.0):
        _assert_copy_only_restarts_the_timer(r, ev, t, logs)


def test_v3_interval_learnt_once_then_copies_are_absorbable(logs: list[str]) -> None:
    """The first advert of a v3 master teaches its interval (logged with -D); copies do not."""
    r = backup(params(version=3, advert_int=1.0, log_detail=True))
    ev = advert(r.params, 150, interval=0.1)
    r.handle(ev, 1.0)
    assert r.absorbable(ev) and r.adver_int == pytest.approx(0.1)
    _assert_copy_only_restarts_the_timer(r, ev, 1.1, logs)


def test_nopreempt_lower_priority_master_is_absorbable(logs: list[str]) -> None:
    r = backup(params(nopreempt=True))
    ev = advert(r.params, 50)
    r.handle(ev, 1.0)
    assert r.absorbable(ev)
    _assert_copy_only_restarts_the_timer(r, ev, 2.0, logs)


def test_preempt_delay_higher_priority_is_absorbable(logs: list[str]) -> None:
    r = backup(params(preempt_delay=4.0))
    ev = advert(r.params, 150)
    r.handle(ev, 1.0)
    assert r.absorbable(ev)
    _assert_copy_only_restarts_the_timer(r, ev, 2.0, logs)


def test_skip_check_adv_addr_copies_are_absorbable(logs: list[str]) -> None:
    r = backup(params(skip_check_adv_addr=True))
    ev = advert(r.params, 150)
    r.handle(ev, 1.0)
    assert r.absorbable(ev)
    _assert_copy_only_restarts_the_timer(r, ev, 2.0, logs)


def test_unicast_peer_advert_is_absorbable(logs: list[str]) -> None:
    r = backup(params(unicast_peers=(UnicastPeer(PEER),), check_unicast_src=True))
    ev = advert(r.params, 150, dst=ME, ttl=64)
    r.handle(ev, 1.0)
    assert r.absorbable(ev)
    _assert_copy_only_restarts_the_timer(r, ev, 2.0, logs)


# ------------------------------------------------------------------ not absorbable: discarded or rejected


def _lower(p: RouterParams) -> AdvertReceived:
    return advert(p, 90)


def _cases() -> list[tuple[str, dict[str, Any], Callable[[RouterParams], AdvertReceived]]]:
    other_vip = (VipSpec("192.168.77.200"),)
    two_vips = (VipSpec("192.168.77.100"), VipSpec("192.168.77.101"))
    pw = dict(auth_type=AUTH_PASS, auth_data=b"secret")
    uni = dict(unicast_peers=(UnicastPeer(PEER),), check_unicast_src=True)
    return [
        ("lower priority, preempt", {}, _lower),
        ("lower priority, v3", dict(version=3), _lower),
        ("lower priority, preempt_delay running", dict(preempt_delay=4.0), _lower),
        ("priority 0", {}, lambda p: advert(p, 0)),
        ("TTL 64 on multicast", {}, lambda p: advert(p, 150, ttl=64)),
        ("TTL 64 unicast to us on a multicast instance", {}, lambda p: advert(p, 50, dst=ME, ttl=64)),
        ("unicast to us on a multicast instance", {}, lambda p: advert(p, 150, dst=ME)),
        ("multicast on a unicast instance", uni, lambda p: advert(p, 150, dst="224.0.0.18")),
        ("unicast source not a peer", uni, lambda p: advert(p, 150, dst=ME, src="192.168.77.9")),
        ("unicast peer TTL out of range", dict(unicast_peers=(UnicastPeer(PEER, min_ttl=250),), check_unicast_src=True),
         lambda p: advert(p, 150, dst=ME, ttl=10)),
        ("wrong version", dict(version=3), lambda p: advert(p, 150, version=2, interval=1)),
        ("v2 interval mismatch", {}, lambda p: advert(p, 150, interval=2)),
        ("wrong auth_pass", pw, lambda p: advert(p, 150, auth_data=b"secreT")),
        ("auth type mismatch", pw, lambda p: advert(p, 150, auth_type=AUTH_NONE)),
        ("invalid auth type", {}, lambda p: _with(advert(p, 150), auth_type=7)),
        ("address count", {}, lambda p: advert(p, 150, vips=two_vips)),
        ("VIP list", {}, lambda p: advert(p, 150, vips=other_vip)),
        ("packet type", {}, lambda p: _with(advert(p, 150), type=2)),
        ("checksum", dict(version=3), lambda p: dataclasses.replace(advert(p, 150), checksum_ok=False)),
    ]


@pytest.mark.parametrize(("conf", "make"), [(c[1], c[2]) for c in _cases()], ids=[c[0] for c in _cases()])
def test_a_discarded_or_rejected_advert_is_not_absorbable(conf: dict[str, Any],
                                                          make: Callable[[RouterParams], AdvertReceived]) -> None:
    """In steady state (a master's advert just accepted, so a shortcut would be armed) and
    from a fresh backup: the core never lets a discarded advert's copies be absorbed."""
    r = backup(params(**conf))
    good = advert(r.params, 150, dst=ME) if r.params.is_unicast else advert(r.params, 150)
    r.handle(good, 1.0)
    assert r.absorbable(good)
    bad = make(r.params)
    for t in (1.5, 1.6, 1.7):      # every copy too (the preempt_delay case holds a while, then discards)
        r.handle(bad, t)
        assert not r.absorbable(bad)
        assert not r.absorbable(good)
    fresh = backup(params(**conf))
    fresh.handle(bad, 1.0)
    assert not fresh.absorbable(bad)


def test_codec_rejection_is_not_absorbable() -> None:
    r = backup()
    ev = AdvertRejected(RejectReason.TTL, packed(PEER))
    r.handle(ev, 1.0)
    assert not r.absorbable(ev)


def test_a_demoted_master_is_taken_over_although_its_adverts_keep_coming(logs: list[str]) -> None:
    """The protocol the shortcut must not break: A at 110 becomes 90; B (100, preempt)
    discards each of A's adverts (logging each, as keepalived) and takes over one
    master-down interval after A's last 110 advert."""
    r = backup()
    high = advert(r.params, 110)
    for i in range(5):
        r.handle(high, 1.0 + i)
    low = advert(r.params, 90)
    t = 6.0
    while r.state == State.BACKUP and t < 20:
        r.handle(low, t)
        assert not r.absorbable(low)
        d = r.deadline()
        if d is not None and d <= t + 1.0:
            r.handle(DeadlineReached(), d)
        t += 1.0
    assert r.state == State.MASTER
    assert r.last_transition == pytest.approx(5.0 + DOWN_V2)
    assert logs.count("(VI_1) received lower priority (90) advert from 192.168.77.2 - discarding") == 3


# ------------------------------------------------------------------ only the last event, only in BACKUP


def test_only_the_last_handled_event_is_absorbable() -> None:
    r = backup()
    ev = advert(r.params, 150)
    r.handle(ev, 1.0)
    assert r.absorbable(ev)
    assert not r.absorbable(advert(r.params, 150))      # an equal advert, but not the one handled
    r.handle(PriorityChanged(120), 1.1)
    assert not r.absorbable(ev)
    r.handle(ev, 1.2)
    r.handle(LinkChanged(up=False), 1.3)
    assert r.state == State.FAULT and not r.absorbable(ev)


def test_a_master_never_absorbs() -> None:
    r, t = master()
    ev = advert(r.params, 50)
    r.handle(ev, t + 0.5)
    assert r.state == State.MASTER and not r.absorbable(ev)
    higher = advert(r.params, 150)
    r.handle(higher, t + 0.6)     # goes BACKUP: a transition, not a plain accept
    assert r.state == State.BACKUP and not r.absorbable(higher)


def test_reconfigure_and_force_state_clear_it() -> None:
    r = backup()
    ev = advert(r.params, 150)
    r.handle(ev, 1.0)
    r.reconfigure(params(priority=90), 1.1)
    assert not r.absorbable(ev)
    r.handle(ev, 1.2)
    r.force_state(State.MASTER, 1.3, "sync group")
    assert not r.absorbable(ev)
