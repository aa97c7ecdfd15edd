"""A generator of semi-valid configs (mostly right, with typical mistakes) for differential
testing against keepalived 2.2.7's `-t`: see test_cfg_keywords.py."""

from __future__ import annotations

import random

GLOBAL = [("router_id", ["r1", ""]), ("vrrp_version", ["2", "3", "4", "x"]), ("vrrp_garp_master_delay", ["0", "5", "1.5", "-1", "abc"]),
          ("vrrp_garp_master_repeat", ["0", "3", "-2"]), ("vrrp_garp_master_refresh", ["0", "10", "x"]),
          ("vrrp_garp_interval", ["0.001", "0", "1"]), ("vrrp_gna_interval", ["0.5", "0"]), ("vrrp_strict", ["", "true"]),
          ("vrrp_down_timer_adverts", ["1", "3", "0", "101"]), ("vrrp_lower_prio_no_advert", ["", "false", "maybe"]),
          ("vrrp_mcast_group4", ["224.0.0.18", "10.0.0.1", "bad"]), ("vrrp_mcast_group6", ["ff02::12", "fe80::1"]),
          ("default_interface", ["eth0"]), ("smtp_connect_timeout", ["30", "0", "x"]), ("max_auto_priority", ["-1", "99", "100"]),
          ("umask", ["0077", "IRWXG|IRWXO", "zz"]), ("startup_script_timeout", ["1", "1000", "1001"]),
          ("vrrp_startup_delay", ["0", "5", "x"]), ("nftables", ["", "mytable"]), ("nftables_priority", ["-1", "x"]),
          ("dynamic_interfaces", ["", "allow_if_changes"]), ("vrrp_min_garp", ["", "true"]), ("json_version", ["1"]),
          ("lvs_timeouts", ["tcp 10 udp 5", "foo 1"]), ("lvs_flush", [""]), ("vrrp_check_unicast_src", [""]),
          ("random_seed", ["1", "x"]), ("bogus_global", ["1"])]
INST = [("state", ["MASTER", "BACKUP", "FOO"]), ("priority", ["1", "100", "254", "255", "0", "256", "x"]),
        ("advert_int", ["1", "2", "0.5", "1.5", "0.001", "300", "41", "x"]), ("version", ["2", "3", "1"]),
        ("nopreempt", [""]), ("preempt_delay", ["0", "10", "1001", "x"]), ("accept", [""]), ("no_accept", [""]),
        ("garp_master_delay", ["1", "x"]), ("garp_master_repeat", ["2", "-1"]), ("down_timer_adverts", ["2", "0"]),
        ("unicast_src_ip", ["10.0.0.9", "bad"]), ("mcast_src_ip", ["10.0.0.8"]), ("dont_track_primary", [""]),
        ("strict_mode", ["", "true", "false"]), ("smtp_alert", ["", "yes", "no"]), ("debug", ["0", "5"]),
        ("unicast_ttl", ["10", "256"]), ("use_vmac", [""]), ("vmac_xmit_base", [""]), ("skip_check_adv_addr", [""]),
        ("promote_secondaries", [""]), ("lower_prio_no_advert", [""]), ("bogus_inst", ["1"]),
        ("authentication", ["{\n    auth_type PASS\n    auth_pass secret\n  }", "{\n    auth_type AH\n    auth_pass x\n  }",
                            "{\n    auth_type XX\n  }"]),
        ("unicast_peer", ["{\n    10.0.0.20\n    10.0.0.21\n  }", "{\n    10.0.0.20\n    10.0.0.20\n  }", "{\n    bad\n  }"]),
        ("track_interface", ["{\n    eth0p\n  }", "{\n    eth0p weight 10\n  }", "{\n    eth0p weight 300\n  }", "{\n    eth9\n  }"]),
        ("virtual_routes", ["{\n    10.9.0.0/16 via 10.0.0.1 dev eth0\n  }", "{\n    blackhole 10.8.0.0/16\n  }", "{\n    10.7.0.0/16 dev eth0 table 100\n  }"]),
        ("virtual_rules", ["{\n    from 10.0.0.0/24 table 100 preference 10\n  }", "{\n    to 10.1.0.0/16 table 100\n  }"]),
        ("virtual_ipaddress_excluded", ["{\n    10.5.0.1/24\n  }", "{\n    fd00::9/64\n  }"])]
