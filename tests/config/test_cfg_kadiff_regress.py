"""Regressions found by the differential config fuzzer (fuzz/config_diff.py, issue 16): each case
is a file on which ours differed from keepalived 2.2.7 `-t` (run in a namespace with lo and eth0),
with keepalived's exit code and the line of its first located message ("(FILE: Line N)" or, for
a one-file configuration, "(Line N)"; None: no message names a line)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pykeepalived.config import load

IFS = frozenset({"lo", "eth0", "eth0p"})

# id -> (config, keepalived's exit code, line of its first located message)
CASES: dict[str, tuple[str, int, int | None]] = {
    # "There are N missing '}'s" is reported after the read, unlocated; the first located
    # message is the '{' that was not expected
    "missing-eob-unlocated": ("virtual_server 10.1.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n"
                              "  quorum 3 {\n  real_server 10.2.0.1 80 {\n    weight 1\n  }\n}\n", 5, 5),
    # keywords whose 2.2.7 handler ignores its parameters: no "Invalid value" (exit 0)
    "switch-ignores-value-instance": ("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  nopreempt 255\n"
                                      "  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n", 0, None),
    "switch-ignores-value-global": ("global_defs {\n  vrrp_strict maybe\n  enable_traps x\n}\n", 0, None),
    "switch-ignores-value-vs": ("virtual_server 10.1.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  alpha x\n"
                                "  real_server 10.2.0.1 80 {\n    weight 1\n  }\n}\n", 0, None),
    # process tuning is validated as 2.2.7's global_parser.c does (ours kept any value)
    "process-priority": ("global_defs {\n  router_id r\n  vrrp_priority 20\n}\n", 5, 3),
    "process-cpu-affinity": ("global_defs {\n  checker_cpu_affinity 100000\n}\n", 5, 2),
    "process-rt-priority": ("global_defs {\n  router_id r\n  bfd_rt_priority 100\n}\n", 5, 3),
    "process-rlimit": ("global_defs {\n  vrrp_rlimit_rttime x\n}\n", 5, 2),
    "process-rcv-bufs": ("global_defs {\n  process_monitor_rcv_bufs -1\n}\n", 5, 2),
    "process-rcv-bufs-force": ("global_defs {\n  vrrp_rlimit_rtime 5\n  lvs_netlink_cmd_rcv_bufs_force maybe\n}\n", 5, 3),
    "process-rx-bufs": ("global_defs {\n  vrrp_rx_bufs_multiplier 1\n  vrrp_rx_bufs_policy MTU ADVERT\n}\n", 5, 3),
    "process-missing": ("global_defs {\n  vrrp_priority\n}\n", 5, 2),
    # a bad regex_stack/regex_min_offset/regex_max_offset is only logged by 2.2.7 (exit 0)
    "regex-values-logged": ("virtual_server 10.1.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n"
                            "  real_server 10.2.0.1 80 {\n    HTTP_GET {\n      url {\n        path /\n"
                            "        regex_stack 99999999999999999999\n        regex_min_offset x\n"
                            "        regex_max_offset 1 2\n      }\n    }\n  }\n}\n", 0, None),
    # checks keepalived makes after the whole read are unlocated (vrrp_complete_instance, the
    # virtual server and sync group checks): the first located message is a later or no line
    "after-read-no-vip": ("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n}\n", 5, None),
    "after-read-sync-group": ("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n"
                              "  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n"
                              "vrrp_sync_group SG_1 {\n  group {\n    VI_1\n  }\n}\n", 5, None),
    "after-read-vs": ("virtual_server 10.1.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  quorum 5\n"
                      "  real_server 10.2.0.1 80 {\n    weight 1\n  }\n}\n", 5, None),
    "after-read-instance": ("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  vmac_xmit_base\n"
                            "  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n", 5, None),
    # lvs_flush_on_stop takes nothing or exactly "VS"
    "lvs-flush-on-stop-type": ("global_defs {\n  lvs_flush_onstop VS x\n  lvs_flush_on_stop vs\n}\n", 5, 3),
    # a checker's bind_if holds IFNAMSIZ - 1 = 15 characters
    "bind-if-too-long": ("virtual_server 10.1.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n"
                         "  real_server 10.2.0.1 80 {\n    TCP_CHECK {\n      bind_if eth0eth0eth0eth\n    }\n"
                         "    TCP_CHECK {\n      bind_if eth0eth0eth0eth0\n    }\n  }\n}\n", 5, 10),
    # ... but vrrp_instance's and vrrp_sync_group's smtp_alert read a <BOOL> (their handler is
    # declared with an unused strvec and reads it)
    "smtp-alert-instance-bool": ("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n"
                                 "  virtual_ipaddress {\n    10.0.0.1\n  }\n  smtp_alert 0\n}\n", 5, 7),
    # an empty track_group group block is an error, reported at its closing '}'
    "track-group-empty-group": ("track_group TG_1 {\n  group {\n\n  }\n}\n", 5, 4),
    "track-group-second-group": ("track_group TG_1 {\n  group {\n    eth0\n  }\n  group {\n    lo\n  }\n}\n", 5, 5),
    # block-end checks are reported at the block's closing '}'
    "block-end-checkers": ("virtual_server 10.1.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n"
                           "  real_server 10.2.0.1 80 {\n    MISC_CHECK {\n      delay_loop 1\n\n    }\n"
                           "    BFD_CHECK {\n    }\n  }\n}\n", 5, 9),
    "block-end-vrrp-script": ("vrrp_script chk {\n  weight 2\n\n}\n", 5, 4),
    "switch-ignores-value-bfd": ("bfd_instance b {\n  neighbor_ip 10.0.0.2\n  passive 1\n  checker x\n}\n", 0, None),
}


def first_line(path: Path) -> tuple[int, int | None]:
    r = load(str(path), interfaces=IFS)
    return r.exit_code, next((d.line for d in r.diagnostics if d.line is not None and d.file), None)


@pytest.mark.parametrize("cid", sorted(CASES))
def test_same_exit_and_first_located_line_as_keepalived(tmp_path: Path, cid: str) -> None:
    text, code, line = CASES[cid]
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    cwd = os.getcwd()
    try:
        assert first_line(path) == (code, line)
    finally:
        os.chdir(cwd)
