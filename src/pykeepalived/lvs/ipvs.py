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
import os
import socket
import struct
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg, nla
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import GenericNetlinkSocket
from pyroute2.netlink.generic.ipvs import ipvsstats

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
from pykeepalived.textbytes import to_bytes

log = logging.getLogger(__name__)

GENL_NAME = "IPVS"
GENL_VERSION = 1

CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE = 1, 2, 3, 4
CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST, CMD_GET_DEST = 5, 6, 7, 8
CMD_SET_CONFIG, CMD_GET_CONFIG = 12, 13
CMD_FLUSH = 17


class IpvsError(Exception):
    """A kernel refusal of one IPVS operation, naming the operation."""

    def __init__(self, op: object, err: NetlinkError) -> None:  # op: an Op, or a description
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


# -- hand-packed writes (include/uapi/linux/ip_vs.h attribute numbers) -------------------------
NETLINK_GENERIC = 16
NLMSG_ERROR = 2
_SVC = {"AF": 1, "PROTOCOL": 2, "ADDR": 3, "PORT": 4, "FWMARK": 5, "SCHED_NAME": 6, "FLAGS": 7, "TIMEOUT": 8,
        "NETMASK": 9, "PE_NAME": 11}
_DEST = {"ADDR": 1, "PORT": 2, "FWD_METHOD": 3, "WEIGHT": 4, "U_THRESH": 5, "L_THRESH": 6, "ADDR_FAMILY": 11,
         "TUN_TYPE": 13, "TUN_PORT": 14, "TUN_FLAGS": 15}


