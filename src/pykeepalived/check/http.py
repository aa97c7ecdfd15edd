"""HTTP_GET and SSL_GET (keepalived's check_http.c / check_ssl.c).

Each run fetches one url; every url must pass (status code, then MD5 digest, then regex)
for the real server to be up. The request bytes are keepalived's exactly:

    GET <path> HTTP/1.<0|1>\\r\\nUser-Agent: KeepAliveClient\\r\\n[Connection: close\\r\\n]Host: <host>[:port]\\r\\n\\r\\n

The response is read until the server closes the connection, each read bounded by
connect_timeout, as keepalived does."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
from dataclasses import dataclass, field

from pykeepalived.check.base import Checker, Outcome
from pykeepalived.check.common import ConnectError, ConnOpts, Target, tcp_connect
from pykeepalived.check.hub import HealthHub
from pykeepalived.config import model
from pykeepalived.textbytes import ERRORS, to_bytes

log = logging.getLogger("pykeepalived.check")

USER_AGENT = "KeepAliveClient"
READ_CHUNK = 65536
REGEX_KEEP = 1 << 20  # bytes of body kept for the regex (keepalived streams through 4 KiB)
HEAD_MAX = 4095      # keepalived's MAX_BUFFER_LENGTH - 1: a head not ended within it is no response

REGEX_FLAGS = {
    "caseless": re.IGNORECASE,
    "multiline": re.MULTILINE,
    "dotall": re.DOTALL,
    "extended": re.VERBOSE,
    "ungreedy": 0,  # no equivalent in Python's re; patterns rarely rely on it
}


def build_request(path: str, protocol: str, dst: str, port: int, vhost: str | None) -> bytes:
    """The GET request keepalived sends (request_template / request_template_ipv6)."""
    minor = 1 if protocol == "1.1" else 0
    conn = "Connection: close\r\n" if protocol in ("1.0C", "1.1") else ""
    if vhost:
        host = vhost
    elif ":" in dst:
        host = f"[{dst}]:{port}"
    else:
        host = f"{dst}:{port}"
    return f"GET {path} HTTP/1.{minor}\r\nUser-Agent: {USER_AGENT}\r\n{conn}Host: {host}\r\n\r\n".encode("utf-8", ERRORS)


def status_code_of(header: bytes) -> int:
    """keepalived's extract_status_code: the number after the first space of the status line."""
    line = header.split(b"\r\n", 1)[0]
    parts = line.split(None, 2)
    if len(parts) >= 2 and parts[1][:3].isdigit():
        return int(parts[1][:3])
    return 0


def content_length_of(header: bytes) -> int | None:
    for line in header.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def make_ssl_context(cfg: model.Ssl | None) -> ssl.SSLContext:
    """The root SSL{} block. As keepalived, the peer is verified only when `ca` is given,
    and host names are never checked."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cfg is not None:
        if cfg.ca:
            ctx.load_verify_locations(cafile=cfg.ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        if cfg.certificate:
            ctx.load_cert_chain(cfg.certificate, cfg.key or None, cfg.password or None)
    return ctx


@dataclass(slots=True)
class Fetch:
    """A response as the checker saw it."""

    header: bytes = b""
    status: int = 0
    content_length: int | None = None
    rx_bytes: int = 0
    md5: hashlib._Hash = field(default_factory=hashlib.md5)
    body: bytearray = field(default_factory=bytearray)  # first REGEX_KEEP bytes
    extracted: bool = False

    def feed(self, data: bytes, buf: bytearray) -> None:
        """keepalived's http_process_response: header first, then body bytes into MD5."""
        if not self.extracted:
            buf += data
            end = buf.find(b"\r\n\r\n", 0, HEAD_MAX)
            if end < 0:
                return
            self.extracted = True
            self.header = bytes(buf[:end + 4])
            self.status = status_code_of(self.header)
            self.content_length = content_length_of(self.header)
            data = bytes(buf[end + 4:])
            buf.clear()
        if not data:
            return
        if self.content_length is None or self.content_length > self.rx_bytes:
            take = data if self.content_length is None else data[:self.content_length - self.rx_bytes]
            self.md5.update(take)
        self.rx_bytes += len(data)
        if len(self.body) < REGEX_KEEP:
            self.body += data[:REGEX_KEEP - len(self.body)]


