"""Helpers for the VRRP pair tests: the protocol cells, their configs, daemons and wire timing.

A *cell* is one protocol configuration of the test matrix (version, interval, family,
multicast/unicast, authentication). A *pair* runs two nodes of a cell, each either
pykeepalived ("py") or the real keepalived 2.2.7 ("ka"), on one LAN with a client host.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.daemon import VrrpDaemon
from harness.lab import Host
from harness.pcap import Frame, vrrp_frames

VRID = 51
CHILD = Path(__file__).with_name("vrrp_child.py")
# Log lines that must never appear on either side of a correctly configured pair.
ERROR_PATTERNS = re.compile(
    r"checksum|invalid|mismatch|unexpected|wrong version|length|passwd|not a unicast peer|Traceback",
    re.IGNORECASE)


@dataclass(frozen=True)
class Cell:
    name: str
    version: int
    advert_int: float
    family: int = 4
    unicast: bool = False
    auth: str | None = None     # PASS password

    def vips(self) -> list[str]:
        if self.family == 6:
            return ["fe80::100/64", "2001:db8::100/64"]
        return ["192.0.2.100/24"]

    @property
    def client_vip(self) -> str:
        """The VIP a client talks to (the global one for IPv6)."""
        return self.vips()[-1].split("/")[0]

    def skew(self, priority: int) -> float:
        if self.version == 2:
            return (256 - priority) / 256
        return (256 - priority) * self.advert_int / 256

    def master_down(self, priority: int) -> float:
        return 3 * self.advert_int + self.skew(priority)

    def config(self, me: Host, peer: Host, priority: int, *, nopreempt: bool = False) -> str:
        lines = ["global_defs {", f"    router_id {me.name}", "}", "vrrp_instance VI_1 {",
                 "    state BACKUP", "    interface eth0", f"    virtual_router_id {VRID}",
                 f"    priority {priority}", f"    advert_int {self.advert_int:g}", f"    version {self.version}"]
        if nopreempt:
            lines.append("    nopreempt")
        if self.unicast:
            mine, theirs = (me.ip, peer.ip) if self.family == 4 else (me.link_local(), peer.link_local())
            lines += [f"    unicast_src_ip {mine}", "    unicast_peer {", f"        {theirs}", "    }"]
        if self.auth:
            lines += ["    authentication {", "        auth_type PASS", f"        auth_pass {self.auth}", "    }"]
        lines += ["    virtual_ipaddress {", *(f"        {v}" for v in self.vips()), "    }", "}", ""]
        return "\n".join(lines)


CELLS = {c.name: c for c in (
    Cell("v2", 2, 1.0),
    Cell("v3-100ms", 3, 0.1),
    Cell("v3-10ms", 3, 0.01),
    Cell("v3-unicast", 3, 0.1, unicast=True),
    Cell("v3-ipv6", 3, 0.1, family=6),
    Cell("v2-pass", 2, 1.0, auth="s3cr3t!x"),
)}


def daemon_ready() -> bool:
    """True when `python -m pykeepalived` can load a config (the CLI daemon path works)."""
    return importlib.util.find_spec("pykeepalived.config.loader") is not None


class PyDaemon(VrrpDaemon):
    """pykeepalived's VRRP side through tests/netns/vrrp_child.py (run_vrrp in the foreground)."""

    @property
    def argv(self) -> list[str]:
        return [sys.executable, str(CHILD), str(self.conf_path), "-D"]


def start(host: Host, impl: str, config: str) -> VrrpDaemon:
    """Start "py" (pykeepalived) or "ka" (keepalived 2.2.7) on `host` with `config`."""
    if impl == "ka":
        d: VrrpDaemon = VrrpDaemon(host, config, implementation="keepalived")
    elif daemon_ready():
        d = VrrpDaemon(host, config, implementation="pykeepalived")
    else:
        d = PyDaemon(host, config, implementation="pykeepalived", name="pykeepalived")
    return d.start()


def assert_clean_log(d: VrrpDaemon) -> None:
    bad = [line for line in d.log().splitlines() if ERROR_PATTERNS.search(line)]
    assert not bad, f"{d.implementation} on {d.host.name} logged errors:\n" + "\n".join(bad)


def adverts(frames: list[Frame], src: str) -> list[Frame]:
    return vrrp_frames(frames, vrid=VRID, src=src)


