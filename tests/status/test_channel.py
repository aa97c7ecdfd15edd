"""The internal status channel with snapshots of real size: a child with 4,000 instances serves
several MB, and the reader must get all of it (one read used to return only the first few
hundred KB: from ~250 instances the API said `[]`, /metrics lost its VRRP series, /healthz 503)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pykeepalived.status import channel
from pykeepalived.status import server as srv

N = 4000


def instance(i: int) -> dict[str, Any]:
    """One instance as status/snapshot.py builds it (about 1 KB of JSON)."""
    return {
        "name": f"VI_{i}", "state": "MASTER" if i % 2 else "BACKUP", "state_code": 2 if i % 2 else 1,
        "wantstate": "MASTER", "vrid": i % 255 + 1, "interface": f"eth{i // 255}", "family": "inet",
        "version": 3, "base_priority": 100, "effective_priority": 100,
        "vips": [f"10.{i // 256 % 256}.{i % 256}.{k}/32" for k in range(1, 4)], "vips_present": bool(i % 2),
        "master_address": "192.0.2.1", "master_priority": 100, "advert_interval": 1.0, "master_adver_int": 1.0,
        "last_transition": 1765000000.123456, "last_transition_reason": "master_down_timer fired",
        "transitions": [{"time": 1765000000.0 + t, "from": "BACKUP", "to": "MASTER", "reason": "x" * 40}
                        for t in range(3)],
        "faults": [], "garp_delay": 5,
        "stats": {"advert_sent": i, "advert_rcvd": 2 * i, "become_master": 1, "release_master": 0,
                  "packet_len_err": 0, "auth_failure": 0, "pri_zero_sent": 0, "pri_zero_rcvd": 0},
    }


SNAPSHOT = {"process": "vrrp", "pid": 4321, "instances": [instance(i) for i in range(N)],
            "sync_groups": [], "trackers": {"scripts": []}}


class Child:
    """serve_snapshots on its own loop and thread, as in the VRRP child."""

    def __init__(self, path: str, build: Any) -> None:
        self.path = path
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(channel.serve_snapshots(path, build))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Child]:
    c = Child(str(tmp_path / "vrrp.sock"), lambda: SNAPSHOT)
    yield c
    c.stop()


def test_a_4000_instance_snapshot_arrives_whole(child: Child) -> None:
    size = len(json.dumps(SNAPSHOT, separators=(",", ":")))
    assert size > 3 * 1024 * 1024  # far more than one socket read
    got = asyncio.run(channel.fetch_snapshot(child.path, timeout=30))
    assert len(got["instances"]) == N
    assert got == json.loads(json.dumps(SNAPSHOT, separators=(",", ":")))


def test_an_oversized_snapshot_is_a_clear_error(child: Child, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel, "MAX_SNAPSHOT_BYTES", 1024 * 1024)
    with pytest.raises(OSError, match="larger than 1048576 bytes"):
        asyncio.run(channel.fetch_snapshot(child.path, timeout=30))


def test_a_child_that_stops_writing_times_out(tmp_path: Path) -> None:
    path = str(tmp_path / "stuck.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    try:
        with pytest.raises(OSError, match="no answer"):
            asyncio.run(channel.fetch_snapshot(path, timeout=0.5))
    finally:
        listener.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(1 << 20):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_api_sees_all_4000_instances(child: Child, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(srv, "CACHE_SECONDS", 60.0)
    t = srv.StatusThread(srv.Listen(host="127.0.0.1", port=0), None, lambda: {"version": "test"},
                         lambda: {"vrrp": child.path}).start()
    try:
        assert t.server is not None
        status, body = get(t.server.port, "/healthz")
        assert status == 200, body
        status, body = get(t.server.port, "/v1/vrrp/instances")
        assert status == 200 and len(json.loads(body)) == N
        status, body = get(t.server.port, f"/v1/vrrp/instances/VI_{N - 1}")
        assert status == 200 and json.loads(body)["stats"]["advert_sent"] == N - 1
        status, body = get(t.server.port, "/metrics")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        assert len(families["keepalived_advertisements_sent"].samples) == N
    finally:
        t.stop()


def test_big_snapshots_are_kept_longer(child: Child, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4,000-instance snapshot (3.6 MB) costs the child a noticeable time to build: the API
    keeps it CACHE_SECONDS_PER_MB per MB, so a flood of requests cannot keep the child busy."""
    monkeypatch.setattr(srv, "CACHE_SECONDS", 0.01)
    monkeypatch.setattr(srv, "CACHE_SECONDS_PER_MB", 100.0)
    fetched = 0
    real = srv.fetch_snapshot_sized

    async def counting(path: str, timeout: float | None = None) -> tuple[dict[str, Any], int]:
        nonlocal fetched
        fetched += 1
        return await real(path, 30)

    monkeypatch.setattr(srv, "fetch_snapshot_sized", counting)

    async def main() -> None:
        source = srv.SnapshotSource(lambda: {}, lambda: {"vrrp": child.path})
        first = await source.get()
        await asyncio.sleep(0.5)  # far past CACHE_SECONDS, well within 100 s per MB
        assert await source.get() is first

    asyncio.run(main())
    assert fetched == 1


def test_rows_encode_exactly_as_one_json_dump() -> None:
    rows = channel.Rows(list(range(2 * channel.ROWS_PER_TURN + 7)), lambda i: {"i": i, "s": "x" * (i % 3)})
    for snap in ({}, {"a": 1}, {"instances": rows, "b": [1, {"c": None}], "d": "é"},
                 {"instances": channel.Rows([], str)}, {"x": channel.Rows([1], lambda i: i)}):
        async def collect(snap: dict[str, Any] = snap) -> bytes:
            return b"".join([piece async for piece in channel.encode_in_turns(snap)])

        plain = {k: v.made() if isinstance(v, channel.Rows) else v for k, v in snap.items()}
        assert asyncio.run(collect()) == json.dumps(plain, separators=(",", ":"), default=str).encode()


def test_the_child_s_loop_keeps_running_while_a_big_snapshot_is_made(tmp_path: Path) -> None:
    """Rows are made ROWS_PER_TURN per loop turn: a timer of the child's loop (its adverts) is
    not held up by the whole build. Before, the 4,000 rows were made in one callback."""
    def slow_row(i: int) -> dict[str, Any]:
        time.sleep(0.0005)            # 4,000 rows: 2 s in one piece
        return instance(i)

    path = str(tmp_path / "vrrp.sock")
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    c = Child(path, lambda: {"process": "vrrp", "instances": channel.Rows(range(N), slow_row)})
    try:
        tick = asyncio.run_coroutine_threadsafe(ticker(), c.loop)
        t0 = time.monotonic()
        got = asyncio.run(channel.fetch_snapshot(path, timeout=120))
        took = time.monotonic() - t0
        tick.cancel()
    finally:
        c.stop()
    assert len(got["instances"]) == N and got["instances"][7] == instance(7)
    # 40 turns of ROWS_PER_TURN rows: the loop ran between them (in one piece: one gap of `took`)
    assert len(gaps) >= 8 and max(gaps) < took / 5, (f"the child's loop stood still {max(gaps):.2f} s "
                                                       f"of the {took:.2f} s the snapshot took")
