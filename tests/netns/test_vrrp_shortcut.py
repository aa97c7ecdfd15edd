"""The backup's steady-state shortcut (vrrp/runtime.py `_maybe_shortcut`) driven with real packets.

`VrrpRuntime._on_readable` and `_on_timer` run on a real `AdvertSocket` (each twin, `aio`)
bound to `lo` in a private network namespace; crafted IPv4 adverts are sent to it through a
raw socket (any source, destination and TTL). The rest of the runtime (netlink, sender,
timer fd) is left out; the actions the router asks for are only recorded.

The bug (issue 18 bug 1, issue 24 item 1): once a shortcut was armed, the next advert that
differed armed it again with *its* payload whatever the core had done with it, so every copy
of a discarded advert (a demoted master's, a third host's with TTL 64, a wrong password...)
was absorbed in compiled code and held the master-down timer off: no takeover, ever.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import socket
import subprocess
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from pykeepalived._fastpath import advert_io_py, codec

from pykeepalived.config import load_text
from pykeepalived.core import timing
from pykeepalived.core.actions import Action
from pykeepalived.core.events import Startup
from pykeepalived.core.params import AUTH_PASS, RouterParams, UnicastPeer, VipSpec
from pykeepalived.core.vrrp import State, VirtualRouter
from pykeepalived.io.vrrp_socket import join_group, open_vrrp_socket
from pykeepalived.vrrp.runtime import Instance, VrrpRuntime

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(30)]

VRID = 51
GROUP = "224.0.0.18"
ME = "127.0.0.1"          # the backup under test
MASTER = "127.0.0.2"
THIRD = "127.0.0.3"
VIP = "192.0.2.100"


def _ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


class _Timer:
    """Stands for the loop's timerfd: the test calls `_on_timer` itself."""

    def ack(self) -> None:
        pass

    def arm(self, at: float) -> None:
        pass

    def close(self) -> None:
        pass


class Harness:
    """A VrrpRuntime with one BACKUP instance on `lo`, fed by a raw sending socket."""

    def __init__(self, aio: ModuleType, params: RouterParams) -> None:
        self.idx = socket.if_nametoindex("lo")
        raw = open_vrrp_socket("lo", self.idx, socket.AF_INET)
        join_group(raw, _ip(GROUP), self.idx)
        self.sock = aio.AdvertSocket(raw, self.idx, 64)
        self.tx = open_vrrp_socket("lo", self.idx, socket.AF_INET)
        self.params = params
        # The real constructor (no sockets, threads or netlink until start()), in a loop of
        # its own; the pieces this test drives by hand are swapped in afterwards.
        self.loop = asyncio.new_event_loop()

        async def build() -> VrrpRuntime:
            config = load_text("", interfaces=frozenset({"lo"})).config
            assert config is not None
            return VrrpRuntime(config, argparse.Namespace())

        rt = self.loop.run_until_complete(build())
        rt._timer.close()
        rt._timer = _Timer()  # type: ignore[assignment]
        rt.sockets = [self.sock]  # type: ignore[assignment]
        self.actions: list[Action] = []
        rt.execute = lambda inst, actions, now: self.actions.extend(actions)
        self.inst = Instance(slot=0, model=None, router=VirtualRouter(params), iface=None,  # type: ignore[arg-type]
                             sock=self.sock, src=_ip(ME), dests=[_ip(GROUP)], hoplimit=255, vips_packed=[])
        rt.instances.append(self.inst)
        rt.by_slot = {0: self.inst}
        rt.demux = {(self.idx, socket.AF_INET): {VRID: [self.inst]}}
        self.rt = rt
        rt.handle(self.inst, Startup(), time.monotonic())
        assert self.router.state == State.BACKUP
        self._raws = [raw]

    @property
    def router(self) -> VirtualRouter:
        return self.inst.router

    def close(self) -> None:
        self.loop.close()
        self.tx.close()
        for s in self._raws:
            s.close()

    def send(self, priority: int, *, src: str = MASTER, dst: str = GROUP, ttl: int = 255,
             vips: tuple[str, ...] = (VIP,), auth: bytes | None = None) -> None:
        p = self.params
        payload = codec.encode_advert(p.version, VRID, priority, timing.wire_adver_int(p.version, p.advert_int),
                                      [_ip(v) for v in vips], codec.AF_INET, _ip(src), _ip(dst),
                                      auth_type=p.auth_type, auth_data=p.auth_data if auth is None else auth)
        packet = advert_io_py.ipv4_header(_ip(src), _ip(dst), len(payload), ttl) + payload
        self.tx.sendto(packet, (dst, 0))

    def read(self) -> None:
        """Let the packets sent so far arrive, then one `_on_readable` as the loop would."""
        time.sleep(0.01)
        self.rt._on_readable(self.sock)

    def due(self) -> float:
        """When the runtime will act on the master-down timer: its wheel entry, or the armed
        shortcut's expiry (the socket holds the timer then)."""
        d = self.inst.deadline
        return min(math.inf if d is None else d, self.sock.next_expiry())

    def timer_at(self, now: float) -> None:
        """The loop's timer callback, run as if the clock said `now`."""
        self.rt.clock = lambda: now
        try:
            self.rt._on_timer()
        finally:
            self.rt.clock = time.monotonic


