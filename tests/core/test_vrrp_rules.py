"""The protocol rules of spec §4 on a single router, with keepalived 2.2.7's exact log lines."""

from __future__ import annotations

import pytest

from pykeepalived.core.actions import (
    AddVips,
    Notify,
    RemoveVips,
    SendAdvert,
    SendGratuitous,
    StartAdvertising,
    StopAdvertising,
)
from pykeepalived.core.events import (
    AdvertReceived,
    AdvertRejected,
    DeadlineReached,
    LinkChanged,
    PriorityChanged,
    RejectReason,
    Shutdown,
    Startup,
    VipDeleted,
)
from pykeepalived.core.params import AUTH_NONE, AUTH_PASS, UnicastPeer, VipSpec
from pykeepalived.core.vrrp import State, Stats, VirtualRouter

from .helpers import ME, PEER, VIP, advert, backup, kinds, master, packed, params

LOGGER = "pykeepalived.core.vrrp"


# ---------------------------------------------------------------- startup


def test_startup_waits_master_down_in_backup_init(logs: list[str]) -> None:
    """A non-owner removes stale VIPs, logs BACKUP (init) and waits 3*interval + skew."""
    r = VirtualRouter(params())
    actions = r.handle(Startup(), 10.0)
    assert actions == [RemoveVips((VIP,), (), True), Notify("INSTANCE", "VI_1", "BACKUP", 100)]
    assert logs == ["(VI_1) removing VIPs.", "(VI_1) Entering BACKUP STATE (init)"]
    assert r.deadline() == pytest.approx(10 + 3 + 156 / 256)


def test_owner_becomes_master_at_once(logs: list[str]) -> None:
    """Priority 255 goes MASTER at start with no BACKUP (init); advert first, then VIPs, then GARP."""
    r = VirtualRouter(params(priority=255))
    actions = r.handle(Startup(), 0.0)
    assert r.state == State.MASTER
    assert kinds(actions) == ["RemoveVips", "SendAdvert", "StartAdvertising", "AddVips", "SendGratuitous",
                              "Notify"]
    assert actions[1] == SendAdvert(255) and actions[2] == StartAdvertising(1.0, 255)
    assert actions[4] == SendGratuitous(5, (VIP,))
    assert "(VI_1) Entering BACKUP STATE (init)" not in logs
    assert logs[-2:] == ["(VI_1) Entering MASTER STATE", "(VI_1) setting VIPs."]


def test_owner_logs_receive_timeout_with_log_detail(logs: list[str]) -> None:
    """With -D the owner logs the timeout line keepalived prints before Entering MASTER STATE."""
    VirtualRouter(params(priority=255, log_detail=True)).handle(Startup(), 0.0)
    assert logs[1:3] == ["(VI_1) Receive advertisement timeout", "(VI_1) Entering MASTER STATE"]


def test_startup_with_link_down_is_fault_init(logs: list[str]) -> None:
    """A fault known before start gives FAULT (init)."""
    r = VirtualRouter(params())
    r.handle(LinkChanged(False), 0.0)
    r.handle(Startup(), 0.0)
    assert r.state == State.FAULT and r.deadline() is None
    assert logs[-1] == "(VI_1) Entering FAULT STATE (init)"


# ---------------------------------------------------------------- backup receive (§4.4)


def test_valid_advert_resets_the_down_timer() -> None:
    """An advert of higher priority restarts master-down from its arrival."""
    r = backup()
    r.handle(advert(r.params, 150), 2.0)
    assert r.deadline() == pytest.approx(2 + 3 + 156 / 256)
    assert r.master_address_text == PEER and r.master_priority == 150
    assert r.stats.advert_rcvd == 1


def test_lower_priority_is_discarded_with_preempt(logs: list[str]) -> None:
    """With preempt, a lower-priority advert is logged and ignored: the timer keeps running."""
    r = backup()
    r.handle(advert(r.params, 50), 2.0)
    assert r.deadline() == pytest.approx(3 + 156 / 256)
    assert logs[-1] == "(VI_1) received lower priority (50) advert from 192.168.77.2 - discarding"


def test_nopreempt_accepts_a_lower_priority_master() -> None:
    """nopreempt: any valid advert resets the timer."""
    r = backup(params(nopreempt=True))
    r.handle(advert(r.params, 50), 2.0)
    assert r.deadline() == pytest.approx(2 + 3 + 156 / 256)


