"""use_vmac: one macvlan per instance carrying the VRRP virtual MAC (keepalived's vrrp_vmac.c).

    vmacs = Vmacs(netlink, config)
    await vmacs.create()            # before the runtime reads the interfaces
    vmacs.adopt(interfaces)         # the VMAC advertises from its base interface's addresses
    name = vmacs.ifname(vi)         # the instance's interface: adverts, VIPs and GARPs go there
    await vmacs.remove()            # at stop
    changed, gone = vmacs.retarget(new_config)     # a reload: then remove(gone), create()

What keepalived 2.2.7 does, observed in a namespace and done the same way here:
* `vrrp.VRID` (global_defs vmac_prefix, or the configured name), macvlan mode private on the
  instance's interface, MAC 00:00:5e:00:01:VRID (00:00:5e:00:02:VRID for IPv6; a configured
  MAC is used as is, a 5-octet one gets the VRID appended), no IPv6 address generation, up;
* sysctls: base interface arp_ignore=1 and arp_filter=1 (left as set, as keepalived does);
  VMAC arp_ignore=1, accept_local=1, promote_secondaries=1, rp_filter=0;
* IGMP reports leaving through a VMAC are sent from the base interface instead (nftables
  `vmac_map`, io.firewall), so switches never learn the virtual MAC from a backup;
* the VMAC is deleted at stop, and on a reload when its instance is removed or no longer uses
  it; a reload that adds an instance with use_vmac creates its VMAC.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pykeepalived.config.model import Config, VrrpInstance
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.io.netlink import Interface, Netlink
from pykeepalived.io.rtnl import IFA_F_NODAD

if TYPE_CHECKING:      # pyroute2 is imported on the netlink thread only (io/netlink.py)
    from pyroute2 import AsyncIPRoute

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VmacSpec:
    instance: str
    name: str
    base: str
    mac: str
    xmit_base: bool = False     # vmac_xmit_base: adverts on the base interface, VIPs on the VMAC
    family: int = 4
    for_addresses: bool = False  # use_vmac_addr: carries only the VIPs of its interface and family


def vmac_specs(config: Config) -> dict[str, VmacSpec]:
    """Every VMAC the config asks for: the instance's own (keyed by the instance name) and, with
    use_vmac_addr, one per other (interface, family) of its VIPs (keyed "instance/name")."""
    specs = {s.instance: s for vi in config.vrrp_instances if (s := vmac_spec(vi, config)) is not None}
    taken = {s.name for s in specs.values()}
    for vi in config.vrrp_instances:
        for spec in address_vmac_specs(vi, config, taken):
            specs[f"{vi.name}/{spec.name}"] = spec
    return specs


def _own(vi: VrrpInstance, config: Config) -> tuple[str | None, int]:
    """The instance's base interface and family."""
    gd = config.global_defs
    return vi.interface or gd.default_interface, 6 if vi.effective.family == "inet6" else 4


def address_vmac_key(vi: VrrpInstance, config: Config, dev: str | None, family: int,
                     vip_use_vmac: bool) -> tuple[str, int] | None:
    """The (interface, family) of the address VMAC a VIP goes on, or None: with use_vmac_addr
    every VIP not on the instance's own interface and family, and every VIP with its own
    `use_vmac` option, except those the instance's VMAC (use_vmac) carries already."""
    own = _own(vi, config)
    key = (dev or own[0], family)
    if key[0] is None or not (vip_use_vmac or (vi.use_vmac_addr and key != own)):
        return None
    if key == own and vi.use_vmac is not None:
        return None
    return key[0], key[1]


