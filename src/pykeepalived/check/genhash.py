"""`pykeepalived genhash` / `pykeepalived -T`: keepalived's genhash (check_genhash.c).

Fetches one url the way HTTP_GET/SSL_GET does and prints the MD5 digest of the body as
32 lowercase hex digits and a newline, the value to put in `digest`. With -v the header
and body are dumped first, as keepalived does."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
import time
from typing import NoReturn

from pykeepalived.check.common import ConnOpts
from pykeepalived.check.http import FetchError, build_request, fetch, make_ssl_context

FOREVER = 10.0 * 365 * 86400  # keepalived's default genhash timeout is UINT_MAX

DELIM_BEGIN = "-----------------------["
DELIM_END = "]-----------------------\n"
HTTP_HEADER_HEXA = DELIM_BEGIN + "    HTTP Header Buffer    " + DELIM_END
HTTP_HEADER_ASCII = DELIM_BEGIN + " HTTP Header Ascii Buffer " + DELIM_END
HTML_HEADER_HEXA = DELIM_BEGIN + "        HTML Buffer        " + DELIM_END
HTML_HASH = DELIM_BEGIN + "    HTML hash resulting    " + DELIM_END
HTML_HASH_FINAL = DELIM_BEGIN + " HTML hash final resulting " + DELIM_END


def usage(prog: str, am_genhash: bool) -> str:
    return (
        f"Usage: {prog}{'' if am_genhash else ' --genhash'} COMMAND [OPTIONS]\n"
        "Commands:\n"
        "   -s server-address -p port -u url\n"
        "   -S -s server-address -p port -u url\n"
        "   -h\n\n"
        "Options:\n"
        "Either long or short options are allowed.\n"
        "   --use-ssl         -S       Use SSL connection to remote server.\n"
        "   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).\n"
        "   --server          -s       Use the specified remote server address.\n"
        "   --port            -p       Use the specified remote server port.\n"
        "   --url             -u       Use the specified remote server url.\n"
        "   --use-virtualhost -V       Use the specified virtualhost in GET query.\n"
        "   --verbose         -v       Use verbose mode output.\n"
        "   --help            -h       Display this short inlined help screen.\n"
        "   --fwmark          -m       Use the specified FW mark.\n"
        "   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.\n"
        "                                1.0c means 1.0 with 'Connection: close'\n"
        "   --timeout         -t       Timeout in seconds\n"
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def dump_buffer(data: bytes) -> str:
    """keepalived's dump_buffer: decimal offset, 16 bytes in hex split by "- ", printable ASCII."""
    out = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        line = f"{off:04d}  "
        for i in range(16):
            if i == 8:
                line += "- " if i < len(chunk) else "  "
            line += f"{chunk[i]:02x} " if i < len(chunk) else "   "
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{line}  {text:<16}\n")
    return "".join(out)


def parse(argv: list[str]) -> argparse.Namespace:
    p = _Parser(add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-S", "--use-ssl", action="store_true")
    p.add_argument("-I", "--use-sni", action="store_true")
    p.add_argument("-s", "--server")
    p.add_argument("-V", "--use-virtualhost", dest="vhost")
    p.add_argument("-p", "--port")
    p.add_argument("-u", "--url")
    p.add_argument("-m", "--fwmark")
    p.add_argument("-P", "--protocol")
    p.add_argument("-t", "--timeout")
    return p.parse_args(argv)


def main(argv: list[str], prog: str = "pykeepalived", am_genhash: bool = False) -> int:
    err = sys.stderr
    if len(argv) < 2:
        err.write(usage(prog, am_genhash))
        return 1
    try:
        args = parse(argv)
    except ValueError as e:
        err.write(f"{e}\n")
        err.write(usage(prog, am_genhash))
        return 1
    if args.help or not (args.server and args.port and args.url):
        err.write(usage(prog, am_genhash))
        return 1
    try:
        server = ipaddress.ip_address(args.server)
    except ValueError:
        err.write(f"server should be an IP, not {args.server}\n")
        err.write(usage(prog, am_genhash))
        return 1
    if not args.port.isdigit() or not 0 < int(args.port) <= 65535:
        err.write(f"invalid port number '{args.port}'\n")
        err.write(usage(prog, am_genhash))
        return 1
    protocol = "1.0"
    if args.protocol is not None:
        if args.protocol not in ("1.0", "1.0c", "1.0C", "1.1"):
            err.write(f"invalid HTTP protocol version '{args.protocol}'\n")
            err.write(usage(prog, am_genhash))
            return 1
        protocol = args.protocol.upper()
    fwmark = None
    if args.fwmark is not None:
        if not args.fwmark.strip().isdigit():
            err.write(f"invalid fwmark '{args.fwmark}'\n")
            err.write(usage(prog, am_genhash))
            return 1
        fwmark = int(args.fwmark)
    timeout = FOREVER
    if args.timeout is not None:
        if not args.timeout.strip().isdigit():
            err.write(f"invalid timeout '{args.timeout}'\n")
            err.write(usage(prog, am_genhash))
            return 1
        timeout = float(int(args.timeout)) or FOREVER
    co = ConnOpts(dst=server, port=int(args.port), fwmark=fwmark, timeout=timeout)
    request = build_request(args.url, protocol, str(server), co.port, args.vhost)
    ssl_ctx = make_ssl_context(None) if args.use_ssl else None
    sni = args.vhost if args.use_sni else None
    started = time.monotonic()
    try:
        result = asyncio.run(fetch(co, request, ssl_ctx=ssl_ctx, server_hostname=sni))
    except FetchError as e:
        err.write(f"{e} server {co.pair}.\n")
        return 1
    except KeyboardInterrupt:
        return 1
    out = sys.stdout
    digest = result.md5.digest()
    if args.verbose:
        out.write(HTTP_HEADER_HEXA)
        out.write(dump_buffer(result.header))
        out.write(HTTP_HEADER_ASCII)
        out.write(result.header.decode(errors="replace") + "\n")
        out.write(HTML_HEADER_HEXA)
        out.write(dump_buffer(bytes(result.body)))
        out.write("\n")
        out.write(HTML_HASH)
        out.write(dump_buffer(digest))
        out.write(HTML_HASH_FINAL)
    out.write(digest.hex() + "\n")
    if args.verbose:
        usecs = int((time.monotonic() - started) * 1e6)
        out.write(f"\nGlobal response time for [{args.url}] = {usecs} usecs\n")
    out.flush()
    return 0


def console_main() -> int:
    """Entry point for a stand-alone `genhash` command."""
    return main(sys.argv[1:], prog="genhash", am_genhash=True)
