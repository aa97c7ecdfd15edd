"""RouterParams.from_model on configurations parsed by the real config loader."""

from __future__ import annotations

import pytest

from pykeepalived.config import load_text
from pykeepalived.config.model import Config
from pykeepalived.core.params import AUTH_NONE, AUTH_PASS, RouterParams, UnicastPeer, VipSpec
from pykeepalived.core.vrrp import State

from .lan import Lan

IFACES = frozenset({"eth0", "eth1"})


def parse(text: str) -> Config:
    result = load_text(text, interfaces=IFACES)
    assert result.config is not None, [d.format() for d in result.diagnostics]
    return result.config


def instance(body: str, global_defs: str = "") -> RouterParams:
    config = parse(f"global_defs {{\n{global_defs}\n}}\nvrrp_instance VI_1 {{\n{body}\n}}\n")
    return RouterParams.from_model(config.vrrp_instances[0], config.global_defs)


BASE = """
interface eth0
virtual_router_id 51
"""


def test_defaults_and_vips() -> None:
    """Defaults of keepalived (priority 100, v2, 1 s, garp 5/5 s) and VIP options carried over."""
    p = instance(BASE + "virtual_ipaddress {\n192.168.77.100/24 dev eth1 label eth1:v no_track\n}")
    assert (p.priority, p.version, p.advert_int, p.family, p.group) == (100, 2, 1.0, 4, "224.0.0.18")
    assert (p.garp_master_repeat, p.garp_master_delay, p.garp_lower_prio_repeat) == (5, 5.0, 5)
    assert p.vips == (VipSpec("192.168.77.100", prefixlen=24, dev="eth1", label="eth1:v", no_track=True),)
    assert p.accept and not p.strict and p.auth_type == AUTH_NONE


def test_unicast_auth_and_globals() -> None:
    """Unicast peers with their TTL range imply the source check; PASS is truncated to 8 bytes;
    global knobs flow into the instance."""
    p = instance(BASE + """
        priority 110
        unicast_src_ip 192.168.77.1
        unicast_peer {
          192.168.77.2 min_ttl 250
        }
        authentication {
          auth_type PASS
          auth_pass secret123
        }
        virtual_ipaddress {
          192.168.77.100
        }""", "vrrp_lower_prio_no_advert\nvrrp_min_garp\nvrrp_garp_master_refresh 60")
    assert p.unicast_peers == (UnicastPeer("192.168.77.2", 250, 255),) and p.check_unicast_src
    assert p.source_address == "192.168.77.1"
    assert (p.auth_type, p.auth_data, p.auth_bytes) == (AUTH_PASS, b"secret12", b"secret12")
    assert p.lower_prio_no_advert
    assert (p.garp_master_repeat, p.garp_master_delay, p.garp_master_refresh) == (1, 0.0, 60.0)


def test_ipv6_is_version_3_and_rounds_the_interval() -> None:
    """An IPv6 instance is VRRPv3 on ff02::12 with the interval rounded to 10 ms."""
    p = instance(BASE + "advert_int 0.123\nvirtual_ipaddress {\nfe80::10\n2001:db8::10/64\n}")
    assert (p.family, p.version, p.advert_int, p.group) == (6, 3, 0.12, "ff02::12")


def test_strict_mode_effects() -> None:
    """vrrp_strict: no accept for non-owners, lower_prio_no_advert, owner_ignore_adverts, no
    lower-priority GARP burst, no higher_prio_send_advert."""
    p = instance(BASE + "priority 100\nhigher_prio_send_advert\nvirtual_ipaddress {\n192.168.77.100\n}",
                 "vrrp_strict")
    assert p.strict and not p.accept and p.lower_prio_no_advert and p.owner_ignore_adverts
    assert (p.garp_lower_prio_repeat, p.higher_prio_send_advert) == (0, False)


def test_owner_by_state_master() -> None:
    """state MASTER without priority makes an address owner (255)."""
    p = instance(BASE + "state MASTER\nvirtual_ipaddress {\n192.168.77.100\n}")
    assert p.priority == 255 and p.is_owner


def test_invalid_params_name_the_problem() -> None:
    """Impossible values raise one ValueError naming the instance and the value."""
    with pytest.raises(ValueError, match=r"vrrp_instance X: virtual_router_id 0 not in 1..255"):
        RouterParams(name="X", vrid=0)


CONF = """
vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 51
  priority {prio}
  advert_int 0.5
  version 3
  virtual_ipaddress {{
    192.168.77.100/24
  }}
}}
"""


def test_parsed_configs_elect_on_the_lan() -> None:
    """Two routers built from parsed keepalived.conf files elect the higher priority."""
    lan = Lan()
    for name, addr, prio in (("a", "192.168.77.1", 150), ("b", "192.168.77.2", 100)):
        cfg = parse(CONF.format(prio=prio))
        lan.add(name, addr, RouterParams.from_model(cfg.vrrp_instances[0], cfg.global_defs))
    lan.start()
    lan.run_for(20)
    assert lan.masters() == ["a"] and lan["b"].state == State.BACKUP
    assert lan["a"].router.adver_int == 0.5
