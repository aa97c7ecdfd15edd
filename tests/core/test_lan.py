"""Protocol properties on a simulated LAN of real VirtualRouters (hand-driven clock)."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator

import pytest

from pykeepalived.core import timing
from pykeepalived.core.events import FaultChanged, Shutdown, VipDeleted
from pykeepalived.core.params import RouterParams, UnicastPeer, VipSpec
from pykeepalived.core.vrrp import State

from .lan import Lan, Node

VIP = VipSpec("192.168.77.100")
A, B, C = "192.168.77.1", "192.168.77.2", "192.168.77.3"


def p(priority: int, **kw: object) -> RouterParams:
    return RouterParams(name="VI_1", vrid=51, priority=priority, vips=(VIP,), **kw)  # type: ignore[arg-type]


def master_down(version: int, priority: int, interval: float) -> float:
    return timing.seconds(timing.master_down_us(version, priority, timing.to_us(interval)))


def skew(version: int, priority: int, interval: float) -> float:
    return timing.seconds(timing.skew_us(version, priority, timing.to_us(interval)))


def flips(node: Node) -> int:
    return len(node.states) - 1


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("pykeepalived.core.vrrp")
    h, level = H(), logger.level
    logger.addHandler(h)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(h)
    logger.setLevel(level)


def three(version: int = 2, interval: float = 1.0, **kw: object) -> Lan:
    lan = Lan()
    for name, addr, prio in (("a", A, 120), ("b", B, 110), ("c", C, 100)):
        lan.add(name, addr, p(prio, version=version, advert_int=interval, **kw))
    return lan


def test_one_master_after_convergence_and_no_flapping() -> None:
    """Cold start of three routers: the highest priority wins and nothing moves for 1000 s."""
    lan = three()
    lan.start()
    lan.run_for(1000)
    assert lan.masters() == ["a"]
    assert [flips(lan[n]) for n in "abc"] == [2, 1, 1]         # INIT->BACKUP->MASTER, INIT->BACKUP
    assert lan["a"].states[-1][0] == pytest.approx(master_down(2, 120, 1.0))
    assert lan["b"].vips_up is False and lan["a"].vips_up is True


@pytest.mark.parametrize(("version", "interval"), [(2, 1.0), (2, 3.0), (3, 1.0), (3, 0.1), (3, 0.01),
                                                   (3, 0.35)])
def test_failover_at_exactly_master_down(version: int, interval: float) -> None:
    """Master killed: the best backup sends its first advert exactly 3*interval + skew after the
    master's last one."""
    lan = three(version, interval)
    lan.start()
    lan.run_for(20 * interval + 5)
    assert lan.masters() == ["a"]
    lan.kill("a")
    lan.run_for(20 * interval + 5)
    assert lan.masters() == ["b"]
    last = lan.sent_by(A)[-1].time
    first = lan.sent_by(B)[0].time
    assert first - last == pytest.approx(master_down(version, 110, interval), abs=1e-9)
    assert flips(lan["c"]) == 1


@pytest.mark.parametrize(("version", "interval"), [(2, 1.0), (3, 1.0), (3, 0.1)])
def test_priority_zero_takeover_at_skew(version: int, interval: float) -> None:
    """Graceful stop: the priority-0 advert lets the backup take over after Skew_Time."""
    lan = three(version, interval)
    lan.start()
    lan.run_for(20 * interval + 5)
    lan.at(lan.now, "a", Shutdown())
    lan.run_for(10 * interval)
    zero = [w for w in lan.sent_by(A) if w.priority == 0]
    assert len(zero) == 1 and lan["a"].state == State.STOP
    first = lan.sent_by(B)[0].time
    assert first - zero[0].time == pytest.approx(skew(version, 110, interval), abs=1e-9)
    assert lan.masters() == ["b"]
    assert lan["b"].router.stats.pri_zero_rcvd == 1


