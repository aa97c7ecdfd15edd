"""no_accept drop rules in nftables, as keepalived 2.2.7 builds them (vrrp_nftables.c).

A non-accept master must not answer packets addressed to its VIPs, and must not send from
them, so keepalived keeps the VIPs of such masters in a set and drops on it:

    table ip keepalived {                       # ip6 for IPv6 VIPs; the table name is
        set vips { type ipv4_addr }             # global_defs' `nftables NAME`
        chain out { type filter hook output priority -1; ip saddr @vips drop }
        chain in  { type filter hook input priority -1;  ip daddr @vips drop }
    }

Changes are `nft -f -` batches, run one after another in the order they were asked for;
the tables are deleted at stop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
from collections.abc import Iterable

from pykeepalived.config.model import GlobalDefs
from pykeepalived.textbytes import to_bytes

log = logging.getLogger(__name__)

DEFAULT_TABLE = "keepalived"


class Firewall:
    def __init__(self, gd: GlobalDefs) -> None:
        self.table = gd.nftables or DEFAULT_TABLE
        self.priority = gd.nftables_priority
        self.created: set[str] = set()             # families ("ip", "ip6") whose table exists
        self.vip_rules: set[str] = set()           # families whose vips set and drop rules exist
        self.vmac_rules: set[str] = set()          # families whose VMAC map and rules exist
        self.members: dict[str, set[str]] = {"ip": set(), "ip6": set()}
        self._last: asyncio.Future[None] | None = None
        self.nft = shutil.which("nft") or "/usr/sbin/nft"

    def _script(self, family: str) -> str:
        addr = "ipv4_addr" if family == "ip" else "ipv6_addr"
        t = f"{family} {self.table}"
        return (f"add table {t}\n"
                f"add set {t} vips {{ type {addr}; }}\n"
                f"add chain {t} out {{ type filter hook output priority {self.priority}; policy accept; }}\n"
                f"add chain {t} in {{ type filter hook input priority {self.priority}; policy accept; }}\n"
                f"add rule {t} out {family} saddr @vips drop\n"
                f"add rule {t} in {family} daddr @vips drop\n")

    @staticmethod
    def _split(addresses: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"ip": [], "ip6": []}
        for a in addresses:
            out["ip" if ipaddress.ip_address(a).version == 4 else "ip6"].append(a)
        return out

    def add(self, addresses: Iterable[str]) -> None:
        script = ""
        for family, addrs in self._split(addresses).items():
            new = [a for a in addrs if a not in self.members[family]]
            if not new:
                continue
            if family not in self.vip_rules:
                script += self._script(family)
                self.created.add(family)
                self.vip_rules.add(family)
            self.members[family].update(new)
            script += f"add element {family} {self.table} vips {{ {', '.join(new)} }}\n"
        self._queue(script)

    def add_vmacs(self, pairs: Iterable[tuple[str, str, int]]) -> None:
        """IGMP reports (IPv4) and MLD reports (IPv6) leaving through a VMAC go out of its base
        interface instead, and a VMAC sends no router solicitations: the switch must never learn
        the virtual MAC from a backup.  keepalived's vmac_map / vmac_set."""
        by_family: dict[str, list[tuple[str, str]]] = {"ip": [], "ip6": []}
        for vmac, base, version in pairs:
            by_family["ip" if version == 4 else "ip6"].append((vmac, base))
        script = ""
        for family, members in by_family.items():
            if not members:
                continue
            t = f"{family} {self.table}"
            self.created.add(family)
            if family not in self.vmac_rules:       # once: a reload only adds VMACs to the maps
                self.vmac_rules.add(family)
                script += (f"add table {t}\n"
                           f"add map {t} vmac_map {{ type iface_index : iface_index; }}\n"
                           f"add chain {t} out {{ type filter hook output priority {self.priority}; "
                           "policy accept; }\n")
                if family == "ip":
                    script += (f'add rule {t} out ip protocol igmp meta oifkind "macvlan" '
                               f"dup to ip daddr device oif map @vmac_map drop\n")
                else:
                    script += (f"add set {t} vmac_set {{ type iface_index; }}\n"
                               f'add rule {t} out icmpv6 type mld2-listener-report meta oifkind "macvlan" '
                               f"dup to ip6 daddr device oif map @vmac_map drop\n"
                               f'add rule {t} out icmpv6 type nd-router-solicit meta oifkind "macvlan" '
                               f"oif @vmac_set drop\n")
            if family == "ip6":
                names = ", ".join(f'"{vmac}"' for vmac, _ in members)
                script += f"add element {t} vmac_set {{ {names} }}\n"
            elements = ", ".join(f'"{vmac}" : "{base}"' for vmac, base in members)
            script += f"add element {t} vmac_map {{ {elements} }}\n"
        self._queue(script)

    def remove(self, addresses: Iterable[str]) -> None:
        script = ""
        for family, addrs in self._split(addresses).items():
            gone = [a for a in addrs if a in self.members[family]]
            if gone:
                self.members[family].difference_update(gone)
                script += f"delete element {family} {self.table} vips {{ {', '.join(gone)} }}\n"
        self._queue(script)

    def _queue(self, script: str) -> None:
        if not script:
            return
        previous = self._last

        async def run() -> None:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            await self._apply(script)

        self._last = asyncio.get_running_loop().create_task(run())

    async def _apply(self, script: str) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                self.nft, "-f", "-", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            log.error("nftables: cannot run %s - %s", self.nft, exc.strerror)
            return
        _, err = await proc.communicate(to_bytes(script))
        if proc.returncode != 0:
            log.error("nftables: %s", err.decode(errors="replace").strip())

    async def close(self) -> None:
        """Wait for pending changes, then delete our tables."""
        if self._last is not None and not self._last.done():
            await asyncio.wait([self._last], timeout=5)
        if self.created:
            await self._apply("".join(f"delete table {f} {self.table}\n" for f in sorted(self.created)))
            self.created.clear()


__all__ = ["DEFAULT_TABLE", "Firewall"]
