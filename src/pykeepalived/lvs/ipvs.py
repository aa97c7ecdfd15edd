"""Kernel IPVS through generic netlink (pyroute2), applying core.lvs operations.

Call it from one thread only, never from the uvloop thread: pyroute2 runs its own asyncio loop
for each sync call (see `pykeepalived.lvs.worker`). The message classes are our own rather than
pyroute2's `ipvsmsg`, because pyroute2 types IPVS_SVC_ATTR_NETMASK as an IPv4 address (IPv6
services need the prefix length 128), IPVS_DEST_ATTR_TUN_PORT in host order (the kernel reads
it big-endian) and the timeout attributes as hex; and we send exactly the attributes keepalived's
libipvs sends. pyroute2's own traps are avoided by construction: there is no "update" command
here (its "update" deletes), the forwarding method is always sent and read back from the raw
attribute, and the scheduler is always explicit.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg, nla
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import GenericNetlinkSocket
from pyroute2.netlink.generic.ipvs import ipvsstats
from pyroute2.netlink.nlsocket import NetlinkRequest

from pykeepalived.core.lvs import (
    AF_INET,
    AF_INET6,
    PROTO_NONE,
    SVC_F_HASHED,
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
    Op,
    Service,
    ServiceAttrs,
    ServiceKey,
    SetTimeouts,
    Table,
    Timeouts,
    normalise_addr,
)

log = logging.getLogger(__name__)

GENL_NAME = "IPVS"
GENL_VERSION = 1

CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE = 1, 2, 3, 4
CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST, CMD_GET_DEST = 5, 6, 7, 8
CMD_SET_CONFIG, CMD_GET_CONFIG = 12, 13
CMD_FLUSH = 17


class IpvsError(Exception):
    """A kernel refusal of one IPVS operation, naming the operation."""

    def __init__(self, op: object, err: NetlinkError) -> None:
        super().__init__(f"IPVS {op}: {err.args[1] if len(err.args) > 1 else err} (errno {err.code})")
        self.op = op
        self.code = err.code


class ipvs_msg(genlmsg):  # type: ignore[misc]
    """IPVS generic netlink message (include/uapi/linux/ip_vs.h, IPVS_CMD_ATTR_*)."""

    prefix = "IPVS_CMD_ATTR_"
    nla_map = (
        ("IPVS_CMD_ATTR_UNSPEC", "none"),
        ("IPVS_CMD_ATTR_SERVICE", "service"),
        ("IPVS_CMD_ATTR_DEST", "dest"),
        ("IPVS_CMD_ATTR_DAEMON", "hex"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", "uint32"),
        ("IPVS_CMD_ATTR_TIMEOUT_UDP", "uint32"),
    )

    class service(nla, ipvsstats):  # type: ignore[misc]
        prefix = "IPVS_SVC_ATTR_"
        nla_map = (
            ("IPVS_SVC_ATTR_UNSPEC", "none"),
            ("IPVS_SVC_ATTR_AF", "uint16"),
            ("IPVS_SVC_ATTR_PROTOCOL", "uint16"),
            ("IPVS_SVC_ATTR_ADDR", "target(nla,IPVS_SVC_ATTR_AF)"),
            ("IPVS_SVC_ATTR_PORT", "be16"),
            ("IPVS_SVC_ATTR_FWMARK", "uint32"),
            ("IPVS_SVC_ATTR_SCHED_NAME", "asciiz"),
            ("IPVS_SVC_ATTR_FLAGS", "flags"),
            ("IPVS_SVC_ATTR_TIMEOUT", "uint32"),
            ("IPVS_SVC_ATTR_NETMASK", "uint32"),
            ("IPVS_SVC_ATTR_STATS", "stats"),
            ("IPVS_SVC_ATTR_PE_NAME", "asciiz"),
            ("IPVS_SVC_ATTR_STATS64", "stats64"),
        )

        class flags(nla):  # type: ignore[misc]
            fields = (("flags", "I"), ("mask", "I"))

    class dest(nla, ipvsstats):  # type: ignore[misc]
        prefix = "IPVS_DEST_ATTR_"
        nla_map = (
            ("IPVS_DEST_ATTR_UNSPEC", "none"),
            ("IPVS_DEST_ATTR_ADDR", "target(nla,IPVS_DEST_ATTR_ADDR_FAMILY)"),
            ("IPVS_DEST_ATTR_PORT", "be16"),
            ("IPVS_DEST_ATTR_FWD_METHOD", "uint32"),
            ("IPVS_DEST_ATTR_WEIGHT", "uint32"),
            ("IPVS_DEST_ATTR_U_THRESH", "uint32"),
            ("IPVS_DEST_ATTR_L_THRESH", "uint32"),
            ("IPVS_DEST_ATTR_ACTIVE_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_INACT_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_PERSIST_CONNS", "uint32"),
            ("IPVS_DEST_ATTR_STATS", "stats"),
            ("IPVS_DEST_ATTR_ADDR_FAMILY", "uint16"),
            ("IPVS_DEST_ATTR_STATS64", "stats64"),
            ("IPVS_DEST_ATTR_TUN_TYPE", "uint8"),
            ("IPVS_DEST_ATTR_TUN_PORT", "be16"),
            ("IPVS_DEST_ATTR_TUN_FLAGS", "uint16"),
        )


def _mask_to_wire(attrs: ServiceAttrs, af: int) -> int:
    """The IPv4 mask travels in network byte order inside a u32; IPv6 sends the prefix length."""
    if af == AF_INET6:
        return attrs.netmask
    return int.from_bytes(attrs.netmask.to_bytes(4, "big"), sys.byteorder)


def _mask_from_wire(value: int, af: int) -> int:
    if af == AF_INET6:
        return value
    return int.from_bytes(value.to_bytes(4, sys.byteorder), "big")


def _key_attrs(key: ServiceKey) -> list[tuple[str, Any]]:
    if key.fwmark:
        return [("IPVS_SVC_ATTR_AF", key.af), ("IPVS_SVC_ATTR_FWMARK", key.fwmark)]
    return [("IPVS_SVC_ATTR_AF", key.af), ("IPVS_SVC_ATTR_PROTOCOL", key.protocol),
            ("IPVS_SVC_ATTR_ADDR", key.addr), ("IPVS_SVC_ATTR_PORT", key.port)]


def _service_nla(key: ServiceKey, attrs: ServiceAttrs | None) -> dict[str, Any]:
    items = _key_attrs(key)
    if attrs is not None:
        items += [("IPVS_SVC_ATTR_SCHED_NAME", attrs.sched)]
        if attrs.pe_name:
            items.append(("IPVS_SVC_ATTR_PE_NAME", attrs.pe_name))
        items += [("IPVS_SVC_ATTR_FLAGS", {"flags": attrs.flags, "mask": 0xFFFFFFFF}),
                  ("IPVS_SVC_ATTR_TIMEOUT", attrs.timeout),
                  ("IPVS_SVC_ATTR_NETMASK", _mask_to_wire(attrs, key.af))]
    return {"attrs": items}


def _dest_nla(dest: DestKey, attrs: DestAttrs | None) -> dict[str, Any]:
    af = AF_INET6 if ":" in dest.addr else AF_INET
    items: list[tuple[str, Any]] = [("IPVS_DEST_ATTR_ADDR_FAMILY", af), ("IPVS_DEST_ATTR_ADDR", dest.addr),
                                    ("IPVS_DEST_ATTR_PORT", dest.port)]
    if attrs is not None:
        items += [("IPVS_DEST_ATTR_FWD_METHOD", int(attrs.fwd)), ("IPVS_DEST_ATTR_WEIGHT", attrs.weight),
                  ("IPVS_DEST_ATTR_U_THRESH", attrs.u_thresh), ("IPVS_DEST_ATTR_L_THRESH", attrs.l_thresh)]
        if attrs.fwd is Fwd.TUNNEL:
            items += [("IPVS_DEST_ATTR_TUN_TYPE", attrs.tun_type), ("IPVS_DEST_ATTR_TUN_PORT", attrs.tun_port),
                      ("IPVS_DEST_ATTR_TUN_FLAGS", attrs.tun_flags)]
    return {"attrs": items}


def _attr(msg: Any, name: str, default: Any = None) -> Any:
    value = msg.get_attr(name)
    return default if value is None else value


def service_from_nla(svc: Any) -> tuple[ServiceKey, ServiceAttrs]:
    af = _attr(svc, "IPVS_SVC_ATTR_AF", AF_INET)
    fwmark = _attr(svc, "IPVS_SVC_ATTR_FWMARK", 0)
    if fwmark:
        key = ServiceKey(af, PROTO_NONE, "", 0, fwmark)
    else:
        key = ServiceKey(af, _attr(svc, "IPVS_SVC_ATTR_PROTOCOL", 0),
                         normalise_addr(_attr(svc, "IPVS_SVC_ATTR_ADDR", "")), _attr(svc, "IPVS_SVC_ATTR_PORT", 0))
    flags = _attr(svc, "IPVS_SVC_ATTR_FLAGS", {"flags": 0})
    attrs = ServiceAttrs(sched=_attr(svc, "IPVS_SVC_ATTR_SCHED_NAME", ""),
                         flags=flags["flags"] & ~SVC_F_HASHED,
                         timeout=_attr(svc, "IPVS_SVC_ATTR_TIMEOUT", 0),
                         netmask=_mask_from_wire(_attr(svc, "IPVS_SVC_ATTR_NETMASK", 0xFFFFFFFF), af),
                         pe_name=_attr(svc, "IPVS_SVC_ATTR_PE_NAME", ""))
    return key, attrs


def dest_from_nla(dest: Any) -> tuple[DestKey, DestAttrs]:
    fwd = Fwd(_attr(dest, "IPVS_DEST_ATTR_FWD_METHOD", 0) & 0x7)
    tunnel = fwd is Fwd.TUNNEL
    return (DestKey(normalise_addr(_attr(dest, "IPVS_DEST_ATTR_ADDR", "")), _attr(dest, "IPVS_DEST_ATTR_PORT", 0)),
            DestAttrs(fwd, _attr(dest, "IPVS_DEST_ATTR_WEIGHT", 0),
                      _attr(dest, "IPVS_DEST_ATTR_U_THRESH", 0), _attr(dest, "IPVS_DEST_ATTR_L_THRESH", 0),
                      _attr(dest, "IPVS_DEST_ATTR_TUN_TYPE", 0) if tunnel else 0,
                      _attr(dest, "IPVS_DEST_ATTR_TUN_PORT", 0) if tunnel else 0,
                      _attr(dest, "IPVS_DEST_ATTR_TUN_FLAGS", 0) if tunnel else 0))


class IpvsSocket(GenericNetlinkSocket):  # type: ignore[misc]
    pass


BATCH = 256     # messages per sendmsg: well inside the socket buffers, acks included


def _message(cmd: int, attrs: list[tuple[str, Any]]) -> Any:
    msg = ipvs_msg()
    msg["cmd"] = cmd
    msg["version"] = GENL_VERSION
    msg["attrs"] = attrs
    return msg


def _op_message(op: Op) -> Any:
    """The one IPVS command each core operation is: never pyroute2's "update" (it deletes)."""
    match op:
        case AddService(key=k, attrs=a):
            return _message(CMD_NEW_SERVICE, [("IPVS_CMD_ATTR_SERVICE", _service_nla(k, a))])
        case EditService(key=k, attrs=a):
            return _message(CMD_SET_SERVICE, [("IPVS_CMD_ATTR_SERVICE", _service_nla(k, a))])
        case DelService(key=k):
            return _message(CMD_DEL_SERVICE, [("IPVS_CMD_ATTR_SERVICE", _service_nla(k, None))])
        case AddDest(service=k, dest=d, attrs=a):
            return _message(CMD_NEW_DEST, [("IPVS_CMD_ATTR_SERVICE", _service_nla(k, None)),
                                           ("IPVS_CMD_ATTR_DEST", _dest_nla(d, a))])
        case EditDest(service=k, dest=d, attrs=a):
            return _message(CMD_SET_DEST, [("IPVS_CMD_ATTR_SERVICE", _service_nla(k, None)),
                                           ("IPVS_CMD_ATTR_DEST", _dest_nla(d, a))])
        case DelDest(service=k, dest=d):
            return _message(CMD_DEL_DEST, [("IPVS_CMD_ATTR_SERVICE", _service_nla(k, None)),
                                           ("IPVS_CMD_ATTR_DEST", _dest_nla(d, None))])
        case Flush():
            return _message(CMD_FLUSH, [])
        case SetTimeouts(timeouts=t):
            return _message(CMD_SET_CONFIG, [("IPVS_CMD_ATTR_TIMEOUT_TCP", t.tcp),
                                             ("IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", t.tcpfin),
                                             ("IPVS_CMD_ATTR_TIMEOUT_UDP", t.udp)])
    raise TypeError(f"not an LVS operation: {op!r}")