def takeover_gap(frames: list[Frame], old: str, new: str, *, after_ns: int,
                 old_priority_zero: bool = False, lookback_ns: int = 2_000_000_000, race: float = 0.0) -> float:
    """Seconds from the old master's last advert (or its priority-0 advert) to the new
    master's first advert, both around the failure injected at `after_ns`: the new master's
    first advert after it, the old master's last one before that (at most `lookback_ns` earlier).

    race: ignore the old master's adverts less than this before the new master's first one. A
    master that is late on a loaded machine (more than the master-down interval after its previous
    advert) is rightly taken over; its late advert, on the wire just before the backup's first,
    reached the backup after it had decided and says nothing about the backup's timer."""
    first_new = next(f for f in adverts(frames, new) if f.ts_ns > after_ns and f.vrrp.priority > 0)  # type: ignore[union-attr]
    before = first_new.ts_ns - int(race * 1e9)
    olds = [f for f in adverts(frames, old) if after_ns - lookback_ns < f.ts_ns < before]
    if old_priority_zero:
        olds = [f for f in olds if f.vrrp.priority == 0]  # type: ignore[union-attr]
    assert olds, f"no advert from {old} before {new} took over"
    return (first_new.ts_ns - olds[-1].ts_ns) / 1e9


def wait_gap(cap: Any, old: str, new: str, *, after_ns: int, old_priority_zero: bool = False,
             timeout: float = 3.0, race: float = 0.0) -> float:
    """takeover_gap() on a running capture, once tcpdump has written the new master's advert."""
    from harness.wait import wait_until

    def probe() -> float | None:
        frames = cap.frames()
        if not any(f.ts_ns > after_ns and f.vrrp.priority > 0 for f in adverts(frames, new)):  # type: ignore[union-attr]
            return None
        return takeover_gap(frames, old, new, after_ns=after_ns, old_priority_zero=old_priority_zero, race=race)

    return wait_until(probe, timeout, message=f"no advert from {new} in the capture")


def source_of(host: Host, cell: Cell) -> str:
    """The address `host` sends its adverts from in this cell."""
    return host.ip if cell.family == 4 else host.link_local()


def vip_holders(hosts: list[Host], cell: Cell) -> list[str]:
    return [h.name for h in hosts if h.has_address(cell.client_vip)]


def neigh_follow(client: Host, cell: Cell, master: Host, timeout: float = 3.0) -> Any:
    """Wait until the client's neighbour entry for the VIP is `master`'s MAC (GARP / NA)."""
    from harness.wait import wait_until

    want = master.mac()
    return wait_until(lambda: client.neigh(cell.client_vip) == want or None, timeout,
                      message=f"{client.name}'s neighbour entry for {cell.client_vip} never became {master.name}")


def reach(client: Host, cell: Cell, master: Host | None = None, timeout: float | None = None) -> None:
    """The client reaches the VIP: pings (1 s each) until one is answered, within `timeout` (default
    three advert intervals + 4 s).

    One ping with a fixed wait was flaky on a loaded machine: a ping sent while the client's
    neighbour entry still names the old master, or while it is being re-resolved (entries a GARP/NA
    updated are STALE and are probed again on use), is lost, although the VIP is where it belongs.
    The test's protocol checks (who holds the VIP, the neighbour entry following the master) are
    separate asserts; this one is only "the service answers". On failure it says what the client
    saw. With `master`, it also waits for the client's neighbour entry to name that master."""
    from harness.wait import wait_until

    limit = timeout if timeout is not None else 3 * cell.advert_int + 4
    want = master.mac() if master is not None else None
    misses: list[str] = []

    def probe() -> bool | None:
        if client.ping(cell.client_vip, timeout=1) and (want is None or client.neigh(cell.client_vip) == want):
            return True
        misses.append(client.run(["ip", "neigh", "show", cell.client_vip], check=False).stdout.strip())
        return None

    try:
        wait_until(probe, limit, interval=0.05, message="")
        if misses:
            print(f"[reach] {cell.client_vip}: {len(misses)} ping(s) unanswered first; neighbour: {misses}")
    except TimeoutError:
        entry = client.run(["ip", "neigh", "show", cell.client_vip], check=False).stdout.strip()
        seen = []
        for h in client.lab.hosts.values():
            if h is client:
                continue
            addrs = h.run(["ip", "-br", "addr", "show", "dev", "eth0"], check=False).stdout.strip()
            nft = h.run(["nft", "list", "ruleset"], check=False).stdout.strip()
            neigh = h.run(["ip", "neigh", "show", "dev", "eth0"], check=False).stdout.strip()
            seen.append(f"{h.name} ({h.mac()}): {addrs}; neighbours: {neigh!r}; nft: {nft or 'empty'}")
        raise AssertionError(f"client cannot reach {cell.client_vip} within {limit:g} s; its neighbour entry: "
                             f"{entry or 'none'}" + (f", the master {master.name} has {want}" if master else "")
                             + "\n" + "\n".join(seen)) from None


def wait_count(d: VrrpDaemon, pattern: str, count: int, timeout: float) -> None:
    """Wait until the regex `pattern` has matched `count` lines of the daemon's log."""
    from harness.wait import wait_until

    rx = re.compile(pattern, re.M)
    wait_until(lambda: len(rx.findall(d.log())) >= count or None, timeout,
               message=f"{d.implementation} on {d.host.name}: {pattern!r} not seen {count} times\n{d.log()}")
