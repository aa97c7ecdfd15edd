"""The same desired table realised as nftables DNAT, for kernels and containers without ip_vs.

Layout (one `inet` table, default `pykeepalived_lvs`):

* chains `pre` (prerouting, dstnat) and `out` (output, for clients on this host) dispatch new
  connections through verdict maps: `svc4`/`svc6` keyed by daddr . l4proto . dport, and
  `fwm4`/`fwm6` keyed by the packet mark;
* one chain per service holding one DNAT rule whose target comes from a map indexed by
  `numgen inc` (rr, wrr) or `jhash` of the source address (sh). A real server gets as many
  consecutive slots as its weight (divided by the weights' gcd), so weight 0 gets none: no new
  connections, while established ones keep their conntrack NAT binding. A service without a
  usable real server rejects new connections, as IPVS does;
* after the terminal DNAT rule, comment-only rules (never evaluated) record the service and every
  real server exactly as the core described them, so `read()` returns what was programmed.

Every `apply()` is one `nft -f -` transaction: a reload rewrites only the chains of the services
that changed, and either all of it lands or none of it.

Supported: schedulers rr, wrr, sh; forwarding method NAT (masquerading) for IPv4 and IPv6
services and fwmark services. Not supported (a configuration error naming file:line when this
backend is active): other schedulers (lc, wlc, ... need connection counts), persistence,
persistence engines, scheduler flags, DR and TUN (they keep the destination address, which DNAT
cannot), upper/lower thresholds.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
from collections.abc import Iterable, Sequence

from pykeepalived.core.lvs import (
    AF_INET,
    AF_INET6,
    PROTOCOL_NAMES,
    AddDest,
    AddService,
    DelDest,
    DelService,
    DestAttrs,
    DestKey,
    EditDest,
    EditService,
    Flush,
    Fwd,
    LvsConfig,
    Op,
    RealServerSpec,
    Service,
    ServiceAttrs,
    ServiceKey,
    SetTimeouts,
    Table,
    Timeouts,
    VirtualServerSpec,
    apply_ops,
    normalise_addr,
)

log = logging.getLogger(__name__)

DEFAULT_TABLE = "pykeepalived_lvs"
SUPPORTED_SCHEDULERS = ("rr", "wrr", "sh")
MAX_SLOTS = 4096


class NftError(Exception):
    """nft refused a batch; the message carries nft's own error text."""


def check_config(config: LvsConfig) -> list[str]:
    """What this backend cannot do, one message per problem, each naming file:line."""
    errors: list[str] = []
    for vs in config.virtual_servers:
        errors.extend(_check_vs(vs))
    return errors


def _check_vs(vs: VirtualServerSpec) -> list[str]:
    where = vs.source or "virtual_server"
    out: list[str] = []
    if vs.sched not in SUPPORTED_SCHEDULERS:
        out.append(f"{where}: lvs_sched {vs.sched} is not supported by the nftables LVS backend "
                   f"(supported: {', '.join(SUPPORTED_SCHEDULERS)}; use --lvs-backend ipvs)")
    if vs.persistence_timeout:
        out.append(f"{where}: persistence_timeout is not supported by the nftables LVS backend")
    if vs.pe_name and vs.persistence_timeout:
        out.append(f"{where}: persistence_engine is not supported by the nftables LVS backend")
    if vs.sched_flags:
        out.append(f"{where}: scheduler flags (flag-N, sh-port, sh-fallback, mh-*, ops) are not supported "
                   f"by the nftables LVS backend")
    servers: list[tuple[str, RealServerSpec]] = [("real_server", rs) for rs in vs.real_servers]
    if vs.sorry_server is not None:
        servers.append(("sorry_server", vs.sorry_server))
    for kind, rs in servers:
        rs_where = rs.source or where
        if rs.fwd is not Fwd.MASQ:
            out.append(f"{rs_where}: {kind} {rs.addr} lvs_method {rs.fwd.keepalived_name} is not supported by "
                       f"the nftables LVS backend (NAT only)")
        if rs.u_thresh or rs.l_thresh:
            out.append(f"{rs_where}: {kind} {rs.addr} uthreshold/lthreshold are not supported by the nftables "
                       f"LVS backend")
    if len({rs.port == 0 for _, rs in servers}) > 1:
        out.append(f"{where}: real servers with and without a port cannot share one nftables LVS service")
    return out


def chain_name(key: ServiceKey) -> str:
    fam = "6" if key.af == AF_INET6 else "4"
    if key.fwmark:
        return f"fwm{fam}_{key.fwmark}"
    addr = key.addr.replace(".", "_").replace(":", "x")
    return f"svc{fam}_{PROTOCOL_NAMES.get(key.protocol, str(key.protocol))}_{addr}_{key.port}"


