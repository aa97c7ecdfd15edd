"""A real server's response head is read into keepalived's 4 KiB buffer at most: a head that
does not end within it fails the check at once ("Read, no data received from ", keepalived's
read of 0 bytes into a full buffer), whatever the server sends after it. Before, the head was
buffered without limit: a server trickling header bytes grew the checker's memory for as long
as it kept sending, and the check waited for the server to close."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest

from pykeepalived.check.common import ConnOpts
from pykeepalived.check.http import HEAD_MAX, FetchError, fetch


async def _serve(head: bytes, then_hold: bool) -> tuple[asyncio.Server, list[int]]:
    sent = [0]

    async def session(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")     # unread request bytes would make close() a reset
        w.write(head)
        sent[0] += len(head)
        await w.drain()
        while then_hold:             # trickle header bytes, never a blank line
            await asyncio.sleep(0.01)
            w.write(b"X-Pad: " + b"a" * 1000 + b"\r\n")
            sent[0] += 1009
            await w.drain()
        w.close()

    return await asyncio.start_server(session, "127.0.0.1", 0), sent


def _fetch(head: bytes, then_hold: bool = False) -> tuple[object, float, int]:
    async def main() -> tuple[object, float, int]:
        server, sent = await _serve(head, then_hold)
        port = server.sockets[0].getsockname()[1]
        co = ConnOpts(dst=ipaddress.ip_address("127.0.0.1"), port=port, timeout=5.0)
        t0 = time.monotonic()
        try:
            out: object = await fetch(co, b"GET / HTTP/1.0\r\n\r\n")
        except FetchError as exc:
            out = exc
        took = time.monotonic() - t0
        server.close()
        return out, took, sent[0]

    return asyncio.run(main())


def test_a_head_that_never_ends_fails_at_once_with_keepalived_s_message() -> None:
    out, took, sent = _fetch(b"HTTP/1.0 200 OK\r\n", then_hold=True)
    assert isinstance(out, FetchError) and str(out) == "Read, no data received from ", out
    assert took < 4.0, f"waited {took:.2f} s for a head that cannot fit (timeout 5 s per read)"
    assert sent < 1 << 20


@pytest.mark.parametrize("length, ok", [(HEAD_MAX, True), (HEAD_MAX + 1, False)])
def test_the_head_must_end_within_keepalived_s_buffer(length: int, ok: bool) -> None:
    start = b"HTTP/1.0 200 OK\r\nX: "
    head = start + b"a" * (length - len(start) - 4) + b"\r\n\r\n" + b"body"
    out, _took, _sent = _fetch(head)
    if ok:
        assert not isinstance(out, FetchError), out
        assert out.status == 200  # type: ignore[attr-defined]
    else:
        assert isinstance(out, FetchError) and str(out) == "Read, no data received from "