def test_preempt_delay_holds_back_then_preempts() -> None:
    """preempt_delay starts at the first lower-priority advert; afterwards they are discarded."""
    r = backup(params(preempt_delay=4.0))
    for t in (1.0, 2.0, 3.0, 4.0):
        r.handle(advert(r.params, 50), t)
        assert r.deadline() == pytest.approx(t + 3 + 156 / 256)
    r.handle(advert(r.params, 50), 5.5)        # delay (1.0 + 4) is over: discarded
    assert r.deadline() == pytest.approx(4 + 3 + 156 / 256)


def test_priority_zero_sets_the_timer_to_skew(logs: list[str]) -> None:
    """A priority-0 advert lets the backup take over after Skew_Time (measured 0.61 s)."""
    r = backup(params(log_detail=True))
    r.handle(advert(r.params, 0), 2.0)
    assert r.deadline() == pytest.approx(2 + 156 / 256)
    assert r.stats.pri_zero_rcvd == 1
    assert logs[-1] == "(VI_1) Backup received priority 0 advertisement"


def test_v3_backup_adopts_the_master_interval_and_logs_once(logs: list[str]) -> None:
    """RFC 5798: the v3 backup uses the master's interval; logged once (-D); restored on MASTER."""
    quiet = backup(params(version=3))
    quiet.handle(advert(quiet.params, 150, interval=0.5), 1.0)
    assert quiet.adver_int == 0.5 and logs[-1] == "(VI_1) Entering BACKUP STATE (init)"
    r = backup(params(version=3, log_detail=True))
    r.handle(advert(r.params, 150, interval=0.5), 1.0)
    r.handle(advert(r.params, 150, interval=0.5), 1.5)
    assert logs.count("(VI_1) advertisement interval updated from 1000ms to 500ms by master") == 1
    assert r.adver_int == 0.5
    assert r.deadline() == pytest.approx(1.5 + 1.5 + 156 * 0.5 / 256, abs=1e-6)
    deadline = r.deadline()
    assert deadline is not None
    actions = r.handle(DeadlineReached(), deadline)
    assert "(VI_1) changing advert interval from 500ms to locally configured 1000ms" in logs
    assert StartAdvertising(1.0, 100) in actions


def test_v2_interval_mismatch_is_dropped(logs: list[str]) -> None:
    """v2 requires identical intervals: the advert is dropped and the timer keeps running."""
    r = backup()
    r.handle(advert(r.params, 150, interval=2), 1.0)
    assert r.deadline() == pytest.approx(3 + 156 / 256)
    assert r.stats.advert_interval_err == 1 and r.stats.advert_rcvd == 0
    assert logs[-1] == "(VI_1) advertisement interval mismatch mine=1 sec rcv'd=2 sec"


def test_address_count_mismatch_is_rejected_as_in_2_2_7(logs: list[str]) -> None:
    """Appendix B: 2.2.7 rejects a different address count, logs it, and does not reset the timer."""
    r = backup()
    extra = (VIP, VipSpec("192.168.77.101"))
    r.handle(advert(r.params, 150, vips=extra), 1.0)
    assert logs[-1] == "(VI_1) received an unexpected ip number count 2, expected 1!"
    assert r.stats.addr_list_err == 1
    assert r.deadline() == pytest.approx(3 + 156 / 256)


def test_errors_are_logged_once_until_the_state_changes(logs: list[str]) -> None:
    """Counters count every rejection; the log line appears once until the next state change."""
    r = backup()
    extra = (VIP, VipSpec("192.168.77.101"))
    for t in (1.0, 2.0, 3.0):
        r.handle(advert(r.params, 150, vips=extra), t)
    assert r.stats.addr_list_err == 3
    assert logs.count("(VI_1) received an unexpected ip number count 2, expected 1!") == 1
    deadline = r.deadline()
    assert deadline is not None
    r.handle(DeadlineReached(), deadline)           # -> MASTER: the log flags are cleared
    r.handle(advert(r.params, 150, vips=extra), deadline + 0.1)
    assert logs.count("(VI_1) received an unexpected ip number count 2, expected 1!") == 2


def test_vip_list_mismatch_is_rejected(logs: list[str]) -> None:
    """Same count, different address: addr_list_err and keepalived's line."""
    r = backup()
    r.handle(advert(r.params, 150, vips=(VipSpec("192.168.77.200"),)), 1.0)
    assert r.stats.addr_list_err == 1 and r.stats.advert_rcvd == 1
    assert logs[-1] == ("(VI_1) ip address associated with VRID 51 not present in MASTER advert : "
                        "192.168.77.100")