def address_vmac_specs(vi: VrrpInstance, config: Config, taken: set[str]) -> list[VmacSpec]:
    """The address VMACs of an instance (see address_vmac_key), one per (interface, family), in
    the order of the VIPs and eVIPs.  Names as keepalived 2.2.7 gives them (observed):
    PREFIX.VRID if free, for IPv6 then PREFIX6.VRID, else PREFIXn.VRID with the lowest free n
    from 1 (PREFIX = vmac_addr_prefix); the MAC is 00:00:5e:00:01:VRID (IPv6 :02:)."""
    prefix, vrid = config.global_defs.vmac_addr_prefix, vi.virtual_router_id
    out: list[VmacSpec] = []
    seen: set[tuple[str, int]] = set()
    for ip in vi.virtual_ipaddress + vi.virtual_ipaddress_excluded:
        key = address_vmac_key(vi, config, ip.dev, ip.address.version, ip.use_vmac)
        if key is None or key in seen:
            continue
        seen.add(key)
        candidates = [f"{prefix}.{vrid}"] + ([f"{prefix}6.{vrid}"] if key[1] == 6 else [])
        name = next((c for c in candidates if c not in taken), None)
        n = 1
        while name is None:
            if f"{prefix}{n}.{vrid}" not in taken:
                name = f"{prefix}{n}.{vrid}"
            n += 1
        taken.add(name)
        out.append(VmacSpec(vi.name, name, key[0], f"00:00:5e:00:{2 if key[1] == 6 else 1:02x}:{vrid:02x}",
                            family=key[1], for_addresses=True))
    return out


def vmac_spec(vi: VrrpInstance, config: Config) -> VmacSpec | None:
    if vi.use_vmac is None:
        return None
    gd = config.global_defs
    vrid = vi.virtual_router_id
    v6 = vi.effective.family == "inet6"
    mac = vi.use_vmac.mac
    if mac is None:
        mac = f"00:00:5e:00:{2 if v6 else 1:02x}:{vrid:02x}"
    elif len(mac.split(":")) == 5:
        mac = f"{mac}:{vrid:02x}"
    name = vi.use_vmac.name or f"{gd.vmac_prefix}.{vrid}"
    return VmacSpec(vi.name, name, vi.interface or gd.default_interface, mac.lower(), vi.vmac_xmit_base,
                    6 if v6 else 4)


def _sysctl(ifname: str, key: str, value: int, family: str = "ipv4") -> None:
    path = f"/proc/sys/net/{family}/conf/{ifname}/{key}"
    try:
        with open(path, "w") as f:
            f.write(f"{value}\n")
    except OSError as exc:
        log.info("Unable to set %s to %d - %s", path, value, exc.strerror)