@pytest.fixture
def harness_for(aio: ModuleType) -> Iterator[Any]:
    subprocess.run(["ip", "link", "set", "lo", "multicast", "on"], check=True)   # the private netns's lo
    made: list[Harness] = []

    def make(**kw: Any) -> Harness:
        base: dict[str, Any] = dict(name="VI_1", vrid=VRID, priority=100, version=3, advert_int=0.1,
                                    vips=(VipSpec(VIP),), source_address=ME)
        base.update(kw)
        h = Harness(aio, RouterParams(**base))
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def _steady_state(h: Harness) -> float:
    """The master's adverts: the first goes to the core and arms the shortcut, the copies
    are absorbed. Returns when the runtime will declare the master down."""
    for _ in range(4):
        h.send(110)
        h.read()
    assert h.inst.shortcut is not None, "the master's plain advert arms the shortcut"
    assert h.sock.rx_absorbed >= 3, "identical copies are absorbed by the socket (the CPU win stays)"
    due = h.due()
    assert h.router.master_priority == 110
    return due


BAD = {
    # issue 18 bug 1: the master's advertised priority fell below ours (preempt allowed)
    "demoted master": dict(priority=90),
    # issue 24 item 1: a third host, TTL 64, priority 50, unicast to the backup
    "third host TTL 64 unicast": dict(priority=50, src=THIRD, dst=ME, ttl=64),
    "master's advert with TTL 64": dict(priority=110, ttl=64),
    "unicast on a multicast instance": dict(priority=110, dst=ME),
    "wrong VIP list": dict(priority=110, vips=("192.0.2.200",)),
    "wrong address count": dict(priority=110, vips=(VIP, "192.0.2.200")),
}


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_copies_of_a_discarded_advert_do_not_hold_off_the_takeover(harness_for: Any, bad: str) -> None:
    h = harness_for()
    due = _steady_state(h)
    for _ in range(6):
        h.send(**BAD[bad])      # type: ignore[arg-type]
        h.read()
        assert h.due() == pytest.approx(due, abs=1e-6), "a discarded advert moved the master-down timer"
    assert h.inst.shortcut is None
    h.timer_at(due + 0.001)
    assert h.router.state == State.MASTER, "the backup must take over when the master-down timer runs out"


def test_third_host_between_the_masters_adverts_then_master_killed(harness_for: Any) -> None:
    """Issue 24 item 1: invalid adverts interleaved with the master's, then only invalid ones."""
    h = harness_for()
    _steady_state(h)
    for _ in range(3):
        h.send(50, src=THIRD, dst=ME, ttl=64)
        h.read()
        h.send(110)
        h.read()
        h.send(110)
        h.read()
    due = h.due()
    assert h.inst.shortcut is not None       # the master's advert re-armed it
    for _ in range(6):                       # the master is gone; the third host goes on
        h.send(50, src=THIRD, dst=ME, ttl=64)
        h.read()
    assert h.due() == pytest.approx(due, abs=1e-6)
    h.timer_at(due + 0.001)
    assert h.router.state == State.MASTER


def test_wrong_auth_pass_after_a_reload_of_the_master(harness_for: Any) -> None:
    """Issue 24 item 1: the master reloaded with another auth_pass (VRRPv2 PASS)."""
    h = harness_for(version=2, advert_int=1.0, auth_type=AUTH_PASS, auth_data=b"secret")
    due = _steady_state(h)
    for _ in range(6):
        h.send(110, auth=b"other")
        h.read()
    assert h.due() == pytest.approx(due, abs=1e-6)
    h.timer_at(due + 0.001)
    assert h.router.state == State.MASTER


def test_absorbed_copies_keep_the_master_alive_and_are_counted(harness_for: Any) -> None:
    """The shortcut's own promise: absorbed copies restart the timer from the last one."""
    h = harness_for()
    first = _steady_state(h)
    time.sleep(0.05)
    h.send(110)
    h.read()
    later = h.due()
    assert later > first + 0.04
    h.timer_at(first + 0.001)
    assert h.router.state == State.BACKUP
    h.timer_at(later + 0.001)
    assert h.router.state == State.MASTER
    assert h.router.stats.advert_rcvd == 5


def test_v2_same_payload_other_destination_is_not_absorbed(harness_for: Any) -> None:
    """VRRPv2's checksum does not cover the addresses: the master's very payload sent unicast
    to us is byte-identical; the socket must compare the destination (and the core reject it)."""
    h = harness_for(version=2, advert_int=1.0)
    due = _steady_state(h)
    for _ in range(4):
        h.send(110, dst=ME)
        h.read()
        assert h.due() == pytest.approx(due, abs=1e-6)
    h.timer_at(due + 0.001)
    assert h.router.state == State.MASTER


def test_v2_same_payload_other_source_is_not_absorbed(harness_for: Any) -> None:
    """A unicast instance checking its peers: the master's very payload (VRRPv2) from a host
    that is no peer must reach the core (and be refused), not be absorbed as a copy."""
    h = harness_for(version=2, advert_int=1.0, unicast_peers=(UnicastPeer(MASTER),), check_unicast_src=True)
    for _ in range(4):
        h.send(110, dst=ME)
        h.read()
    assert h.inst.shortcut is not None and h.sock.rx_absorbed >= 3
    due = h.due()
    for _ in range(4):
        h.send(110, src=THIRD, dst=ME)
        h.read()
        assert h.due() == pytest.approx(due, abs=1e-6)
    h.timer_at(due + 0.001)
    assert h.router.state == State.MASTER
