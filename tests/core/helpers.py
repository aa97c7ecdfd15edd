"""Small builders shared by the core tests: params, adverts from the real codec, drivers."""

from __future__ import annotations

import ipaddress
from typing import Any

from pykeepalived._fastpath import (
    codec,  # the active twin: compiled, or pure under PYKEEPALIVED_NO_EXTENSIONS
)

from pykeepalived.core import timing
from pykeepalived.core.actions import Action
from pykeepalived.core.events import AdvertReceived, DeadlineReached, Startup
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.core.vrrp import State, VirtualRouter

VIP = VipSpec("192.168.77.100")
ME = "192.168.77.1"
PEER = "192.168.77.2"
GROUP = "224.0.0.18"


def packed(addr: str) -> bytes:
    return ipaddress.ip_address(addr).packed


def params(**kw: Any) -> RouterParams:
    base: dict[str, Any] = dict(name="VI_1", vrid=51, priority=100, vips=(VIP,), source_address=ME)
    base.update(kw)
    return RouterParams(**base)


def advert(p: RouterParams, priority: int = 100, *, src: str = PEER, dst: str | None = None,
           interval: float | None = None, vips: tuple[VipSpec, ...] | None = None,
           auth_type: int | None = None, auth_data: bytes | None = None, version: int | None = None,
           ttl: int = 255) -> AdvertReceived:
    """An advert from `src` as the real codec would decode it off the wire."""
    version = p.version if version is None else version
    dst = dst or (p.unicast_peers[0].address if p.unicast_peers else p.group)
    family = codec.AF_INET6 if p.family == 6 else codec.AF_INET
    vip_list = p.vips if vips is None else vips
    data = codec.encode_advert(
        version, p.vrid, priority, timing.wire_adver_int(version, p.advert_int if interval is None else interval),
        [v.packed for v in vip_list], family, packed(src), packed(dst),
        auth_type=p.auth_type if auth_type is None else auth_type,
        auth_data=p.auth_data if auth_data is None else auth_data)
    adv, reason = codec.decode_advert(data, family, packed(src), packed(dst))
    assert adv is not None, reason
    return AdvertReceived(adv, packed(src), packed(dst), ttl=ttl)


def backup(p: RouterParams | None = None, now: float = 0.0) -> VirtualRouter:
    r = VirtualRouter(p or params())
    r.handle(Startup(), now)
    assert r.state == State.BACKUP
    return r


def master(p: RouterParams | None = None) -> tuple[VirtualRouter, float]:
    p = p or params()
    if p.is_owner:
        r = VirtualRouter(p)
        r.handle(Startup(), 0.0)
        return r, 0.0
    r = backup(p)
    t = r.deadline()
    assert t is not None
    r.handle(DeadlineReached(), t)
    assert r.state == State.MASTER
    return r, t


def kinds(actions: list[Action]) -> list[str]:
    return [type(a).__name__ for a in actions]