def available() -> bool:
    """True when the kernel has IPVS: /proc/net/ip_vs exists or the generic netlink family resolves."""
    import os

    if os.path.exists("/proc/net/ip_vs"):
        return True
    try:
        sock = IpvsSocket()
        try:
            sock.bind(GENL_NAME, ipvs_msg)
        finally:
            sock.close()
        return True
    except Exception:
        return False


class IpvsBackend:
    """Applies operations to the kernel's IPVS table and reads it back. One thread only."""

    name = "ipvs"

    def __init__(self) -> None:
        self._sock = IpvsSocket()
        try:
            self._sock.bind(GENL_NAME, ipvs_msg)
        except Exception:
            self._sock.close()
            raise
        self.requests = 0      # netlink requests sent (reads and writes), for tests and the status API

    def close(self) -> None:
        self._sock.close()

    # -- requests ----------------------------------------------------------------------------
    def _request(self, cmd: int, attrs: list[tuple[str, Any]], dump: bool = False) -> tuple[Any, ...]:
        msg = _message(cmd, attrs)
        self.requests += 1
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        return tuple(self._sock.nlm_request(msg, msg_type=self._sock.prid, msg_flags=flags))

    def apply(self, ops: Sequence[Op]) -> list[IpvsError]:
        """Apply every operation, in order; a refused one is logged and returned, the rest still run.

        Operations go out in batches of BATCH messages per sendmsg (the kernel handles them in
        order and acknowledges each), so a large table is not one round trip per entry."""
        errors: list[IpvsError] = []
        for i in range(0, len(ops), BATCH):
            errors += self._batch([(op, _op_message(op)) for op in ops[i:i + BATCH]])
        for error in errors:
            log.error("%s", error)
        return errors

    def _batch(self, items: list[tuple[Op, Any]]) -> list[IpvsError]:
        asock = self._sock.asyncore
        prid = self._sock.prid
        self.requests += len(items)

        async def run() -> list[IpvsError]:
            sent = []
            data = b""
            for op, msg in items:
                req = NetlinkRequest(asock, msg, msg_type=prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK)
                await req.prepare()
                data += req.msg.data
                sent.append((op, req))
            asock.send(data)
            errors: list[IpvsError] = []
            for op, req in sent:
                try:
                    async for _ in req.response():
                        pass
                except NetlinkError as err:
                    errors.append(IpvsError(op, err))
            return errors

        result: list[IpvsError] = self._sock._run_with_cleanup(run)
        return result

    # -- reading -----------------------------------------------------------------------------
    def read_timeouts(self) -> Timeouts:
        (reply,) = self._request(CMD_GET_CONFIG, [])[:1]
        return Timeouts(_attr(reply, "IPVS_CMD_ATTR_TIMEOUT_TCP", 0), _attr(reply, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", 0),
                        _attr(reply, "IPVS_CMD_ATTR_TIMEOUT_UDP", 0))

    def read(self, keys: Iterable[ServiceKey] | None = None) -> Table:
        """The live table (all services, or only `keys`), with the kernel's timeouts."""
        services: dict[ServiceKey, Service] = {}
        wanted = None if keys is None else set(keys)
        for reply in self._request(CMD_GET_SERVICE, [], dump=True):
            svc = reply.get_attr("IPVS_CMD_ATTR_SERVICE")
            if svc is None:
                continue
            key, attrs = service_from_nla(svc)
            if wanted is not None and key not in wanted:
                continue
            dests = {}
            for d in self._request(CMD_GET_DEST, [("IPVS_CMD_ATTR_SERVICE", _service_nla(key, None))], dump=True):
                nla_dest = d.get_attr("IPVS_CMD_ATTR_DEST")
                if nla_dest is not None:
                    dk, da = dest_from_nla(nla_dest)
                    dests[dk] = da
            services[key] = Service(attrs, dests)
        return Table(services, self.read_timeouts())


def service_str(key: ServiceKey) -> str:
    """ipvsadm-like name of a service, for log lines."""
    if key.fwmark:
        return str(key)
    addr = ipaddress.ip_address(key.addr)
    return f"{key.protocol}/{'[' + str(addr) + ']' if addr.version == 6 else addr}:{key.port}"