def late_joiner(**kw: object) -> Lan:
    lan = Lan()
    lan.add("low", A, p(100))
    lan.add("high", B, p(150, **kw))
    lan.start("low", when=0.0)
    lan.start("high", when=10.25)
    return lan


def test_preempt_takes_over_after_master_down() -> None:
    """A higher-priority router that starts later preempts after its own master-down interval."""
    lan = late_joiner()
    lan.run_for(30)
    assert lan.masters() == ["high"]
    took = lan["high"].states[-1][0]
    assert took == pytest.approx(10.25 + master_down(2, 150, 1.0))
    assert lan["low"].states[-1][1] == State.BACKUP


def test_nopreempt_leaves_the_master_alone() -> None:
    """nopreempt: the higher-priority newcomer stays BACKUP for as long as the master lives."""
    lan = late_joiner(nopreempt=True)
    lan.run_for(300)
    assert lan.masters() == ["low"]
    assert lan["high"].state == State.BACKUP


def test_preempt_delay_postpones_the_takeover() -> None:
    """preempt_delay 4: takeover comes master-down after the delay that started at the first
    lower-priority advert."""
    lan = late_joiner(preempt_delay=4.0)
    lan.run_for(30)
    assert lan.masters() == ["high"]
    first_low_advert = min(w.time for w in lan.sent_by(A) if w.time > 10.25)
    took = lan["high"].states[-1][0]
    # The last advert accepted is the last one before first_low_advert + 4.
    last_accepted = max(w.time for w in lan.sent_by(A) if w.time < first_low_advert + 4.0)
    assert took == pytest.approx(last_accepted + master_down(2, 150, 1.0))
    assert took > 10.25 + master_down(2, 150, 1.0) + 3


def test_equal_priorities_elect_the_higher_address() -> None:
    """Equal priority, simultaneous start: both time out together, then the tie-break by
    address leaves exactly one master, the one with the higher address."""
    lan = Lan(delay=0.001)
    lan.add("a", A, p(100))
    lan.add("b", B, p(100))
    lan.start()
    lan.run_for(100)
    assert lan.masters() == ["b"]


def test_equal_priorities_staggered_start_keeps_the_first_master() -> None:
    """Equal priority: a lower-address newcomer accepts the running master."""
    lan = Lan()
    lan.add("a", A, p(100))
    lan.add("b", B, p(100))
    lan.start("b", when=0.0)
    lan.start("a", when=20.0)
    lan.run_for(200)
    assert lan.masters() == ["b"] and flips(lan["a"]) == 1


def test_v3_backup_uses_the_master_interval() -> None:
    """v3: a backup configured with 1 s fails over on the master's 0.5 s timing."""
    lan = Lan()
    lan.add("m", A, p(200, version=3, advert_int=0.5))
    lan.add("s", B, p(100, version=3, advert_int=1.0))
    lan.start()
    lan.run_for(20)
    assert lan.masters() == ["m"]
    lan.kill("m")
    lan.run_for(10)
    gap = lan.sent_by(B)[0].time - lan.sent_by(A)[-1].time
    assert gap == pytest.approx(master_down(3, 100, 0.5), abs=1e-9)


def test_v2_interval_mismatch_gives_two_masters() -> None:
    """v2 with different advert_int: adverts are dropped both ways, both routers end MASTER."""
    lan = Lan()
    lan.add("a", A, p(110, advert_int=1.0))
    lan.add("b", B, p(100, advert_int=2.0))
    lan.start()
    lan.run_for(30)
    assert sorted(lan.masters()) == ["a", "b"]
    assert lan["a"].router.stats.advert_interval_err > 0


