"""Run pykeepalived's VRRP side in the foreground on one config file (for namespace tests).

    python tests/netns/vrrp_child.py CONFIG [keepalived options...]

Stands in for `pykeepalived -n -l -D -P -f CONFIG` until the daemon runs: loads the config,
logs to stderr in keepalived's console style and calls `run_vrrp`.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
from typing import Any

from pykeepalived.cli import build_parser
from pykeepalived.io.runtime import run_vrrp


def _mini_load(path: str) -> Any:
    """The few keywords the namespace tests use, for when the config loader is not there yet."""
    from pykeepalived.config import model as m

    text = re.sub(r"[#!].*", "", open(path).read())
    tokens = re.findall(r"[{}]|[^\s{}]+", text)
    pos = 0

    def block() -> list[Any]:
        nonlocal pos
        items: list[Any] = []
        line: list[Any] = []
        while pos < len(tokens):
            t = tokens[pos]
            pos += 1
            if t == "{":
                line.append(block())
            elif t == "}":
                break
            else:
                if line and not isinstance(line[-1], list) and t in KEYWORDS:
                    items.append(line)
                    line = []
                line.append(t)
        if line:
            items.append(line)
        return items

    KEYWORDS = {"global_defs", "vrrp_instance", "state", "interface", "virtual_router_id", "priority", "advert_int",
                "version", "virtual_ipaddress", "unicast_src_ip", "unicast_peer", "authentication", "auth_type",
                "auth_pass", "nopreempt", "vrrp_version", "router_id", "mcast_src_ip", "vrrp_garp_master_delay",
                "garp_master_delay", "vrrp_strict", "preempt_delay", "vrrp_garp_interval", "vrrp_gna_interval"}
    top = block()
    gd_kw: dict[str, Any] = {}
    instances = []
    for item in top:
        if item[0] == "global_defs":
            for kv in item[-1]:
                if kv[0] == "vrrp_version":
                    gd_kw["vrrp_version"] = int(kv[1])
                elif kv[0] == "vrrp_garp_master_delay":
                    gd_kw["vrrp_garp_master_delay"] = float(kv[1])
        elif item[0] == "vrrp_instance":
            kw: dict[str, Any] = {"name": item[1]}
            for kv in item[-1]:
                k = kv[0]
                if k in ("state", "interface"):
                    kw[k] = kv[1]
                elif k in ("virtual_router_id", "priority", "version"):
                    kw[k] = int(kv[1])
                elif k in ("advert_int", "garp_master_delay", "preempt_delay"):
                    kw[k] = float(kv[1])
                elif k == "nopreempt":
                    kw[k] = True
                elif k in ("unicast_src_ip", "mcast_src_ip"):
                    kw[k] = ipaddress.ip_address(kv[1])
                elif k == "virtual_ipaddress":
                    kw[k] = tuple(m.IpAddress(address=ipaddress.ip_interface(v[0])) for v in kv[-1])
                elif k == "unicast_peer":
                    kw[k] = tuple(m.UnicastPeer(address=ipaddress.ip_address(v[0])) for v in kv[-1])
                elif k == "authentication":
                    a = {v[0]: v[1] for v in kv[-1]}
                    kw[k] = m.Authentication(auth_type=a["auth_type"], auth_pass=a.get("auth_pass", "").encode()[:8])
            instances.append(m.VrrpInstance(**kw))
    gd = m.GlobalDefs(**gd_kw)
    return m.Config(global_defs=gd, vrrp_instances=tuple(vi.with_effective(gd) for vi in instances))


def main() -> int:
    opts = build_parser().parse_args(["-f", sys.argv[1], *sys.argv[2:]])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s: %(message)s")
    try:
        from pykeepalived.config import load

        result = load(opts.config_file)
    except ImportError:
        config = _mini_load(opts.config_file)
    else:
        for d in result.diagnostics:
            print(d.format(), file=sys.stderr)
        if result.config is None:
            return 1
        config = result.config
    return run_vrrp(config, opts)


if __name__ == "__main__":
    sys.exit(main())