def test_skip_check_adv_addr_trusts_the_known_master() -> None:
    """skip_check_adv_addr: adverts from the current master skip the VIP checks."""
    r = backup(params(skip_check_adv_addr=True))
    r.handle(advert(r.params, 150), 1.0)
    r.handle(advert(r.params, 150, vips=()), 2.0)
    assert r.deadline() == pytest.approx(2 + 3 + 156 / 256)
    r.handle(advert(r.params, 150, vips=(), src="192.168.77.3"), 3.0)   # another source: checked
    assert r.stats.addr_list_err == 1


def test_pass_authentication(logs: list[str]) -> None:
    """PASS: 8 bytes compared; a wrong password and a wrong auth type are counted apart."""
    p = params(auth_type=AUTH_PASS, auth_data=b"secret")
    r = backup(p)
    r.handle(advert(p, 150), 1.0)
    assert r.stats.advert_rcvd == 1
    r.handle(advert(p, 150, auth_data=b"secreT"), 2.0)
    assert r.stats.auth_failure == 1 and logs[-1] == "(VI_1) received an invalid passwd!"
    r.handle(advert(p, 150, auth_type=AUTH_NONE), 3.0)
    assert r.stats.authtype_mismatch == 1 and logs[-1] == "(VI_1) received a 0 auth, expecting 1!"
    assert r.deadline() == pytest.approx(1 + 3 + 156 / 256)


def test_password_longer_than_eight_bytes_uses_the_first_eight() -> None:
    """Only the first 8 bytes of auth_pass are on the wire and compared."""
    r = backup(params(auth_type=AUTH_PASS, auth_data=b"12345678"))
    r.handle(advert(r.params, 150, auth_data=b"12345678-and-more"), 1.0)
    assert r.stats.advert_rcvd == 1 and r.stats.auth_failure == 0


def test_multicast_ttl_must_be_255(logs: list[str]) -> None:
    """Multicast adverts with TTL != 255 are rejected (ip_ttl_err)."""
    r = backup()
    r.handle(advert(r.params, 150, ttl=254), 1.0)
    assert r.stats.ip_ttl_err == 1 and logs[-1] == "(VI_1) invalid TTL/HL. Received 254 and expect 255"


def unicast(**kw: object) -> VirtualRouter:
    return backup(params(unicast_peers=(UnicastPeer(PEER, **kw),), check_unicast_src=True))  # type: ignore[arg-type]


def test_unicast_ttl_unchecked_without_min_max() -> None:
    """Unicast adverts are not TTL-checked unless the peer has min_ttl/max_ttl."""
    r = unicast()
    r.handle(advert(r.params, 150, dst=ME, ttl=10), 1.0)
    assert r.stats.advert_rcvd == 1 and r.stats.ip_ttl_err == 0


def test_unicast_peer_ttl_range(logs: list[str]) -> None:
    """min_ttl/max_ttl of the peer bound the received TTL."""
    r = unicast(min_ttl=250)
    r.handle(advert(r.params, 150, dst=ME, ttl=10), 1.0)
    assert r.stats.ip_ttl_err == 1 and logs[-1] == "(VI_1) TTL/HL 10 not in range 250 - 255"
    assert r.deadline() == pytest.approx(3 + 156 / 256)


def test_unicast_source_must_be_a_peer(logs: list[str]) -> None:
    """check_unicast_src: adverts from unknown sources are refused (timer not reset)."""
    r = unicast()
    r.handle(advert(r.params, 150, dst=ME, src="192.168.77.9"), 1.0)
    assert logs[-1] == "(VI_1) unicast source address 192.168.77.9 not a unicast peer"
    assert r.deadline() == pytest.approx(3 + 156 / 256)


def test_destination_must_match_unicast_or_multicast(logs: list[str]) -> None:
    """A unicast instance refuses multicast adverts, and vice versa (addr_list_err)."""
    r = unicast()
    r.handle(advert(r.params, 150, dst="224.0.0.18"), 1.0)
    assert r.stats.addr_list_err == 1
    assert logs[-1] == "(VI_1) Expected unicast packet but received multicast packet"
    m = backup()
    m.handle(advert(m.params, 150, dst=ME), 1.0)
    assert m.stats.addr_list_err == 1
    unknown = advert(m.params, 150)
    m.handle(AdvertReceived(unknown.advert, unknown.src, b"", ttl=-1), 2.0)     # no PKTINFO: not checked
    assert m.stats.addr_list_err == 1 and m.stats.advert_rcvd == 1


