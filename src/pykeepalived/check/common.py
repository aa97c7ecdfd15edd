"""What every checker shares: who it checks (`Target`), keepalived's address formats, and
non-blocking sockets opened with the common connection options (bindto, bind_port, bind_if,
fwmark) and bounded by `connect_timeout` without creating extra tasks."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
from dataclasses import dataclass, field

from pykeepalived.config import model

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SO_MARK = getattr(socket, "SO_MARK", 36)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


@dataclass(frozen=True, slots=True)
class RealServerKey:
    """Identity of a real server inside one virtual server: what results are keyed by.

    `vs` is `model.VirtualServer.key` (`IP:PORT/PROTO`, `FWM N` or `group NAME`)."""

    vs: str
    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.vs} -> {self.address}:{self.port}"


def trio(address: IPAddress | str, protocol: str, port: int) -> str:
    """keepalived's inet_sockaddrtotrio: `[1.2.3.4]:tcp:80`."""
    return f"[{address}]:{protocol.lower()}:{port}"


def pair(address: IPAddress | str, port: int) -> str:
    """keepalived's inet_sockaddrtopair: `[1.2.3.4]:80`."""
    return f"[{address}]:{port}"


def format_vs(vs: model.VirtualServer) -> str:
    """keepalived's format_vs (FMT_VS)."""
    if vs.group is not None:
        return f"[{vs.group}]:{vs.port}"
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    return trio(vs.address if vs.address is not None else "0.0.0.0", vs.protocol, vs.port)


@dataclass(frozen=True, slots=True)
class Target:
    """One real server of one virtual server, as a checker sees it."""

    key: RealServerKey
    rs_address: IPAddress
    rs_port: int
    protocol: str  # TCP, UDP, SCTP (the virtual server's)
    fmt_rs: str  # FMT_RS / FMT_CHK: `[IP]:tcp:PORT`
    fmt_vs: str  # FMT_VS

    @classmethod
    def of(cls, vs: model.VirtualServer, rs: model.RealServer) -> Target:
        proto = vs.protocol
        return cls(
            key=RealServerKey(vs.key, str(rs.address), rs.port),
            rs_address=rs.address,
            rs_port=rs.port,
            protocol=proto,
            fmt_rs=trio(rs.address, proto, rs.port),
            fmt_vs=format_vs(vs),
        )

    @classmethod
    def simple(cls, address: str, port: int, protocol: str = "TCP", vs: str = "test") -> Target:
        """A target without a configuration (tests, genhash)."""
        addr = ipaddress.ip_address(address)
        return cls(RealServerKey(vs, str(addr), port), addr, port, protocol, trio(addr, protocol, port),
                   vs)


@dataclass(frozen=True, slots=True)
class ConnOpts:
    """Resolved connection options of one checker (keepalived's conn_opts_t)."""

    dst: IPAddress
    port: int
    bindto: IPAddress | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    fwmark: int | None = None
    timeout: float = 5.0
    # (host text, port[, flowinfo, scope]): formatting an address costs more than a connect's Python side
    sockaddr: tuple[str, int] | tuple[str, int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        addr: tuple[str, int] | tuple[str, int, int, int] = (str(self.dst), self.port)
        if self.dst.version == 6 and self.dst.is_link_local and self.bind_if:
            # a link-local destination needs its interface: bind_if names it
            try:
                addr = (str(self.dst), self.port, 0, socket.if_nametoindex(self.bind_if))
            except OSError:
                pass
        object.__setattr__(self, "sockaddr", addr)

    @classmethod
    def of(cls, spec: model.Checker, target: Target) -> ConnOpts:
        return cls(
            dst=spec.connect_ip if spec.connect_ip is not None else target.rs_address,
            port=spec.connect_port if spec.connect_port is not None else target.rs_port,
            bindto=spec.bindto,
            bind_port=spec.bind_port,
            bind_if=spec.bind_if,
            fwmark=spec.fwmark,
            # keepalived refuses a zero timeout and uses one second
            timeout=spec.connect_timeout if spec.connect_timeout > 0 else 1.0,
        )

    @property
    def family(self) -> int:
        return socket.AF_INET6 if self.dst.version == 6 else socket.AF_INET

    @property
    def pair(self) -> str:
        return pair(self.dst, self.port)


class ConnectError(Exception):
    """A connection could not be made; `timeout` tells a timeout from a refusal/error."""

    def __init__(self, message: str, *, timeout: bool = False, immediate: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.immediate = immediate  # connect() itself failed (keepalived's connect_fail)


def make_socket(co: ConnOpts, kind: int, proto: int = 0) -> socket.socket:
    """A non-blocking socket with the common options applied and bound when asked."""
    sock = socket.socket(co.family, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, proto)
    try:
        if co.fwmark:
            sock.setsockopt(socket.SOL_SOCKET, SO_MARK, co.fwmark)
        if co.bind_if:
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, os.fsencode(co.bind_if))
        if co.bindto is not None or co.bind_port:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            any_addr = "::" if co.family == socket.AF_INET6 else "0.0.0.0"
            sock.bind((str(co.bindto) if co.bindto is not None else any_addr, co.bind_port or 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def tcp_connect(co: ConnOpts, deadline: float | None = None) -> socket.socket:
    """Connect a TCP socket within the timeout (or until `deadline`, loop time).

    One future and one timer handle per connection, no extra task: this path runs
    thousands of times a second."""
    loop = asyncio.get_running_loop()
    sock = make_socket(co, socket.SOCK_STREAM)
    err = sock.connect_ex(co.sockaddr)
    if err == 0:
        return sock
    if err != errno.EINPROGRESS:
        sock.close()
        raise ConnectError(os.strerror(err), immediate=True)
    fut: asyncio.Future[int] = loop.create_future()
    fd = sock.fileno()

    def writable() -> None:
        if not fut.done():
            fut.set_result(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))

    def expired() -> None:
        if not fut.done():
            fut.set_result(-1)

    loop.add_writer(fd, writable)
    when = deadline if deadline is not None else loop.time() + co.timeout
    timer = loop.call_at(when, expired)
    try:
        res = await fut
    except BaseException:
        timer.cancel()
        loop.remove_writer(fd)
        sock.close()
        raise
    timer.cancel()
    loop.remove_writer(fd)
    if res == 0:
        return sock
    sock.close()
    if res == -1:
        raise ConnectError("timeout", timeout=True)
    raise ConnectError(os.strerror(res))