def test_asymmetric_unicast_reproduces_dual_master(logs: list[str]) -> None:
    """§4.9: node1's unicast_peer points nowhere; node2 times out and becomes MASTER; node1
    forces a new election every second with a GARP burst; both stay MASTER."""
    lan = Lan()
    n1 = lan.add("n1", A, p(110, unicast_peers=(UnicastPeer("192.168.77.99"),)))
    n2 = lan.add("n2", B, p(100, unicast_peers=(UnicastPeer(A),)))
    lan.start()
    lan.run_for(60)
    assert sorted(lan.masters()) == ["n1", "n2"]
    assert "(VI_1) Receive advertisement timeout" not in logs      # keepalived prints it only with -D
    forcing = [line for line in logs if line == ("(VI_1) Received advert from 192.168.77.2 with lower priority "
                                                 "100, ours 110, forcing new election")]
    n2_master_at = n2.states[-1][0]
    assert len(forcing) == pytest.approx(60 - n2_master_at, abs=1.5)      # every second
    bursts = [g for g in n1.garps if g[0] > n2_master_at]
    assert len(bursts) >= 2 * (len(forcing) - 5) and all(count == 5 for _, count in bursts)
    assert n1.vips_up and n2.vips_up


def test_partition_gives_two_masters_and_healing_one() -> None:
    """A partition elects a master on each side; after healing the higher priority keeps it."""
    lan = three()
    lan.start()
    lan.run_for(20)
    lan.partition({"a"}, {"b", "c"})
    lan.run_for(20)
    assert sorted(lan.masters()) == ["a", "b"]
    lan.heal()
    lan.run_for(20)
    assert lan.masters() == ["a"]
    assert lan["b"].state == State.BACKUP and not lan["b"].vips_up


def test_short_loss_is_absorbed_and_long_loss_fails_over() -> None:
    """Losing two adverts changes nothing; losing four makes the backup take over, and the
    master (higher priority) wins back at its next advert."""
    lan = Lan()
    lan.add("a", A, p(120))
    lan.add("b", B, p(100))
    lan.start()
    lan.run_for(20)

    def lose(start: float, end: float) -> None:
        lan.drop_rules[:] = [lambda s, d, w: start <= w.time < end]

    lose(20, 22)
    lan.run_for(20)
    assert flips(lan["b"]) == 1
    lose(40, 44)
    lan.run_for(20)
    assert lan.masters() == ["a"]
    assert [s for _, s in lan["b"].states][-2:] == [State.MASTER, State.BACKUP]


def test_duplicates_and_delay_do_not_break_the_election() -> None:
    """Duplicated, delayed packets: still one master, failover later by exactly the delay."""
    lan = Lan(delay=0.005)
    lan.duplicate = True
    for name, addr, prio in (("a", A, 120), ("b", B, 110)):
        lan.add(name, addr, p(prio, version=3, advert_int=0.1))
    lan.start()
    lan.run_for(30)
    assert lan.masters() == ["a"]
    settled = flips(lan["b"])      # a 5 ms delay > the skew difference: b may win the start race
    lan.run_for(30)
    assert flips(lan["b"]) == settled
    killed = lan.now
    lan.kill("a")
    lan.run_for(5)
    gap = lan.sent_by(B, since=killed)[0].time - lan.sent_by(A)[-1].time
    assert gap == pytest.approx(master_down(3, 110, 0.1) + 0.005, abs=1e-9)


def test_random_loss_never_leaves_two_masters_for_long() -> None:
    """With 20% random loss, split brain is transient: sampled every second, at most one master
    except right after a spurious takeover."""
    rng = random.Random(7)
    lan = three()
    lan.drop_rules.append(lambda s, d, w: rng.random() < 0.2)
    lan.start()
    lan.run_for(10)
    dual = 0
    for _ in range(500):
        lan.run_for(1)
        if len(lan.masters()) > 1:
            dual += 1
        assert lan.masters()            # never zero masters after convergence
    assert dual < 25