class Vmacs:
    def __init__(self, netlink: Netlink, config: Config) -> None:
        self.netlink = netlink
        self.config = config
        self.specs = vmac_specs(config)
        self.created: list[str] = []

    def ifname(self, vi: VrrpInstance) -> str | None:
        """The interface the instance advertises on: its VMAC, unless vmac_xmit_base."""
        spec = self.specs.get(vi.name)
        return None if spec is None or spec.xmit_base else spec.name

    def params(self, vi: VrrpInstance, params: RouterParams) -> RouterParams:
        """With vmac_xmit_base the VIPs (and so their GARPs) still go on the VMAC; with
        use_vmac_addr or a VIP's own use_vmac they go on their address VMAC."""
        spec = self.specs.get(vi.name)
        xmit_base = spec if spec is not None and spec.xmit_base else None
        by_key = {(s.base, s.family): s.name for s in self.specs.values()
                  if s.for_addresses and s.instance == vi.name}
        if xmit_base is None and not by_key:
            return params

        def dev(v: VipSpec) -> str | None:
            key = address_vmac_key(vi, self.config, v.dev, v.family, v.use_vmac)
            if key is not None and key in by_key:
                return by_key[key]
            if xmit_base is not None and v.dev is None:
                return xmit_base.name
            return v.dev

        def on_vmac(vips: tuple[VipSpec, ...]) -> tuple[VipSpec, ...]:
            return tuple(v if dev(v) == v.dev else dataclasses.replace(v, dev=dev(v)) for v in vips)

        return dataclasses.replace(params, vips=on_vmac(params.vips), evips=on_vmac(params.evips))

    async def create(self) -> None:
        """Create every VMAC not created yet (all at start; on a reload the new ones)."""
        for spec in self.specs.values():
            if spec.name in self.created:
                continue
            async def create(ipr: AsyncIPRoute, spec: VmacSpec = spec) -> None:
                await self._create(ipr, spec)

            await self.netlink.run(create)

    async def _create(self, ipr: AsyncIPRoute, spec: VmacSpec) -> None:
        from pyroute2.netlink.exceptions import NetlinkError

        base = await ipr.link_lookup(ifname=spec.base)
        if not base:
            log.info("(%s) interface %s for use_vmac does not exist", spec.instance, spec.base)
            return
        old = await ipr.link_lookup(ifname=spec.name)
        if old:                                   # left behind by a crashed run
            with contextlib.suppress(NetlinkError):
                await ipr.link("del", index=old[0])
        try:
            await ipr.link("add", ifname=spec.name, kind="macvlan", link=base[0], macvlan_mode="private",
                           address=spec.mac)
        except NetlinkError as exc:
            log.info("(%s): Error creating VMAC interface %s - %s", spec.instance, spec.name, exc)
            return
        index = (await ipr.link_lookup(ifname=spec.name))[0]
        _sysctl(spec.name, "addr_gen_mode", 1, "ipv6")       # no fe80:: from the shared virtual MAC
        _sysctl(spec.base, "arp_ignore", 1)
        _sysctl(spec.base, "arp_filter", 1)
        for key, value in (("arp_ignore", 1), ("accept_local", 1), ("promote_secondaries", 1), ("rp_filter", 0)):
            _sysctl(spec.name, key, value)
        await ipr.link("set", index=index, state="up")
        if spec.family == 6:
            # The VMAC advertises from the base interface's link-local address (deprecated on
            # the VMAC so that nothing else picks it as a source), as keepalived does.
            async for a in await ipr.addr("dump", index=base[0], family=socket.AF_INET6):
                ll = a.get("address")
                if ll and ll.lower().startswith("fe80:"):
                    with contextlib.suppress(NetlinkError):
                        await ipr.addr("add", index=index, address=ll, prefixlen=a["prefixlen"],
                                       flags=IFA_F_NODAD, preferred_lft=0)
        self.created.append(spec.name)
        log.info("(%s): Success creating VMAC interface %s", spec.instance, spec.name)

    def retarget(self, config: Config) -> tuple[set[str], list[VmacSpec]]:
        """A reload: the specs of `config` from now on.  Returns the instances whose VMAC changed
        (added, removed or different: they can not be reconfigured in place) and the VMACs we
        created that are no longer wanted, for `remove` once their instances are deleted; the
        new ones are made by `create` after that (a new VMAC may take an old one's name)."""
        old, self.specs, self.config = self.specs, vmac_specs(config), config
        changed = {s.instance for key in old.keys() | self.specs.keys() if old.get(key) != self.specs.get(key)
                   for s in (old.get(key), self.specs.get(key)) if s is not None}
        gone = [s for s in old.values() if s.instance in changed and s.name in self.created]
        return changed, gone

    def adopt(self, interfaces: dict[str, Interface]) -> None:
        """A VMAC has no IPv4 address of its own: adverts keep the base interface's source."""
        for spec in self.specs.values():
            vmac, base = interfaces.get(spec.name), interfaces.get(spec.base)
            if vmac is not None and base is not None:
                vmac.ipv4 = list(base.ipv4)
                if not vmac.ipv6_ll:
                    vmac.ipv6_ll = list(base.ipv6_ll)

    def pairs(self) -> list[tuple[str, str, int]]:
        """(vmac, base, family) of every VMAC we created, for the IGMP/MLD maps."""
        return [(s.name, s.base, s.family) for s in self.specs.values() if s.name in self.created]

    async def remove(self, specs: list[VmacSpec] | None = None) -> None:
        """Delete the VMACs we created: all of them (at stop) or those of `specs` (a reload)."""
        names = list(self.created) if specs is None else [s.name for s in specs if s.name in self.created]
        self.created = [n for n in self.created if n not in names]
        by_name = {} if specs is None else {s.name: s.instance for s in specs}

        async def run(ipr: AsyncIPRoute) -> None:
            from pyroute2.netlink.exceptions import NetlinkError

            for name in names:
                found = await ipr.link_lookup(ifname=name)
                if found:
                    with contextlib.suppress(NetlinkError):
                        await ipr.link("del", index=found[0])
                if name in by_name:
                    log.info("(%s) Success removing VMAC interface %s", by_name[name], name)

        if names:
            await self.netlink.run(run)


__all__ = ["VmacSpec", "Vmacs", "address_vmac_key", "address_vmac_specs", "vmac_spec", "vmac_specs"]