def _nla(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _svc_bytes(key: ServiceKey, attrs: ServiceAttrs | None) -> bytes:
    out = [_nla(_SVC["AF"], struct.pack("=H", key.af))]
    if key.fwmark:
        out.append(_nla(_SVC["FWMARK"], struct.pack("=I", key.fwmark)))
    else:
        out += [_nla(_SVC["PROTOCOL"], struct.pack("=H", key.protocol)),
                _nla(_SVC["ADDR"], ipaddress.ip_address(key.addr).packed),
                _nla(_SVC["PORT"], struct.pack("!H", key.port))]
    if attrs is not None:
        out.append(_nla(_SVC["SCHED_NAME"], to_bytes(attrs.sched) + b"\0"))
        if attrs.pe_name:
            out.append(_nla(_SVC["PE_NAME"], to_bytes(attrs.pe_name) + b"\0"))
        out += [_nla(_SVC["FLAGS"], struct.pack("=II", attrs.flags, 0xFFFFFFFF)),
                _nla(_SVC["TIMEOUT"], struct.pack("=I", attrs.timeout)),
                _nla(_SVC["NETMASK"], struct.pack("=I", _mask_to_wire(attrs, key.af)))]
    return _nla(1, b"".join(out))          # IPVS_CMD_ATTR_SERVICE


def _dest_bytes(dest: DestKey, attrs: DestAttrs | None) -> bytes:
    address = ipaddress.ip_address(dest.addr)
    af = AF_INET6 if address.version == 6 else AF_INET
    out = [_nla(_DEST["ADDR_FAMILY"], struct.pack("=H", af)), _nla(_DEST["ADDR"], address.packed),
           _nla(_DEST["PORT"], struct.pack("!H", dest.port))]
    if attrs is not None:
        out += [_nla(_DEST["FWD_METHOD"], struct.pack("=I", int(attrs.fwd))),
                _nla(_DEST["WEIGHT"], struct.pack("=I", attrs.weight)),
                _nla(_DEST["U_THRESH"], struct.pack("=I", attrs.u_thresh)),
                _nla(_DEST["L_THRESH"], struct.pack("=I", attrs.l_thresh))]
        if attrs.fwd is Fwd.TUNNEL:
            out += [_nla(_DEST["TUN_TYPE"], struct.pack("=B", attrs.tun_type)),
                    _nla(_DEST["TUN_PORT"], struct.pack("!H", attrs.tun_port)),
                    _nla(_DEST["TUN_FLAGS"], struct.pack("=H", attrs.tun_flags))]
    return _nla(2, b"".join(out))          # IPVS_CMD_ATTR_DEST


def encode_op(op: Op, family: int, seq: int) -> bytes:
    """One IPVS request (nlmsghdr + genlmsghdr + attributes) asking for an ack. Never pyroute2's
    "update" command (it deletes); the forwarding method and scheduler are always explicit."""
    match op:
        case AddService(key=k, attrs=a):
            cmd, body = CMD_NEW_SERVICE, _svc_bytes(k, a)
        case EditService(key=k, attrs=a):
            cmd, body = CMD_SET_SERVICE, _svc_bytes(k, a)
        case DelService(key=k):
            cmd, body = CMD_DEL_SERVICE, _svc_bytes(k, None)
        case AddDest(service=k, dest=d, attrs=a):
            cmd, body = CMD_NEW_DEST, _svc_bytes(k, None) + _dest_bytes(d, a)
        case EditDest(service=k, dest=d, attrs=a):
            cmd, body = CMD_SET_DEST, _svc_bytes(k, None) + _dest_bytes(d, a)
        case DelDest(service=k, dest=d):
            cmd, body = CMD_DEL_DEST, _svc_bytes(k, None) + _dest_bytes(d, None)
        case Flush():
            cmd, body = CMD_FLUSH, b""
        case SetTimeouts(timeouts=t):
            cmd, body = CMD_SET_CONFIG, (_nla(4, struct.pack("=I", t.tcp)) + _nla(5, struct.pack("=I", t.tcpfin))
                                         + _nla(6, struct.pack("=I", t.udp)))
        case _:
            raise TypeError(f"not an LVS operation: {op!r}")
    payload = struct.pack("=BBH", cmd, GENL_VERSION, 0) + body
    return struct.pack("=IHHII", 16 + len(payload), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + payload


def parse_acks(buf: bytes) -> Iterator[tuple[int, int]]:
    """(sequence number, error code) of every NLMSG_ERROR (an ack when the code is 0) in a buffer."""
    offset = 0
    while offset + 16 <= len(buf):
        length, kind, _flags, seq, _pid = struct.unpack_from("=IHHII", buf, offset)
        if length < 16:
            break
        if kind == NLMSG_ERROR and length >= 20:
            (code,) = struct.unpack_from("=i", buf, offset + 16)
            yield seq, code
        offset += (length + 3) & ~3


NLMSG_DONE = 3
CMD_NEW_DAEMON, CMD_DEL_DAEMON, CMD_GET_DAEMON = 9, 10, 11
SYNC_MASTER, SYNC_BACKUP = 1, 2          # IP_VS_STATE_MASTER / IP_VS_STATE_BACKUP
_DAEMON = {"STATE": 1, "MCAST_IFN": 2, "SYNC_ID": 3, "SYNC_MAXLEN": 4, "MCAST_GROUP": 5, "MCAST_GROUP6": 6,
           "MCAST_PORT": 7, "MCAST_TTL": 8}


@dataclass(frozen=True, slots=True)
class SyncDaemon:
    """One IPVS connection-sync daemon (lvs_sync_daemon): 0 means the kernel's default."""

    state: int                   # SYNC_MASTER or SYNC_BACKUP
    ifname: str
    syncid: int
    maxlen: int = 0
    group: str = ""              # multicast group (default 224.0.0.81)
    port: int = 0                # default 8848
    ttl: int = 0                 # default 1


def _daemon_bytes(d: SyncDaemon, full: bool = True) -> bytes:
    out = [_nla(_DAEMON["STATE"], struct.pack("=I", d.state))]
    if full:
        out += [_nla(_DAEMON["MCAST_IFN"], os.fsencode(d.ifname) + b"\0"),
                _nla(_DAEMON["SYNC_ID"], struct.pack("=I", d.syncid))]
        if d.maxlen:
            out.append(_nla(_DAEMON["SYNC_MAXLEN"], struct.pack("=H", d.maxlen)))
        if d.group:
            g = ipaddress.ip_address(d.group)
            out.append(_nla(_DAEMON["MCAST_GROUP6" if g.version == 6 else "MCAST_GROUP"], g.packed))
        if d.port:
            out.append(_nla(_DAEMON["MCAST_PORT"], struct.pack("!H", d.port)))
        if d.ttl:
            out.append(_nla(_DAEMON["MCAST_TTL"], struct.pack("=B", d.ttl)))
    return _nla(3, b"".join(out))          # IPVS_CMD_ATTR_DAEMON


def daemon_from_raw(raw: bytes) -> SyncDaemon:
    a = parse_nlas(raw)
    group = a.get(_DAEMON["MCAST_GROUP6"]) or a.get(_DAEMON["MCAST_GROUP"])
    return SyncDaemon(_u("=I", a.get(_DAEMON["STATE"])), _text(a.get(_DAEMON["MCAST_IFN"])),
                      _u("=I", a.get(_DAEMON["SYNC_ID"])), _u("=H", a.get(_DAEMON["SYNC_MAXLEN"])),
                      str(ipaddress.ip_address(group)) if group else "", _u("!H", a.get(_DAEMON["MCAST_PORT"])),
                      _u("=B", a.get(_DAEMON["MCAST_TTL"])))


def parse_nlas(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """Attribute type (nested flag cleared) -> payload, for one attribute block."""
    out: dict[int, bytes] = {}
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return out


def _u(fmt: str, raw: bytes | None, default: int = 0) -> int:
    return int(struct.unpack_from(fmt, raw)[0]) if raw else default


def _ip(raw: bytes | None, af: int) -> str:
    if not raw:
        return ""
    return str(ipaddress.ip_address(raw[:16] if af == AF_INET6 else raw[:4]))


def _text(raw: bytes | None) -> str:
    return raw.split(b"\0", 1)[0].decode() if raw else ""


def service_from_raw(raw: bytes) -> tuple[ServiceKey, ServiceAttrs]:
    a = parse_nlas(raw)
    af = _u("=H", a.get(_SVC["AF"]), AF_INET)
    fwmark = _u("=I", a.get(_SVC["FWMARK"]))
    if fwmark:
        key = ServiceKey(af, PROTO_NONE, "", 0, fwmark)
    else:
        key = ServiceKey(af, _u("=H", a.get(_SVC["PROTOCOL"])), _ip(a.get(_SVC["ADDR"]), af),
                         _u("!H", a.get(_SVC["PORT"])))
    flags = _u("=I", a.get(_SVC["FLAGS"]))
    return key, ServiceAttrs(_text(a.get(_SVC["SCHED_NAME"])), flags & ~SVC_F_HASHED, _u("=I", a.get(_SVC["TIMEOUT"])),
                             _mask_from_wire(_u("=I", a.get(_SVC["NETMASK"]), 0xFFFFFFFF), af),
                             _text(a.get(_SVC["PE_NAME"])))


def dest_from_raw(raw: bytes, service_af: int) -> tuple[DestKey, DestAttrs]:
    a = parse_nlas(raw)
    af = _u("=H", a.get(_DEST["ADDR_FAMILY"]), service_af)
    fwd = Fwd(_u("=I", a.get(_DEST["FWD_METHOD"])) & 0x7)
    tunnel = fwd is Fwd.TUNNEL
    return (DestKey(_ip(a.get(_DEST["ADDR"]), af), _u("!H", a.get(_DEST["PORT"]))),
            DestAttrs(fwd, _u("=I", a.get(_DEST["WEIGHT"])), _u("=I", a.get(_DEST["U_THRESH"])),
                      _u("=I", a.get(_DEST["L_THRESH"])),
                      _u("=B", a.get(_DEST["TUN_TYPE"])) if tunnel else 0,
                      _u("!H", a.get(_DEST["TUN_PORT"])) if tunnel else 0,
                      _u("=H", a.get(_DEST["TUN_FLAGS"])) if tunnel else 0))


# IPVS_STATS_ATTR_1..10, in the nested IPVS_SVC_ATTR_STATS(64) / IPVS_DEST_ATTR_STATS(64)
STATS_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")
_STATS_ATTR, _STATS64_ATTR = 10, 12   # the same numbers in a service and in a destination


def stats_from_nlas(a: dict[int, bytes]) -> dict[str, int]:
    """The kernel's traffic counters of a service or destination (its attributes, parse_nlas):
    IPVS_*_ATTR_STATS64 (all u64) when present, else IPVS_*_ATTR_STATS (u32 and u64)."""
    raw64 = a.get(_STATS64_ATTR)
    if raw64 is not None:
        st = parse_nlas(raw64)
        return {name: _u("=Q", st.get(i + 1)) for i, name in enumerate(STATS_FIELDS)}
    raw = a.get(_STATS_ATTR)
    if raw is None:
        return {}
    st = parse_nlas(raw)
    return {name: _u("=Q" if len(st.get(i + 1) or b"") >= 8 else "=I", st.get(i + 1))
            for i, name in enumerate(STATS_FIELDS)}


ServiceStats = tuple[ServiceKey, dict[str, int], list[tuple[DestKey, dict[str, int]]]]


class IpvsSocket(GenericNetlinkSocket):  # type: ignore[misc]
    pass


BATCH = 256     # messages per sendmsg: well inside the socket buffers, acks included


def _message(cmd: int, attrs: list[tuple[str, Any]]) -> Any:
    msg = ipvs_msg()
    msg["cmd"] = cmd
    msg["version"] = GENL_VERSION
    msg["attrs"] = attrs
    return msg


def available() -> bool:
    """True when the kernel has IPVS: /proc/net/ip_vs exists or the generic netlink family resolves."""
    import os
    import subprocess

    if os.path.exists("/proc/net/ip_vs"):
        return True
    # keepalived loads the module itself (modprobe_ipvs) before giving up
    try:
        subprocess.run(["modprobe", "-q", "ip_vs"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pass
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
        # writes go through our own socket with hand-packed messages (see _batch)
        self._family = int(self._sock.prid)
        self._raw = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_GENERIC)
        self._raw.bind((0, 0))
        self._raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self._seq = 1

    def close(self) -> None:
        self._raw.close()
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
            errors += self._batch(ops[i:i + BATCH])
        for error in errors:
            log.error("%s", error)
        return errors

    def _batch(self, ops: Sequence[Op]) -> list[IpvsError]:
        """Send `ops` in one sendmsg on our own raw generic-netlink socket and collect each ack.

        pyroute2 encodes one message in about half a millisecond; a struct-packed message takes
        microseconds, which is what makes 11000 entries a matter of a second."""
        self.requests += len(ops)
        seq0 = self._seq
        self._seq += len(ops)
        data = b"".join(encode_op(op, self._family, seq0 + i) for i, op in enumerate(ops))
        self._raw.send(data)
        errors: list[IpvsError] = []
        pending = len(ops)
        while pending:
            buf = self._raw.recv(1 << 20)
            for seq, code in parse_acks(buf):
                i = seq - seq0
                if 0 <= i < len(ops):
                    pending -= 1
                    if code:
                        errors.append(IpvsError(ops[i], NetlinkError(-code)))
        return errors

    # -- reading -----------------------------------------------------------------------------
    def read_timeouts(self) -> Timeouts:
        (reply,) = self._request(CMD_GET_CONFIG, [])[:1]
        return Timeouts(_attr(reply, "IPVS_CMD_ATTR_TIMEOUT_TCP", 0), _attr(reply, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", 0),
                        _attr(reply, "IPVS_CMD_ATTR_TIMEOUT_UDP", 0))

    def _dump(self, cmd: int, body: bytes) -> list[bytes]:
        """One dump request on the raw socket; the attribute blocks of every reply."""
        self.requests += 1
        seq = self._seq
        self._seq += 1
        payload = struct.pack("=BBH", cmd, GENL_VERSION, 0) + body
        self._raw.send(struct.pack("=IHHII", 16 + len(payload), self._family, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
                       + payload)
        out: list[bytes] = []
        while True:
            buf = self._raw.recv(1 << 20)
            offset = 0
            while offset + 16 <= len(buf):
                length, kind, _flags, mseq, _pid = struct.unpack_from("=IHHII", buf, offset)
                if length < 16:
                    break
                if mseq == seq:
                    if kind == NLMSG_DONE:
                        return out
                    if kind == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", buf, offset + 16)
                        if code:
                            raise NetlinkError(-code)
                        return out
                    if kind == self._family:
                        out.append(buf[offset + 20:offset + length])     # after nlmsghdr + genlmsghdr
                offset += (length + 3) & ~3

    def read(self, keys: Iterable[ServiceKey] | None = None) -> Table:
        """The live table (all services, or only `keys`), with the kernel's timeouts."""
        services: dict[ServiceKey, Service] = {}
        wanted = None if keys is None else set(keys)
        for block in self._dump(CMD_GET_SERVICE, b""):
            raw = parse_nlas(block).get(1)          # IPVS_CMD_ATTR_SERVICE
            if raw is None:
                continue
            key, attrs = service_from_raw(raw)
            if wanted is not None and key not in wanted:
                continue
            dests = {}
            for dblock in self._dump(CMD_GET_DEST, _svc_bytes(key, None)):
                draw = parse_nlas(dblock).get(2)    # IPVS_CMD_ATTR_DEST
                if draw is not None:
                    dk, da = dest_from_raw(draw, key.af)
                    dests[dk] = da
            services[key] = Service(attrs, dests)
        return Table(services, self.read_timeouts())

    def read_stats(self, keys: Iterable[ServiceKey] | None = None) -> list[ServiceStats]:
        """The kernel's traffic counters (connections, packets, bytes, rates) of every service
        (or only `keys`) and of each of its destinations, as `ipvsadm -Ln --stats --exact` shows them."""
        out: list[ServiceStats] = []
        wanted = None if keys is None else set(keys)
        for block in self._dump(CMD_GET_SERVICE, b""):
            raw = parse_nlas(block).get(1)          # IPVS_CMD_ATTR_SERVICE
            if raw is None:
                continue
            key, _attrs = service_from_raw(raw)
            if wanted is not None and key not in wanted:
                continue
            dests = []
            for dblock in self._dump(CMD_GET_DEST, _svc_bytes(key, None)):
                draw = parse_nlas(dblock).get(2)    # IPVS_CMD_ATTR_DEST
                if draw is not None:
                    dk, _da = dest_from_raw(draw, key.af)
                    dests.append((dk, stats_from_nlas(parse_nlas(draw))))
            out.append((key, stats_from_nlas(parse_nlas(raw)), dests))
        return out

    # -- lvs_sync_daemon -------------------------------------------------------------------------
    def _daemon_cmd(self, cmd: int, d: SyncDaemon, full: bool) -> None:
        payload = struct.pack("=BBH", cmd, GENL_VERSION, 0) + _daemon_bytes(d, full)
        self.requests += 1
        seq = self._seq
        self._seq += 1
        self._raw.send(struct.pack("=IHHII", 16 + len(payload), self._family, NLM_F_REQUEST | NLM_F_ACK, seq, 0)
                       + payload)
        while True:
            for aseq, code in parse_acks(self._raw.recv(65536)):
                if aseq == seq:
                    if code:
                        raise IpvsError(f"sync daemon {d}", NetlinkError(-code))
                    return

    def sync_daemons(self) -> list[SyncDaemon]:
        return [daemon_from_raw(raw) for block in self._dump(CMD_GET_DAEMON, b"")
                if (raw := parse_nlas(block).get(3)) is not None]

    def set_sync_role(self, daemon: SyncDaemon, master: bool) -> None:
        """keepalived's ipvs_syncd_master/backup: stop the other role's daemon, start this one."""
        want = replace(daemon, state=SYNC_MASTER if master else SYNC_BACKUP)
        other = replace(daemon, state=SYNC_BACKUP if master else SYNC_MASTER)
        running = {d.state: d for d in self.sync_daemons()}
        if other.state in running:
            self._daemon_cmd(CMD_DEL_DAEMON, other, full=False)
        current = running.get(want.state)
        if current is None or (current.ifname, current.syncid) != (want.ifname, want.syncid):
            if current is not None:
                self._daemon_cmd(CMD_DEL_DAEMON, want, full=False)
            self._daemon_cmd(CMD_NEW_DAEMON, want, full=True)

    def stop_sync_daemons(self) -> None:
        for d in self.sync_daemons():
            self._daemon_cmd(CMD_DEL_DAEMON, d, full=False)


def service_str(key: ServiceKey) -> str:
    """ipvsadm-like name of a service, for log lines."""
    if key.fwmark:
        return str(key)
    addr = ipaddress.ip_address(key.addr)
    return f"{key.protocol}/{'[' + str(addr) + ']' if addr.version == 6 else addr}:{key.port}"
