"""Reload diff between two loaded configs."""

from __future__ import annotations

from cfg_netns import NS_INTERFACES

from pykeepalived.config import load_text
from pykeepalived.config.model import Config
from pykeepalived.config.reload import diff_configs


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


def test_identical_configs_keep_everything() -> None:
    d = diff_configs(cfg(OLD), cfg(OLD))
    assert d.instances.unchanged and [v.name for v in d.instances.kept] == ["A", "B", "C"]
    assert all(x.virtual_ipaddress.unchanged for x in d.instance_details.values())
    assert d.virtual_servers.unchanged and len(d.virtual_servers.kept) == 2
    assert not d.global_defs_changed


def test_moving_blocks_is_not_a_change() -> None:
    moved = "\n\n# a comment moves everything down\n\n" + OLD
    d = diff_configs(cfg(OLD), cfg(moved))
    assert d.instances.unchanged and d.virtual_servers.unchanged


def test_added_removed_changed() -> None:
    new = (inst("A", 1, 100, ["10.0.0.1/24", "10.0.0.3/24"], ["10.8.0.0/16 via 10.0.0.254 dev eth0"],
                ["from 10.0.0.0/24 table 100 preference 100"])
           + inst("B", 2, 150, ["10.0.1.1/24"]) + inst("D", 4, 100, ["10.0.3.1/24"])
           + vs("192.168.0.1", [("192.168.1.1", 5), ("192.168.1.3", 1)]) + vs("192.168.0.3", [("192.168.3.1", 1)]))
    d = diff_configs(cfg(OLD), cfg(new))
    assert [v.name for v in d.instances.added] == ["D"]
    assert [v.name for v in d.instances.removed] == ["C"]
    assert sorted(b.name for _, b in d.instances.changed) == ["A", "B"]
    a = d.instance_details["A"]
    assert [str(x.address) for x in a.virtual_ipaddress.added] == ["10.0.0.3/24"]
    assert [str(x.address) for x in a.virtual_ipaddress.removed] == ["10.0.0.2/24"]
    assert [str(x.address) for x in a.virtual_ipaddress.kept] == ["10.0.0.1/24"]
    assert [str(r.dst) for r in a.virtual_routes.added] == ["10.8.0.0/16"]
    assert [str(r.dst) for r in a.virtual_routes.removed] == ["10.9.0.0/16"]
    assert a.virtual_rules.unchanged
    b = d.instance_details["B"]
    assert b.virtual_ipaddress.unchanged  # only the priority changed
    assert [v.key for v in d.virtual_servers.added] == ["192.168.0.3:80/TCP"]
    assert [v.key for v in d.virtual_servers.removed] == ["192.168.0.2:80/TCP"]
    rs = d.virtual_server_details["192.168.0.1:80/TCP"].real_servers
    assert [str(r.address) for r in rs.added] == ["192.168.1.3"]
    assert [str(r.address) for r in rs.removed] == ["192.168.1.2"]
    assert [(str(o.address), o.weight, n.weight) for o, n in rs.changed] == [("192.168.1.1", 1, 5)]


def test_static_and_global_changes() -> None:
    old = "global_defs {\n  router_id a\n}\nstatic_ipaddress {\n  10.5.0.1/24 dev eth0\n}\n" \
          "static_routes {\n  10.6.0.0/16 via 10.5.0.254 dev eth0\n}\nstatic_rules {\n  from 10.5.0.0/24 table 7\n}\n"
    new = old.replace("router_id a", "router_id b").replace("10.5.0.1/24", "10.5.0.2/24") \
        .replace("table 7", "table 8")
    d = diff_configs(cfg(old), cfg(new))
    assert d.global_defs_changed
    assert len(d.static_ipaddress.added) == 1 and len(d.static_ipaddress.removed) == 1
    assert d.static_routes.unchanged
    assert len(d.static_rules.added) == 1 and len(d.static_rules.removed) == 1