def test_bad_checksum_is_ignored_only_with_v3_checksum_as_v2() -> None:
    """checksum_ok=False rejects, unless v3_checksum_as_v2 (which skips verification)."""
    for flag, accepted in ((False, 0), (True, 1)):
        r = backup(params(version=3, v3_checksum_as_v2=flag))
        good = advert(r.params, 150)
        r.handle(AdvertReceived(good.advert, good.src, good.dst, checksum_ok=False), 1.0)
        assert r.stats.advert_rcvd == accepted


def test_wrong_version_is_rejected(logs: list[str]) -> None:
    """An advert of the other VRRP version is refused with keepalived's line."""
    r = backup(params(version=3))
    r.handle(advert(r.params, 150, version=2, interval=1), 1.0)
    assert logs[-1] == "(VI_1) wrong version. Received 2 and expect 3"
    assert r.stats.advert_rcvd == 0


@pytest.mark.parametrize(("reason", "counter"), [
    (RejectReason.LENGTH, "packet_len_err"), (RejectReason.TYPE, "invalid_type_rcvd"),
    (RejectReason.AUTH, "invalid_authtype"), (RejectReason.TTL, "ip_ttl_err"),
    (RejectReason.AH, "authtype_mismatch"), (RejectReason.ADDR_COUNT, "packet_len_err"),
    (RejectReason.AH_ICV, "auth_failure"),
])
def test_codec_rejections_bump_their_counter(reason: RejectReason, counter: str) -> None:
    """Rejections found by the codec are counted by the core, one counter per reason."""
    r = backup()
    r.handle(AdvertRejected(reason, packed(PEER)), 1.0)
    assert getattr(r.stats, counter) == 1
    assert sum(r.stats.as_dict().values()) == 1
    assert r.deadline() == pytest.approx(3 + 156 / 256)


def test_codec_reason_codes_match_the_codec() -> None:
    """RejectReason values are the codec's ERR_* codes, so the IO layer passes them through."""
    from pykeepalived._fastpath import codec as active
    from pykeepalived._fastpath import pure
    for codec in (active, pure("codec")):
        assert RejectReason.LENGTH == codec.ERR_LENGTH and RejectReason.VERSION == codec.ERR_VERSION
        assert RejectReason.TYPE == codec.ERR_TYPE and RejectReason.CHECKSUM == codec.ERR_CHECKSUM
        assert RejectReason.ADDR_COUNT == codec.ERR_ADDR_COUNT and RejectReason.AUTH == codec.ERR_AUTH
    r = backup()
    r.handle(AdvertRejected(active.ERR_TYPE, packed(PEER)), 1.0)     # type: ignore[arg-type]
    assert r.stats.invalid_type_rcvd == 1


# ---------------------------------------------------------------- master receive (§4.5)


def test_master_answers_lower_priority(logs: list[str]) -> None:
    """Lower priority: log, advert, 5 GARPs, delayed burst, MASTER_RX_LOWER_PRI; stays MASTER."""
    r, t = master()
    actions = r.handle(advert(r.params, 90), t + 0.5)
    assert r.state == State.MASTER
    assert logs[-1] == ("(VI_1) Received advert from 192.168.77.2 with lower priority 90, ours 100, "
                        "forcing new election")
    assert actions == [SendAdvert(100), SendGratuitous(5, (VIP,)), Notify("INSTANCE", "VI_1",
                                                                          "MASTER_RX_LOWER_PRI", 100)]
    assert r.deadline() == pytest.approx(t + 5)


def test_lower_prio_no_advert(logs: list[str]) -> None:
    """vrrp_lower_prio_no_advert: no answer advert and no 'forcing new election'."""
    r, t = master(params(lower_prio_no_advert=True, garp_lower_prio_repeat=0))
    actions = r.handle(advert(r.params, 90), t + 0.5)
    assert kinds(actions) == ["Notify"]
    assert logs[-1] == "(VI_1) Received advert from 192.168.77.2 with lower priority 90, ours 100"


def test_master_yields_to_higher_priority_quietly(logs: list[str]) -> None:
    """Higher priority: straight to BACKUP, no priority-0 advert, VIPs removed."""
    r, t = master()
    actions = r.handle(advert(r.params, 150), t + 0.5)
    assert r.state == State.BACKUP
    assert actions[:2] == [StopAdvertising(), RemoveVips((VIP,), (), True)]
    assert not any(isinstance(a, SendAdvert) for a in actions)
    assert logs[-3:] == ["(VI_1) Master received advert from 192.168.77.2 with higher priority 150, ours 100",
                         "(VI_1) removing VIPs.", "(VI_1) Entering BACKUP STATE"]
    assert r.deadline() == pytest.approx(t + 0.5 + 3 + 156 / 256)
    assert r.stats.release_master == 1


