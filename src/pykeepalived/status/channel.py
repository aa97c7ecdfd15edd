"""The internal status channel: each child serves its state snapshot on a unix socket.

The snapshot is built only when somebody asks (the status API, `pykeepalived status`),
so an idle daemon pays nothing. Its long lists (`Rows`: one row per instance) are built and
encoded ROWS_PER_TURN rows at a time, and the child's loop runs its timers and sockets
between two slices: at 1,000 instances one whole build took the VRRP loop 0.1-0.3 s, longer
than a master-down interval at advert_int 0.1 (a scrape could move every VIP). The HTTP side
caches answers (see server.py), so hostile clients cannot make a child build snapshots
faster than once per CACHE_SECONDS.

Protocol: the client connects and the child writes one JSON document and closes; the client
reads until that close (EOF), at most MAX_SNAPSHOT_BYTES, within FETCH_TIMEOUT. (A snapshot
is about 1 KB per instance: 4,000 instances are several MB, many socket reads.)
The socket sits next to the child's pid file (/run/vrrp.pid -> /run/vrrp.sock),
mode 0600, so every daemon instance (and every test namespace) has its own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

# asyncio and json are imported where they are used: the supervisor imports this module for
# `channel_path` alone (when a child dies, before it respawns it), and asyncio costs it
# 40-100 ms (up to 0.7 s on a loaded machine) and megabytes it never needs.

Snapshot = dict[str, Any]

# A 4,000-instance snapshot takes the child about 0.2 s to build and write on an idle machine,
# 1-3 s on a loaded one: a child is "not answering" only when it stays silent much longer.
FETCH_TIMEOUT = 10.0
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
READ_CHUNK = 256 * 1024
ROWS_PER_TURN = 100      # rows built and encoded per loop turn (about 5-20 ms of work at most)


@dataclass(frozen=True, slots=True)
class Rows:
    """A list in a snapshot whose rows are made while it is written, ROWS_PER_TURN per loop
    turn (each row reads the live object as it is then)."""

    items: Sequence[Any]
    row: Callable[[Any], Any]

    def made(self) -> list[Any]:
        """All rows at once (for callers without a loop to yield to)."""
        return [self.row(x) for x in self.items]


async def encode_in_turns(snap: Snapshot) -> AsyncIterator[bytes]:
    """`snap` as compact JSON (json.dumps(..., separators=(",", ":"), default=str)), in pieces;
    a `Rows` value is made and encoded in slices with the loop let run between them."""
    import asyncio
    import json

    def dump(v: Any) -> str:
        return json.dumps(v, separators=(",", ":"), default=str)

    sep = "{"
    for key, value in snap.items():
        if not isinstance(value, Rows):
            yield f"{sep}{dump(key)}:{dump(value)}".encode()
        else:
            yield f"{sep}{dump(key)}:[".encode()
            items = value.items
            for i in range(0, len(items), ROWS_PER_TURN):
                piece = dump([value.row(x) for x in items[i:i + ROWS_PER_TURN]])[1:-1]
                yield (piece if i == 0 or not piece else "," + piece).encode()
                await asyncio.sleep(0)
            yield b"]"
        sep = ","
    yield b"{}" if sep == "{" else b"}"


def channel_path(pid_file: str) -> str:
    """Where the child whose pid file is `pid_file` serves its snapshot."""
    base, ext = os.path.splitext(pid_file)
    return (base if ext == ".pid" else pid_file) + ".sock"


async def serve_snapshots(path: str, build: Callable[[], Snapshot | Awaitable[Snapshot]]) -> asyncio.AbstractServer:
    """Child side: answer every connection on `path` with `build()` (or what it awaits) as JSON."""
    import asyncio
    import inspect

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(FETCH_TIMEOUT):
                snap = build()
                if inspect.isawaitable(snap):  # a builder that waits for something (the checker child's
                    snap = await snap          # kernel counters, read on its backend thread)
                async for piece in encode_in_turns(snap):
                    writer.write(piece)
                    await writer.drain()
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()

    if os.path.exists(path):
        os.unlink(path)
    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(answer, path)
    finally:
        os.umask(old_umask)
    return server


async def fetch_snapshot(path: str, timeout: float | None = None) -> Snapshot:
    """Parent/client side: read one snapshot; raises OSError when the child is not there.

    `timeout` bounds the whole exchange (connect, every read, EOF); FETCH_TIMEOUT by default."""
    return (await fetch_snapshot_sized(path, timeout))[0]


async def fetch_snapshot_sized(path: str, timeout: float | None = None) -> tuple[Snapshot, int]:
    """`fetch_snapshot`, with the size of the document in bytes (what it cost the child)."""
    import asyncio
    import json

    if timeout is None:
        timeout = FETCH_TIMEOUT

    async def read() -> bytes:
        reader, writer = await asyncio.open_unix_connection(path, limit=READ_CHUNK)
        try:
            chunks: list[bytes] = []
            total = 0
            # One read() returns what the socket holds at that moment (a few hundred KB at
            # most): the document is complete only at EOF.
            while chunk := await reader.read(READ_CHUNK):
                total += len(chunk)
                if total > MAX_SNAPSHOT_BYTES:
                    raise OSError(f"snapshot from {path} is larger than {MAX_SNAPSHOT_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            writer.close()

    try:
        data = await asyncio.wait_for(read(), timeout)
    except TimeoutError as exc:
        raise OSError(f"no answer from {path} within {timeout} s") from exc
    try:
        snap = json.loads(data)
    except ValueError as exc:
        raise OSError(f"garbled snapshot from {path}") from exc
    if not isinstance(snap, dict):
        raise OSError(f"garbled snapshot from {path}")
    return snap, len(data)
