"""core/engine.py and the effects the router now names itself: virtual routes and rules,
no_accept drop rules, sync-group routing, tracking, start-up order, interface delays."""

from __future__ import annotations

import dataclasses

from pykeepalived.config import load_text
from pykeepalived.config.model import Config
from pykeepalived.core.actions import (
    AddNoAcceptRules,
    AddVips,
    InstallRoutes,
    Notify,
    RemoveNoAcceptRules,
    RemoveRoutes,
    RemoveVips,
)
from pykeepalived.core.engine import VrrpEngine
from pykeepalived.core.events import DeadlineReached, FaultChanged, Shutdown
from pykeepalived.core.params import RouterParams
from pykeepalived.core.sync_group import SyncGroup
from pykeepalived.core.vrrp import State, VirtualRouter

from .helpers import ME, VIP, kinds, params
from .lan import Lan

IFACES = frozenset({"eth0", "eth1"})

CONF = """
global_defs {
}
interface_up_down_delays {
  eth1 0.5 2
}
vrrp_script chk {
  script "/bin/true"
  weight -20
}
vrrp_sync_group SG {
  group {
    VI_2
    VI_3
  }
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  no_accept
  virtual_ipaddress {
    192.168.77.100/24
  }
  virtual_routes {
    192.168.200.0/24 via 192.168.77.254
  }
  virtual_rules {
    from 192.168.77.100 table 100
  }
  track_script {
    chk
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  virtual_ipaddress {
    192.168.77.101/24
  }
}
vrrp_instance VI_3 {
  interface eth1
  virtual_router_id 53
  virtual_ipaddress {
    192.168.78.101/24
  }
}
"""


def parse(text: str) -> Config:
    result = load_text(text, interfaces=IFACES)
    assert result.config is not None, [d.format() for d in result.diagnostics]
    return result.config


@dataclasses.dataclass(eq=False)
class Unit:
    router: VirtualRouter


def engine_of(config: Config) -> VrrpEngine[Unit]:
    units = []
    for vi in config.vrrp_instances:
        p = RouterParams.from_model(vi, config.global_defs)
        units.append(Unit(VirtualRouter(dataclasses.replace(p, source_address=ME))))
    return VrrpEngine.from_config(config, units)


def test_routes_and_drop_rules_are_actions_of_the_transition() -> None:
    """Entering MASTER names the no_accept drop rules (before the VIPs) and the virtual routes
    and rules (before the notify); leaving it names their removal the same way."""
    config = parse(CONF)
    engine = engine_of(config)
    engine.prepare_startup(0.0, {}, lambda name: True)
    out = [(u.router.name, a) for unit in engine.startup_units() for u, acts in engine.start_unit(unit, 0.0)
           for a in acts]
    vi1 = engine.by_name["VI_1"]
    assert vi1.router.state == State.BACKUP
    assert [type(a) for n, a in out if n == "VI_1"] == [RemoveNoAcceptRules, RemoveVips, Notify]
    [(unit, actions)] = engine.handle(vi1, DeadlineReached(), 10.0)
    assert unit is vi1 and vi1.router.state == State.MASTER
    names = kinds(actions)
    assert names.index("AddNoAcceptRules") == names.index("AddVips") - 1
    assert names[-2:] == ["InstallRoutes", "Notify"]
    add = next(a for a in actions if isinstance(a, AddNoAcceptRules))
    assert add.addresses == ("192.168.77.100",)
    routes = next(a for a in actions if isinstance(a, InstallRoutes))
    assert [str(r.dst) for r in routes.routes] == ["192.168.200.0/24"] and len(routes.rules) == 1
    [(_, actions)] = engine.handle(vi1, Shutdown(), 11.0)
    names = kinds(actions)
    assert names.index("RemoveNoAcceptRules") == names.index("RemoveVips") - 1
    assert names[-2:] == ["RemoveRoutes", "Notify"]
    assert isinstance(actions[-2], RemoveRoutes) and actions[-2].routes == routes.routes


def test_an_accept_master_without_routes_names_neither() -> None:
    r = VirtualRouter(params(priority=255))
    engine = VrrpEngine([Unit(r)])
    [(_, actions)] = engine.start_unit(engine.units[0], 0.0)
    assert r.state == State.MASTER
    assert not any(isinstance(a, AddNoAcceptRules | InstallRoutes) for a in actions)
    assert any(isinstance(a, AddVips) for a in actions)


