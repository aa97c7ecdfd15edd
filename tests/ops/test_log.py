"""keepalived's log formats: console prefix, syslog wire format and idents, log file names."""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pykeepalived import log as kalog


def opts(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = dict(log_detail=False, no_syslog=False, log_facility=None, log_console=False,
                                   dont_fork=False, log_file=None, flush_log_file=False, debug=None)
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.fixture
def syslog_sock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "log.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(5)
    monkeypatch.setenv(kalog.SYSLOG_SOCKET_ENV, str(path))
    yield s
    s.close()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()


def test_console_time_is_c_locale_percent_c() -> None:
    t = time.time()
    out = subprocess.run(["date", "-d", f"@{int(t)}", "+%a %b %e %H:%M:%S %Y"], capture_output=True, text=True,
                         env={**os.environ, "LC_ALL": "C"}, check=True).stdout.strip()
    assert kalog.console_time(int(t)) == out
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", kalog.console_time())


def test_syslog_wire_format_ident_and_facility(syslog_sock: socket.socket) -> None:
    kalog.setup(opts(log_facility="3"), "vrrp")
    logging.getLogger("pykeepalived.core.vrrp").info("(VI_1) Entering MASTER STATE")
    logging.getLogger("x").log(kalog.ALERT, "VRRP child process(1) died: Respawning")
    first = syslog_sock.recv(4096).decode()
    second = syslog_sock.recv(4096).decode()
    # local3 = 19 << 3 = 152; INFO = 6, ALERT = 1 (what 2.2.7 sent: <158>, <153>)
    assert re.fullmatch(rf"<158>\w{{3}} [ \d]\d \d\d:\d\d:\d\d Keepalived_vrrp\[{os.getpid()}\]: "
                        r"\(VI_1\) Entering MASTER STATE", first), first
    assert second.startswith("<153>") and second.endswith(f"Keepalived_vrrp[{os.getpid()}]: "
                                                           "VRRP child process(1) died: Respawning")


@pytest.mark.parametrize("process,ident", [("parent", "Keepalived"), ("vrrp", "Keepalived_vrrp"),
                                           ("checker", "Keepalived_healthcheckers")])
def test_idents_and_default_daemon_facility(syslog_sock: socket.socket, process: kalog.Process, ident: str) -> None:
    kalog.setup(opts(), process)
    logging.getLogger("t").info("hello")
    msg = syslog_sock.recv(4096).decode()
    assert msg.startswith("<30>")  # daemon (3 << 3) | info
    assert f" {ident}[{os.getpid()}]: hello" in msg


def test_no_syslog_sends_nothing(syslog_sock: socket.socket) -> None:
    kalog.setup(opts(no_syslog=True), "parent")
    logging.getLogger("t").info("hello")
    syslog_sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        syslog_sock.recv(4096)


def test_detail_lines_only_with_D(syslog_sock: socket.socket) -> None:
    kalog.setup(opts(), "vrrp")
    logging.getLogger("t").log(kalog.DETAIL, "(VI_1) Receive advertisement timeout")
    logging.getLogger("t").info("marker")
    assert syslog_sock.recv(4096).decode().endswith("marker")
    assert not kalog.detail()
    kalog.setup(opts(log_detail=True), "vrrp")
    assert kalog.detail()
    logging.getLogger("t").log(kalog.DETAIL, "(VI_1) Receive advertisement timeout")
    assert syslog_sock.recv(4096).decode().endswith("(VI_1) Receive advertisement timeout")


@pytest.mark.parametrize("text,code", [("0", 16 << 3), ("7", 23 << 3), ("local5", 21 << 3), ("user", 1 << 3),
                                       ("daemon", 3 << 3), ("8", None), ("local8", None), ("kern", None)])
def test_facility_names(text: str, code: int | None) -> None:
    assert kalog.parse_facility(text) == code


def test_log_file_names_like_make_file_name() -> None:
    assert kalog.log_file_name("/tmp/keepalived.log", "parent") == "/tmp/keepalived.log"
    assert kalog.log_file_name("/tmp/keepalived.log", "vrrp") == "/tmp/keepalived_vrrp.log"
    assert kalog.log_file_name("/tmp/keepalived.log", "checker") == "/tmp/keepalived_healthcheckers.log"
    assert kalog.log_file_name("/var/log/ka", "vrrp") == "/var/log/ka_vrrp"
    assert kalog.log_file_name("/tmp/k.log", "vrrp", "ns1", "i1") == "/tmp/k_vrrp_ns1_i1.log"


def test_log_file_lines_have_console_prefix_and_flush(tmp_path: Path, syslog_sock: socket.socket) -> None:
    base = tmp_path / "ka.log"
    kalog.setup(opts(log_file=str(base), flush_log_file=True, no_syslog=True), "vrrp")
    logging.getLogger("t").info("(VI_1) Entering BACKUP STATE (init)")
    text = (tmp_path / "ka_vrrp.log").read_text()   # flushed: readable before any close
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: \(VI_1\) Entering BACKUP STATE \(init\)\n", text)


def test_syslog_ident_with_namespace_and_instance(syslog_sock: socket.socket) -> None:
    assert kalog.syslog_ident("parent", "blue", "east") == "Keepalived_blue_east"
    assert kalog.syslog_ident("vrrp", None, "east") == "Keepalived_vrrp_east"
    kalog.setup(opts(), "checker", namespace="blue")
    logging.getLogger("t").info("x")
    assert f" Keepalived_healthcheckers_blue[{os.getpid()}]: x" in syslog_sock.recv(4096).decode()


def test_console_writes_non_utf8_config_bytes_back_raw() -> None:
    """An instance named in Latin-1 (kept by the loader as surrogates) is written to the
    console as its original bytes, as keepalived does; it came out as `\\udce9` before."""
    code = ("import logging, sys\n"
            "from pykeepalived import log as kalog\n"
            "sys.stderr.write('text first\\n')\n"
            "h = kalog.ConsoleHandler(); lg = logging.getLogger('t'); lg.addHandler(h); lg.propagate = False\n"
            "lg.warning('(%s) Entering MASTER STATE', 'VI_' + b'\\xe9'.decode('utf-8', 'surrogateescape'))\n"
            "lg.warning('plain %s', '\\u00e9')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=True).stderr
    lines = out.splitlines()
    assert lines[0] == b"text first"
    assert lines[1].endswith(b": (VI_\xe9) Entering MASTER STATE"), lines
    assert lines[2].endswith(": plain \u00e9".encode()), lines
