"""Read-only status API and Prometheus metrics over HTTP.

Runs in the parent (supervisor) process, on its own thread and asyncio loop, so no
client can delay an advert: the VRRP child is only asked for a snapshot through the
status channel, at most once per CACHE_SECONDS however many clients ask (longer when
snapshots are slow to gather: see SnapshotSource).

Hardening: loopback only unless the operator names another address, and then a
bearer token and TLS (--status-tls-cert/--status-tls-key) are required, so the token never
crosses the network in clear; GET/HEAD only; request head limited to MAX_HEAD_BYTES and
HEAD_TIMEOUT seconds; one request per connection; a client that does not read its answer
within WRITE_TIMEOUT is dropped. Nothing a client sends can change state.

Connections (slowloris): at most MAX_CONNECTIONS at once. A connection is *pending* until its
request head is complete and authorised (the bearer token, when one is configured), then
*authorised*. Pending ones may hold at most MAX_CONNECTIONS - RESERVED slots, so RESERVED are
always left for authorised requests; when a new connection finds the pending slots full, the
oldest pending connection is closed to make room (a client that sends its head at once, as
every real client does, is never the oldest), and a head must be complete within
HEAD_TIMEOUT. So hundreds of half-sent requests cost an authorised client nothing; only when
every slot is held by authorised requests is a new connection refused.

The status API can never take the daemon down: unusable options are logged at ERROR and the
daemon runs without it; an address that cannot be bound (a port in use) is logged at ERROR
and retried every BIND_RETRY_SECONDS (StatusThread).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pykeepalived.errors import PykeepalivedError
from pykeepalived.status.channel import Snapshot, fetch_snapshot_sized
from pykeepalived.textbytes import to_bytes

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT = 2.0
WRITE_TIMEOUT = 10.0
MAX_CONNECTIONS = 256
RESERVED = 32  # slots only authorised requests may use
CACHE_SECONDS = 1.0
CACHE_SECONDS_PER_MB = 1.0  # and longer for big snapshots (4,000 instances: 3.6 MB, 3.6 s)


class StatusConfigError(PykeepalivedError):
    """Bad --status-listen / --status-token-file."""


@dataclass(frozen=True)
class Listen:
    host: str | None = None
    port: int = 0
    path: str | None = None  # unix socket

    @property
    def is_loopback(self) -> bool:
        if self.path is not None:
            return True
        try:
            return ipaddress.ip_address(self.host or "").is_loopback
        except ValueError:
            return self.host == "localhost"


def parse_listen(spec: str) -> Listen:
    """`ADDR:PORT`, `[V6ADDR]:PORT` or `unix:PATH`."""
    if spec.startswith("unix:"):
        if not spec[5:]:
            raise StatusConfigError(f"--status-listen {spec!r}: missing socket path")
        return Listen(path=spec[5:])
    host, sep, port = spec.rpartition(":")
    if not sep or not host:
        raise StatusConfigError(f"--status-listen {spec!r}: expected ADDR:PORT or unix:PATH")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        port_no = int(port)
        if not 0 <= port_no <= 65535:
            raise ValueError
    except ValueError:
        raise StatusConfigError(f"--status-listen {spec!r}: invalid port {port!r}") from None
    return Listen(host=host, port=port_no)


def read_token(path: str | None, listen: Listen) -> str | None:
    if path is None:
        check_exposure(listen, None, None)
        return None
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as exc:
        raise StatusConfigError(f"--status-token-file {path}: {exc.strerror}") from None
    if not token:
        raise StatusConfigError(f"--status-token-file {path}: the file is empty")
    return token


@dataclass
class SnapshotSource:
    """Gathers the daemon's own facts and the children's snapshots, cached briefly.

    The VRRP child builds its snapshot on its own loop: with thousands of instances that takes
    a noticeable time (about 0.2 s for 4,000 instances, 3.6 MB, on an idle machine), so a
    snapshot is kept CACHE_SECONDS_PER_MB per MB (CACHE_SECONDS at least): clients hammering
    the API cannot keep a child busy more than a small part of its time."""

    daemon_info: Callable[[], dict[str, Any]]
    channels: Callable[[], dict[str, str]]  # the children that should run -> channel socket path
    _cached: Snapshot | None = None
    _cached_at: float = -1e9
    _ttl: float = CACHE_SECONDS
    _size: int = 0  # bytes of the children's snapshots in the last gathering
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self) -> Snapshot:
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached_at >= self._ttl:
                self._cached = await self._gather()
                self._cached_at = time.monotonic()
                self._ttl = max(CACHE_SECONDS, CACHE_SECONDS_PER_MB * self._size / 1e6)
            return self._cached

    async def _gather(self) -> Snapshot:
        snap: Snapshot = {"daemon": self.daemon_info(), "children": {}}
        self._size = 0
        for name, path in self.channels().items():
            try:
                snap["children"][name], size = await fetch_snapshot_sized(path)
                self._size += size
            except OSError as exc:
                snap["children"][name] = {"error": str(exc)}
        return snap


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


def _instances(snap: Snapshot) -> list[dict[str, Any]]:
    vrrp = snap["children"].get("vrrp", {})
    return list(vrrp.get("instances", []))


def route(path: str, snap: Snapshot, names: str = "mehdy") -> tuple[int, str, bytes]:
    """Map a request path onto (status, content type, body). Raises HttpError.

    `names`: which exporter's VRRP counter names /metrics uses (--metrics-names)."""
    from pykeepalived.status.metrics import render_metrics

    if path == "/metrics":
        return 200, "text/plain; version=0.0.4; charset=utf-8", render_metrics(snap, names)
    children = snap["children"]
    body: Any
    if path == "/":
        body = {"endpoints": ["/healthz", "/v1/daemon", "/v1/vrrp/instances", "/v1/vrrp/instances/NAME",
                              "/v1/vrrp/sync-groups", "/v1/trackers", "/v1/lvs/virtual-servers", "/metrics"]}
    elif path == "/healthz":
        down = [name for name, child in children.items() if "error" in child]
        if down:
            raise HttpError(503, f"not answering: {', '.join(sorted(down))}")
        body = {"status": "ok"}
    elif path == "/v1/daemon":
        body = dict(snap["daemon"], children={n: c.get("pid") for n, c in children.items()})
    elif path == "/v1/vrrp/instances":
        body = _instances(snap)
    elif path.startswith("/v1/vrrp/instances/"):
        name = path[len("/v1/vrrp/instances/"):]
        found = [i for i in _instances(snap) if i.get("name") == name]
        if not found:
            raise HttpError(404, f"no vrrp_instance named {name!r}")
        body = found[0]
    elif path == "/v1/vrrp/sync-groups":
        body = children.get("vrrp", {}).get("sync_groups", [])
    elif path == "/v1/trackers":
        body = children.get("vrrp", {}).get("trackers", {})
    elif path == "/v1/lvs/virtual-servers":
        body = children.get("checkers", {}).get("virtual_servers", [])
    else:
        raise HttpError(404, f"unknown path {path!r}")
    return 200, "application/json", json.dumps(body, indent=1, default=str).encode() + b"\n"