def test_reconfigure_names_the_route_changes_of_a_master() -> None:
    config = parse(CONF)
    new = parse(CONF.replace("192.168.200.0/24 via 192.168.77.254", "192.168.201.0/24 via 192.168.77.254"))
    engine = engine_of(config)
    vi1 = engine.by_name["VI_1"]
    engine.start_unit(vi1, 0.0)
    engine.handle(vi1, DeadlineReached(), 10.0)
    p = dataclasses.replace(RouterParams.from_model(new.vrrp_instances[0], new.global_defs), source_address=ME)
    actions = vi1.router.reconfigure(p, 11.0)
    assert kinds(actions) == ["RemoveRoutes", "InstallRoutes"]
    gone, added = actions
    assert isinstance(gone, RemoveRoutes) and [str(r.dst) for r in gone.routes] == ["192.168.200.0/24"]
    assert isinstance(added, InstallRoutes) and [str(r.dst) for r in added.routes] == ["192.168.201.0/24"]
    assert gone.rules == added.rules == ()


def test_sync_group_routing_and_start_units() -> None:
    """Config order; the sync group's members start as one unit; its events go through it."""
    engine = engine_of(parse(CONF))
    units = engine.startup_units()
    assert units[0] is engine.by_name["VI_1"] and isinstance(units[1], SyncGroup) and len(units) == 2
    assert set(engine.group_of) == {"VI_2", "VI_3"}
    engine.prepare_startup(0.0, {}, lambda name: True)
    for unit in units:
        engine.start_unit(unit, 0.0)
    vi2, vi3 = engine.by_name["VI_2"], engine.by_name["VI_3"]
    pairs = engine.handle(vi2, FaultChanged("x", True), 1.0)
    assert {u.router.name for u, _ in pairs} == {"VI_2", "VI_3"}
    assert vi2.router.state == vi3.router.state == State.FAULT


def test_tracking_turns_a_result_into_events() -> None:
    engine = engine_of(parse(CONF))
    engine.prepare_startup(0.0, {}, lambda name: True)
    for unit in engine.startup_units():
        engine.start_unit(unit, 0.0)
    events = engine.track("script", "chk", False)
    assert [u.router.name for u, _ in events] == ["VI_1"]
    assert engine.values[("script", "chk")] is False


def test_missing_tracked_interface_is_ignored_unless_dynamic() -> None:
    text = CONF.replace("  track_script {\n    chk\n  }\n", "  track_interface {\n    eth9\n  }\n")
    for dynamic, state in ((False, State.BACKUP), (True, State.FAULT)):
        config = parse(text.replace("global_defs {", "global_defs {\n  dynamic_interfaces" if dynamic else
                                    "global_defs {"))
        engine = engine_of(config)
        engine.prepare_startup(0.0, {}, lambda name: None)
        engine.start_unit(engine.by_name["VI_1"], 0.0)
        assert engine.by_name["VI_1"].router.state == state


def test_interface_delays_hold_and_cancel() -> None:
    """interface_up_down_delays: held for the delay (down 0.5 s, up 2 s); a change back within
    it cancels both; an interface without delays passes at once."""
    engine = engine_of(parse(CONF))
    assert engine.delay_link(1, "eth0", False, 0.0) is False
    assert engine.delay_link(2, "eth1", False, 0.0) is True
    assert engine.link_deadline() == 0.5
    assert engine.due_links(0.4) == []
    assert engine.due_links(0.5) == [(2, False)]
    assert engine.delay_link(2, "eth1", False, 0.5) is False     # the held change, delivered
    assert engine.delay_link(2, "eth1", True, 1.0) is True
    assert engine.delay_link(2, "eth1", False, 2.0) is True      # back within the delay: both dropped
    assert engine.link_deadline() is None


def test_lan_moves_routes_and_drop_rules_with_mastership() -> None:
    """The simulated LAN performs the engine's actions: routes and drop rules follow MASTER."""
    config = parse(CONF)
    p = RouterParams.from_model(config.vrrp_instances[0], config.global_defs)
    lan = Lan()
    lan.add("a", "192.168.77.1", dataclasses.replace(p, priority=150))
    lan.add("b", "192.168.77.2", p)
    lan.start()
    lan.run_for(10)
    assert lan.masters() == ["a"]
    assert lan["a"].routes_up and lan["a"].no_accept and not lan["b"].routes_up and not lan["b"].no_accept
    lan.kill("a")
    lan.run_for(10)
    assert lan["b"].routes_up and lan["b"].no_accept and VIP.address == "192.168.77.100"