def test_higher_prio_send_advert() -> None:
    """vrrp_higher_prio_send_advert: one normal advert before yielding."""
    r, t = master(params(higher_prio_send_advert=True))
    actions = r.handle(advert(r.params, 150), t + 0.5)
    assert actions[0] == SendAdvert(100) and r.state == State.BACKUP


def test_equal_priority_tie_break_by_address(logs: list[str]) -> None:
    """Equal priority: the higher source address wins."""
    r, t = master()                                        # we are .1, the peer .2
    r.handle(advert(r.params, 100), t + 0.5)
    assert r.state == State.BACKUP
    assert logs[-3] == ("(VI_1) Master received advert from 192.168.77.2 with same priority 100 but "
                        "higher IP address than ours")
    r2, t2 = master(params(source_address="192.168.77.5"))
    r2.handle(advert(r2.params, 100), t2 + 0.5)
    assert r2.state == State.MASTER


def test_master_answers_priority_zero() -> None:
    """A priority-0 advert makes the master advertise at once; it stays MASTER."""
    r, t = master()
    assert r.handle(advert(r.params, 0), t + 0.5) == [SendAdvert(100)]
    assert r.state == State.MASTER and r.stats.pri_zero_rcvd == 1


def test_two_owners_rogue_handling(logs: list[str]) -> None:
    """Two address owners: a configuration error; ours drops to 254 and yields."""
    r, t = master(params(priority=255))
    r.handle(advert(r.params, 255), t + 0.5)
    assert r.effective_priority == 254 and r.state == State.BACKUP
    assert any("CONFIGURATION ERROR: local instance and a remote instance are both configured as address "
               "owner" in line for line in logs)


def test_owner_ignore_adverts() -> None:
    """owner_ignore_adverts: the owner neither counts nor acts on adverts."""
    r, t = master(params(priority=255, owner_ignore_adverts=True))
    assert r.handle(advert(r.params, 255), t + 0.5) == []
    assert r.state == State.MASTER and r.stats.advert_rcvd == 0


# ---------------------------------------------------------------- GARP / NA (§4.6)


def test_garp_bursts_master_delay_and_refresh() -> None:
    """5 GARPs at once, a second burst after garp_master_delay, then every garp_master_refresh."""
    r, t = master(params(garp_master_refresh=10.0, garp_master_refresh_repeat=2))
    assert r.deadline() == pytest.approx(t + 5)
    assert r.handle(DeadlineReached(), t + 5) == [SendGratuitous(5, (VIP,))]
    assert r.deadline() == pytest.approx(t + 10)
    assert r.handle(DeadlineReached(), t + 10) == [SendGratuitous(2, (VIP,))]
    assert r.deadline() == pytest.approx(t + 20)


def test_min_garp_sends_one_and_no_second_burst() -> None:
    """vrrp_min_garp (repeat 1, delay 0): one GARP, no deadline afterwards."""
    r = backup(params(garp_master_repeat=1, garp_master_delay=0))
    deadline = r.deadline()
    assert deadline is not None
    actions = r.handle(DeadlineReached(), deadline)
    assert SendGratuitous(1, (VIP,)) in actions and r.deadline() is None


def test_evips_are_added_and_gratuitous_too() -> None:
    """Excluded VIPs are managed with the VIPs but never advertised."""
    ev = VipSpec("10.0.0.1", prefixlen=24, dev="eth1")
    r, t = master(params(evips=(ev,)))
    r2 = backup(params(evips=(ev,)))
    deadline = r2.deadline()
    assert deadline is not None
    actions = r2.handle(DeadlineReached(), deadline)
    assert AddVips((VIP,), (ev,), True) in actions and SendGratuitous(5, (VIP, ev)) in actions


# ---------------------------------------------------------------- leaving MASTER (§4.7), faults


