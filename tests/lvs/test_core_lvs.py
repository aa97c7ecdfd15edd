"""core/lvs: the desired table, keepalived's quorum/sorry-server/inhibit rules, notifications and diff."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pykeepalived.core import lvs
from pykeepalived.core.lvs import (
    AF_INET,
    AF_INET6,
    PROTO_TCP,
    PROTO_UDP,
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    DestKey,
    EditDest,
    EditService,
    Flush,
    FlushOnStop,
    Fwd,
    GroupEntry,
    LvsConfig,
    LvsState,
    RealServerHealth,
    RealServerSpec,
    RsNotify,
    Service,
    ServiceAttrs,
    ServiceKey,
    SetTimeouts,
    Table,
    Timeouts,
    VirtualServerSpec,
    VsNotify,
    apply_ops,
    diff,
)

VIP = "192.0.2.10"


def rs(addr: str, weight: int = 1, **kw: object) -> RealServerSpec:
    kw.setdefault("port", 8080)
    kw.setdefault("has_checkers", True)
    return RealServerSpec(addr=addr, weight=weight, **kw)  # type: ignore[arg-type]


def vs(*servers: RealServerSpec, **kw: object) -> VirtualServerSpec:
    kw.setdefault("addr", VIP)
    kw.setdefault("port", 80)
    kw.setdefault("sched", "rr")
    return VirtualServerSpec(real_servers=servers, **kw)  # type: ignore[arg-type]


def key(addr: str = VIP, port: int = 80, proto: int = PROTO_TCP) -> ServiceKey:
    return ServiceKey(AF_INET6 if ":" in addr else AF_INET, proto, addr, port)


def dests(table: Table, k: ServiceKey | None = None) -> dict[str, int]:
    """{addr:port -> weight} of one service, for compact assertions."""
    svc = table.services[k or key()]
    return {f"{d.addr}:{d.port}": a.weight for d, a in svc.dests.items()}


def short(n: object) -> tuple[object, ...]:
    assert isinstance(n, VsNotify)
    return (n.vs, n.up, n.script)


def test_core_imports_no_io() -> None:
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('socket', 'asyncio', 'time', 'pyroute2', 'select'):\n"
            "            raise ImportError('blocked ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import pykeepalived.core.lvs\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the table ---------------------------------------------------------------------------------

def test_basic_service_and_weights() -> None:
    state = LvsState(LvsConfig((vs(rs("10.0.0.1", 3), rs("10.0.0.2", 5)),)))
    table = state.table()
    assert list(table.services) == [key()]
    svc = table.services[key()]
    assert svc.attrs == ServiceAttrs("rr", 0, 0, 0xFFFFFFFF, "")
    assert dests(table) == {"10.0.0.1:8080": 3, "10.0.0.2:8080": 5}
    assert all(a.fwd is Fwd.MASQ for a in svc.dests.values())


def test_ipv6_service_netmask_128_and_normalised_addresses() -> None:
    spec = vs(rs("2001:DB8::0:1"), addr="2001:db8:0::10", persistence_timeout=100, persistence_granularity=64)
    table = LvsState(LvsConfig((spec,))).table()
    k = ServiceKey(AF_INET6, PROTO_TCP, "2001:db8::10", 80)
    assert table.services[k].attrs == ServiceAttrs("rr", lvs.SVC_F_PERSISTENT, 100, 64, "")
    assert DestKey("2001:db8::1", 8080) in table.services[k].dests
    plain = LvsState(LvsConfig((vs(rs("2001:db8::1"), addr="2001:db8::10"),))).table()
    assert plain.services[k].attrs.netmask == 128


def test_persistence_flags_and_granularity() -> None:
    spec = vs(rs("10.0.0.1"), persistence_timeout=360, persistence_granularity=0xFFFFFF00, pe_name="sip",
              sched_flags=lvs.SVC_F_SCHED1 | lvs.SVC_F_SCHED2, sched="sh")
    attrs = LvsState(LvsConfig((spec,))).table().services[key()].attrs
    assert attrs == ServiceAttrs("sh", lvs.SVC_F_PERSISTENT | 0x8 | 0x10, 360, 0xFFFFFF00, "sip")
    # granularity and engine mean nothing without persistence, as in keepalived's ipvs_set_srule
    spec2 = vs(rs("10.0.0.1"), persistence_granularity=0xFFFFFF00, pe_name="sip")
    assert LvsState(LvsConfig((spec2,))).table().services[key()].attrs == ServiceAttrs("rr")


def test_dr_and_tun_dest_port_is_service_port() -> None:
    spec = vs(rs("10.0.0.1", fwd=Fwd.ROUTE, port=9999),
              rs("10.0.0.2", fwd=Fwd.TUNNEL, tun_type=lvs.TunType.GUE, tun_port=6080, tun_flags=lvs.TUN_F_CSUM),
              rs("10.0.0.3", fwd=Fwd.MASQ, port=9999))
    svc = LvsState(LvsConfig((spec,))).table().services[key()]
    assert svc.dests[DestKey("10.0.0.1", 80)] == DestAttrs(Fwd.ROUTE, 1)
    assert svc.dests[DestKey("10.0.0.2", 80)] == DestAttrs(Fwd.TUNNEL, 1, 0, 0, 1, 6080, 1)
    assert svc.dests[DestKey("10.0.0.3", 9999)] == DestAttrs(Fwd.MASQ, 1)


def test_fwmark_service_family_and_dest_port() -> None:
    spec = VirtualServerSpec(fwmark=7, sched="wrr",
                             real_servers=(rs("2001:db8::5", fwd=Fwd.ROUTE), rs("2001:db8::6", port=81)))
    table = LvsState(LvsConfig((spec,))).table()
    k = ServiceKey(AF_INET6, 0, "", 0, 7)
    assert set(table.services[k].dests) == {DestKey("2001:db8::5", 0), DestKey("2001:db8::6", 81)}
    explicit = VirtualServerSpec(fwmark=7, af=AF_INET, sched="wrr")
    assert list(LvsState(LvsConfig((explicit,))).table().services) == [ServiceKey(AF_INET, 0, "", 0, 7)]
    assert str(spec.vs_id) == "FWM 7"


def test_group_ranges_cidr_and_fwmarks_expand_to_services() -> None:
    entries = (GroupEntry("192.0.2.1", "192.0.2.3", 80), GroupEntry("192.0.2.9", "192.0.2.9", 0),
               GroupEntry(fwmark=5), GroupEntry(fwmark=6, fwmark_af=AF_INET6),
               GroupEntry("2001:db8::a", "2001:db8::b", 443))
    spec = VirtualServerSpec(group="G", group_entries=entries, port=8000, sched="rr",
                             real_servers=(rs("10.0.0.1", fwd=Fwd.ROUTE),))
    table = LvsState(LvsConfig((spec,))).table()
    assert sorted(table.services) == sorted([
        key("192.0.2.1"), key("192.0.2.2"), key("192.0.2.3"), key("192.0.2.9", 8000),
        ServiceKey(AF_INET, 0, "", 0, 5), ServiceKey(AF_INET6, 0, "", 0, 6),
        key("2001:db8::a", 443), key("2001:db8::b", 443)])
    # DR real servers follow each service's port
    assert list(table.services[key("192.0.2.9", 8000)].dests) == [DestKey("10.0.0.1", 8000)]
    assert list(table.services[ServiceKey(AF_INET, 0, "", 0, 5)].dests) == [DestKey("10.0.0.1", 0)]
    assert str(spec.vs_id) == "[G]:8000"


def test_timeouts_in_table_and_diff() -> None:
    state = LvsState(LvsConfig((), timeouts=Timeouts(tcp=900, udp=60)))
    ops = diff(state.table(), Table(timeouts=Timeouts(900, 120, 300)))
    assert ops == [SetTimeouts(Timeouts(900, 0, 60))]
    assert diff(state.table(), Table(timeouts=Timeouts(900, 120, 60))) == []


# -- health, inhibit, quorum, sorry server ----------------------------------------------------

def test_down_server_removed_or_inhibited() -> None:
    spec = vs(rs("10.0.0.1", 2), rs("10.0.0.2", 2, inhibit=True), rs("10.0.0.3", 2))
    state = LvsState(LvsConfig((spec,)))
    v = spec.vs_id
    n = state.update(v, lvs.RsId("10.0.0.1", 8080), RealServerHealth(False))
    assert n == [RsNotify(v, lvs.RsId("10.0.0.1", 8080), PROTO_TCP, False, None)]
    state.update(v, lvs.RsId("10.0.0.2", 8080), RealServerHealth(False))
    assert dests(state.table()) == {"10.0.0.2:8080": 0, "10.0.0.3:8080": 2}
    state.update(v, lvs.RsId("10.0.0.2", 8080), RealServerHealth(True))
    assert dests(state.table()) == {"10.0.0.2:8080": 2, "10.0.0.3:8080": 2}


def test_dynamic_weight_and_clamping() -> None:
    spec = vs(rs("10.0.0.1", 2))
    state = LvsState(LvsConfig((spec,)))
    rid = lvs.RsId("10.0.0.1", 8080)
    assert state.update(spec.vs_id, rid, RealServerHealth(True, 7)) == []
    assert dests(state.table()) == {"10.0.0.1:8080": 7}
    state.update(spec.vs_id, rid, RealServerHealth(True, -5))
    assert dests(state.table()) == {"10.0.0.1:8080": 0}


def test_alpha_starts_down_and_only_changes_notify() -> None:
    spec = vs(rs("10.0.0.1", alpha=True, notify_down="/bin/down", notify_up="/bin/up"), rs("10.0.0.2"),
              rs("10.0.0.3", has_checkers=False))
    state = LvsState(LvsConfig((spec,)))
    assert dests(state.table()) == {"10.0.0.2:8080": 1, "10.0.0.3:8080": 1}
    r1 = lvs.RsId("10.0.0.1", 8080)
    assert state.update(spec.vs_id, r1, RealServerHealth(False)) == []
    assert state.update(spec.vs_id, lvs.RsId("10.0.0.2", 8080), RealServerHealth(True)) == []
    assert state.rs_notify(spec.vs_id, r1) == RsNotify(spec.vs_id, r1, PROTO_TCP, False, "/bin/down")
    assert state.update(spec.vs_id, r1, RealServerHealth(True)) == [RsNotify(spec.vs_id, r1, PROTO_TCP, True, "/bin/up")]


def test_seed_and_requorum() -> None:
    spec = vs(rs("10.0.0.1", 2), rs("10.0.0.2", 2), quorum=3, quorum_down="/bin/qd")
    state = LvsState(LvsConfig((spec,)))
    state.seed(spec.vs_id, lvs.RsId("10.0.0.1", 8080), RealServerHealth(False))
    assert state.requorum(initial=True) == [] and not state.quorum_up(spec.vs_id)
    state2 = LvsState(LvsConfig((spec,)))
    state2.seed(spec.vs_id, lvs.RsId("10.0.0.1", 8080), RealServerHealth(False, 5))
    assert [short(n) for n in state2.requorum()] == [(spec.vs_id, False, "/bin/qd")]
    assert state2.weight(spec.vs_id, lvs.RsId("10.0.0.1", 8080)) == 5


def test_quorum_hysteresis_and_notifications() -> None:
    spec = vs(rs("10.0.0.1", 2), rs("10.0.0.2", 2), rs("10.0.0.3", 2), quorum=4, hysteresis=1,
              quorum_up="/bin/qup", quorum_down="/bin/qdown")
    state = LvsState(LvsConfig((spec,)))
    v = spec.vs_id
    r1, r2, r3 = (lvs.RsId(f"10.0.0.{i}", 8080) for i in (1, 2, 3))
    assert state.quorum_up(v)
    # 4 alive >= 4-1: still up
    assert [x for x in state.update(v, r1, RealServerHealth(False)) if isinstance(x, VsNotify)] == []
    # 2 < 3: down
    notes = state.update(v, r2, RealServerHealth(False))
    assert short(notes[-1]) == (v, False, "/bin/qdown")
    assert notes[-1].log_lines() == ["Lost quorum 4-1=3 > 2 for VS [192.0.2.10]:tcp:80"]
    assert notes[-1].fifo_line() == b"VS [192.0.2.10]:tcp:80 DOWN\n\0"
    # 4 < 4+1: stays down
    assert [x for x in state.update(v, r1, RealServerHealth(True)) if isinstance(x, VsNotify)] == []
    notes = state.update(v, r2, RealServerHealth(True))
    assert short(notes[-1]) == (v, True, "/bin/qup")
    assert notes[-1].log_lines() == ["Gained quorum 4+1=5 <= 6 for VS [192.0.2.10]:tcp:80"]
    del r3


def test_sorry_server_replaces_pool_on_quorum_loss() -> None:
    sorry = RealServerSpec(addr="10.9.9.9", port=80, weight=1)
    spec = vs(rs("10.0.0.1", 1), rs("10.0.0.2", 1, inhibit=True), quorum=2, sorry_server=sorry)
    state = LvsState(LvsConfig((spec,)))
    assert dests(state.table()) == {"10.0.0.1:8080": 1, "10.0.0.2:8080": 1}
    state.update(spec.vs_id, lvs.RsId("10.0.0.1", 8080), RealServerHealth(False))
    # quorum lost: alive servers leave (inhibited ones stay at weight 0), the sorry server comes in
    assert dests(state.table()) == {"10.0.0.2:8080": 0, "10.9.9.9:80": 1}
    state.update(spec.vs_id, lvs.RsId("10.0.0.1", 8080), RealServerHealth(True))
    assert dests(state.table()) == {"10.0.0.1:8080": 1, "10.0.0.2:8080": 1}


def test_sorry_server_inhibit_keeps_it_at_weight_zero() -> None:
    sorry = RealServerSpec(addr="10.9.9.9", port=80, weight=3, fwd=Fwd.ROUTE)
    spec = vs(rs("10.0.0.1"), sorry_server=sorry, sorry_server_inhibit=True)
    state = LvsState(LvsConfig((spec,)))
    svc = state.table().services[key()]
    assert svc.dests[DestKey("10.9.9.9", 80)] == DestAttrs(Fwd.ROUTE, 0)
    state.update(spec.vs_id, lvs.RsId("10.0.0.1", 8080), RealServerHealth(False))
    assert state.table().services[key()].dests[DestKey("10.9.9.9", 80)] == DestAttrs(Fwd.ROUTE, 3)


def test_start_with_quorum_down_and_sorry_server_notifies() -> None:
    sorry = RealServerSpec(addr="10.9.9.9", port=80)
    spec = vs(rs("10.0.0.1", alpha=True), sorry_server=sorry, quorum_down="/bin/qd")
    state = LvsState(LvsConfig((spec,)))
    (note,) = state.start()
    assert short(note) == (spec.vs_id, False, "/bin/qd")
    assert note.log_lines() == ["Starting with quorum down 1-0=1 > 0 for VS [192.0.2.10]:tcp:80",
                                "Adding sorry server [10.9.9.9]:tcp:80 to VS [192.0.2.10]:tcp:80",
                                "Removing alive servers from the pool for VS [192.0.2.10]:tcp:80"]
    assert dests(state.table()) == {"10.9.9.9:80": 1}
    # without a sorry server keepalived says nothing at start
    assert LvsState(LvsConfig((vs(rs("10.0.0.1", alpha=True)),))).start() == []


def test_rs_init_notifies() -> None:
    spec = vs(rs("10.0.0.1", notify_up="/bin/up"), rs("10.0.0.2", alpha=True))
    state = LvsState(LvsConfig((spec,), rs_init_notifies=True))
    assert state.start() == [RsNotify(spec.vs_id, lvs.RsId("10.0.0.1", 8080), PROTO_TCP, True, "/bin/up")]


def test_fifo_lines_match_keepalived() -> None:
    v6 = vs(rs("2001:db8::1"), addr="2001:db8::10", protocol=PROTO_UDP, port=53)
    n = RsNotify(v6.vs_id, lvs.RsId("2001:db8::1", 53), PROTO_UDP, True, None)
    assert n.fifo_line() == b"RS [2001:db8::1]:udp:53 [2001:db8::10]:udp:53 UP\n\0"
    fw = VirtualServerSpec(fwmark=3)
    assert VsNotify(fw.vs_id, True, None).fifo_line() == b"VS FWM 3 UP\n\0"
    grp = VirtualServerSpec(group="web", port=0)
    assert VsNotify(grp.vs_id, False, None).fifo_line() == b"VS [web]:0 DOWN\n\0"


# -- stop ------------------------------------------------------------------------------------------

def test_stop_per_flush_on_stop_mode_and_omega() -> None:
    spec = vs(rs("10.0.0.1", notify_down="/bin/down"), rs("10.0.0.2"), omega=True, quorum_down="/bin/qd")
    for mode, expect_ops in ((FlushOnStop.NO, [DelDest(key(), DestKey("10.0.0.1", 8080)),
                                               DelDest(key(), DestKey("10.0.0.2", 8080)), DelService(key())]),
                             (FlushOnStop.VS, [DelService(key())]),
                             (FlushOnStop.FULL, [Flush()])):
        state = LvsState(LvsConfig((spec,), flush_on_stop=mode))
        ops, notes = state.stop()
        assert ops == expect_ops
        assert short(notes[-1]) == (spec.vs_id, False, "/bin/qd")
        rs_notes = [x for x in notes if isinstance(x, RsNotify)]
        assert len(rs_notes) == (2 if mode is FlushOnStop.NO else 0)
    no_omega = LvsState(LvsConfig((vs(rs("10.0.0.1")),)))
    assert no_omega.stop()[1] == []
    assert no_omega.stop(release=False)[0] == []


# -- reload ----------------------------------------------------------------------------------------

def test_reload_keeps_state_and_changes_only_what_changed() -> None:
    a, b = rs("10.0.0.1"), rs("10.0.0.2")
    other = vs(rs("10.0.1.1"), addr="192.0.2.20")
    state = LvsState(LvsConfig((vs(a, b), other)))
    state.update(vs(a, b).vs_id, b.rs_id, RealServerHealth(False))
    before = state.table()
    c = rs("10.0.0.3", alpha=True)
    notes = state.reload(LvsConfig((vs(a, b, rs("10.0.0.4"), c, sched="wrr"), other)))
    assert notes == []
    after = state.table()
    ops = diff(after, before, managed=before.services)
    assert ops == [EditService(key(), ServiceAttrs("wrr")),
                   AddDest(key(), DestKey("10.0.0.4", 8080), DestAttrs())]
    # b stays down across the reload; the alpha newcomer waits for its first check
    assert not state.alive(vs(a).vs_id, b.rs_id)


def test_reload_removing_a_service() -> None:
    first = LvsConfig((vs(rs("10.0.0.1")), vs(rs("10.0.1.1"), addr="192.0.2.20")))
    state = LvsState(first)
    before = state.table()
    state.reload(LvsConfig((vs(rs("10.0.0.1")),)))
    assert diff(state.table(), before, managed=before.services) == [DelService(key("192.0.2.20"))]


# -- diff --------------------------------------------------------------------------------------------

def test_diff_adopts_existing_table_and_leaves_foreign_services() -> None:
    state = LvsState(LvsConfig((vs(rs("10.0.0.1"), rs("10.0.0.2")),)))
    desired = state.table()
    foreign = key("198.51.100.1")
    actual = Table({key(): Service(ServiceAttrs("rr"), {DestKey("10.0.0.1", 8080): DestAttrs(),
                                                        DestKey("10.0.0.99", 8080): DestAttrs()}),
                    foreign: Service(ServiceAttrs("wlc"))})
    ops = diff(desired, actual)
    assert ops == [AddDest(key(), DestKey("10.0.0.2", 8080), DestAttrs()), DelDest(key(), DestKey("10.0.0.99", 8080))]
    assert diff(desired, apply_ops(actual, ops)) == []
    # the foreign service goes only once it is ours
    assert diff(desired, actual, managed={foreign})[-1] == DelService(foreign)


def test_diff_edit_dest_on_method_or_weight_change() -> None:
    d = DestKey("10.0.0.1", 80)
    desired = Table({key(): Service(ServiceAttrs("rr"), {d: DestAttrs(Fwd.ROUTE, 2)})})
    actual = Table({key(): Service(ServiceAttrs("rr"), {d: DestAttrs(Fwd.MASQ, 2)})})
    assert diff(desired, actual) == [EditDest(key(), d, DestAttrs(Fwd.ROUTE, 2))]


def test_apply_ops_refuses_impossible_operations() -> None:
    with pytest.raises(KeyError):
        apply_ops(Table(), [AddDest(key(), DestKey("10.0.0.1", 80), DestAttrs())])
    with pytest.raises(KeyError):
        apply_ops(Table({key(): Service(ServiceAttrs("rr"))}), [AddService(key(), ServiceAttrs("rr"))])


_addr = st.sampled_from([f"10.0.0.{i}" for i in range(1, 6)])
_dest_attrs = st.builds(DestAttrs, st.sampled_from(list(Fwd)), st.integers(0, 5))
_service = st.builds(Service, st.builds(ServiceAttrs, st.sampled_from(["rr", "wrr", "sh"]), st.sampled_from([0, 1])),
                     st.dictionaries(st.builds(DestKey, _addr, st.sampled_from([80, 81])), _dest_attrs, max_size=4))
_table = st.builds(Table, st.dictionaries(st.builds(key, st.sampled_from(["192.0.2.1", "192.0.2.2", "192.0.2.3"])),
                                          _service, max_size=3))


@settings(max_examples=300, deadline=None)
@given(_table, _table)
def test_diff_converges_and_is_minimal(desired: Table, actual: Table) -> None:
    ops = diff(desired, actual, managed=actual.services)
    result = apply_ops(actual, ops)
    assert result.services == desired.services
    assert diff(desired, result, managed=result.services) == []
    # minimal: one op per differing dest, one per differing service
    expected = 0
    for k, svc in desired.services.items():
        have = actual.services.get(k)
        if have is None:
            expected += 1 + len(svc.dests)
            continue
        expected += svc.attrs != have.attrs
        expected += len(set(svc.dests) ^ set(have.dests))
        expected += sum(1 for d in svc.dests if d in have.dests and have.dests[d] != svc.dests[d])
    expected += len(set(actual.services) - set(desired.services))
    assert len(ops) == expected


def test_stop_removes_only_what_is_programmed() -> None:
    spec = vs(rs("10.0.0.1"), rs("10.0.0.2"))
    state = LvsState(LvsConfig((spec,)))
    programmed = Table({key(): Service(ServiceAttrs("rr"), {DestKey("10.0.0.1", 8080): DestAttrs()})})
    ops, _ = state.stop(programmed=programmed)
    assert ops == [DelDest(key(), DestKey("10.0.0.1", 8080)), DelService(key())]
    assert state.stop(programmed=Table())[0] == []
