"""virtual_routes / virtual_rules (installed while MASTER) and static_ipaddress /
static_routes / static_rules (installed at start, removed at stop), through pyroute2 on the
netlink thread (`Netlink.run`).

Routes get protocol 18 (`proto keepalived`) unless the config names one, as keepalived does.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from pykeepalived.config.model import Config, IpAddress, Route, Rule
from pykeepalived.core.params import VipSpec
from pykeepalived.io.netlink import Interface, Netlink
from pykeepalived.io.rtnl import vip_request

if TYPE_CHECKING:      # pyroute2 is imported on the netlink thread only (io/netlink.py)
    from pyroute2 import AsyncIPRoute

log = logging.getLogger(__name__)

RTPROT_KEEPALIVED = 18
TABLES = {"unspec": 0, "default": 253, "main": 254, "local": 255}
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
PROTOCOLS = {"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "keepalived": RTPROT_KEEPALIVED}
RULE_ACTIONS = {"blackhole": "FR_ACT_BLACKHOLE", "unreachable": "FR_ACT_UNREACHABLE",
                "prohibit": "FR_ACT_PROHIBIT", "nop": "FR_ACT_NOP", "goto": "FR_ACT_GOTO"}


def _rt_tables() -> dict[str, int]:
    names = dict(TABLES)
    for path in ("/etc/iproute2/rt_tables", "/usr/share/iproute2/rt_tables"):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split("#", 1)[0].split()
                    if len(parts) >= 2 and parts[0].isdigit():
                        names.setdefault(parts[1], int(parts[0]))
        except OSError:
            continue
    return names


def _table(name: str | None) -> int | None:
    if name is None:
        return None
    if name.isdigit():
        return int(name)
    table = _rt_tables().get(name)
    if table is None:
        raise ValueError(f"unknown table {name!r}")
    return table


def route_request(r: Route, ifindex: dict[str, int]) -> dict[str, Any]:
    """pyroute2 route() arguments for one virtual_routes / static_routes line."""
    req: dict[str, Any] = {"type": r.type if r.type != "unicast" else "unicast"}
    if r.dst is not None:
        req["dst"] = str(r.dst.network_address)
        req["dst_len"] = r.dst.prefixlen
        req["family"] = socket.AF_INET if r.dst.version == 4 else socket.AF_INET6
    if r.src is not None:
        req["prefsrc"] = str(r.src)
    if r.via is not None:
        req["gateway"] = str(r.via)
    if r.dev is not None:
        if r.dev not in ifindex:
            raise ValueError(f"interface {r.dev} does not exist")
        req["oif"] = ifindex[r.dev]
    table = _table(r.table)
    if table is not None:
        req["table"] = table
    if r.metric is not None:
        req["priority"] = r.metric
    if r.scope is not None:
        req["scope"] = int(r.scope) if r.scope.isdigit() else SCOPES[r.scope]
    proto = r.protocol
    req["proto"] = RTPROT_KEEPALIVED if proto is None else (int(proto) if proto.isdigit() else PROTOCOLS[proto])
    if r.nexthops:
        hops = []
        for nh in r.nexthops:
            hop: dict[str, Any] = {}
            if nh.via is not None:
                hop["gateway"] = str(nh.via)
            if nh.dev is not None:
                hop["oif"] = ifindex[nh.dev]
            if nh.weight is not None:
                hop["hops"] = nh.weight - 1
            hops.append(hop)
        req["multipath"] = hops
    return req


def rule_request(r: Rule, ifindex: dict[str, int]) -> dict[str, Any]:
    """pyroute2 rule() arguments for one virtual_rules / static_rules line."""
    req: dict[str, Any] = {"family": socket.AF_INET if r.family == "inet" else socket.AF_INET6}
    if r.from_ is not None:
        req["src"] = str(r.from_.network_address)
        req["src_len"] = r.from_.prefixlen
    if r.to is not None:
        req["dst"] = str(r.to.network_address)
        req["dst_len"] = r.to.prefixlen
    table = _table(r.table)
    if table is not None:
        req["table"] = table
    if r.action is not None:
        req["action"] = RULE_ACTIONS.get(r.action, r.action)
    if r.goto is not None:
        req["goto"] = r.goto
        req["action"] = "FR_ACT_GOTO"
    if r.preference is not None:
        req["priority"] = r.preference
    if r.iif is not None:
        req["iifname"] = r.iif
    if r.oif is not None:
        req["oifname"] = r.oif
    if r.tos is not None:
        req["tos"] = r.tos
    if r.fwmark is not None:
        req["fwmark"] = r.fwmark
    if r.fwmask is not None:
        req["fwmask"] = r.fwmask
    return req


_IGNORED = {"add": (errno.EEXIST,), "del": (errno.ESRCH, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ENODEV)}


class RouteManager:
    def __init__(self, netlink: Netlink, interfaces: dict[str, Interface]) -> None:
        self.netlink = netlink
        self.interfaces = interfaces

    def _ifindex(self) -> dict[str, int]:
        return {name: i.index for name, i in self.interfaces.items()}

    async def apply(self, name: str, routes: Sequence[Route], rules: Sequence[Rule], *, add: bool) -> None:
        """Add (entering MASTER) or remove (leaving it) one instance's routes and rules."""
        command = "add" if add else "del"
        verb = "setting" if add else "removing"
        # keepalived adds rules after routes and removes them before (a rule may point at a table).
        if not add and rules:
            log.info("(%s) %s Virtual Rules", name, verb)
            await self._rules(command, rules)
        if routes:
            log.info("(%s) %s Virtual Routes", name, verb)
            await self._routes(command, routes)
        if add and rules:
            log.info("(%s) %s Virtual Rules", name, verb)
            await self._rules(command, rules)

    async def _each(self, command: str, items: Sequence[Any], label: Callable[[Any], str],
                    request: Callable[[AsyncIPRoute, Any, dict[str, int]], Awaitable[Any]]) -> None:
        """One netlink request per item, on the netlink thread; failures are logged, except
        "already there" on add and "already gone" on delete (_IGNORED)."""
        ifindex = self._ifindex()

        async def run(ipr: AsyncIPRoute) -> list[str]:
            from pyroute2.netlink.exceptions import NetlinkError

            errors = []
            for item in items:
                try:
                    await request(ipr, item, ifindex)
                except NetlinkError as exc:
                    if exc.code not in _IGNORED[command]:
                        errors.append(f"{command} {label(item)}: {exc}")
                except (ValueError, KeyError, TypeError) as exc:
                    errors.append(f"{command} {label(item)}: {exc}")
            return errors

        for err in await self.netlink.run(run):
            log.error("%s", err)

    async def _routes(self, command: str, routes: Sequence[Route]) -> None:
        await self._each(command, routes, lambda r: f"route {r.text or r.dst}",
                         lambda ipr, r, ifindex: ipr.route(command, **route_request(r, ifindex)))

    async def _rules(self, command: str, rules: Sequence[Rule]) -> None:
        await self._each(command, rules, lambda r: f"rule {r.text}",
                         lambda ipr, r, ifindex: ipr.rule(command, **rule_request(r, ifindex)))

    async def _addresses(self, command: str, addresses: Sequence[IpAddress], default_dev: str) -> None:
        def request(ipr: AsyncIPRoute, a: IpAddress, ifindex: dict[str, int]) -> Awaitable[Any]:
            req = vip_request(VipSpec.from_model(a), ifindex[a.dev or default_dev])
            if command == "del":
                req = {k: v for k, v in req.items() if k in ("index", "address", "prefixlen", "local")}
            return ipr.addr(command, **req)  # type: ignore[no-any-return]

        await self._each(command, addresses, lambda a: f"static address {a.address}", request)

    async def _static(self, config: Config, add: bool) -> None:
        command = "add" if add else "del"
        if config.static_ipaddress:
            await self._addresses(command, config.static_ipaddress, config.global_defs.default_interface)
        if not add and config.static_rules:
            await self._rules(command, config.static_rules)
        if config.static_routes:
            await self._routes(command, config.static_routes)
        if add and config.static_rules:
            await self._rules(command, config.static_rules)

    async def add_static_address(self, address: IpAddress, default_dev: str) -> None:
        """Put back a static address someone deleted (keepalived reinstate_static_address)."""
        await self._addresses("add", [address], default_dev)
        log.info("Restoring deleted static address %s", static_address_text(address, default_dev))

    async def reinstate_static(self, config: Config, ifname: str) -> None:
        """An interface came up: add its static addresses and routes again (the kernel dropped
        the routes with the link), as keepalived's interface_up does; no_track ones excepted."""
        default = config.global_defs.default_interface
        for ip in config.static_ipaddress:
            if not ip.no_track and (ip.dev or default) == ifname:
                await self.add_static_address(ip, default)
        routes = [r for r in config.static_routes if not r.no_track and r.dev == ifname]
        if routes:
            await self._routes("add", routes)
            for r in routes:
                log.info("Restoring deleted static route %s", r.text or r.dst)

    async def start_static(self, config: Config) -> None:
        await self._static(config, True)

    async def stop_static(self, config: Config) -> None:
        await self._static(config, False)


def static_address_text(ip: IpAddress, default_dev: str) -> str:
    """keepalived's format_ipaddress for the common options: how it names a static address."""
    text = f"{ip.address.with_prefixlen} "
    if ip.brd not in (None, "-", "+"):
        text += f"brd {ip.brd} "
    text += f"dev {ip.dev or default_dev} scope {ip.scope or 'global'}"
    if ip.label:
        text += f" label {ip.label}"
    if ip.track_group:
        text += f" track_group {ip.track_group}"
    return f"{text} set"


__all__ = ["RTPROT_KEEPALIVED", "RouteManager", "route_request", "rule_request", "static_address_text"]
