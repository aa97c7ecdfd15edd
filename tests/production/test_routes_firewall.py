"""virtual_routes / virtual_rules follow the master; no_accept drop rules in nftables;
static routes at start. Installed state is compared with what keepalived 2.2.7 installs."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from prod import global_defs, instance, start, wait_count

from harness.lab import Host, Lab
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

VIP = "192.0.2.100/24"
ROUTES = """    virtual_routes {
        10.9.0.0/16 via 192.0.2.1 dev eth0
        blackhole 10.8.0.0/16
        10.6.0.0/16 dev eth0 table 100 metric 7
    }
    virtual_rules {
        from 10.7.0.0/16 table 100 preference 100
        to 10.5.0.0/16 table main preference 101
    }
"""


def _routes(h: Host) -> list[tuple[Any, ...]]:
    out = json.loads(h.run(["ip", "-j", "route", "show", "table", "all", "proto", "keepalived"]).stdout)
    return sorted((r.get("type", "unicast"), r["dst"], r.get("gateway"), r.get("dev"), r.get("table", "main"),
                   r.get("metric")) for r in out)


def _rules(h: Host) -> list[tuple[Any, ...]]:
    out = json.loads(h.run(["ip", "-j", "rule", "show"]).stdout)
    return sorted((r["priority"], r.get("src"), r.get("srclen"), r.get("dst"), r.get("dstlen"), r.get("table"))
                  for r in out if r["priority"] in (100, 101))


EXPECTED_ROUTES = [("blackhole", "10.8.0.0/16", None, None, "main", None),
                   ("unicast", "10.6.0.0/16", None, "eth0", "100", 7),
                   ("unicast", "10.9.0.0/16", "192.0.2.1", "eth0", "main", None)]
EXPECTED_RULES = [(100, "10.7.0.0", 16, None, None, "100"), (101, "all", None, "10.5.0.0", 16, "main")]


def _normal(routes: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # `ip -j` omits the type for unicast routes
    return sorted(("unicast" if r[0] in (None, "unicast") else r[0], *r[1:]) for r in routes)


@pytest.mark.parametrize("peer", [pytest.param("ka", marks=pytest.mark.interop)])
def test_routes_and_rules_follow_the_master(lab: Lab, peer: str) -> None:
    a, b = lab.add_hosts("a", "b")
    da = start(a, "py", global_defs("router_id a") + instance("VI_1", 51, 150, [VIP], extra=ROUTES))
    da.wait_state("VI_1", "MASTER", timeout=15)
    wait_until(lambda: _normal(_routes(a)) == EXPECTED_ROUTES or None, 5, message=f"routes on a: {_routes(a)}")
    assert _rules(a) == EXPECTED_RULES
    da.wait_log(r"\(VI_1\) setting Virtual Routes", timeout=2)

    db = start(b, peer, global_defs("router_id b") + instance("VI_1", 51, 100, [VIP], extra=ROUTES))
    db.wait_state("VI_1", "BACKUP", timeout=10)
    time.sleep(0.5)
    assert _routes(b) == [] and _rules(b) == [], "the backup installed routes or rules"

    da.stop()                                   # b becomes master, a removes everything
    db.wait_state("VI_1", "MASTER", timeout=10)
    wait_until(lambda: _normal(_routes(b)) == EXPECTED_ROUTES or None, 5, message=f"routes on b: {_routes(b)}")
    assert _rules(b) == EXPECTED_RULES
    assert _routes(a) == [] and _rules(a) == []

    da = start(a, "py", global_defs("router_id a") + instance("VI_1", 51, 150, [VIP], extra=ROUTES))
    wait_count(da, r"\(VI_1\) Entering MASTER STATE", 1, timeout=15)
    wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=5)
    wait_until(lambda: (_routes(b) == [] and _rules(b) == []) or None, 5, message="routes left on the new backup")
    wait_until(lambda: _normal(_routes(a)) == EXPECTED_ROUTES or None, 5, message="routes back on a")


@pytest.mark.interop
def test_routes_and_rules_same_as_keepalived(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    conf = global_defs("router_id x") + instance("VI_1", 51, 150, [VIP], extra=ROUTES)
    installed = {}
    for host, impl in ((a, "py"), (b, "ka")):
        d = start(host, impl, conf.replace("192.0.2.100", f"192.0.2.{100 + host.index}"))
        d.wait_state("VI_1", "MASTER", timeout=15)
        time.sleep(0.5)
        installed[impl] = (_normal(_routes(host)), _rules(host))
        d.stop()
    assert installed["py"] == installed["ka"]


def _nft(h: Host) -> dict[str, Any]:
    r = h.run(["nft", "-j", "list", "table", "ip", "keepalived"], check=False)
    if r.returncode != 0:
        return {}
    items = json.loads(r.stdout)["nftables"]
    out: dict[str, Any] = {"chains": {}, "rules": [], "set": None}
    for item in items:
        if "chain" in item:
            c = item["chain"]
            out["chains"][c["name"]] = (c.get("hook"), c.get("prio"), c.get("policy"))
        elif "rule" in item:
            out["rules"].append((item["rule"]["chain"], json.dumps(item["rule"]["expr"], sort_keys=True)))
        elif "set" in item:
            out["set"] = (item["set"]["name"], item["set"]["type"], sorted(item["set"].get("elem", [])))
    out["rules"].sort()
    return out


@pytest.mark.parametrize("impl", ["py", pytest.param("ka", marks=pytest.mark.interop)])
def test_no_accept_drop_rules(lab: Lab, impl: str) -> None:
    a, client = lab.add_hosts("a", "c")
    conf = global_defs("router_id a") + instance("VI_1", 51, 150, [VIP], extra="    no_accept\n")
    d = start(a, impl, conf)
    d.wait_state("VI_1", "MASTER", timeout=15)
    wait_until(lambda: _nft(a).get("set") or None, 5, message="nftables set")
    rules = _nft(a)
    assert rules["set"] == ("vips", "ipv4_addr", ["192.0.2.100"])
    assert rules["chains"] == {"in": ("input", -1, "accept"), "out": ("output", -1, "accept")}
    assert not client.ping("192.0.2.100", timeout=1), "a no_accept master answered on its VIP"
    assert client.ping(a.ip), "the node's own address must still answer"
    d.stop()
    assert _nft(a) == {}, "the keepalived table was left behind"


@pytest.mark.interop
def test_no_accept_table_same_as_keepalived(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    conf = global_defs("router_id x") + instance("VI_1", 51, 150, [VIP], extra="    no_accept\n")
    seen = {}
    for host, impl in ((a, "py"), (b, "ka")):
        d = start(host, impl, conf.replace("virtual_router_id 51", f"virtual_router_id {50 + host.index}"))
        d.wait_state("VI_1", "MASTER", timeout=15)
        wait_until(lambda h=host: _nft(h).get("set") or None, 5, message="nftables set")
        seen[impl] = _nft(host)
        d.stop()
    assert seen["py"] == seen["ka"]


def test_static_routes_and_addresses(lab: Lab) -> None:
    (a,) = lab.add_hosts("a")
    conf = (global_defs("router_id a")
            + "static_ipaddress {\n    192.0.2.200/24 dev eth0\n}\n"
            + "static_routes {\n    10.4.0.0/16 via 192.0.2.1 dev eth0\n}\n"
            + "static_rules {\n    from 10.3.0.0/16 table 100 preference 102\n}\n"
            + instance("VI_1", 51, 150, [VIP]))
    d = start(a, "py", conf)
    d.wait_state("VI_1", "BACKUP", timeout=10)
    wait_until(lambda: a.has_address("192.0.2.200") or None, 5, message="static address")
    assert ("unicast", "10.4.0.0/16", "192.0.2.1", "eth0", "main", None) in _normal(_routes(a))
    assert any(r["priority"] == 102 for r in json.loads(a.run(["ip", "-j", "rule"]).stdout))
    a.ip_cmd("addr", "del", "192.0.2.200/24", "dev", "eth0")     # someone deletes it: it comes back
    wait_until(lambda: a.has_address("192.0.2.200") or None, 5, message="static address not reinstated")
    d.stop()
