"""-X / -V on exit, and the status socket, with the real VRRP child in namespaces (issue 6 item 7).

* `-X/--release-vips`: a BACKUP removes copies of its VIPs and its virtual routes at exit
  (keepalived's vrrp_restore_interface); without -X it leaves them alone;
* `-V/--dont-release-vrrp`: a MASTER leaves its VIPs at exit;
* the VRRP child's status socket (next to its pid file, *.sock) is gone after exit.
"""

from __future__ import annotations

import os
import time

import pytest

from harness import Host, Lab, wait_until
from harness.daemon import VrrpDaemon

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

VIP = "192.0.2.100"
ROUTE = "10.99.0.0/24"


def conf(priority: int, state: str = "BACKUP") -> str:
    return f"""global_defs {{
  vrrp_garp_master_delay 0
}}
vrrp_instance VI_1 {{
  state {state}
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int 1
  virtual_ipaddress {{
    {VIP}/24
  }}
  virtual_routes {{
    {ROUTE} dev eth0
  }}
}}
"""


def pyka(host: Host, text: str, name: str, *args: str) -> VrrpDaemon:
    os.environ.pop("PYKEEPALIVED_VRRP_ENTRY", None)
    return VrrpDaemon(host, text, implementation="pykeepalived", name=name, extra_args=args).start()


def has_route(host: Host) -> bool:
    return ROUTE in host.run(["ip", "-4", "route", "show", ROUTE]).stdout


def backup_with_leftovers(lab: Lab, *args: str) -> tuple[Host, VrrpDaemon]:
    """r1 is BACKUP behind r2; then r1 gets copies of the VIP and the route (a reload that lowered
    its priority, or a crashed run, would leave them)."""
    r1, r2 = lab.add_hosts("r1", "r2")
    master = pyka(r2, conf(200, "MASTER"), "master")
    master.wait_state("VI_1", "MASTER", 15)
    d = pyka(r1, conf(100), "backup", *args)
    d.wait_state("VI_1", "BACKUP", 15)
    time.sleep(1)
    r1.ip_cmd("addr", "add", f"{VIP}/24", "dev", "eth0")
    r1.ip_cmd("route", "add", ROUTE, "dev", "eth0", "proto", "18", "scope", "global")  # as we install it
    time.sleep(1)
    assert r1.has_address(VIP) and has_route(r1)
    return r1, d


def test_release_vips_removes_a_backups_leftover_vip_and_route_at_exit(lab: Lab) -> None:
    r1, d = backup_with_leftovers(lab, "-X")
    assert d.stop() == 0
    assert not r1.has_address(VIP)
    assert not has_route(r1)


def test_without_release_vips_a_backup_leaves_foreign_addresses_alone(lab: Lab) -> None:
    r1, d = backup_with_leftovers(lab)
    assert d.stop() == 0
    assert r1.has_address(VIP) and has_route(r1)


def test_dont_release_vrrp_keeps_the_masters_vip_and_the_status_socket_is_removed(lab: Lab) -> None:
    r1 = lab.add_host("r1")
    d = pyka(r1, conf(150, "MASTER"), "master", "-V")
    d.wait_state("VI_1", "MASTER", 15)
    wait_until(lambda: r1.has_address(VIP), 5)
    sock = d.vrrp_pid_file.with_suffix(".sock")
    wait_until(sock.exists, 5)
    assert d.stop() == 0
    assert r1.has_address(VIP)
    assert not sock.exists()