VIPS = ["10.0.0.1/24", "10.0.0.2", "10.0.0.3/24 dev eth0", "10.0.0.4/24 dev eth9", "10.0.0.5/24 label eth0:1",
        "10.0.0.6/24 brd 10.0.0.255", "10.0.0.7/24 scope host", "fd00::1/64", "fe80::1/64", "10.0.0.300/24", "10.0.0.8/24 bogus x"]
VS = [("lb_algo", ["rr", "wlc", "xyz"]), ("lvs_sched", ["sh"]), ("lb_kind", ["NAT", "DR", "TUN", "FOO"]), ("protocol", ["TCP", "UDP", "ICMP"]),
      ("persistence_timeout", ["", "60", "0", "x"]), ("delay_loop", ["6", "0", "x"]), ("quorum", ["1", "0", "5"]),
      ("hysteresis", ["0", "1"]), ("sorry_server", ["10.2.0.1 80", "bad 80"]), ("alpha", [""]), ("omega", [""]),
      ("ha_suspend", [""]), ("virtualhost", ["www"]), ("bogus_vs", ["1"])]
CHECKS = ["TCP_CHECK {\n      connect_timeout 3\n    }", "TCP_CHECK {\n      connect_timeout x\n    }",
          "HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }",
          "HTTP_GET {\n      url {\n        path /x\n        digest abc\n      }\n    }",
          "SSL_GET {\n      url {\n        path /\n      }\n    }", "PING_CHECK {\n    }", "UDP_CHECK {\n      payload 00ff\n    }",
          "DNS_CHECK {\n      type A\n      name example.com\n    }", "DNS_CHECK {\n      type BOGUS\n    }",
          "SMTP_CHECK {\n      helo_name x\n    }", "TCP_CHECK {\n      retry 3\n      delay_before_retry 2\n      connect_port 81\n    }",
          "BOGUS_CHECK {\n    }"]

def pick(rng: random.Random, opts: list[tuple[str, list[str]]], k: int) -> list[str]:
    out = []
    for kw, vals in rng.sample(opts, k):
        v = rng.choice(vals)
        out.append(f"  {kw} {v}".rstrip())
    return out

EXTRA = [
    "vrrp_script chk {\n  script /bin/true\n  weight 5\n}\n",
    "vrrp_script chk {\n  script /nonexistent/x\n  interval 0\n}\n",
    "vrrp_script chk {\n  script /nonexistent/x\n  rise 0\n  fall 2\n}\n",
    "track_file tf {\n  file /tmp/cfg-difffuzz-tf\n  weight 2\n}\n",
    "vrrp_sync_group G {\n  group {\n    VI_0\n    VI_1\n  }\n}\n",
    "vrrp_sync_group G {\n  group {\n    VI_0\n    VI_9\n  }\n}\n",
    "vrrp_sync_group G {\n  group {\n    VI_0\n  }\n  notify_master /nonexistent/n\n}\n",
    "static_ipaddress {\n  10.6.0.1/24 dev eth0\n  10.6.0.2/24 dev eth9\n}\n",
    "static_routes {\n  10.7.0.0/16 via 10.6.0.254 dev eth0\n  blackhole 10.8.0.0/16\n}\n",
    "static_rules {\n  from 10.6.0.0/24 table 10 priority 100\n  to bad table 10\n}\n",
    "garp_group {\n  garp_interval 0.1\n  interface eth0\n}\n",
    "interface_up_down_delays {\n  eth0 2 3\n}\n",
    "virtual_server_group VG {\n  10.9.0.1 80\n  10.9.0.2-5 80\n  fwmark 5\n}\n"
    "virtual_server group VG {\n  protocol TCP\n  lb_algo rr\n  lb_kind NAT\n"
    "  real_server 10.4.0.9 80 {\n    weight 1\n  }\n}\n",
]
TRACKS = ["  track_script {\n    chk\n  }", "  track_script {\n    chk weight 0\n  }",
          "  track_file {\n    tf\n  }", "  track_file {\n    tf weight -3 reverse\n  }",
          "  track_script {\n    nosuch\n  }"]


