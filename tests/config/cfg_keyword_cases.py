"""Every keyword of the table written without its parameter, in a minimal valid context.

Used by test_cfg_keywords.py to compare our `-t` exit code with keepalived 2.2.7's."""

from __future__ import annotations

from pykeepalived.config.keywords.checkers import CHECKER_TABLES, URL
from pykeepalived.config.keywords.global_defs import GLOBAL_DEFS
from pykeepalived.config.keywords.root import ROOT
from pykeepalived.config.keywords.trackers import BFD_INSTANCE, TRACK_FILE, TRACK_PROCESS, VRRP_SCRIPT
from pykeepalived.config.keywords.virtual_server import REAL_SERVER, VIRTUAL_SERVER
from pykeepalived.config.keywords.vrrp_instance import VRRP_INSTANCE
from pykeepalived.config.keywords.vrrp_sync_group import SYNC_GROUP

VI = ("vrrp_instance V {{\n  interface eth0\n  virtual_router_id 1\n  {kw}\n  virtual_ipaddress {{\n    10.0.0.1\n"
      "  }}\n}}\n")
VS = ("virtual_server 10.3.0.1 80 {{\n  protocol TCP\n  lb_algo rr\n  lb_kind NAT\n  {vs}\n"
      "  real_server 10.4.0.1 80 {{\n    weight 1\n{body}\n  }}\n}}\n")
SYNC_TAIL = "vrrp_instance V {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    10.0.0.1\n  }\n}\n"


def cases() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for kw in sorted(GLOBAL_DEFS):
        out.append((f"global:{kw}", f"global_defs {{\n  {kw}\n}}\n"))
    for kw in sorted(VRRP_INSTANCE):
        if kw in ("interface", "virtual_router_id"):
            continue
        out.append((f"vrrp:{kw}", VI.format(kw=kw)))
    for kw in sorted(VIRTUAL_SERVER):
        out.append((f"vs:{kw}", VS.format(vs=kw, body="")))
    for kw in sorted(REAL_SERVER):
        if kw in CHECKER_TABLES:
            continue
        out.append((f"rs:{kw}", VS.format(vs="", body=f"    {kw}")))
    for ck, table in CHECKER_TABLES.items():
        for kw in sorted(table):
            if kw in ("url", "host"):
                continue
            url = "      url {\n        path /\n      }\n" if ck in ("HTTP_GET", "SSL_GET") else ""
            out.append((f"{ck}:{kw}", VS.format(vs="", body=f"    {ck} {{\n      {kw}\n{url}    }}")))
    for kw in sorted(URL):
        out.append((f"url:{kw}", VS.format(vs="", body=f"    HTTP_GET {{\n      url {{\n        path /\n        {kw}\n"
                                                        "      }\n    }")))
    for kw in sorted(VRRP_SCRIPT):
        out.append((f"script:{kw}", f"vrrp_script s {{\n  script /nonexistent\n  {kw}\n}}\n"))
    heads = {"sync": "vrrp_sync_group G {\n  group {\n    V\n  }\n", "tf": "track_file T {\n  file /tmp/x\n",
             "tp": "vrrp_track_process P {\n  process sshd\n", "bfd": "bfd_instance B {\n  neighbor_ip 10.0.0.9\n"}
    for name, table in (("sync", SYNC_GROUP), ("tf", TRACK_FILE), ("tp", TRACK_PROCESS),
                        ("bfd", BFD_INSTANCE)):
        for kw in sorted(table):
            out.append((f"{name}:{kw}", heads[name] + f"  {kw}\n}}\n" + (SYNC_TAIL if name == "sync" else "")))
    for kw in sorted(ROOT):
        if kw == "bfd_instance":  # keepalived 2.2.7 crashes (SIGSEGV) on a nameless bfd_instance
            continue
        out.append((f"root:{kw}", f"{kw}\n"))
    return out