class StatusServer:
    def __init__(self, listen: Listen, token: str | None, source: SnapshotSource,
                 tls: ssl.SSLContext | None = None, names: str = "mehdy") -> None:
        self.listen = listen
        self.token = token
        self.source = source
        self.tls = tls
        self.names = names
        # pending connections (head not yet complete and authorised), oldest first
        self.pending: dict[asyncio.WriteTransport, None] = {}
        self.authorised: set[asyncio.WriteTransport] = set()
        self.shed = 0  # pending connections closed to make room
        self._server: asyncio.Server | None = None

    @property
    def connections(self) -> int:
        return len(self.pending) + len(self.authorised)

    async def start(self) -> None:
        if self.listen.path is not None:
            if os.path.exists(self.listen.path):
                os.unlink(self.listen.path)
            self._server = await asyncio.start_unix_server(self._handle, self.listen.path,
                                                           limit=MAX_HEAD_BYTES)
        else:
            self._server = await asyncio.start_server(
                self._handle, self.listen.host, self.listen.port, limit=MAX_HEAD_BYTES, reuse_address=True,
                backlog=MAX_CONNECTIONS, ssl=self.tls,
                ssl_handshake_timeout=HEAD_TIMEOUT if self.tls is not None else None)

    @property
    def port(self) -> int:
        assert isinstance(self._server, asyncio.Server)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        if len(self.pending) >= MAX_CONNECTIONS - RESERVED or self.connections >= MAX_CONNECTIONS:
            if not self.pending:  # every slot serves an authorised request
                transport.abort()
                return
            oldest = next(iter(self.pending))
            del self.pending[oldest]
            self.shed += 1
            oldest.abort()
        self.pending[transport] = None
        try:
            await self._serve_one(reader, writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            transport.abort()
        finally:
            self.pending.pop(transport, None)
            self.authorised.discard(transport)
            writer.close()

    def _promote(self, writer: asyncio.StreamWriter) -> None:
        """The request is complete and authorised: it leaves the pending (sheddable) connections."""
        if writer.transport in self.pending:
            del self.pending[writer.transport]
            self.authorised.add(writer.transport)

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = "GET"
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            except asyncio.LimitOverrunError:
                raise HttpError(431, "request head too large") from None
            except asyncio.IncompleteReadError as exc:
                if not exc.partial or writer.transport.is_closing():
                    return  # the client went away, or the connection was shed
                raise HttpError(400, "incomplete request") from None
            method, path, headers = parse_head(head)
            check_request(method, headers, self.token)
            self._promote(writer)
            status, ctype, body = route(path.split("?", 1)[0], await self.source.get(), self.names)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            raise  # the connection itself failed or timed out: _handle drops it
        except HttpError as err:
            status, ctype = err.status, "application/json"
            body = json.dumps({"error": err.message, "status": err.status}).encode() + b"\n"
        except Exception:  # noqa: BLE001 - a bug must answer 500, never kill the server
            log.exception("status API: internal error")
            status, ctype = 500, "application/json"
            body = b'{"error": "internal error", "status": 500}\n'
        extra = "Allow: GET, HEAD\r\n" if status == 405 else ""
        extra += 'WWW-Authenticate: Bearer realm="pykeepalived"\r\n' if status == 401 else ""
        writer.write((f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\nContent-Type: {ctype}\r\n"
                      f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n").encode())
        if method != "HEAD":
            writer.write(body)
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)


def check_request(method: str, headers: dict[str, str], token: str | None) -> None:
    """Raises HttpError unless the request is a GET/HEAD and authorised (`token`: None = no token)."""
    if method not in ("GET", "HEAD"):
        raise HttpError(405, f"method {method} not allowed: this API is read-only")
    authorize(headers, token)


def authorize(headers: dict[str, str], token: str | None) -> None:
    if token is None:
        return
    given = headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(to_bytes(value.strip()), to_bytes(token)):
        raise HttpError(401, "missing or wrong bearer token")


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
        raise HttpError(400, "undecodable request") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise HttpError(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        headers[name.lower()] = value.strip()
    return parts[0], parts[1], headers


BIND_RETRY_SECONDS = 10.0


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """--status-tls-cert/--status-tls-key: a server context (TLS 1.2 at least), or None."""
    if not cert and not key:
        return None
    if not cert or not key:
        raise StatusConfigError("--status-tls-cert and --status-tls-key go together")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise StatusConfigError(f"--status-tls-cert {cert} / --status-tls-key {key}: {exc}") from None
    return ctx


def check_exposure(listen: Listen, token: str | None, tls: ssl.SSLContext | None) -> None:
    """A non-loopback listener needs a bearer token, and TLS so the token never crosses the
    network in clear."""
    if listen.is_loopback:
        return
    where = f"--status-listen {listen.host}:{listen.port}"
    if token is None:
        raise StatusConfigError(f"{where} is not a loopback address: "
                                "a bearer token is required (--status-token-file FILE)")
    if tls is None:
        raise StatusConfigError(f"{where} is not a loopback address: TLS is required so the bearer token "
                                "is not sent in clear (--status-tls-cert FILE --status-tls-key FILE)")


class StatusThread:
    """The status server on its own thread and loop, started and stopped by the supervisor.

    It never stops the daemon: when the address cannot be bound (a port in use, an address not
    yet configured) the error is logged at ERROR with the address and the bind is retried every
    BIND_RETRY_SECONDS, while VRRP and the checkers run on."""

    def __init__(self, listen: Listen, token: str | None, daemon_info: Callable[[], dict[str, Any]],
                 channels: Callable[[], dict[str, str]], *, tls: ssl.SSLContext | None = None,
                 names: str = "mehdy", retry: float = BIND_RETRY_SECONDS) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.server: StatusServer | None = None
        self.listening = threading.Event()
        self.bind_failures = 0
        self.retry = retry
        self._args = (listen, token, daemon_info, channels)
        self._tls = tls
        self._names = names
        self._thread = threading.Thread(target=self._run, name="status-api", daemon=True)

    @property
    def where(self) -> str:
        listen = self._args[0]
        if listen.path is not None:
            return f"unix:{listen.path}"
        return f"[{listen.host}]:{listen.port}" if ":" in (listen.host or "") else f"{listen.host}:{listen.port}"

    def start(self) -> StatusThread:
        """Start the thread; returns once the first bind was tried (whatever its outcome)."""
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        listen, token, daemon_info, channels = self._args
        source = SnapshotSource(daemon_info, channels)
        self.server = StatusServer(listen, token, source, self._tls, self._names)
        self._loop.create_task(self._bind())
        self._loop.run_forever()
        # Connections still being served (or waiting for their heads) end with the loop.
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(self.server.close())
        self._loop.close()

    async def _bind(self) -> None:
        assert self.server is not None
        while True:
            try:
                await self.server.start()
            except (OSError, socket.gaierror, UnicodeError) as exc:
                self._error = exc
                self.bind_failures += 1
                if self.bind_failures == 1 or self.bind_failures % 30 == 0:
                    log.error("Status API: cannot listen on %s: %s - retrying every %g s; VRRP and checkers "
                              "run on (failed %d time(s))", self.where,
                              os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else exc,
                              self.retry, self.bind_failures)
                self._ready.set()
                await asyncio.sleep(self.retry)
                continue
            self._error = None
            log.info("Status API listening on %s%s", self.where, " (TLS)" if self._tls is not None else "")
            self.listening.set()
            self._ready.set()
            return

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def start_from_options(opts: Any, daemon_info: Callable[[], dict[str, Any]],
                       channels: Callable[[], dict[str, str]]) -> StatusThread | None:
    """What the supervisor calls: None unless --status-listen was given, or when its options are
    unusable (logged at ERROR: the daemon runs on without the status API, never stops for it)."""
    spec = getattr(opts, "status_listen", None)
    if not spec:
        return None
    try:
        listen = parse_listen(spec)
        token = read_token(getattr(opts, "status_token_file", None), listen)
        tls = tls_context(getattr(opts, "status_tls_cert", None), getattr(opts, "status_tls_key", None))
        if tls is not None and listen.path is not None:
            raise StatusConfigError(f"--status-listen {spec}: TLS is for TCP listeners, not unix sockets")
        check_exposure(listen, token, tls)
    except StatusConfigError as exc:
        log.error("Status API not started: %s (VRRP and checkers run on)", exc)
        return None
    names = getattr(opts, "metrics_names", None) or "mehdy"
    return StatusThread(listen, token, daemon_info, channels, tls=tls, names=names).start()