class FetchError(Exception):
    """Why a fetch failed, as keepalived's timeout_epilog message."""


async def fetch(co: ConnOpts, request: bytes, *, ssl_ctx: ssl.SSLContext | None = None,
                server_hostname: str | None = None, tls_compliant: bool = False,
                on_data: object = None) -> Fetch:
    """Connect, send the request, read to EOF. Raises FetchError(message)."""
    try:
        sock = await tcp_connect(co)
    except ConnectError as e:
        if e.immediate:
            raise FetchError("HTTP_CHECK - network unreachable") from None
        raise FetchError("Timeout connecting" if e.timeout else "Error connecting") from None
    except OSError:
        raise FetchError("HTTP_CHECK - network unreachable") from None
    try:
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=ssl_ctx, server_hostname=(server_hostname or "") if ssl_ctx else None,
            ssl_handshake_timeout=co.timeout if ssl_ctx else None, limit=READ_CHUNK)
    except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
        sock.close()
        raise FetchError("SSL handshake/communication error connecting to") from None
    result = Fetch()
    try:
        try:
            writer.write(request)
            async with asyncio.timeout(co.timeout):
                await writer.drain()
        except (OSError, TimeoutError):
            raise FetchError("Cannot send get request to") from None
        buf = bytearray()
        first = True
        while True:
            try:
                async with asyncio.timeout(co.timeout):
                    data = await reader.read(READ_CHUNK)
            except TimeoutError:
                raise FetchError("Timeout WEB read" if first else "Timeout HTTP read") from None
            except ssl.SSLError:
                if result.extracted and not tls_compliant:
                    break  # a server closing without close_notify: keepalived accepts it
                raise FetchError("Read error with") from None
            except OSError:
                raise FetchError("Read error with") from None
            first = False
            if not data:
                break
            result.feed(data, buf)
            if not result.extracted and len(buf) >= HEAD_MAX:
                break        # keepalived's buffer is full: it reads 0 bytes, as at EOF
    finally:
        writer.close()
    if not result.extracted:
        raise FetchError("Read, no data received from ")
    return result


def regex_matches(url: model.Url, body: bytes) -> bool:
    assert url.regex is not None
    flags = 0
    for opt in url.regex_options:
        flags |= REGEX_FLAGS.get(opt, 0)
    try:
        pattern = re.compile(to_bytes(url.regex), flags)
    except re.error:
        return False
    start = url.regex_min_offset or 0
    m = pattern.search(body, start)
    if m is None:
        return False
    return url.regex_max_offset is None or m.start() <= url.regex_max_offset


def judge(url: model.Url, result: Fetch) -> tuple[bool, str]:
    """keepalived's http_handle_response: (passed, message)."""
    if not any(lo <= result.status <= hi for lo, hi in url.status_code):
        return False, "HTTP status code error to"
    msg = "HTTP status code"
    if url.digest:
        if result.md5.hexdigest() != url.digest.lower():
            return False, "MD5 digest error to"
        msg = "MD5 digest"
    if url.regex:
        if regex_matches(url, bytes(result.body)) == url.regex_no_match:
            return False, "Regex match failed"
        msg = "Regex match"
    return True, msg


# epilog methods (keepalived's register_checker_t)
NEW, RETRY, FAILED = 0, 1, 2