def test_fault_from_master_sends_priority_zero(logs: list[str]) -> None:
    """Link down: priority-0 advert, VIPs removed, FAULT; link up: BACKUP and a new election."""
    r, t = master()
    actions = r.handle(LinkChanged(False), t + 1)
    assert actions == [StopAdvertising(), SendAdvert(0), RemoveVips((VIP,), (), True),
                       Notify("INSTANCE", "VI_1", "FAULT", 100)]
    assert r.stats.pri_zero_sent == 1 and logs[-1] == "(VI_1) Entering FAULT STATE"
    r.handle(LinkChanged(True), t + 2)
    assert r.state == State.BACKUP and r.deadline() == pytest.approx(t + 2 + 3 + 156 / 256)


def test_dont_track_primary_ignores_link_changes() -> None:
    """dont_track_primary: the own interface going down is not a fault."""
    r, t = master(params(dont_track_primary=True))
    assert r.handle(LinkChanged(False), t + 1) == []
    assert r.state == State.MASTER


def test_owner_returns_to_master_when_the_fault_clears() -> None:
    """An address owner leaves FAULT straight to MASTER."""
    r, t = master(params(priority=255))
    r.handle(LinkChanged(False), t + 1)
    r.handle(LinkChanged(True), t + 2)
    assert r.state == State.MASTER


def test_shutdown_from_master() -> None:
    """SIGTERM: stop adverts, priority 0, remove VIPs, notify STOP."""
    r, t = master()
    actions = r.handle(Shutdown(), t + 1)
    assert actions == [StopAdvertising(), SendAdvert(0), RemoveVips((VIP,), (), True),
                       Notify("INSTANCE", "VI_1", "STOP", 100)]
    assert r.state == State.STOP and r.deadline() is None


def test_external_vip_deletion_reelects_after_skew() -> None:
    """Our VIP deleted by someone else: BACKUP now, MASTER again after Skew_Time, VIP re-added."""
    r, t = master()
    actions = r.handle(VipDeleted("192.168.77.100"), t + 1)
    assert r.state == State.BACKUP and StopAdvertising() in actions
    assert r.deadline() == pytest.approx(t + 1 + 156 / 256)
    actions = r.handle(DeadlineReached(), t + 1 + 156 / 256)
    assert r.state == State.MASTER and AddVips((VIP,), (), True) in actions


def test_no_track_vip_deletion_is_ignored() -> None:
    """no_track on the VIP: its deletion does not make us leave MASTER."""
    v = VipSpec("192.168.77.100", no_track=True)
    r, t = master(params(vips=(v,)))
    assert r.handle(VipDeleted("192.168.77.100"), t + 1) == []
    assert r.state == State.MASTER


# ---------------------------------------------------------------- priority changes


def test_priority_change_in_master_restarts_adverts(logs: list[str]) -> None:
    """A tracker moving the priority re-issues StartAdvertising with the new priority."""
    r, t = master(params(notify_priority_changes=True))
    actions = r.handle(PriorityChanged(90), t + 1)
    assert actions == [StartAdvertising(1.0, 90), Notify("INSTANCE", "VI_1", "MASTER_PRIORITY", 90)]
    assert logs[-1] == "(VI_1) Changing effective priority from 100 to 90"


def test_priority_change_shifts_backup_timer_by_skew() -> None:
    """A pending master-down timer moves by the change in skew (vrrp_set_effective_priority)."""
    r = backup()
    r.handle(PriorityChanged(200), 1.0)
    assert r.deadline() == pytest.approx(3 + 56 / 256)


def test_owner_priority_is_never_changed_by_tracking() -> None:
    """Trackers never move a priority-255 owner."""
    r, t = master(params(priority=255))
    assert r.handle(PriorityChanged(200), t + 1) == []
    assert r.effective_priority == 255


def test_stats_cover_the_keepalived_keys() -> None:
    """Stats has exactly the JSON stats keys of keepalived 2.2.7 (§3.5)."""
    assert list(Stats().as_dict()) == [
        "advert_rcvd", "advert_sent", "become_master", "release_master", "packet_len_err",
        "advert_interval_err", "ip_ttl_err", "invalid_type_rcvd", "addr_list_err", "invalid_authtype",
        "authtype_mismatch", "auth_failure", "pri_zero_rcvd", "pri_zero_sent"]
    s = Stats(advert_rcvd=3)
    s.clear()
    assert s.advert_rcvd == 0


def test_state_codes_are_keepalived_numbers() -> None:
    """Dumps print keepalived's numbers: INIT 0, BACKUP 1, MASTER 2, FAULT 3, DELETED 97, STOP 98."""
    assert [int(s) for s in (State.INIT, State.BACKUP, State.MASTER, State.FAULT, State.DELETED,
                             State.STOP)] == [0, 1, 2, 3, 97, 98]
