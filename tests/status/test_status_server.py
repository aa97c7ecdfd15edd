"""The status API against real sockets: a child status channel on a unix socket and the
HTTP server on loopback, driven by raw clients (well-behaved and hostile)."""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pykeepalived.status import server as srv
from pykeepalived.status.channel import serve_snapshots

INSTANCE = {
    "name": "VI_1", "state": "MASTER", "state_code": 2, "vrid": 51, "interface": "veth0",
    "base_priority": 110, "effective_priority": 110, "vips": ["192.0.2.100/24"],
    "master_address": "192.0.2.1", "stats": {"advert_sent": 42, "become_master": 1, "advert_rcvd": 3},
}


class FakeChild:
    """A real status channel (unix socket) on its own loop/thread, counting snapshot builds."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.builds = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(serve_snapshots(path, self.build))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    def build(self) -> dict[str, Any]:
        self.builds += 1
        return {"pid": 1234, "instances": [INSTANCE], "sync_groups": [],
                "trackers": {"scripts": [{"name": "chk_haproxy", "status": "GOOD", "state_code": 0}]}}

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def child(tmp_path: Path) -> Iterator[FakeChild]:
    c = FakeChild(str(tmp_path / "vrrp.sock"))
    yield c
    c.stop()


def start(channels: dict[str, str], token: str | None = None) -> srv.StatusThread:
    return srv.StatusThread(srv.Listen(host="127.0.0.1", port=0), token,
                            lambda: {"version": "test", "reload_count": 0}, lambda: channels).start()


@pytest.fixture
def api(child: FakeChild) -> Iterator[srv.StatusThread]:
    t = start({"vrrp": child.path})
    yield t
    t.stop()


def request(port: int, raw: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    if not data:
        raise ConnectionResetError("closed without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def get(port: int, path: str, extra: str = "") -> tuple[int, dict[str, str], bytes]:
    return request(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())


def port_of(t: srv.StatusThread) -> int:
    assert t.server is not None
    return t.server.port


def test_instances_and_daemon(api: srv.StatusThread) -> None:
    status, headers, body = get(port_of(api), "/v1/vrrp/instances")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)[0]["name"] == "VI_1"
    status, _, body = get(port_of(api), "/v1/vrrp/instances/VI_1")
    assert json.loads(body)["stats"]["advert_sent"] == 42
    status, _, body = get(port_of(api), "/v1/daemon")
    assert status == 200 and json.loads(body)["children"] == {"vrrp": 1234}
    assert get(port_of(api), "/healthz")[0] == 200


def test_errors_are_json_with_status(api: srv.StatusThread) -> None:
    for path, code in (("/nope", 404), ("/v1/vrrp/instances/VI_9", 404)):
        status, headers, body = get(port_of(api), path)
        assert status == code and json.loads(body)["status"] == code
    status, headers, body = request(port_of(api), b"POST /v1/daemon HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert request(port_of(api), b"GARBAGE\r\n\r\n")[0] == 400
    assert request(port_of(api), b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n")[0] == 400
    huge = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert request(port_of(api), huge)[0] == 431


def test_head_has_no_body(api: srv.StatusThread) -> None:
    status, headers, body = request(port_of(api), b"HEAD /v1/daemon HTTP/1.1\r\n\r\n")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_healthz_reports_a_dead_child(tmp_path: Path) -> None:
    t = start({"vrrp": str(tmp_path / "absent.sock")})
    try:
        status, _, body = get(port_of(t), "/healthz")
        assert status == 503 and "vrrp" in json.loads(body)["error"]
    finally:
        t.stop()


def test_metrics_parse_with_exporter_names(api: srv.StatusThread) -> None:
    status, headers, body = get(port_of(api), "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["keepalived_up"].samples[0].value == 1.0
    sent = families["keepalived_advertisements_sent"].samples[0]
    assert sent.name == "keepalived_advertisements_sent_total" and sent.value == 42.0
    assert sent.labels == {"iname": "VI_1", "intf": "veth0", "vrid": "51"}  # no state label (mehdy >= 1.3.0)
    vrrp_state = families["keepalived_vrrp_state"].samples[0]
    assert vrrp_state.labels["ip_address"] == "192.0.2.100/24" and vrrp_state.value == 2.0
    assert families["keepalived_script_status"].samples[0].labels == {"name": "chk_haproxy"}
    for name in ("become_master", "release_master", "packet_length_errors", "authentication_failure",
                 "priority_zero_sent"):
        assert f"keepalived_{name}" in families


def test_snapshot_is_cached_against_floods(api: srv.StatusThread, child: FakeChild) -> None:
    for _ in range(30):
        assert get(port_of(api), "/v1/vrrp/instances")[0] == 200
    # 30 requests in well under a few seconds: the child built at most a handful of snapshots.
    assert child.builds <= 1 + int(30 * 0.05 / srv.CACHE_SECONDS) + 3


def test_token_required_and_checked(child: FakeChild, tmp_path: Path) -> None:
    with pytest.raises(srv.StatusConfigError, match="bearer token is required"):
        srv.read_token(None, srv.parse_listen("192.0.2.1:9650"))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(srv.StatusConfigError, match="empty"):
        srv.read_token(str(empty), srv.parse_listen("192.0.2.1:9650"))
    t = start({"vrrp": child.path}, token="s3cret")
    try:
        status, headers, body = get(port_of(t), "/v1/vrrp/instances")
        assert status == 401 and b"VI_1" not in body and "WWW-Authenticate" in headers
        status, _, body = get(port_of(t), "/v1/vrrp/instances", "Authorization: Bearer wrong\r\n")
        assert status == 401 and b"VI_1" not in body
        status, _, body = get(port_of(t), "/v1/vrrp/instances", "Authorization: Bearer s3cret\r\n")
        assert status == 200 and b"VI_1" in body
    finally:
        t.stop()


@pytest.mark.parametrize("spec", ["nonsense", "127.0.0.1:99999", "unix:", ":80"])
def test_bad_listen_specs_are_clear_errors(spec: str) -> None:
    with pytest.raises(srv.StatusConfigError, match="--status-listen"):
        srv.parse_listen(spec)


def test_slowloris_is_cut_off(api: srv.StatusThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(srv, "HEAD_TIMEOUT", 0.5)
    with socket.create_connection(("127.0.0.1", port_of(api)), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
        t0 = time.monotonic()
        assert s.recv(100) == b""  # closed by the server, without an answer
        assert time.monotonic() - t0 < 4
    assert get(port_of(api), "/healthz")[0] == 200


def test_a_thousand_idle_connections_do_not_stall_it(api: srv.StatusThread) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), max(hard, 4096)))
    idle = []
    try:
        for _ in range(1000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port_of(api)))
            idle.append(s)
        time.sleep(0.5)
        assert api.server is not None and api.server.connections <= srv.MAX_CONNECTIONS
        # The idle ones beyond the cap were closed, and the limit frees up as they time out;
        # a real client gets its answer once slots are free.
        deadline = time.monotonic() + srv.HEAD_TIMEOUT + 10
        while True:
            try:
                if get(port_of(api), "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "status API never answered while flooded"
            time.sleep(0.2)
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def half_sent(port: int, count: int) -> list[socket.socket]:
    """`count` connections that each send the start of a request head and then nothing."""
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        conns.append(s)
    return conns


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_slowloris_does_not_lock_out_authorised_clients(child: FakeChild, token: str | None) -> None:
    """Issue 24 item 8: 300 half-sent requests held all 256 slots for 5 s each; only 5 of 30
    authorised requests were answered. The oldest pending connection now makes room."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), max(hard, 4096)))
    t = start({"vrrp": child.path}, token=token)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    attack: list[socket.socket] = []
    try:
        attack = half_sent(port_of(t), 300)
        time.sleep(0.3)  # all accepted and waiting for the rest of their heads
        answered = 0
        t0 = time.monotonic()
        for _ in range(30):
            try:
                status, _, body = get(port_of(t), "/v1/vrrp/instances", auth)
                answered += status == 200 and b"VI_1" in body
            except OSError:
                pass
            attack += half_sent(port_of(t), 10)  # the attacker keeps opening connections
        elapsed = time.monotonic() - t0
        assert answered == 30, f"{answered} of 30 authorised requests answered"
        # Far below HEAD_TIMEOUT per request: nobody waited for a slowloris slot to time out.
        assert elapsed < 30 * srv.HEAD_TIMEOUT / 2, elapsed
        assert t.server is not None and t.server.connections <= srv.MAX_CONNECTIONS
        assert len(t.server.pending) <= srv.MAX_CONNECTIONS - srv.RESERVED
    finally:
        for s in attack:
            s.close()
        t.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_wrong_token_does_not_use_the_reserve(child: FakeChild) -> None:
    """A complete head with a wrong token stays pending (sheddable) while it is answered 401."""
    t = start({"vrrp": child.path}, token="s3cret")
    try:
        assert get(port_of(t), "/healthz", "Authorization: Bearer nope\r\n")[0] == 401
        assert t.server is not None and not t.server.authorised
    finally:
        t.stop()