def test_fault_on_the_master_hands_over_at_skew() -> None:
    """A tracker fault on the master: priority 0 on the wire, the backup takes over at skew."""
    lan = Lan()
    lan.add("a", A, p(120))
    lan.add("b", B, p(100))
    lan.start()
    lan.run_for(10)
    lan.at(10.5, "a", FaultChanged("script:chk", True))
    lan.run_for(10)
    assert lan["a"].state == State.FAULT and lan.masters() == ["b"]
    zero = [w for w in lan.sent_by(A) if w.priority == 0][0]
    assert lan.sent_by(B)[0].time - zero.time == pytest.approx(skew(2, 100, 1.0))
    lan.at(lan.now, "a", FaultChanged("script:chk", False))
    lan.run_for(10)
    assert lan.masters() == ["a"]


def test_external_vip_deletion_reelects() -> None:
    """The master's VIP deleted externally: it goes BACKUP and is MASTER again after Skew_Time."""
    lan = Lan()
    lan.add("a", A, p(120))
    lan.add("b", B, p(100))
    lan.start()
    lan.run_for(10)
    lan.at(10.2, "a", VipDeleted(VIP.address))
    lan.run_for(10)
    states = lan["a"].states
    assert [s for _, s in states][-3:] == [State.MASTER, State.BACKUP, State.MASTER]
    assert states[-1][0] - states[-2][0] == pytest.approx(skew(2, 120, 1.0))
    assert lan.masters() == ["a"] and flips(lan["b"]) == 1



def test_down_timer_adverts_stretches_the_failover() -> None:
    """down_timer_adverts 5: the backup waits 5 intervals + skew."""
    lan = Lan()
    lan.add("a", A, p(120, version=3, advert_int=0.1, down_timer_adverts=5))
    lan.add("b", B, p(100, version=3, advert_int=0.1, down_timer_adverts=5))
    lan.start()
    lan.run_for(5)
    lan.kill("a")
    lan.run_for(5)
    gap = lan.sent_by(B)[0].time - lan.sent_by(A)[-1].time
    assert gap == pytest.approx(5 * 0.1 + skew(3, 100, 0.1), abs=1e-9)


def test_ipv6_v3_pair() -> None:
    """VRRPv3 over IPv6 (link-local sources, ff02::12): election and failover as for IPv4."""
    vip6 = (VipSpec("fe80::100"), VipSpec("2001:db8::100", prefixlen=64))
    lan = Lan()
    for name, addr, prio in (("a", "fe80::1", 120), ("b", "fe80::2", 100)):
        lan.add(name, addr, RouterParams(name="VI_6", vrid=60, priority=prio, version=3, family=6,
                                         advert_int=0.5, vips=vip6))
    lan.start()
    lan.run_for(10)
    assert lan.masters() == ["a"] and lan["b"].router.stats.advert_rcvd > 0
    lan.kill("a")
    lan.run_for(5)
    gap = lan.sent_by("fe80::2")[0].time - lan.sent_by("fe80::1")[-1].time
    assert gap == pytest.approx(master_down(3, 100, 0.5), abs=1e-9)
    assert lan.sent_by("fe80::2")[0].dst == "ff02::12"


def test_symmetric_unicast_with_source_check() -> None:
    """Correctly configured unicast peers with check_unicast_src and a TTL range: one master,
    no errors counted on either side."""
    lan = Lan()
    lan.add("a", A, p(120, version=3, unicast_peers=(UnicastPeer(B, min_ttl=255),), check_unicast_src=True))
    lan.add("b", B, p(100, version=3, unicast_peers=(UnicastPeer(A, min_ttl=255),), check_unicast_src=True))
    lan.start()
    lan.run_for(60)
    assert lan.masters() == ["a"] and flips(lan["b"]) == 1
    for n in "ab":
        stats = lan[n].router.stats.as_dict()
        assert all(v == 0 for k, v in stats.items() if k.endswith("_err") or k.startswith(("auth", "invalid")))
    assert lan["b"].router.stats.advert_rcvd >= 55
