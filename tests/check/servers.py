"""Real servers for the checker tests, run inside a namespace: `python servers.py [--tls CERT KEY]`.

HTTP on 80 (and HTTPS on 443, mutual TLS on 444, with --tls): /ok -> 200 "hello world\\n", /status/N -> N,
/slow -> no answer, /empty -> close at once, /regex -> a page to match; every request's
raw bytes are printed as `REQ <hex>`.
SMTP on 25 ("good"), 26 (bad banner), 27 (no banner), 28 (bad HELO reply).
DNS on UDP 53: `ok.test.` answers every listed type, other names get NXDOMAIN.
UDP on 9000 echoes, 9001 answers "PONG-<payload>".
Prints READY when everything listens."""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset

PAGE_REGEX = b"<html><body>status: all-systems-go build=42</body></html>\n"

RECORDS = {
    "A": "192.0.2.1",
    "AAAA": "2001:db8::1",
    "NS": "ns1.ok.test.",
    "CNAME": "alias.ok.test.",
    "SOA": "ns1.ok.test. admin.ok.test. 1 3600 600 86400 60",
    "MX": "10 mail.ok.test.",
    "TXT": '"hello"',
}


async def http_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        req = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    peer = writer.get_extra_info("peername")
    print(f"PEER {peer[0]} {peer[1]}", flush=True)
    print("REQ " + req.hex(), flush=True)
    path = req.split(b" ", 2)[1].decode()
    if path == "/slow":
        await asyncio.sleep(30)
    if path == "/empty":
        writer.close()
        return
    status, body = 200, b"hello world\n"
    if path.startswith("/status/"):
        status = int(path.split("/")[2])
        body = b"status page\n"
    elif path == "/regex":
        body = PAGE_REGEX
    length = 100 if path == "/short" else len(body)  # /short: a Content-Length the body does not have
    head = f"HTTP/1.0 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\n\r\n"
    writer.write(head.encode() + body)
    try:
        await writer.drain()
    except ConnectionError:
        pass
    writer.close()


def smtp_handler(mode: str):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if mode == "nobanner":
                await asyncio.sleep(30)
                return
            writer.write(b"554 go away\r\n" if mode == "badbanner" else b"220 mx.test ESMTP\r\n")
            await writer.drain()
            line = await reader.readline()
            print("SMTP " + line.decode().strip(), flush=True)
            writer.write(b"500 no\r\n" if mode == "badhelo" else b"250 mx.test hello\r\n")
            await writer.drain()
            line = await reader.readline()
            print("SMTP " + line.decode().strip(), flush=True)
            writer.write(b"221 bye\r\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
    return handle


class Dns(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        question = q.question[0]
        name = question.name.to_text()
        rtype = dns.rdatatype.to_text(question.rdtype)
        print(f"DNS {name} {rtype}", flush=True)
        if name == "ok.test.":
            r.answer.append(dns.rrset.from_text(name, 60, "IN", rtype, RECORDS[rtype]))
        else:
            r.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(r.to_wire(), addr)  # type: ignore[attr-defined]


class Udp(asyncio.DatagramProtocol):
    def __init__(self, pong: bool) -> None:
        self.pong = pong

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"PONG-" + data if self.pong else data, addr)  # type: ignore[attr-defined]


async def main() -> None:
    loop = asyncio.get_running_loop()
    servers = [await asyncio.start_server(http_handler, None, 80)]
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        servers.append(await asyncio.start_server(http_handler, None, 443, ssl=ctx))
        # 444: mutual TLS, the client must show a certificate of the CA next to the server's
        mctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        mctx.load_cert_chain(sys.argv[2], sys.argv[3])
        mctx.load_verify_locations(str(Path(sys.argv[2]).with_name("ca.pem")))
        mctx.verify_mode = ssl.CERT_REQUIRED
        servers.append(await asyncio.start_server(http_handler, None, 444, ssl=mctx))
    for port, mode in ((25, "good"), (26, "badbanner"), (27, "nobanner"), (28, "badhelo")):
        servers.append(await asyncio.start_server(smtp_handler(mode), None, port))
    await loop.create_datagram_endpoint(Dns, local_addr=("0.0.0.0", 53))
    await loop.create_datagram_endpoint(lambda: Udp(False), local_addr=("0.0.0.0", 9000))
    await loop.create_datagram_endpoint(lambda: Udp(True), local_addr=("0.0.0.0", 9001))
    print("READY", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
