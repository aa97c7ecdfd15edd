"""Reload identity and equality (config/reload.py) as the VRRP child's reload uses them."""

from __future__ import annotations

from cfg_netns import NS_INTERFACES

from pykeepalived.config import load_text
from pykeepalived.config.model import Config, VrrpInstance
from pykeepalived.config.reload import delta, route_key, rule_key, same


def cfg(text: str) -> Config:
    r = load_text(text, interfaces=NS_INTERFACES)
    assert r.config is not None, [d.format() for d in r.diagnostics]
    return r.config


def inst(name: str, vrid: int, prio: int, vips: list[str], routes: list[str] = (), rules: list[str] = ()) -> str:
    out = [f"vrrp_instance {name} {{", "  interface eth0", f"  virtual_router_id {vrid}", f"  priority {prio}",
           "  virtual_ipaddress {", *[f"    {v}" for v in vips], "  }"]
    if routes:
        out += ["  virtual_routes {", *[f"    {r}" for r in routes], "  }"]
    if rules:
        out += ["  virtual_rules {", *[f"    {r}" for r in rules], "  }"]
    return "\n".join(out + ["}"]) + "\n"


def vs(addr: str, rss: list[tuple[str, int]]) -> str:
    out = [f"virtual_server {addr} 80 {{", "  lb_algo rr", "  lb_kind NAT", "  protocol TCP"]
    for a, w in rss:
        out += [f"  real_server {a} 80 {{", f"    weight {w}", "    TCP_CHECK {", "    }", "  }"]
    return "\n".join(out + ["}"]) + "\n"


OLD = (inst("A", 1, 100, ["10.0.0.1/24", "10.0.0.2/24"], ["10.9.0.0/16 via 10.0.0.254 dev eth0"],
            ["from 10.0.0.0/24 table 100 preference 100"])
       + inst("B", 2, 100, ["10.0.1.1/24"]) + inst("C", 3, 100, ["10.0.2.1/24"])
       + vs("192.168.0.1", [("192.168.1.1", 1), ("192.168.1.2", 1)]) + vs("192.168.0.2", [("192.168.2.1", 1)]))


def _vi(config: Config, name: str) -> VrrpInstance:
    v = config.vrrp_instance(name)
    assert v is not None
    return v


def test_identical_configs_keep_everything() -> None:
    old, new = cfg(OLD), cfg(OLD)
    d = delta(_vi(old, "A").virtual_routes, _vi(new, "A").virtual_routes, route_key)
    assert d.unchanged and len(d.kept) == 1
    assert delta(_vi(old, "A").virtual_rules, _vi(new, "A").virtual_rules, rule_key).unchanged


def test_moving_blocks_is_not_a_change() -> None:
    """Positions differ (every line moved down), values do not: kept, not changed."""
    old, moved = cfg(OLD), cfg("\n\n# a comment moves everything down\n\n" + OLD)
    assert _vi(old, "A") != _vi(moved, "A")            # the positions differ ...
    assert same(_vi(old, "A"), _vi(moved, "A"))         # ... and nothing else
    d = delta(_vi(old, "A").virtual_routes, _vi(moved, "A").virtual_routes, route_key)
    assert d.unchanged and len(d.kept) == 1


def test_added_removed_changed() -> None:
    new = cfg(inst("A", 1, 100, ["10.0.0.1/24"], ["10.8.0.0/16 via 10.0.0.254 dev eth0",
                                                  "10.9.0.0/16 via 10.0.0.253 dev eth0"],
                   ["from 10.0.0.0/24 table 100 preference 100", "from 10.1.0.0/24 table 100 preference 101"]))
    old = cfg(OLD)
    routes = delta(_vi(old, "A").virtual_routes, _vi(new, "A").virtual_routes, route_key)
    assert [str(r.dst) for r in routes.added] == ["10.8.0.0/16"]
    assert [(str(o.dst), str(n.dst)) for o, n in routes.changed] == [("10.9.0.0/16", "10.9.0.0/16")]  # new gateway
    assert not routes.removed
    rules = delta(_vi(old, "A").virtual_rules, _vi(new, "A").virtual_rules, rule_key)
    assert len(rules.added) == 1 and len(rules.kept) == 1 and not rules.removed
    gone = delta(_vi(old, "A").virtual_routes, (), route_key)
    assert [str(r.dst) for r in gone.removed] == ["10.9.0.0/16"]
