"""A minimal SMTP server for tests: `python smtp_sink.py HOST PORT OUTFILE` appends one JSON
line per received message ({"from", "to", "data"}); enough of RFC 5321 for keepalived."""

from __future__ import annotations

import asyncio
import json
import sys


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, out: str) -> None:
    def send(line: str) -> None:
        writer.write(line.encode() + b"\r\n")

    send("220 sink ESMTP")
    mail_from, rcpts = "", []
    while True:
        line = (await reader.readline()).decode(errors="replace").rstrip("\r\n")
        if not line:
            break
        verb = line.split(" ", 1)[0].upper()
        if verb in ("HELO", "EHLO"):
            send("250 sink")
        elif verb == "MAIL":
            mail_from = line.split(":", 1)[1].strip()
            send("250 OK")
        elif verb == "RCPT":
            rcpts.append(line.split(":", 1)[1].strip())
            send("250 OK")
        elif verb == "DATA":
            send("354 go ahead")
            data = []
            while True:
                d = (await reader.readline()).decode(errors="replace").rstrip("\r\n")
                if d == ".":
                    break
                data.append(d[1:] if d.startswith("..") else d)
            with open(out, "a") as f:
                f.write(json.dumps({"from": mail_from, "to": rcpts, "data": data}) + "\n")
            send("250 queued")
        elif verb == "QUIT":
            send("221 bye")
            await writer.drain()
            break
        else:
            send("250 OK")
        await writer.drain()
    writer.close()


async def main() -> None:
    host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = await asyncio.start_server(lambda r, w: session(r, w, out), host, port)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
