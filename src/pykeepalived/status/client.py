"""`pykeepalived status`: a readable table of the running daemon's instances and groups.

It reads the VRRP child's status channel directly (next to its pid file, like the
daemon's own -r option), or the HTTP status API with --url.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from pykeepalived.status.channel import channel_path, fetch_snapshot

DEFAULT_VRRP_PID = "/run/vrrp.pid"
DEFAULT_CHECKERS_PID = "/run/checkers.pid"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pykeepalived status",
                                description="Show the state of the running pykeepalived daemon.")
    p.add_argument("--json", action="store_true", help="print the raw state as JSON")
    p.add_argument("--url", help="read the HTTP status API at URL (e.g. http://127.0.0.1:9650)")
    p.add_argument("--token-file", help="bearer token for --url")
    p.add_argument("-r", "--vrrp_pid", dest="vrrp_pid_file", default=DEFAULT_VRRP_PID,
                   help="the daemon's VRRP pid file (default %(default)s)")
    p.add_argument("-c", "--checkers_pid", dest="checkers_pid_file", default=DEFAULT_CHECKERS_PID,
                   help="the daemon's checkers pid file (default %(default)s)")
    return p


def _from_url(url: str, token_file: str | None) -> dict[str, Any]:
    headers = {}
    if token_file:
        with open(token_file, encoding="utf-8") as f:
            headers["Authorization"] = f"Bearer {f.read().strip()}"

    def get(path: str) -> Any:
        req = urllib.request.Request(url.rstrip("/") + path, headers=headers)
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - operator-given URL
            return json.load(resp)

    return {"instances": get("/v1/vrrp/instances"), "sync_groups": get("/v1/vrrp/sync-groups"),
            "virtual_servers": get("/v1/lvs/virtual-servers")}


def _from_channels(vrrp_pid: str, checkers_pid: str) -> dict[str, Any]:
    vrrp = asyncio.run(fetch_snapshot(channel_path(vrrp_pid)))
    try:
        checkers = asyncio.run(fetch_snapshot(channel_path(checkers_pid)))
    except OSError:
        checkers = {}
    return {"instances": vrrp.get("instances", []), "sync_groups": vrrp.get("sync_groups", []),
            "virtual_servers": checkers.get("virtual_servers", [])}


def format_table(state: dict[str, Any]) -> str:
    rows = [("INSTANCE", "STATE", "PRIO", "BASE", "VRID", "INTERFACE", "MASTER", "VIPS")]
    for i in state["instances"]:
        rows.append((str(i.get("name")), str(i.get("state")), str(i.get("effective_priority")),
                     str(i.get("base_priority")), str(i.get("vrid")), str(i.get("interface") or "-"),
                     str(i.get("master_address") or "-"), ",".join(i.get("vips", [])) or "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for g in state["sync_groups"]:
        lines.append(f"sync group {g.get('name')}: {g.get('state')} ({', '.join(g.get('members', []))})")
    for vs in state["virtual_servers"]:
        alive = sum(1 for rs in vs.get("real_servers", []) if rs.get("alive"))
        lines.append(f"virtual server {vs.get('name')}: {alive}/{len(vs.get('real_servers', []))} real servers up")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    opts = _parser().parse_args(list(argv))
    try:
        if opts.url:
            state = _from_url(opts.url, opts.token_file)
        else:
            state = _from_channels(opts.vrrp_pid_file, opts.checkers_pid_file)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        print(f"pykeepalived is not running (or not answering): {exc}", file=sys.stderr)
        return 1
    print(json.dumps(state, indent=1) if opts.json else format_table(state))
    return 0
