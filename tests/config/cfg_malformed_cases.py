"""Malformed configurations: (id, text, expected -t exit code, line our first message names).

The exit codes are keepalived 2.2.7's (checked by test_malformed_interop against the real
binary in a namespace with lo + eth0). A line of None means the message is not tied to a line
(keepalived reports it after reading the file)."""

from __future__ import annotations

VI = """vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
{body}
    virtual_ipaddress {{
        10.0.0.1/24
    }}
}}
"""


# script security satisfied (root-owned /bin/true run as root), so only the case's own error counts
SAFE = ("global_defs {\n  enable_script_security\n  script_user root\n}\n"
        "vrrp_script chk {\n  script /bin/true\n  weight 10\n}\n")


def vi(body: str) -> str:
    return VI.format(body=body)


CASES: list[tuple[str, str, int, int | None]] = [
    ("unknown_root_keyword", "foo_bar 1\n", 5, 1),
    ("unknown_global_keyword", "global_defs {\n  router_id x\n  no_such_thing 1\n}\n", 5, 3),
    ("unknown_instance_keyword", vi("    prio 100"), 5, 4),
    ("missing_close_brace", "global_defs {\n  router_id x\n", 5, None),  # keepalived: unlocated
    ("extra_close_brace", "global_defs {\n  router_id x\n}\n}\n", 5, 4),
    ("unexpected_open_brace", "{\n}\n", 5, 1),
    ("priority_out_of_range", vi("    priority 300"), 5, 4),
    ("priority_zero", vi("    priority 0"), 5, 4),
    ("priority_not_number", vi("    priority high"), 5, 4),
    ("vrid_out_of_range", VI.replace("virtual_router_id 51", "virtual_router_id 256").format(body=""), 5, 3),
    ("advert_int_bad", vi("    advert_int abc"), 5, 4),
    ("advert_int_too_big", vi("    advert_int 300"), 5, 4),
    ("advert_int_v2_fraction", vi("    advert_int 1.5"), 5, 4),
    ("version_bad", vi("    version 4"), 5, 4),
    ("state_bad", vi("    state PRIMARY"), 5, 4),
    ("bad_vip", vi("").replace("10.0.0.1/24", "10.0.0.300/24"), 5, 6),
    ("bad_vip_text", vi("").replace("10.0.0.1/24", "not-an-ip"), 5, 6),
    ("nonexistent_interface", vi("").replace("interface eth0", "interface eth9"), 5, 2),
    ("nonexistent_track_interface", vi("    track_interface {\n        eth7\n    }"), 5, 5),
    ("vip_dev_missing", vi("").replace("10.0.0.1/24", "10.0.0.1/24 dev eth5"), 5, 6),
    ("garp_interval_zero", "global_defs {\n  vrrp_garp_interval 0\n}\n", 5, 2),
    ("gna_interval_zero", "global_defs {\n  vrrp_gna_interval 0\n}\n", 5, 2),
    ("garp_delay_bad", "global_defs {\n  vrrp_garp_master_delay x\n}\n", 5, 2),
    ("garp_repeat_negative", "global_defs {\n  vrrp_garp_master_repeat -1\n}\n", 5, 2),
    ("vrrp_version_bad", "global_defs {\n  vrrp_version 5\n}\n", 5, 2),
    ("down_timer_adverts_bad", "global_defs {\n  vrrp_down_timer_adverts 101\n}\n", 5, 2),
    ("backslash_not_continuation", "global_defs {\n  vrrp_garp_master_delay 3\\\n}\n", 5, 2),
    ("json_version_unknown_in_227", "global_defs {\n  json_version 2\n}\n", 5, 2),
    ("include_check_readable", "global_defs {\n  include_check readable\n}\n", 5, 2),
    ("script_security", "vrrp_script chk {\n  script /bin/true\n}\n" + vi("    track_script {\n        chk\n    }"),
     6, None),  # keepalived: unlocated (checked after the read)
    ("notify_security", vi('    notify_master "/bin/true"'), 6, None),
    ("vrrp_script_no_script", "vrrp_script chk {\n  interval 2\n}\n", 5, 3),  # keepalived: at the closing brace
    ("vrrp_script_interval_bad", "vrrp_script chk {\n  script /nonexistent/x\n  interval zz\n}\n", 5, 3),
    ("vrrp_script_weight_bad", "vrrp_script chk {\n  script /nonexistent/x\n  weight 300\n}\n", 5, 3),
    ("track_script_unknown", vi("    track_script {\n        nosuch\n    }"), 5, 5),
    ("unicast_peer_bad", vi("    unicast_peer {\n        10.0.0.999\n    }"), 5, 5),
    ("vs_bad_sched_and_kw", "virtual_server 10.0.0.1 80 {\n  lb_algo rr\n  bogus 1\n}\n", 5, 3),
    ("rs_weight_bad", "virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    weight x\n  }\n}\n", 5, 3),
    ("vs_quorum_zero", "virtual_server 10.0.0.1 80 {\n  quorum 0\n}\n", 5, 2),
    ("checker_connect_timeout_bad",
     "virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    TCP_CHECK {\n      connect_timeout x\n"
     "    }\n  }\n}\n", 5, 4),
    ("checker_unknown_keyword",
     "virtual_server 10.0.0.1 80 {\n  real_server 10.0.0.2 80 {\n    TCP_CHECK {\n      frobnicate 1\n"
     "    }\n  }\n}\n", 5, 4),
    ("sync_group_members_without_group", "vrrp_sync_group G {\n  VI_1\n}\n" + vi(""), 5, 2),
    ("bad_rule_address", vi("    virtual_rules {\n        to 192.168.1./24 table 100\n    }"), 5, 5),
    ("route_gw_deprecated", vi("    virtual_routes {\n        10.1.0.0/16 gw 10.0.0.254 dev eth0\n    }"), 5, 5),
    ("route_without_dev", vi("    virtual_routes {\n        10.1.0.0/16 via 10.0.0.254\n    }"), 5, 5),
    ("static_ipaddress_bad_dev", "static_ipaddress {\n  10.9.9.9/24 dev eth8\n}\n", 5, 2),
    ("seq_invalid", "~SEQ(i, 1, 0, 3) foo $i\n", 5, 1),
    ("unterminated_quote", 'global_defs {\n  router_id "abc\n}\n', 5, 2),
    ("smtp_connect_timeout_bad", "global_defs {\n  smtp_connect_timeout abc\n}\n", 5, 2),
    ("authentication_unknown_kw", vi("    authentication {\n        auth_type PASS\n        auth_foo 1\n    }"), 5, 6),
    ("empty_priority_stops", "vrrp_instance V {\n  priority\n}\n", 2, 2),
    ("empty_interface_stops", "vrrp_instance V {\n  interface\n}\n", 2, 2),
    ("empty_vrid_stops", "vrrp_instance V {\n  virtual_router_id\n}\n", 2, 2),
    ("no_vip", "vrrp_instance V {\n  interface eth0\n  virtual_router_id 5\n}\n", 5, None),  # after the read
    ("duplicate_vrid", "".join(f"vrrp_instance V{i} {{\n  interface eth0\n  virtual_router_id 5\n"
                               f"  virtual_ipaddress {{\n    10.0.{i}.1\n  }}\n}}\n" for i in range(2)), 5, 8),
    ("owner_weighted_script", SAFE + "vrrp_instance V {\n  interface eth0\n  virtual_router_id 1\n  priority 255\n"
     "  track_script {\n    chk\n  }\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n", 5, 14),
    ("track_own_interface", vi("    track_interface {\n        eth0 weight 5\n    }"), 5, 5),
    ("sync_group_weighted_script", SAFE + "vrrp_sync_group G {\n  group {\n    V1\n    V2\n  }\n}\n" + "".join(
        f"vrrp_instance V{i} {{\n  interface eth0\n  virtual_router_id {i}\n  track_script {{\n    chk\n  }}\n"
        f"  virtual_ipaddress {{\n    10.0.0.{i}\n  }}\n}}\n" for i in (1, 2)), 5, 19),
    ("sync_group_one_member", "vrrp_sync_group G {\n  group {\n    V1\n  }\n}\n" + vi("").replace("VI_1", "V1"),
     5, None),  # keepalived: after the read, unlocated
    ("sync_group_unknown_script", "vrrp_sync_group G {\n  group {\n    V1\n    V2\n  }\n  track_script {\n"
     "    nosuch\n  }\n}\n" + "".join(f"vrrp_instance V{i} {{\n  interface eth0\n  virtual_router_id {i}\n"
                                     f"  virtual_ipaddress {{\n    10.0.0.{i}\n  }}\n}}\n" for i in (1, 2)), 5, 7),
    ("script_user_unknown", "global_defs {\n  enable_script_security\n  script_user nosuchuser\n}\n"
     "vrrp_script chk {\n  script /bin/true\n}\n" + vi("    track_script {\n        chk\n    }"), 5, 3),
    ("script_user_colon_form", "global_defs {\n  enable_script_security\n  script_user root:root\n}\n"
     "vrrp_script chk {\n  script /bin/true\n}\n" + vi(""), 5, 3),
    ("vrrp_script_unknown_user", "global_defs {\n  enable_script_security\n}\nvrrp_script chk {\n  script /bin/true\n"
     "  user nosuchuser\n}\n" + vi(""), 5, 4),
    ("vrrp_script_missing_program", "global_defs {\n  enable_script_security\n}\nvrrp_script chk {\n"
     "  script /nonexistent/chk.sh\n}\n" + vi(""), 5, None),  # 'Disabling track script': after the read
    ("mcast_group4_bad", "global_defs {\n  vrrp_mcast_group4 10.1.1.1\n}\n", 5, 2),
    # an instance without `interface` (or with a typo in it) cannot run: keepalived's chk_min_cfg
    ("no_interface", "vrrp_instance VI_1 {\n  virtual_router_id 5\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n",
     5, 1),
    ("no_interface_typo", vi("").replace("interface eth0", "interfce eth0"), 5, 2),
    ("no_interface_default_interface", "global_defs {\n  default_interface eth0\n}\n"
     "vrrp_instance VI_1 {\n  virtual_router_id 5\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n", 5, 4),
    ("no_interface_unicast", "vrrp_instance VI_1 {\n  virtual_router_id 5\n  unicast_src_ip 10.0.0.8\n"
     "  unicast_peer {\n    10.0.0.9\n  }\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n", 5, 1),
    ("no_interface_second_instance", vi("") + "vrrp_instance VI_2 {\n  virtual_router_id 6\n  virtual_ipaddress {\n"
     "    10.0.0.2\n  }\n}\n", 5, 9),
    ("no_vrid", "vrrp_instance VI_1 {\n  interface eth0\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n", 5, 1),
    # a rule or route keyword without its value: keepalived reads the missing word and stops
    ("rule_to_without_value", vi("    virtual_rules {\n        to\n    }"), 2, 5),
    ("rule_from_table_to_without_value", vi("    virtual_rules {\n        from 10.0.0.0/8 table 5 to\n    }"), 2, 5),
    ("route_via_without_value", vi("    virtual_routes {\n        10.1.0.0/16 dev eth0 via\n    }"), 2, 5),
]