def gen(rng: random.Random) -> str:
    parts = [rng.choice(EXTRA) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.6:
        parts += ["global_defs {"] + pick(rng, GLOBAL, rng.randint(1, 4)) + ["}"]
    for i in range(rng.randint(0, 3)):
        body = [f"vrrp_instance VI_{i} {{", "  interface eth0", f"  virtual_router_id {rng.choice([i + 1, i + 1, 1, 300])}"]
        body += pick(rng, INST, rng.randint(0, 5))
        if rng.random() < 0.4:
            body.append(rng.choice(TRACKS))
        nv = rng.randint(0, 3)
        if nv:
            body += ["  virtual_ipaddress {"] + ["    " + rng.choice(VIPS) for _ in range(nv)] + ["  }"]
        parts += body + ["}"]
    for v in range(rng.randint(0, 2)):
        parts += [f"virtual_server 10.3.0.{v + 1} {rng.choice(['80', '80', '0', 'x'])} {{"] + pick(rng, VS, rng.randint(0, 4))
        for r in range(rng.randint(0, 2)):
            parts += [f"  real_server 10.4.0.{r + 1} 80 {{", f"    weight {rng.choice(['1', '0', '-1', 'x'])}",
                      "    " + rng.choice(CHECKS), "  }"]
        parts += ["}"]
    return "\n".join(parts) + "\n"



# ---- preprocessor-heavy configs (macros, conditionals, sequences, includes, comments) ---------

PP_ATOMS = ["$A", "${A}", "$B", "${B}", "$A,", "($A)", "$A/24", "${A}/24", "$UNDEF", "${_HASH}", "${_BANG}", "x\\#y",
            "a#b", "!c", '"q # r"', "\\!", "$M", "${M}", "$i", "${i}"]
PP_DEFS = ["$A=1", "$A=eth0", "$B=10.0.0.1", "$A=", "$B=$A", "$M=interface eth0 \\\nvirtual_router_id 7",
           "$C=include inc1.conf"]
INCLUDED = {"inc1.conf": "$INC=eth0\n", "inc2.conf": "global_defs {\n  vrrp_garp_master_repeat 3\n}\n"}


def _pp_line(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return rng.choice(PP_DEFS)
    if r < 0.25:
        return rng.choice(["@vm ", "@^vm ", "@other ", "@^other "]) + rng.choice(
            ["router_id a", "vrrp_version 3", "bogus", "vrrp_garp_master_delay $A"])
    if r < 0.32:
        return rng.choice(["~SEQ(i, 1, 2) ", "~SEQ(i, 3) ", "~SEQx(i, 9, 11) ", "~SEQ(i, 2, 1, 0) ", "~SEQ(i,1,$A) "]) \
            + rng.choice(["router_id r$i", "bogus$i", "vrrp_version ${i}", "$M"])
    if r < 0.38:
        return rng.choice(["include inc1.conf", "include inc*.conf", "include {inc1,inc2}.conf", "include nothere.conf",
                           "$C"])
    return rng.choice(["router_id", "vrrp_version", "vrrp_garp_master_delay", "notification_email_from",
                       "default_interface", "bogus"]) + " " + " ".join(rng.choice(PP_ATOMS)
                                                                      for _ in range(rng.randint(0, 2)))


def gen_preprocessor(rng: random.Random) -> str:
    """A config to load with config-id `vm` from a directory holding INCLUDED."""
    body = "\n".join("  " + _pp_line(rng) for _ in range(rng.randint(1, 8)))
    pre = "\n".join(rng.choice(PP_DEFS) for _ in range(rng.randint(0, 3)))
    return (pre + "\nglobal_defs {\n" + body + "\n}\nvrrp_instance V {\n  interface eth0\n  virtual_router_id 9\n"
            "  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n")


# ---- rule / route lines with a keyword left without its value ---------------------------------

RULE_KWS = ["from", "to", "table", "lookup", "preference", "priority", "pref", "order", "iif", "dev", "oif", "tos",
            "dsfield", "fwmark", "goto", "track_group", "realms", "uidrange", "protocol", "ip_proto", "ipproto",
            "sport", "dport", "suppress_prefixlength", "suppress_ifgroup", "tun_id", "map-to", "type"]
ROUTE_KWS = RULE_KWS + ["via", "gw", "or", "src", "metric", "scope", "mtu", "advmss", "hoplimit", "rtt", "rttvar",
                        "reordering", "window", "cwnd", "ssthresh", "rto_min", "initcwnd", "initrwnd", "features",
                        "quickack", "congctl", "expires", "encap", "as", "vrf", "nexthop", "ttl-propagate",
                        "fastopen_no_cookie", "proto"]
RULE_ROUTE_PREFIXES = ["", "from 10.0.0.0/8 table 5 ", "10.1.0.0/16 dev eth0 ", "fd00::/64 dev eth0 "]


def rule_route_cases() -> list[tuple[str, str]]:
    """(id, config): every rule/route keyword last on its line, alone or after a valid start."""
    out = []
    for block, kws in (("virtual_rules", RULE_KWS), ("virtual_routes", ROUTE_KWS)):
        for kw in kws:
            for k, pre in enumerate(RULE_ROUTE_PREFIXES):
                text = (f"vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 5\n  {block} {{\n"
                        f"    {pre}{kw}\n  }}\n  virtual_ipaddress {{\n    10.0.0.1\n  }}\n}}\n")
                out.append((f"{block}-{kw}-{k}", text))
    return out


# ---- more VIPs than an advert holds ---------------------------------------------------------------

def vip_count_config(rng: random.Random) -> tuple[str, int]:
    """An instance with a VIP count around what its advert can hold (255 IPv4; 89 IPv6 at MTU
    1500; fewer with AH), some eVIPs, sometimes a second instance: (config, VIP count)."""
    family = rng.choice([4, 4, 6])
    version = 3 if family == 6 else rng.choice([2, 3])
    auth = rng.choice(["", "", "PASS", "AH"]) if version == 2 else ""
    limit = 89 if family == 6 else 255
    n = rng.choice([limit - 1, limit, limit + 1, limit + rng.randint(2, 300), rng.randint(1, 40)])
    addr = (lambda i: f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}") if family == 4 else (lambda i: f"fd00::{i:x}")
    lines = ["vrrp_instance VI_1 {", "  interface eth0", "  virtual_router_id 5", f"  version {version}"]
    if auth:
        lines += ["  authentication {", f"    auth_type {auth}", "    auth_pass secret", "  }"]
    lines += ["  virtual_ipaddress {", *(f"    {addr(i)}" for i in range(1, n + 1)), "  }"]
    if rng.random() < 0.3:
        lines += ["  virtual_ipaddress_excluded {", "    192.0.2.9", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n", n


# ---- include graphs ---------------------------------------------------------------------------------

def include_graph(rng: random.Random, *, cyclic: bool) -> dict[str, str]:
    """Files f0.conf (the main one) .. fN.conf in one directory, each with an instance of its own
    and include lines (plain, brace sets, globs). Acyclic: edges only go to later files and
    globs never match an includer. Cyclic: at least one edge goes back (possibly to itself, or
    a glob matching the includer)."""
    n = rng.randint(2, 8)
    files: dict[str, str] = {}
    for i in range(n):
        targets = [j for j in range(i + 1, n) if rng.random() < 0.4]
        lines = []
        for j in targets:
            lines.append(rng.choice([f"include f{j}.conf", f"include {{f{j},nothere}}.conf", f"include ./f{j}.conf"]))
        if cyclic and (i == n - 1 or rng.random() < 0.3):
            back = rng.randint(0, i)
            lines.append(rng.choice([f"include f{back}.conf", "include f*.conf", f"include {{f{back},f{i}}}.conf"]))
        body = (f"vrrp_instance V{i} {{\n  interface eth0\n  virtual_router_id {i + 1}\n"
                f"  virtual_ipaddress {{\n    10.0.{i}.1\n  }}\n}}\n")
        if rng.random() < 0.5:
            files[f"f{i}.conf"] = "\n".join(lines) + "\n" + body
        else:
            files[f"f{i}.conf"] = body + "\n".join(lines) + "\n"
    return files


# ---- pathological macros ----------------------------------------------------------------------------

MACRO_LINES = ["$D=bogus \\\n$D \\\n$D", "$D=$D \\\n$D", "$E=$D \\\n$E", "$M=bogus $i \\\n$M", "$S=~SEQ(k, 1, 3) $S",
               "$L=~LST(v, a, b) $L \\\nbogus", "$A=$B", "$B=$A", "$A=~SEQ(i, 1, 50000) $A",
               "~SEQ(i, 1, 100000) ~SEQ(j, 1, 100000) bogus $i $j", "~SEQ(i, 1, 5) $D", "~LST(x, 1, 2) ~SEQ(y, 1, 9) $M",
               "$D", "$E", "$M", "$S", "$L", "$A", "${D}", "~SEQ(i, 1, 3) $E", "global_defs {", "}", "bogus $A $B"]


def gen_macro(rng: random.Random) -> str:
    """Definitions that use themselves or each other (multi-line too), nested ~SEQ/~LST, and their uses."""
    return "\n".join(rng.choice(MACRO_LINES) for _ in range(rng.randint(2, 8))) + "\n"
