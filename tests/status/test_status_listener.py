"""The status listener never takes the daemon down, and never sends its bearer token in clear.

- A port in use (or any bind error) is logged at ERROR with the address and retried; once the port
  is free the API answers. (The supervisor side: tests/ops/test_supervisor.py.)
- A non-loopback listener needs a bearer token AND TLS (--status-tls-cert/--status-tls-key);
  without them the listener is refused with a clear ERROR and the daemon runs on.
- With TLS the API answers over HTTPS (stdlib ssl) and a plain-HTTP request gets nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from pykeepalived.status import server as srv


def info() -> dict[str, object]:
    return {"version": "test", "reload_count": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, *, tls: ssl.SSLContext | None = None, token: str | None = None) -> tuple[int, bytes]:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        s = tls.wrap_socket(raw, server_hostname="localhost") if tls is not None else raw
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_port_in_use_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    caplog.set_level(logging.INFO, logger="pykeepalived.status.server")
    t0 = time.monotonic()
    t = srv.StatusThread(srv.Listen(host="127.0.0.1", port=port), None, info, lambda: {}, retry=0.2).start()
    try:
        assert time.monotonic() - t0 < 5  # start() does not wait for the port
        assert not t.listening.is_set()
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert errors and f"cannot listen on 127.0.0.1:{port}" in errors[0].getMessage()
        assert "Address already in use" in errors[0].getMessage()
        holder.close()
        assert t.listening.wait(10)
        assert get(port, "/v1/daemon")[0] == 200
        assert t.bind_failures >= 1
        # the retries did not flood the log: one ERROR line, then one every 30 failures
        assert len([r for r in caplog.records if r.levelno == logging.ERROR]) <= 1 + t.bind_failures // 30
    finally:
        t.stop()
        holder.close()


def test_an_address_not_on_this_host_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="pykeepalived.status.server")
    t = srv.StatusThread(srv.Listen(host="192.0.2.77", port=9650), "tok", info, lambda: {}, retry=60).start()
    try:
        assert not t.listening.is_set()
        assert any("cannot listen on 192.0.2.77:9650" in r.getMessage() for r in caplog.records)
    finally:
        t.stop()


def opts(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {"status_listen": None, "status_token_file": None, "status_tls_cert": None,
                               "status_tls_key": None, "metrics_names": "mehdy"}
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.parametrize(("extra", "message"), [
    ({}, "a bearer token is required"),
    ({"token": True}, "TLS is required so the bearer token is not sent in clear"),
    ({"token": True, "status_tls_cert": "/nonexistent.pem"}, "--status-tls-cert and --status-tls-key go together"),
])
def test_non_loopback_without_token_and_tls_is_refused(extra: dict[str, object], message: str, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="pykeepalived.status.server")
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    kw = {k: v for k, v in extra.items() if k != "token"}
    if extra.get("token"):
        kw["status_token_file"] = str(token)
    assert srv.start_from_options(opts(status_listen="192.0.2.1:9650", **kw), info, lambda: {}) is None
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "Status API not started" in record.getMessage() and message in record.getMessage()


def test_check_exposure_accepts_token_and_tls_off_loopback() -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.check_exposure(srv.parse_listen("192.0.2.1:9650"), "tok", ctx)
    srv.check_exposure(srv.parse_listen("127.0.0.1:9650"), None, None)
    srv.check_exposure(srv.parse_listen("[::1]:9650"), None, None)
    with pytest.raises(srv.StatusConfigError, match="TLS is required"):
        srv.check_exposure(srv.parse_listen("[2001:db8::1]:9650"), "tok", None)


@pytest.fixture
def cert(tmp_path: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl absent (ci/setup.sh installs it)")
    crt, key = tmp_path / "api.crt", tmp_path / "api.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    return str(crt), str(key)


def test_tls_listener_serves_https_only(cert: tuple[str, str], tmp_path: Path) -> None:
    crt, key = cert
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    port = free_port()
    t = srv.start_from_options(opts(status_listen=f"127.0.0.1:{port}", status_token_file=str(token),
                                    status_tls_cert=crt, status_tls_key=key), info, lambda: {})
    assert t is not None
    try:
        assert t.listening.wait(10)
        client = ssl.create_default_context(cafile=crt)
        status, body = get(port, "/v1/daemon", tls=client, token="s3cret")
        assert status == 200 and json.loads(body)["version"] == "test"
        assert get(port, "/v1/daemon", tls=client)[0] == 401
        # plain HTTP to the TLS port: the token is never read in clear, no answer comes back
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /v1/daemon HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n")
            try:
                answer = s.recv(1000)
            except ConnectionResetError:
                answer = b""
            assert b"200" not in answer and b"version" not in answer
    finally:
        t.stop()


def test_bad_tls_files_are_a_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="pykeepalived.status.server")
    (tmp_path / "x.pem").write_text("not a certificate\n")
    bad = str(tmp_path / "x.pem")
    assert srv.start_from_options(opts(status_listen="127.0.0.1:0", status_tls_cert=bad, status_tls_key=bad),
                                  info, lambda: {}) is None
    assert any("--status-tls-cert" in r.getMessage() for r in caplog.records)