class HttpChecker(Checker):
    kind = "HTTP_GET"
    alert_up = "=> CHECK succeed on service <="
    alert_down = "=> CHECK failed on service : HTTP request failed <="

    def __init__(self, spec: model.HttpGet, target: Target, hub: HealthHub, *,
                 log_all_failures: bool = False, ssl_ctx: ssl.SSLContext | None = None,
                 rs_virtualhost: str | None = None, vs_virtualhost: str | None = None) -> None:
        super().__init__(spec, target, hub, log_all_failures=log_all_failures)
        self.http = spec
        self.urls = spec.urls
        self.ssl_ctx = ssl_ctx if spec.ssl else None
        if spec.ssl and self.ssl_ctx is None:
            self.ssl_ctx = make_ssl_context(None)
        self.rs_virtualhost = rs_virtualhost
        self.vs_virtualhost = vs_virtualhost
        self.url_it = 0
        self.failed_url: int | None = None
        self.len_mismatch: dict[int, int] = {}  # per url: the last content-length difference logged

    def vhost(self, url: model.Url) -> str | None:
        return url.virtualhost or self.http.virtualhost or self.rs_virtualhost or self.vs_virtualhost

    def request_for(self, url: model.Url) -> bytes:
        return build_request(url.path, self.http.http_protocol, str(self.co.dst), self.co.port, self.vhost(url))

    async def attempt(self) -> Outcome:
        if not self.urls:
            return Outcome(True, "")
        url = self.urls[self.url_it]
        sni = None
        if self.http.enable_sni:
            sni = self.http.sni_name or self.vhost(url)
        try:
            result = await fetch(self.co, self.request_for(url), ssl_ctx=self.ssl_ctx,
                                 server_hostname=sni, tls_compliant=self.http.tls_compliant)
        except FetchError as e:
            return Outcome(False, str(e))
        if any(lo <= result.status <= hi for lo, hi in url.status_code):
            self._check_length(url, result)
        ok, msg = judge(url, result)
        return Outcome(ok, msg)

    def _check_length(self, url: model.Url, result: Fetch) -> None:
        """keepalived logs a Content-Length that disagrees with the body, once per difference."""
        if result.content_length is None or result.content_length == result.rx_bytes:
            self.len_mismatch.pop(self.url_it, None)
            return
        diff = result.content_length - result.rx_bytes
        if self.len_mismatch.get(self.url_it) != diff:
            log.info("http_check for RS %s VS %s url %s%s: content_length (%d) does not match received bytes (%d)",
                     self.target.fmt_rs, self.target.fmt_vs, url.virtualhost or "", url.path,
                     result.content_length, result.rx_bytes)
            self.len_mismatch[self.url_it] = diff

    def epilog(self, outcome: Outcome) -> float:
        if outcome.ok:
            if not self.is_up and self.urls:
                log.info("%s success to %s url(%s)", outcome.detail, self.target.fmt_rs,
                         self.urls[self.url_it].path)
            return self._epilog(NEW)
        # timeout_epilog()
        if self.is_up or not self.has_run:
            if self.log_all:
                log.info("%s server %s.", outcome.detail, self.target.fmt_rs)
            self.has_run = True
            return self._epilog(RETRY)
        return self._epilog(FAILED)

    def _epilog(self, method: int) -> float:
        if method == NEW:
            self.url_it += 1
            self.retry_it = 0
        elif method == RETRY:
            self.retry_it += 1
        if method == NEW and self.url_it >= len(self.urls) and self.failed_url is None:
            # every url passed
            if not self.is_up or not self.has_run:
                log.info("Remote Web server %s succeed on service.", self.target.fmt_rs)
                self.set_state(True)
                self.has_run = True
            self.url_it = 0
            self.retry_it = 0
        elif method == RETRY and self.retry_it > self.retry:
            if self.is_up or not self.has_run:
                if self.has_run and self.retry:
                    log.info("HTTP_CHECK on service %s failed after %d retries.", self.target.fmt_rs,
                             self.retry_it - 1)
                else:
                    log.info("HTTP_CHECK on service %s failed.", self.target.fmt_rs)
                self.set_state(False)
            self.failed_url = self.url_it
        elif method == NEW and self.failed_url is not None:
            # the failed url passes again: check them all from the first
            self.failed_url = None
            self.url_it = 0
            self.retry_it = 0
        if method == NEW:
            delay = self.delay_loop
            if not self.has_run:
                self.retry_it = self.retry
        elif self.failed_url is not None:
            delay = max(self.delay_before_retry, self.delay_loop)
        else:
            delay = self.delay_before_retry
        if self.url_it >= len(self.urls):
            self.url_it = 0
        if self.http.fast_recovery and (not self.has_run or (not self.is_up and self.failed_url is None)):
            return 0.0
        return delay


class SslChecker(HttpChecker):
    kind = "SSL_GET"