def slots(weights: Sequence[int]) -> list[int]:
    """Map slots per real server: proportional to weight, reduced by the gcd, capped at MAX_SLOTS in all."""
    positive = [w for w in weights if w > 0]
    if not positive:
        return [0] * len(weights)
    g = math.gcd(*positive)
    out = [w // g for w in weights]
    total = sum(out)
    if total > MAX_SLOTS:
        out = [max(1, round(w * MAX_SLOTS / total)) if w else 0 for w in out]
    return out


def _dnat_rule(key: ServiceKey, svc: Service) -> str:
    """The service chain's one live rule: DNAT through a slot map, or reject when nobody can serve."""
    dests = sorted(svc.dests.items())
    if svc.attrs.sched == "rr":
        counts = [1 if a.weight > 0 else 0 for _, a in dests]
    else:
        counts = slots([a.weight for _, a in dests])
    fam = "ip6" if key.af == AF_INET6 else "ip"
    with_port = any(d.port for d, _ in dests)
    elements: list[str] = []
    start = 0
    for (dest, _), n in zip(dests, counts, strict=True):
        if n == 0:
            continue
        index = str(start) if n == 1 else f"{start}-{start + n - 1}"
        target = f"{dest.addr} . {dest.port}" if with_port else dest.addr
        elements.append(f"{index} : {target}")
        start += n
    proto = (f"meta l4proto {PROTOCOL_NAMES[key.protocol]}" if key.protocol in PROTOCOL_NAMES
             else "meta l4proto { tcp, udp, sctp }")
    if not elements:
        return f"{proto} reject"
    selector = f"jhash {fam} saddr mod {start}" if svc.attrs.sched == "sh" else f"numgen inc mod {start}"
    what = f"{fam} addr . port" if with_port else fam
    return f"{proto} dnat {what} to {selector} map {{ {', '.join(elements)} }}"


def _service_comment(attrs: ServiceAttrs) -> str:
    return f"pka s {attrs.sched} {attrs.flags} {attrs.timeout} {attrs.netmask} {attrs.pe_name or '-'}"


def _dest_comment(dest: DestKey, a: DestAttrs) -> str:
    return (f"pka d {dest.addr} {dest.port} {int(a.fwd)} {a.weight} {a.u_thresh} {a.l_thresh} "
            f"{a.tun_type} {a.tun_port} {a.tun_flags}")


def _vmap(key: ServiceKey) -> tuple[str, str]:
    """(map name, element key) that dispatches to this service's chain."""
    fam = "6" if key.af == AF_INET6 else "4"
    if key.fwmark:
        return f"fwm{fam}", str(key.fwmark)
    return f"svc{fam}", f"{key.addr} . {PROTOCOL_NAMES.get(key.protocol, str(key.protocol))} . {key.port}"


class NftBackend:
    """Applies operations as nftables batches and reads the table back. One thread only."""

    name = "nftables"

    def __init__(self, table: str = DEFAULT_TABLE, nft: str = "nft") -> None:
        self.table = table
        self.nft = nft
        self.requests = 0        # nft transactions run
        self._known: Table | None = None     # our table as last read or written (the table is ours alone)
        self._ensure_base()

    def close(self) -> None:
        pass

    # -- nft ------------------------------------------------------------------------------------
    def _run(self, args: list[str], script: str | None = None) -> str:
        self.requests += 1
        proc = subprocess.run([self.nft, *args], input=script, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise NftError(proc.stderr.strip() or f"nft exited with {proc.returncode}")
        return proc.stdout

    def _ensure_base(self) -> None:
        t = f"inet {self.table}"
        lines = [f"add table {t}",
                 f"add chain {t} pre {{ type nat hook prerouting priority dstnat; policy accept; }}",
                 f"add chain {t} out {{ type nat hook output priority -100; policy accept; }}",
                 f"add map {t} svc4 {{ type ipv4_addr . inet_proto . inet_service : verdict; }}",
                 f"add map {t} svc6 {{ type ipv6_addr . inet_proto . inet_service : verdict; }}",
                 f"add map {t} fwm4 {{ type mark : verdict; }}",
                 f"add map {t} fwm6 {{ type mark : verdict; }}",
                 f"flush chain {t} pre", f"flush chain {t} out"]
        for chain in ("pre", "out"):
            lines += [f"add rule {t} {chain} meta nfproto ipv4 ip daddr . meta l4proto . th dport vmap @svc4",
                      f"add rule {t} {chain} meta nfproto ipv6 ip6 daddr . meta l4proto . th dport vmap @svc6",
                      f"add rule {t} {chain} meta nfproto ipv4 meta mark vmap @fwm4",
                      f"add rule {t} {chain} meta nfproto ipv6 meta mark vmap @fwm6"]
        self._run(["-f", "-"], "\n".join(lines) + "\n")

    # -- apply ------------------------------------------------------------------------------------
    def apply(self, ops: Sequence[Op]) -> list[Exception]:
        """All operations in one atomic nft transaction; on refusal nothing changes and the error is returned."""
        if not ops:
            return []
        before = self._known if self._known is not None else self.read()
        try:
            after = apply_ops(before, ops)
        except KeyError as exc:
            return [NftError(f"inconsistent operations: {exc}")]
        touched: set[ServiceKey] = set()
        for op in ops:
            match op:
                case Flush():
                    touched |= set(before.services)
                case AddService(key=k) | EditService(key=k) | DelService(key=k):
                    touched.add(k)
                case AddDest(service=k) | EditDest(service=k) | DelDest(service=k):
                    touched.add(k)
                case SetTimeouts():
                    log.warning("lvs_timeouts have no effect with the nftables LVS backend")
        t = f"inet {self.table}"
        lines: list[str] = []
        for key in sorted(touched):
            chain = chain_name(key)
            vmap, element = _vmap(key)
            existed, exists = key in before.services, key in after.services
            if existed:
                lines.append(f"flush chain {t} {chain}")
            if exists:
                svc = after.services[key]
                if not existed:
                    lines.append(f"add chain {t} {chain}")
                lines.append(f"add rule {t} {chain} {_dnat_rule(key, svc)}")
                lines.append(f'add rule {t} {chain} counter comment "{_service_comment(svc.attrs)}"')
                lines.extend(f'add rule {t} {chain} counter comment "{_dest_comment(d, a)}"'
                             for d, a in sorted(svc.dests.items()))
                if not existed:
                    lines.append(f"add element {t} {vmap} {{ {element} : jump {chain} }}")
            elif existed:
                lines.append(f"delete element {t} {vmap} {{ {element} }}")
                lines.append(f"delete chain {t} {chain}")
        if not lines:
            return []
        try:
            self._run(["-f", "-"], "\n".join(lines) + "\n")
        except NftError as exc:
            log.error("nftables LVS: %s", exc)
            self._known = None
            return [exc]
        self._known = after
        return []

    # -- read ---------------------------------------------------------------------------------------
    def read(self, keys: Iterable[ServiceKey] | None = None) -> Table:
        data = json.loads(self._run(["-j", "list", "table", "inet", self.table]))
        comments: dict[str, list[str]] = {}
        dispatched: set[str] = set()
        for item in data.get("nftables", []):
            rule = item.get("rule")
            if rule and "comment" in rule and rule["comment"].startswith("pka "):
                comments.setdefault(rule["chain"], []).append(rule["comment"])
            nft_map = item.get("map")
            if nft_map and nft_map.get("name") in ("svc4", "svc6", "fwm4", "fwm6"):
                for elem in nft_map.get("elem", []):
                    verdict = elem[1] if isinstance(elem, list) else None
                    if isinstance(verdict, dict) and "jump" in verdict:
                        dispatched.add(verdict["jump"]["target"])
        services: dict[ServiceKey, Service] = {}
        for chain, lines in comments.items():
            if chain not in dispatched:
                continue              # a chain nothing jumps to serves nobody
            key = _key_from_chain(chain)
            attrs: ServiceAttrs | None = None
            dests: dict[DestKey, DestAttrs] = {}
            for line in lines:
                f = line.split(" ")
                if f[1] == "s":
                    attrs = ServiceAttrs(f[2], int(f[3]), int(f[4]), int(f[5]), "" if f[6] == "-" else f[6])
                elif f[1] == "d":
                    n = [int(x) for x in f[4:]]
                    dests[DestKey(f[2], int(f[3]))] = DestAttrs(Fwd(n[0]), *n[1:])
            if key is not None and attrs is not None:
                services[key] = Service(attrs, dests)
        self._known = Table(services, Timeouts())
        if keys is not None:
            wanted = set(keys)
            services = {k: v for k, v in services.items() if k in wanted}
        return Table(services, Timeouts())


def _key_from_chain(chain: str) -> ServiceKey | None:
    parts = chain.split("_")
    fam = AF_INET6 if parts[0].endswith("6") else AF_INET
    if parts[0].startswith("fwm"):
        return ServiceKey(fam, 0, "", 0, int(parts[1]))
    if parts[0].startswith("svc"):
        proto = {v: k for k, v in PROTOCOL_NAMES.items()}.get(parts[1], 0)
        addr = "_".join(parts[2:-1]).replace("_", ".") if fam != AF_INET6 else "_".join(parts[2:-1]).replace("x", ":")
        return ServiceKey(fam, proto, normalise_addr(addr), int(parts[-1]))
    return None
