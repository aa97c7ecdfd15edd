"""The health checkers of a real_server (TCP_CHECK, HTTP_GET, SSL_GET, ...): keyword -> handler,
and the SSL block they use."""

from __future__ import annotations

import re

from pykeepalived.config import model as m
from pykeepalived.config.blocks import (
    Ctx,
    Fields,
    Handler,
    block,
    deprecated,
    flag,
    integer,
    keyword_rules,
    optional_string,
    pos,
    rest_text,
    string,
    switch,
    timer,
    user_and_group,
    walk,
)
from pykeepalived.config.grammar import Node

COMMON_TIMING: dict[str, Handler] = {
    "delay_loop": timer("delay_loop", 0.000001, 4294.967295),
    "connect_timeout": timer("connect_timeout", 0.000001, 4294.967295, "{kw} {v} invalid - ignoring"),
    "retry": integer("retry", 0, 2147483647),
    "delay_before_retry": timer("delay_before_retry", 0, 4294.967295),
    "warmup": timer("warmup", 0, 4294.967295),
}


def checker_block(kind: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        cf: Fields = {"_kind": kind, "pos": pos(node)}
        walk(ctx, node.children or [], CHECKER_TABLES[kind], cf)
        f.setdefault("_checkers", []).append((node, cf))
    return block(h, lambda: CHECKER_TABLES[kind])


def _h_connect_ip(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    a = ctx.ip(node, w[1])
    if a is not None:
        f["connect_ip"] = a


def _h_bindto(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    a = ctx.ip(node, w[1])
    if a is not None:
        f["bindto"] = a


def _h_bind_if(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if len(w[1]) > 15:  # keepalived's bind_if[IFNAMSIZ]
        ctx.warn(node, f"Interface name {w[1]} is too long - ignoring")
        return
    f["bind_if"] = w[1]


CHECKER_COMMON: dict[str, Handler] = {
    "connect_ip": _h_connect_ip,
    "connect_port": integer("connect_port", 0, 65535),
    "bindto": _h_bindto,
    "bind_if": _h_bind_if,
    "bind_port": integer("bind_port", 0, 65535),
    "fwmark": integer("fwmark", 0, 4294967295),
    "alpha": flag("alpha"),
    "log_all_failures": flag("log_all_failures"),
    **COMMON_TIMING,
}


def _h_status_code(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out: list[tuple[int, int]] = []
    for a in w[1:]:
        lo_s, _, hi_s = a.partition("-")
        lo = ctx.int_(node, lo_s, 100, 599)
        hi = ctx.int_(node, hi_s, 100, 599) if hi_s else lo
        if lo is not None and hi is not None:
            out.append((lo, hi))
    if out:
        f["status_code"] = tuple(f.get("status_code", ())) + tuple(out)


def _h_digest(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if len(w[1]) != 32 or any(c not in "0123456789abcdefABCDEF" for c in w[1]):
        ctx.warn(node, f"digest '{w[1]}' character length should be 32 rather than {len(w[1])}")
        return
    f["digest"] = w[1].lower()


def _strtoul(s: str) -> int | None:
    """C's strtoul(s, &end, 10) when the whole of `s` is read (else None): leading blanks and a
    sign are allowed, a negative value wraps, an over-large one saturates, '' is 0."""
    mt = re.fullmatch(r"[ \t\n\v\f\r]*(?:([+-]?)(\d+))?", s)
    if mt is None:
        return None
    v = min(int(mt.group(2) or 0), 2**64 - 1)
    return (2**64 - v) % 2**64 if mt.group(1) == "-" else v


# keepalived 2.2.7 only logs (log_message, not a configuration error) a bad regex_* value: the
# value is ignored and `-t` passes
def _h_regex_offset(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    v = _strtoul(w[1]) if len(w) == 2 else None
    if v is not None:
        f[w[0]] = v


def _h_regex_stack(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    start, top = (_strtoul(w[1]), _strtoul(w[2])) if len(w) == 3 else (None, None)
    if start is not None and top is not None and start <= top:
        f["regex_stack"] = top


URL: dict[str, Handler] = {
    "path": string("path"),
    "digest": _h_digest,
    "status_code": _h_status_code,
    "virtualhost": string("virtualhost"),
    "regex": optional_string("regex"),
    "regex_no_match": switch("regex_no_match"),
    "regex_options": lambda ctx, node, w, f: f.__setitem__("regex_options", tuple(w[1:])),
    "regex_stack": _h_regex_stack,
    "regex_min_offset": _h_regex_offset,
    "regex_max_offset": _h_regex_offset,
}


def _h_url(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    uf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], URL, uf)
    if "path" not in uf:
        # at the url block's closing '}', where 2.2.7's url_check reports it
        end = Node(node.text, node.file, node.end_line) if node.end_line is not None else node
        ctx.warn(end, "Url path not specified - ignoring url")
        return
    f["urls"] = tuple(f.get("urls", ())) + (m.Url(**uf),)


def _h_http_protocol(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = {"1.0": "1.0", "1.1": "1.1", "1.0C": "1.0C", "1.0c": "1.0C"}.get(w[1])
    if v is None:
        ctx.warn(node, f"Invalid http_protocol {w[1]}")
    else:
        f["http_protocol"] = v


HTTP_GET: dict[str, Handler] = {
    **CHECKER_COMMON,
    "url": block(_h_url, lambda: URL),
    "nb_get_retry": deprecated(integer("retry", 0, 2147483647), "nb_get_retry is deprecated - please use 'retry'"),
    "http_protocol": _h_http_protocol,
    "virtualhost": string("virtualhost"),
    "fast_recovery": flag("fast_recovery"),
    "enable_sni": flag("enable_sni"),
    "sni_name": string("sni_name"),
    "tls_compliant": flag("tls_compliant"),
}


def _h_smtp_host(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    # deprecated host { connect_ip ...; connect_port ... } sub-block: accepted, first one used
    hf: Fields = {}
    walk(ctx, node.children or [], CHECKER_COMMON, hf)
    for k in ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark"):
        if k in hf and k not in f:
            f[k] = hf[k]


def _h_dns_type(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    t = w[1].upper()
    if t not in ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"):
        ctx.warn(node, f"Unknown DNS check type {w[1]} - ignoring")
    else:
        f["type"] = t


def _h_misc_path(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    s = ctx.script(node, rest_text(node))
    if s is None:
        ctx.need(node, w, 1)
    f["misc_path"] = s


def _hex_bytes(ctx: Ctx, node: Node, s: str, wild: bool) -> tuple[bytes, bytes] | None:
    s = "".join(s.split())
    if len(s) % 2:
        ctx.warn(node, f"Invalid hex string '{s}' - odd length")
        return None
    data = bytearray()
    mask = bytearray()
    for i in range(0, len(s), 2):
        pair = s[i:i + 2]
        if wild and pair.upper() == "XX":
            data.append(0)
            mask.append(0)
            continue
        try:
            data.append(int(pair, 16))
            mask.append(0xFF)
        except ValueError:
            ctx.warn(node, f"Invalid hex string '{s}'")
            return None
    return bytes(data), bytes(mask)


def _h_payload(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        ctx.warn(node, "UDP_CHECK payload requires a payload")
        return
    r = _hex_bytes(ctx, Node("", "", 0), "".join(w[1:]), False)  # its own message is keepalived's below
    if r is None:
        ctx.warn(node, "Invalid hex string for UDP_CHECK payload")
    else:
        f["payload"] = r[0]


def _h_require_reply(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        f["require_reply"] = b""
        return
    r = _hex_bytes(ctx, node, "".join(w[1:]), True)
    if r is not None:
        f["require_reply"], f["require_reply_mask"] = r


def _h_file_check_weight(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.int_(node, w[1], -254, 254)
    if v is not None:
        f["weight"] = v
    if len(w) > 2 and w[2] == "reverse":
        f["weight_reverse"] = True


CHECKER_TABLES: dict[str, dict[str, Handler]] = {
    "TCP_CHECK": dict(CHECKER_COMMON),
    "HTTP_GET": HTTP_GET,
    "SSL_GET": HTTP_GET,
    "SMTP_CHECK": {**CHECKER_COMMON, "helo_name": string("helo_name"), "host": block(_h_smtp_host, lambda: CHECKER_COMMON)},
    "DNS_CHECK": {**CHECKER_COMMON, "type": _h_dns_type, "name": string("name")},
    "MISC_CHECK": {**{k: v for k, v in COMMON_TIMING.items() if k != "connect_timeout"}, "misc_path": _h_misc_path, "misc_timeout": timer("misc_timeout", 0, 4294.967295),
                   "misc_dynamic": switch("misc_dynamic"), "user": user_and_group, "alpha": flag("alpha"),
                   "log_all_failures": flag("log_all_failures")},
    "UDP_CHECK": {**CHECKER_COMMON, "payload": _h_payload, "require_reply": _h_require_reply,
                  "min_reply_length": integer("min_reply_length", 0, 65535),
                  "max_reply_length": integer("max_reply_length", 0, 65535)},
    "PING_CHECK": dict(CHECKER_COMMON),
    "FILE_CHECK": {"track_file": string("track_file"), "dynamic": flag("dynamic"), "weight": _h_file_check_weight},
    "BFD_CHECK": {"name": string("name"), "alpha": flag("alpha")},
}


CHECKER_CLASSES: dict[str, type[m.Checker]] = {
    "TCP_CHECK": m.TcpCheck, "HTTP_GET": m.HttpGet, "SSL_GET": m.HttpGet, "SMTP_CHECK": m.SmtpCheck,
    "DNS_CHECK": m.DnsCheck, "MISC_CHECK": m.MiscCheck, "UDP_CHECK": m.UdpCheck, "PING_CHECK": m.PingCheck,
    "FILE_CHECK": m.FileCheck, "BFD_CHECK": m.BfdCheck,
}


SSL_TABLE: dict[str, Handler] = {"password": string("password"), "ca": string("ca"),
                                 "certificate": string("certificate"), "key": string("key")}


def ssl_block(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    sf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], SSL_TABLE, sf)
    f["ssl"] = m.Ssl(**sf)


# The timing keywords, and those of every checker, that stop keepalived 2.2.7 when their
# parameter is missing (see blocks.STOP_WHEN_EMPTY)
TIMING_STOPS = {"connect_timeout", "delay_before_retry", "delay_loop", "retry", "warmup"}
CHECKER_STOPS = frozenset(TIMING_STOPS | {"bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "fwmark"})


keyword_rules(URL, stops={"digest", "path"})
keyword_rules(CHECKER_TABLES["TCP_CHECK"], stops=CHECKER_STOPS)
keyword_rules(CHECKER_TABLES["HTTP_GET"], stops=CHECKER_STOPS | {"nb_get_retry"}, newer={"sni_name", "tls_compliant"})
keyword_rules(CHECKER_TABLES["SMTP_CHECK"], stops=CHECKER_STOPS)
keyword_rules(CHECKER_TABLES["DNS_CHECK"], stops=CHECKER_STOPS | {"name", "type"})
keyword_rules(CHECKER_TABLES["MISC_CHECK"], stops=TIMING_STOPS - {"connect_timeout"} | {"misc_timeout"})
keyword_rules(CHECKER_TABLES["UDP_CHECK"], stops=CHECKER_STOPS | {"max_reply_length", "min_reply_length"})
keyword_rules(CHECKER_TABLES["PING_CHECK"], stops=CHECKER_STOPS)
keyword_rules(CHECKER_TABLES["FILE_CHECK"], stops={"track_file"}, newer={"dynamic"})
