"""Strings that leave the process as bytes.

The config loader decodes files as UTF-8 with `surrogateescape`, so a byte that is not valid
UTF-8 (a Latin-1 `é` in an instance name, an auth_pass, a path) is kept as a lone surrogate
U+DC80..U+DCFF. keepalived, working on bytes, writes such a byte back unchanged; a plain
`.encode()` raises UnicodeEncodeError instead. Everything we write out (FIFO lines, auth data,
logs, dumps, protocol lines, netlink/nft text) goes through `to_bytes` or the `ERRORS` handler:
the original byte comes back, and any other unencodable character becomes `?` (never an
exception).
"""

from __future__ import annotations

import codecs

ERRORS = "pykeepalived.bytes"


def _handler(exc: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for ch in exc.object[exc.start:exc.end]:
        o = ord(ch)
        out.append(o - 0xDC00 if 0xDC80 <= o <= 0xDCFF else 0x3F)
    return bytes(out), exc.end


codecs.register_error(ERRORS, _handler)


def to_bytes(s: str) -> bytes:
    """UTF-8, with the loader's escaped bytes restored (see the module docstring)."""
    return s.encode("utf-8", ERRORS)
