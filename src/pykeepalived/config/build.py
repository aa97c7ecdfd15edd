"""The keyword table: block tree -> typed model, with keepalived's ranges, defaults,
deprecated aliases, messages and cross-checks (vrrp_complete_instance and friends).

One table per block (`ROOT`, `GLOBAL_DEFS`, `VRRP_INSTANCE`, ...), keyword -> handler,
like keepalived's install_keyword(). Handlers fill a dict of model fields; the block's
close function turns the dict into the frozen dataclass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Literal, NoReturn

from pykeepalived.config import model as m
from pykeepalived.config.grammar import Node, build_tree
from pykeepalived.config.lexer import Line, QuoteError, split_script, split_words
from pykeepalived.config.model import Diagnostic, Level, Pos
from pykeepalived.textbytes import to_bytes

Fields = dict[str, Any]
Handler = Callable[["Ctx", Node, list[str], Fields], None]


class StopParse(Exception):
    """keepalived exits at once (e.g. a keyword missing its parameter: exit 2)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# keepalived 2.2.7's own words for some keywords written without their value
MISSING_VALUE = {"router_id": "routerid name missing - ignoring", "notification_email_from": "emailfrom missing - ignoring",
                 "default_interface": "default_interface requires interface name",
                 "script_user": "No script username specified", "startup_script": "startup script missing",
                 "shutdown_script": "shutdown script missing", "instance": "instance name missing - ignoring",
                 "net_namespace": "net_namespace name missing - ignoring"}


class SkipKeyword(Exception):
    """The keyword line is unusable and was reported; carry on with the next line."""


class Ctx:
    def __init__(self, diags: list[Diagnostic]) -> None:
        self.diags = diags

    def err(self, level: Level, node: Node | None, msg: str) -> None:
        if node is None:
            self.diags.append(Diagnostic(level, None, None, msg))
        else:
            self.diags.append(Diagnostic(level, node.file, node.line, msg))

    def warn(self, node: Node | None, msg: str) -> None:
        self.err(Level.GENERAL_ERROR, node, msg)

    def info(self, node: Node | None, msg: str) -> None:
        self.err(Level.OK, node, msg)

    def stop(self, node: Node, msg: str) -> None:
        """A worked-around error for -t (exit 5) after which keepalived's VRRP child stops."""
        self.diags.append(Diagnostic(Level.GENERAL_ERROR, node.file, node.line, msg, stops=True))

    # -- words ------------------------------------------------------------------------------

    def words(self, node: Node) -> list[str]:
        if node.words_cache is None:
            try:
                node.words_cache = split_words(node.text)
            except QuoteError as exc:
                self.err(Level.UNMATCHED_QUOTE, node, str(exc))
                node.words_cache = node.text.split()
        return node.words_cache

    stops: frozenset[str] = frozenset()  # keywords of the block being walked that stop keepalived
    next_rule_preference = 16384  # 2.2.7 numbers rules without a preference downwards from here
    interfaces: frozenset[str] | None = None  # existing interfaces, None when they are not checked
    bad_interface = False  # a missing interface was reported while completing
    mtu_of: Callable[[str], int | None] | None = None  # the system's interface MTUs (None: use 1500)

    def need(self, node: Node, w: list[str], n: int) -> None:
        """A missing parameter. keepalived 2.2.7 stops with exit 2 for the keywords whose handler
        reads the slot unchecked (null_strvec; measured, see STOP_WHEN_EMPTY); the others report
        the problem and ignore the line."""
        if len(w) <= n:
            if w[0] in self.stops:
                self.err(Level.MISSING_PARAMETER, node,
                         f"*** Configuration line starting `{w[0]}` is missing a parameter after keyword "
                         f"`{w[n - 1]}` at word position {n + 1}")
                raise StopParse(2)
            self.err(Level.MISSING_PARAMETER, node, MISSING_VALUE.get(w[0], f"{w[0]} is missing a parameter - ignoring"))
            raise SkipKeyword

    # -- numbers ----------------------------------------------------------------------------

    def int_(self, node: Node, s: str, lo: int, hi: int) -> int | None:
        if lo >= 0 and s.strip().startswith("-"):  # keepalived reads these unsigned
            self.err(Level.INVALID_NUMBER, node, f"negative number '{s}'")
            return None
        try:
            v = int(s.strip(), 10)
        except ValueError:
            self.err(Level.INVALID_NUMBER, node, f"invalid number '{s}'")
            return None
        if v < lo or v > hi:
            self.err(Level.INVALID_NUMBER, node, f"number '{s}' outside range [{lo}, {hi}]")
            return None
        return v

    def float_(self, node: Node, s: str, lo: float, hi: float) -> float | None:
        try:
            v = float(s)
        except ValueError:
            self.err(Level.INVALID_NUMBER, node, f"invalid number '{s}'")
            return None
        if v != v or v in (float("inf"), float("-inf")):
            self.err(Level.INVALID_NUMBER, node, f"not a number '{s}'")
            return None
        if v < lo or v > hi:
            self.err(Level.INVALID_NUMBER, node, f"number '{s}' outside range [{lo:f}, {hi:f}]")
            return None
        return v

    def bool_(self, node: Node, w: list[str], default: bool = True) -> bool | None:
        if len(w) < 2:
            return default
        v = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}.get(w[1])
        if v is None:
            self.warn(node, f"Invalid value '{w[1]}' for {w[0]} - ignoring")
        return v

    def ip(self, node: Node, s: str, what: str = "IP") -> m.IPAddress | None:
        try:
            return ipaddress.ip_address(s.split("%", 1)[0])
        except ValueError:
            self.warn(node, f"Invalid {what} address '{s}'")
            return None

    def script(self, node: Node, text: str) -> m.Script | None:
        """`"cmd args" [user [group]]` from the raw text after the keyword."""
        try:
            parts = split_script(text)
        except QuoteError as exc:
            self.err(Level.UNMATCHED_QUOTE, node, str(exc))
            return None
        if not parts:
            return None
        cmd = parts[0]
        try:
            args = tuple(split_script(cmd)) or (cmd,)
        except QuoteError:
            args = (cmd,)
        user = parts[1] if len(parts) > 1 else None
        group = parts[2] if len(parts) > 2 else None
        return m.Script(cmd=cmd, args=args, user=user or None, group=group, pos=pos(node))


def pos(node: Node) -> Pos:
    return Pos(node.file, node.line)


def rest_text(node: Node) -> str:
    """The raw text after the keyword (for script keywords, which split their own way)."""
    t = node.text.lstrip()
    i = 0
    while i < len(t) and t[i] not in " \t":
        i += 1
    return t[i:].strip()


# ---------------------------------------------------------------------------------------------
# Handler factories


def flag(field: str, value: bool = True) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        v = ctx.bool_(node, w, value)
        if v is not None:
            f[field] = v
    return h


# How an invalid value is reported after the number message; keepalived's words per keyword.
# Placeholders: {kw} keyword, {v} value, {name} the enclosing block's name.
BAD_VALUE = "{kw} '{v}' invalid - ignoring"


def _bad(ctx: Ctx, node: Node, w: list[str], f: Fields, fmt: str) -> None:
    ctx.warn(node, fmt.format(kw=w[0], v=w[1], name=f.get("name", "")))


def integer(field: str, lo: int, hi: int, bad: str = BAD_VALUE, fallback: int | None = None) -> Handler:
    """An integer in [lo, hi]; `fallback` is set when the value is invalid (else it is ignored)."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        v = ctx.int_(node, w[1], lo, hi)
        if v is not None:
            f[field] = v
        else:
            _bad(ctx, node, w, f, bad)
            if fallback is not None:
                f[field] = fallback
    return h


def timer(field: str, lo: float, hi: float, bad: str = BAD_VALUE) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        v = ctx.float_(node, w[1], lo, hi)
        if v is not None:
            f[field] = v
        else:
            _bad(ctx, node, w, f, bad)
    return h


def string(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        f[field] = w[1]
    return h


def optional_string(field: str, default: str | None = None) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        f[field] = w[1] if len(w) > 1 else default
    return h


def optional_integer(field: str, lo: int, hi: int, default: int | None, bad: str = BAD_VALUE) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        if len(w) < 2:
            f[field] = default
            return
        integer(field, lo, hi, bad)(ctx, node, w, f)
    return h


def script(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        s = ctx.script(node, rest_text(node))
        if s is None:
            ctx.need(node, w, 1)
        f[field] = s
    return h


def ignored(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    """Accepted global keyword without a modelled meaning: kept as raw words in `other`."""
    f.setdefault("other", []).append((w[0], tuple(w[1:])))


def ignored_with_value(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    """As `ignored`, for keywords that need a value (keepalived reports it missing)."""
    ctx.need(node, w, 1)
    ignored(ctx, node, w, f)


def noop(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    """Accepted and without effect (obsolete keywords)."""


def deprecated(handler: Handler, message: str) -> Handler:
    """An old keyword: works, with keepalived's deprecation warning ({name} = the block's name)."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.warn(node, message.format(name=f.get("name", "")))
        handler(ctx, node, w, f)
    h.is_block = getattr(handler, "is_block", False)  # type: ignore[attr-defined]
    h.sub = getattr(handler, "sub", None)  # type: ignore[attr-defined]
    return h


def walk(ctx: Ctx, nodes: list[Node], table: dict[str, Handler], f: Fields) -> None:
    """Run the handler of each keyword line (the structure and brace errors come from build_tree)."""
    saved = ctx.stops
    ctx.stops = STOP_WHEN_EMPTY.get(id(table), frozenset())
    newer = NEWER_THAN_227.get(id(table), frozenset())
    try:
        for node in nodes:
            w = ctx.words(node)
            if not w:
                continue
            h = table.get(w[0])
            if h is None:
                ctx.err(Level.UNKNOWN_KEYWORD, node, f"Unknown keyword '{w[0]}'")
                continue
            if w[0] in newer:
                # applied, but reported so that -t gives 2.2.7's exit code (it does not know the keyword)
                ctx.err(Level.UNKNOWN_KEYWORD, node, f"Keyword '{w[0]}' is newer than keepalived 2.2.7 (which "
                                                     "ignores it as unknown) - applied")
            try:
                h(ctx, node, w, f)
            except SkipKeyword:
                pass
    finally:
        ctx.stops = saved


SubTable = dict[str, Handler] | Callable[[], dict[str, Handler]]


def block(fn: Callable[[Ctx, Node, list[str], Fields], None], sub: SubTable | None = None) -> Handler:
    """Mark a handler as owning a `{ }` block: keywords of table `sub` (a dict, or a function
    returning one for tables defined further down), or, without `sub`, a value block (one value
    per line, read up to the next '}', like keepalived's alloc_value_block)."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        if node.children is None:
            node.children = []
        fn(ctx, node, w, f)
    h.is_block = True  # type: ignore[attr-defined]
    h.sub = sub  # type: ignore[attr-defined]
    return h


def block_kind(table: dict[str, Handler], word: str) -> tuple[str, dict[str, Handler] | None] | None:
    """For grammar.build_tree: how keyword `word` of `table` takes a block, if it does."""
    h = table.get(word)
    if h is None or not getattr(h, "is_block", False):
        return None
    sub = getattr(h, "sub", None)
    if sub is None:
        return ("value", None)
    return ("block", sub if isinstance(sub, dict) else sub())


def value_lines(ctx: Ctx, node: Node) -> list[tuple[Node, list[str]]]:
    """Lines of a value block (virtual_ipaddress { ... }): each non-empty line with its words."""
    out: list[tuple[Node, list[str]]] = []
    for child in node.children or ():
        if child.children is not None:
            ctx.err(Level.UNEXPECTED_BOB, child, "Unexpected '{' - ignoring")
        if not child.text:
            continue
        w = ctx.words(child)
        if w:
            out.append((child, w))
    return out


# ---------------------------------------------------------------------------------------------
# Addresses, routes, rules


def parse_ipaddress(ctx: Ctx, node: Node, w: list[str], default_dev: str | None = None) -> m.IpAddress | None:
    """One VIP / static address line: ADDR[/LEN] [options]."""
    a = w[0]
    try:
        if "-" in a.split("/")[0] and "/" not in a:
            raise ValueError
        addr = ipaddress.ip_interface(a)
    except ValueError:
        ctx.warn(node, f"VRRP parsed invalid IP {a}. skipping IP...")
        return None
    kw: Fields = {"address": addr, "pos": pos(node)}
    i = 1
    flags = {"home": "home", "-nodad": "nodad", "nodad": "nodad", "mngtmpaddr": "mngtmpaddr",
             "noprefixroute": "noprefixroute", "autojoin": "autojoin", "no_track": "no_track",
             "use_vmac": "use_vmac"}
    while i < len(w):
        k = w[i]
        if k in flags:
            kw[flags[k]] = True
            i += 1
            continue
        if k not in ("dev", "brd", "broadcast", "scope", "label", "peer", "preferred_lft", "track_group"):
            ctx.warn(node, f"Unknown configuration entry '{k}' for ip address - ignoring")
            i += 1
            continue
        if i + 1 >= len(w):
            ctx.warn(node, f"Missing value for '{k}' of ip address {a}")
            break
        v = w[i + 1]
        if k == "dev":
            kw["dev"] = v
        elif k in ("brd", "broadcast"):
            kw["brd"] = v
        elif k == "scope":
            kw["scope"] = v
        elif k == "label":
            kw["label"] = v
        elif k == "peer":
            try:
                kw["peer"] = ipaddress.ip_interface(v)
            except ValueError:
                ctx.warn(node, f"Invalid peer address {v}")
        elif k == "preferred_lft":
            if v == "forever":
                kw["preferred_lft"] = 0xFFFFFFFF
            else:
                n = ctx.int_(node, v, 0, 0xFFFFFFFF)
                if n is not None:
                    kw["preferred_lft"] = n
        elif k == "track_group":
            kw["track_group"] = v
        else:
            ctx.warn(node, f"Unknown configuration entry '{k}' for ip address - ignoring")
            i += 1
            continue
        i += 2
    if addr.version == 6 and addr.network.prefixlen == 128 and "preferred_lft" not in kw:
        kw["preferred_lft"] = 0
    return m.IpAddress(**kw)


ROUTE_TYPES = {"unicast", "blackhole", "unreachable", "prohibit", "throw", "local", "broadcast",
               "multicast", "anycast", "nat"}
ROUTE_VALUE_OPTS = {"table", "metric", "preference", "priority", "scope", "protocol", "proto", "tos", "dsfield",
                    "realms", "mtu", "advmss", "rtt", "rttvar", "reordering", "window", "cwnd", "ssthresh",
                    "initcwnd", "initrwnd", "features", "quickack", "congctl", "pref", "fastopen_no_cookie",
                    "hoplimit", "rto_min", "expires", "encap", "vrf", "track_group", "ttl-propagate"}
ROUTE_FLAGS = {"onlink", "no_track", "add", "append", "prepend", "inet6", "inet"}


def _net(s: str) -> m.IPNetwork:
    if s == "default":
        return ipaddress.ip_network("0.0.0.0/0")
    return ipaddress.ip_network(s, strict=False)


# keywords whose value keepalived 2.2.7 reads unchecked (null strvec slot): one at the end of a
# line stops it with exit 2 (measured for each: -t, virtual_routes and virtual_rules)
ROUTE_STOP_WHEN_LAST = frozenset({
    "from", "to", "table", "preference", "priority", "metric", "dev", "oif", "tos", "dsfield", "realms",
    "protocol", "via", "gw", "or", "src", "scope", "mtu", "advmss", "hoplimit", "rtt", "rttvar", "reordering",
    "window", "cwnd", "ssthresh", "rto_min", "initcwnd", "initrwnd", "features", "quickack", "congctl",
    "fastopen_no_cookie", "ttl-propagate", "vrf", "as"})
ROUTE_STOP_WHEN_LAST_V6 = frozenset({"pref", "expires"})  # IPv6-only: an IPv4 route reports them instead
RULE_STOP_WHEN_LAST = frozenset({
    "from", "to", "table", "lookup", "preference", "priority", "order", "iif", "dev", "oif", "tos", "dsfield",
    "fwmark", "goto", "realms", "uidrange", "protocol", "ipproto", "sport", "dport", "suppress_prefixlength",
    "suppress_ifgroup", "type"})


def _stop_missing_value(ctx: Ctx, node: Node, w: list[str], i: int) -> NoReturn:
    ctx.err(Level.MISSING_PARAMETER, node, f"*** Configuration line starting `{w[0]}` is missing a parameter after "
                                           f"keyword `{w[i]}` at word position {i + 2}")
    raise StopParse(2)


def parse_route(ctx: Ctx, node: Node, w: list[str], what: str = "VROUTE") -> m.Route | None:
    kw: Fields = {"text": " ".join(w), "pos": pos(node)}
    opts: list[tuple[str, str]] = []
    nexthops: list[m.Nexthop] = []
    i = 0
    try:
        if w[0] in ROUTE_TYPES:
            kw["type"] = w[0]
            i = 1
        while i < len(w):
            k = w[i]
            nxt = w[i + 1] if i + 1 < len(w) else None
            if nxt is None and (k in ROUTE_STOP_WHEN_LAST or (
                    k in ROUTE_STOP_WHEN_LAST_V6 and not ("dst" in kw and kw["dst"].version == 4))):
                _stop_missing_value(ctx, node, w, i)
            if k in ("src",) and nxt:
                kw["src"] = ipaddress.ip_address(nxt)
                i += 2
            elif k == "to" and nxt:
                kw["dst"] = _net(nxt)
                i += 2
            elif k in ("via", "gw") and nxt:
                if k == "gw":
                    ctx.warn(node, '"gw" for routes is deprecated. Please use "via"')
                if nxt in ("inet", "inet6") and i + 2 < len(w):
                    i += 1
                    nxt = w[i + 1]
                kw["via"] = ipaddress.ip_address(nxt)
                i += 2
            elif k == "or" and nxt:
                ctx.warn(node, '"or" for routes is deprecated. Please use "nexthop"')
                nexthops.append(m.Nexthop(via=ipaddress.ip_address(nxt)))
                i += 2
            elif k == "dev" and nxt:
                kw["dev"] = nxt
                i += 2
            elif k == "nexthop":
                i += 1
                nh: Fields = {}
                while i < len(w) and w[i] in ("via", "dev", "weight", "onlink"):
                    if w[i] == "onlink":
                        nh["onlink"] = True
                        i += 1
                        continue
                    if i + 1 >= len(w):
                        raise ValueError(w[i])
                    if w[i] == "via":
                        nh["via"] = ipaddress.ip_address(w[i + 1])
                    elif w[i] == "dev":
                        nh["dev"] = w[i + 1]
                    else:
                        nh["weight"] = int(w[i + 1])
                    i += 2
                nexthops.append(m.Nexthop(**nh))
            elif k in ROUTE_FLAGS:
                if k == "no_track":
                    kw["no_track"] = True
                opts.append((k, ""))
                i += 1
            elif k in ROUTE_VALUE_OPTS and nxt is not None:
                if k == "table":
                    kw["table"] = nxt
                elif k in ("metric", "preference", "priority"):
                    kw["metric"] = int(nxt)
                elif k == "scope":
                    kw["scope"] = nxt
                elif k in ("protocol", "proto"):
                    kw["protocol"] = nxt
                elif k == "track_group":
                    kw["track_group"] = nxt
                else:
                    opts.append((k, nxt))
                i += 2
            elif "dst" not in kw:
                kw["dst"] = _net(k)
                i += 1
            else:
                ctx.warn(node, f"Unknown route option '{k}'")
                i += 1
    except ValueError as exc:
        ctx.warn(node, f"Invalid {what} '{' '.join(w)}' ({exc})")
        return None
    if "dst" not in kw:
        ctx.warn(node, f"{what} has no destination")
        return None
    if "dev" not in kw and not kw.get("no_track") and not any(nh.dev for nh in nexthops):
        ctx.warn(node, f"Warning - cannot track route {kw['dst']} with no interface specified, not tracking")
    kw["nexthops"] = tuple(nexthops)
    kw["options"] = tuple(opts)
    return m.Route(**kw)


RULE_ACTIONS = {"blackhole", "unreachable", "prohibit", "nop", "goto"}


def parse_rule(ctx: Ctx, node: Node, w: list[str]) -> m.Rule | None:
    kw: Fields = {"text": " ".join(w), "pos": pos(node)}
    opts: list[tuple[str, str]] = []
    i = 0
    try:
        while i < len(w):
            k = w[i]
            nxt = w[i + 1] if i + 1 < len(w) else None
            if k in ("inet", "inet6"):
                kw["family"] = k
                i += 1
                continue
            if k in ("no_track",):
                kw["no_track"] = True
                i += 1
                continue
            if k in ("blackhole", "unreachable", "prohibit", "nop") :
                kw["action"] = k
                i += 1
                continue
            if k in ("l3mdev", "not"):
                opts.append((k, ""))
                i += 1
                continue
            if nxt is None:
                if k in RULE_STOP_WHEN_LAST:
                    _stop_missing_value(ctx, node, w, i)
                raise ValueError(f"missing value for {k}")
            if k == "from":
                kw["from_"] = None if nxt == "all" else ipaddress.ip_network(nxt, strict=False)
            elif k == "to":
                kw["to"] = None if nxt == "all" else ipaddress.ip_network(nxt, strict=False)
            elif k in ("table", "lookup"):
                kw["table"] = nxt
            elif k in ("preference", "priority", "pref", "order"):
                kw["preference"] = int(nxt)
            elif k in ("iif", "dev"):
                kw["iif"] = nxt
            elif k == "oif":
                kw["oif"] = nxt
            elif k in ("tos", "dsfield"):
                kw["tos"] = int(nxt, 0)
            elif k == "fwmark":
                mark, _, mask = nxt.partition("/")
                kw["fwmark"] = int(mark, 0)
                if mask:
                    kw["fwmask"] = int(mask, 0)
            elif k == "goto":
                kw["action"] = "goto"
                kw["goto"] = int(nxt)
            elif k == "track_group":
                kw["track_group"] = nxt
            elif k in ("realms", "uidrange", "protocol", "ip_proto", "ipproto", "sport", "dport",
                       "suppress_prefixlength", "suppress_ifgroup", "tun_id", "map-to", "type"):
                opts.append((k, nxt))
            else:
                raise ValueError(f"unknown rule option {k}")
            i += 2
    except ValueError as exc:
        if len(w) > i + 1 and w[i] in ("from", "to"):
            ctx.warn(node, f"VRRP parsed invalid IP {w[i + 1]}. skipping IP...")
            ctx.warn(node, f"Invalid rule {w[i]} address {w[i + 1]}")
        else:
            ctx.warn(node, f"Invalid rule '{' '.join(w)}' ({exc})")
        return None
    for net in (kw.get("from_"), kw.get("to")):
        if net is not None:
            kw["family"] = "inet" if net.version == 4 else "inet6"
    if "preference" not in kw:
        kw["preference"] = ctx.next_rule_preference
        ctx.next_rule_preference -= 1
        ctx.warn(node, f"Rule has no preference specified - setting to {kw['preference']}. This is probably not what "
                       "you want.")
    kw["options"] = tuple(opts)
    return m.Rule(**kw)


# ---------------------------------------------------------------------------------------------
# global_defs


def _h_notification_email(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    emails = tuple(x for _, ws in value_lines(ctx, node) for x in ws)
    if not emails:
        ctx.warn(node, "Warning - empty notification_email block")
    f["notification_email"] = emails


def _h_smtp_connect_timeout(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0, 4294.967295)
    if v is None:
        ctx.warn(node, f"smtp_connect_timeout '{w[1]}' must be in [0, 4294] - ignoring")
    elif v == 0:
        ctx.warn(node, "smtp_conect_timeout must be greater than 0, setting to 1")  # sic, 2.2.7's text
        f["smtp_connect_timeout"] = 1.0
    else:
        f["smtp_connect_timeout"] = v


def at_least_one(handler: Handler) -> Handler:
    """2.2.7: a repeat count of 0 is replaced by 1 with a warning."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        handler(ctx, node, w, f)
        field = w[0]
        if f.get(field) == 0:
            ctx.warn(node, f"{field} must be greater than 0, setting to 1")
            f[field] = 1
    return h


def _h_smtp_server(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["smtp_server"] = w[1]
    if len(w) > 2:
        p = ctx.int_(node, w[2], 1, 65535)
        if p is not None:
            f["smtp_port"] = p


def _h_script_user(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    # 2.2.7 takes `user [group]`; "user:group" is one (unknown) user name there
    user = w[1]
    f["script_user"] = user
    if len(w) > 2:
        f["script_group"] = w[2]
    if not user_exists(user, f.get("script_group")):
        ctx.warn(node, "Error setting global script uid/gid")
        f["_default_user_bad"] = True


def user_exists(user: str, group: str | None) -> bool:
    """The user (and group, if given) resolve on this host, as keepalived's set_uid_gid needs."""
    import grp
    import pwd

    try:
        pwd.getpwnam(user)
        if group is not None:
            grp.getgrnam(group)
    except KeyError:
        return False
    return True


def _h_mcast_group(field: str, version: int) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        try:
            a = ipaddress.ip_address(w[1])
            if a.version != version or not a.is_multicast:
                raise ValueError
            f[field] = a
        except ValueError:
            ctx.warn(node, f"{w[0]} [{w[1]}] is not multicast. Skipping")
    return h


def _h_fifo(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        prev = f.get(field)
        f[field] = m.Fifo(name=w[1], user=w[2] if len(w) > 2 else None, group=w[3] if len(w) > 3 else None,
                          script=prev.script if prev is not None else None, pos=pos(node))
    return h


def _h_fifo_script(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        s = ctx.script(node, rest_text(node))
        if s is None:
            ctx.need(node, w, 1)
            return
        prev = f.get(field)
        if prev is None:
            f[field + "_pending_script"] = s
        else:
            f[field] = m.Fifo(name=prev.name, user=prev.user, group=prev.group, script=s, pos=prev.pos)
    return h


def _h_lvs_sync_daemon(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 2)
    kw: Fields = {"interface": w[1], "instance": w[2], "pos": pos(node)}
    i = 3
    while i + 1 < len(w):
        k, v = w[i], w[i + 1]
        if k in ("id", "maxlen", "port", "ttl"):
            n = ctx.int_(node, v, 0, 65535)
            if n is not None:
                kw[k] = n
        elif k == "group":
            kw["group"] = ctx.ip(node, v)
        else:
            ctx.warn(node, f"Unknown lvs_sync_daemon option {k}")
        i += 2
    f["lvs_sync_daemon"] = m.LvsSyncDaemon(**kw)


def _h_lvs_timeouts(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        ctx.warn(node, "lvs_timeouts requires at least one option")
        return
    i = 1
    while i + 1 < len(w):
        if w[i] in ("tcp", "tcpfin", "udp"):
            n = ctx.int_(node, w[i + 1], 0, 86400 * 31)
            if n is not None:
                f["lvs_timeouts_" + w[i]] = n
        else:
            ctx.warn(node, f"Unknown option {w[i]} specified for lvs_timeouts")
        i += 2


def _h_lvs_flush_on_stop(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["lvs_flush_on_stop"] = "vs" if len(w) > 1 and w[1] in ("VS", "vs") else "all"


def _h_garp_extra_if(prefix: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        args = w[1:]
        if args and args[0] == "all":
            f[prefix + "garp_extra_if_all"] = True
            args = args[1:]
        if not args:
            ctx.need(node, w, len(w))
        v = ctx.int_(node, args[0], 0, 86400)
        if v is not None:
            f[prefix + "garp_extra_if"] = float(v)
    return h


def _h_nftables(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        f[field] = w[1] if len(w) > 1 else "keepalived"
    return h


def _c_strtoul(text: str) -> int:
    """strtoul(text, NULL, 0): 0x.. hex, 0.. octal, else decimal."""
    t = text.strip().lower()
    if t.startswith("0x"):
        return int(t[2:], 16)
    if t.startswith("0") and len(t) > 1:
        return int(t[1:], 8)
    return int(t, 10)


def _h_umask(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    # 2.2.7 knows the nine single-bit names only (not IRWXU etc.), joined by '|'
    bits = {"IRUSR": 0o400, "IWUSR": 0o200, "IXUSR": 0o100, "IRGRP": 0o40, "IWGRP": 0o20, "IXGRP": 0o10,
            "IROTH": 0o4, "IWOTH": 0o2, "IXOTH": 0o1}
    text = "".join(w[1:])
    if text[:1].isdigit():
        try:
            f["umask"] = _c_strtoul(text)
        except ValueError:
            ctx.warn(node, f"Invalid umask value {text}")
        return
    val = 0
    for part in text.split("|"):
        if part not in bits:
            ctx.warn(node, f"Unknown umask bit {part}")
            return
        val |= bits[part]
    f["umask"] = val


def _h_dynamic_interfaces(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["dynamic_interfaces"] = True
    if len(w) > 1 and w[1] == "allow_if_changes":
        f["dynamic_interfaces_allow_if_changes"] = True


def _h_reload_check_config(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["reload_check_config"] = w[1] if len(w) > 1 else ""


def _h_include_check(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    for a in w[1:]:
        if a.lstrip("+-") not in ("read", "match", "wildcard_match", "brace_match"):
            ctx.warn(node, f"Unknown include_check type '{a}'")


def _h_vrrp_iptables(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        if field == "vrrp_iptables":
            ctx.warn(node, "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and "
                           "'vrrp_ipsets' with 'nftables' config option")
            f.setdefault("nftables", "keepalived")
        f[field] = tuple(w[1:])
    return h


def _h_startup_script(field: str) -> Handler:
    return script(field)


GLOBAL_DEFS: dict[str, Handler] = {
    "router_id": string("router_id"),
    "notification_email": block(_h_notification_email),
    "notification_email_from": string("notification_email_from"),
    "smtp_server": _h_smtp_server,
    "smtp_helo_name": optional_string("smtp_helo_name"),
    "smtp_connect_timeout": _h_smtp_connect_timeout,
    "smtp_alert": flag("smtp_alert"),
    "smtp_alert_vrrp": flag("smtp_alert_vrrp"),
    "smtp_alert_checker": flag("smtp_alert_checker"),
    "no_email_faults": flag("no_email_faults"),
    "no_checker_emails": flag("no_checker_emails"),
    "checker_log_all_failures": flag("checker_log_all_failures"),
    "rs_init_notifies": flag("rs_init_notifies"),
    "script_user": _h_script_user,
    "enable_script_security": flag("enable_script_security"),
    "set_supplementary_groups": flag("set_supplementary_groups"),
    "use_symlink_paths": flag("use_symlink_paths"),
    "startup_script": script("startup_script"),
    "startup_script_timeout": integer("startup_script_timeout", 1, 1000),
    "shutdown_script": script("shutdown_script"),
    "shutdown_script_timeout": integer("shutdown_script_timeout", 1, 1000),
    "vrrp_mcast_group4": _h_mcast_group("vrrp_mcast_group4", 4),
    "vrrp_mcast_group6": _h_mcast_group("vrrp_mcast_group6", 6),
    "default_interface": string("default_interface"),
    "vrrp_version": integer("vrrp_version", 2, 3, "VRRP Error: Version must be either 2 or 3"),
    "vrrp_garp_master_delay": timer("vrrp_garp_master_delay", 0, 4294.967295),
    "vrrp_garp_master_repeat": at_least_one(integer("vrrp_garp_master_repeat", 0, 2147483647)),
    "vrrp_garp_master_refresh": timer("vrrp_garp_master_refresh", 0, 4294.967295),
    "vrrp_garp_master_refresh_repeat": at_least_one(integer("vrrp_garp_master_refresh_repeat", 0, 2147483647)),
    "vrrp_garp_lower_prio_delay": timer("vrrp_garp_lower_prio_delay", 0, 4294.967295),
    "vrrp_garp_lower_prio_repeat": integer("vrrp_garp_lower_prio_repeat", 0, 2147483647),
    "vrrp_garp_interval": timer("vrrp_garp_interval", 0.000001, 4294.967295, "{kw} '{v}' is invalid"),
    "vrrp_gna_interval": timer("vrrp_gna_interval", 0.000001, 4294.967295, "{kw} '{v}' is invalid"),
    "vrrp_min_garp": flag("vrrp_min_garp"),
    "vrrp_garp_extra_if": _h_garp_extra_if("vrrp_"),
    "vrrp_vmac_garp_intvl": deprecated(_h_garp_extra_if("vrrp_"), 'Keyword "vrrp_vmac_garp_intvl" is deprecated'
                                                                   ' - please use "vrrp_garp_extra_if"'),
    "vrrp_down_timer_adverts": integer("vrrp_down_timer_adverts", 1, 100),
    "vrrp_lower_prio_no_advert": flag("vrrp_lower_prio_no_advert"),
    "vrrp_higher_prio_send_advert": flag("vrrp_higher_prio_send_advert"),
    "vrrp_owner_ignore_adverts": flag("vrrp_owner_ignore_adverts"),
    "v3_checksum_as_v2": flag("v3_checksum_as_v2"),
    "vrrp_check_unicast_src": flag("vrrp_check_unicast_src"),
    "vrrp_skip_check_adv_addr": flag("vrrp_skip_check_adv_addr"),
    "vrrp_strict": flag("vrrp_strict"),
    "vrrp_notify_priority_changes": flag("vrrp_notify_priority_changes"),
    "nftables": _h_nftables("nftables"),
    "nftables_priority": integer("nftables_priority", -2147483648, 2147483647, "invalid nftables chain priority '{v}'"),
    "nftables_counters": flag("nftables_counters"),
    "nftables_ifindex": flag("nftables_ifindex"),
    "nftables_ipvs": _h_nftables("nftables_ipvs"),
    "nftables_ipvs_priority": integer("nftables_ipvs_priority", -2147483648, 2147483647),
    "nftables_ipvs_start_fwmark": integer("nftables_ipvs_start_fwmark", 1, 4294967295),
    "vrrp_iptables": _h_vrrp_iptables("vrrp_iptables"),
    "vrrp_ipsets": _h_vrrp_iptables("vrrp_ipsets"),
    "disable_local_igmp": flag("disable_local_igmp"),
    "dynamic_interfaces": _h_dynamic_interfaces,
    "vrrp_startup_delay": timer("vrrp_startup_delay", 0.001, 4294.967295, "{kw} '{v}' is invalid"),
    "vrrp_delay_after_boot": timer("vrrp_delay_after_boot", 0, 4294.967295),
    "log_unknown_vrids": flag("log_unknown_vrids"),
    "vmac_prefix": string("vmac_prefix"),
    "vmac_addr_prefix": string("vmac_addr_prefix"),
    "lvs_sync_daemon": _h_lvs_sync_daemon,
    "lvs_timeouts": _h_lvs_timeouts,
    "lvs_flush": flag("lvs_flush"),
    "lvs_flush_on_stop": _h_lvs_flush_on_stop,
    "lvs_flush_onstop": _h_lvs_flush_on_stop,
    "max_auto_priority": optional_integer("max_auto_priority", -1, 99, 99,
                                          "max_auto_priority '{v}' must be in [0, 99] (or -1 to disable) - ignoring"),
    "min_auto_priority_delay": timer("min_auto_priority_delay", 0, 4294.967295),
    "notify_fifo": _h_fifo("notify_fifo"),
    "notify_fifo_script": _h_fifo_script("notify_fifo"),
    "vrrp_notify_fifo": _h_fifo("vrrp_notify_fifo"),
    "vrrp_notify_fifo_script": _h_fifo_script("vrrp_notify_fifo"),
    "lvs_notify_fifo": _h_fifo("lvs_notify_fifo"),
    "lvs_notify_fifo_script": _h_fifo_script("lvs_notify_fifo"),
    "fifo_write_vrrp_states_on_reload": flag("fifo_write_vrrp_states_on_reload"),
    "umask": _h_umask,
    "process_names": flag("process_names"),
    "process_name": string("process_name"),
    "vrrp_process_name": string("vrrp_process_name"),
    "checker_process_name": string("checker_process_name"),
    "lvs_process_name": string("checker_process_name"),
    "bfd_process_name": string("bfd_process_name"),
    "tmp_config_directory": string("tmp_config_directory"),
    "config_save_dir": string("config_save_dir"),
    "reload_check_config": _h_reload_check_config,
    "reload_time_file": string("reload_time_file"),
    "reload_repeat": flag("reload_repeat"),
    "reload_file": optional_string("reload_file", "/run/keepalived.reload"),
    "random_seed": integer("random_seed", 0, 4294967295, "random_seed {v} invalid"),
    "data_use_instance": flag("data_use_instance"),
    "state_dump_file": string("state_dump_file"),
    "stats_dump_file": string("stats_dump_file"),
    "json_dump_file": string("json_dump_file"),
    "iproute_usr_dir": string("iproute_usr_dir"),
    "iproute_etc_dir": string("iproute_etc_dir"),
    "enable_snmp_vrrp": flag("enable_snmp_vrrp"),
    "enable_snmp_keepalived": flag("enable_snmp_vrrp"),
    "enable_snmp_checker": flag("enable_snmp_checker"),
    "enable_snmp_rfc": flag("enable_snmp_rfcv2"),
    "enable_snmp_rfcv2": flag("enable_snmp_rfcv2"),
    "enable_snmp_rfcv3": flag("enable_snmp_rfcv3"),
    "enable_traps": flag("enable_traps"),
    "enable_dbus": flag("enable_dbus"),
    "include_check": _h_include_check,
}
# Process, socket-buffer, SNMP and D-Bus tuning: validated for presence, kept raw in `other`.
for _k in ("snmp_socket", "snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval", "dbus_service_name",
           "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs", "lvs_netlink_cmd_rcv_bufs",
           "lvs_netlink_monitor_rcv_bufs", "process_monitor_rcv_bufs", "vrrp_rx_bufs_policy",
           "vrrp_rx_bufs_multiplier", "vrrp_priority", "checker_priority", "bfd_priority", "vrrp_rt_priority",
           "checker_rt_priority", "bfd_rt_priority", "vrrp_cpu_affinity", "checker_cpu_affinity",
           "bfd_cpu_affinity", "vrrp_rlimit_rttime", "checker_rlimit_rttime", "bfd_rlimit_rttime",
           "vrrp_rlimit_rtime", "checker_rlimit_rtime", "bfd_rlimit_rtime", "vrrp_socket_priority",
           "network_timeout"):
    GLOBAL_DEFS.setdefault(_k, ignored_with_value)
for _k in ("dbus_no_interface_name", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs_force",
           "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs_force",
           "vrrp_no_swap", "checker_no_swap", "bfd_no_swap", "linkbeat_use_polling", "thread_timer_expired"):
    GLOBAL_DEFS.setdefault(_k, ignored)


# ---------------------------------------------------------------------------------------------
# vrrp_instance


def _h_state(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] in ("MASTER", "BACKUP"):
        f["state"] = w[1]
    else:
        ctx.warn(node, f"({f['name']}) unknown state '{w[1]}', defaulting to BACKUP")
        f["state"] = "BACKUP"


def _h_interface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["interface"] = w[1]
    f["_if_pos"] = pos(node)  # keepalived names the interface line when it does not exist


def _h_advert_int(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0.01, 255)
    if v is None:
        ctx.warn(node, f"({f['name']}) Advert interval ({w[1]}) not valid! Must be > 0 - ignoring")
    else:
        f["advert_int"] = v
        f["_advert_int_node"] = node


def _h_vips(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        out = list(f.get(field, ()))
        for child, cw in value_lines(ctx, node):
            ip = parse_ipaddress(ctx, child, cw)
            if ip is not None:
                out.append(ip)
        f[field] = tuple(out)
    return block(h)


def _h_routes(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        out = list(f.get(field, ()))
        for child, cw in value_lines(ctx, node):
            r = parse_route(ctx, child, cw)
            if r is not None:
                out.append(r)
        f[field] = tuple(out)
    return block(h)


def _h_rules(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        out = list(f.get(field, ()))
        for child, cw in value_lines(ctx, node):
            r = parse_rule(ctx, child, cw)
            if r is not None:
                out.append(r)
        f[field] = tuple(out)
    return block(h)


def _weight(ctx: Ctx, node: Node, w: list[str], i: int, lo: int, hi: int) -> tuple[int | None, bool | None]:
    weight: int | None = None
    reverse: bool | None = None
    while i < len(w):
        if w[i] == "weight" and i + 1 < len(w):
            weight = ctx.int_(node, w[i + 1], lo, hi)
            if weight is None:
                ctx.warn(node, f"weight for {w[0]} must be between {lo} and {hi} - ignoring")
            i += 2
        elif w[i] == "reverse":
            reverse = True
            i += 1
        elif w[i] == "noreverse":
            reverse = False
            i += 1
        else:
            ctx.warn(node, f"unknown option '{w[i]}' for {w[0]}")
            i += 1
    return weight, reverse


def _h_track_interface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("track_interface", ()))
    for child, cw in value_lines(ctx, node):
        weight, reverse = _weight(ctx, child, cw, 1, -253, 253)
        out.append(m.TrackInterface(name=cw[0], weight=weight or 0, reverse=bool(reverse), pos=pos(child)))
    f["track_interface"] = tuple(out)


def _h_track_ref(field: str, lo: int, hi: int) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        out = list(f.get(field, ()))
        for child, cw in value_lines(ctx, node):
            weight, reverse = _weight(ctx, child, cw, 1, lo, hi)
            out.append(m.TrackRef(name=cw[0], weight=weight, reverse=reverse, pos=pos(child)))
        f[field] = tuple(out)
    return block(h)


def _h_unicast_peer(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("unicast_peer", ()))
    seen = {p.address for p in out}
    for child, cw in value_lines(ctx, node):
        try:
            a: m.IPAddress = ipaddress.ip_address(cw[0].split("%", 1)[0])
        except ValueError:
            ctx.warn(child, f"Configuration error: VRRP instance[{f['name']}] malformed unicast peer "
                            f"address[{cw[0]}]. Skipping...")
            continue
        kw: Fields = {"address": a, "pos": pos(child)}
        i = 1
        while i + 1 < len(cw):
            if cw[i] in ("min_ttl", "max_ttl"):
                n = ctx.int_(child, cw[i + 1], 0, 255)
                if n is not None:
                    kw[cw[i]] = n
            else:
                ctx.warn(child, f"Unknown unicast_peer option {cw[i]}")
            i += 2
        if a in seen:
            ctx.warn(child, f"({f['name']}) Duplicate unicast peer {a} - ignoring")
            continue
        seen.add(a)
        out.append(m.UnicastPeer(**kw))
    f["unicast_peer"] = tuple(out)


def _h_src_ip(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        try:
            f[field] = ipaddress.ip_address(w[1].split("%", 1)[0])
        except ValueError:
            ctx.warn(node, f"Configuration error: VRRP instance[{f['name']}] malformed src address[{w[1]}]. "
                           "Skipping...")
    return h


def _h_ip_field(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        a = ctx.ip(node, w[1])
        if a is not None:
            f[field] = a
    return h


def _h_auth_type(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] in ("PASS", "AH"):
        f["auth_type"] = w[1]
    else:
        ctx.warn(node, f"({f['name']}) unknown authentication type '{w[1]}'")


def _h_auth_pass(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    pw = w[1] if len(w) == 2 else rest_text(node)
    raw = to_bytes(pw)  # the bytes as written in the file (keepalived copies them)
    if len(raw) > 8:
        ctx.info(node, "Truncating auth_pass to 8 characters")
    f["auth_pass"] = raw[:8]


AUTHENTICATION: dict[str, Handler] = {"auth_type": _h_auth_type, "auth_pass": _h_auth_pass}


def _h_authentication(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    af: Fields = {"name": f.get("name", ""), "pos": pos(node)}
    walk(ctx, node.children or [], AUTHENTICATION, af)
    if "auth_type" in af:
        f["authentication"] = m.Authentication(**{k: v for k, v in af.items() if k != "name"})


def _h_use_vmac(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    kw: Fields = {"pos": pos(node)}
    i = 1
    while i < len(w):
        a = w[i]
        if a == "netlink_notify_msg":
            kw["netlink_notify_msg"] = True
        elif a == "group" and i + 1 < len(w):
            kw["group"] = ctx.int_(node, w[i + 1], 0, 2147483647)
            i += 1
        elif ":" in a:
            kw["mac"] = a
        elif "name" not in kw:
            kw["name"] = a
        i += 1
    f["use_vmac"] = m.Vmac(**kw)


def _h_use_ipvlan(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    kw: Fields = {"pos": pos(node)}
    for i, a in enumerate(w[1:], 1):
        if a in ("bridge", "private", "vepa"):
            kw["mode"] = a
        elif a == "group":
            continue
        elif w[i - 1] == "group":
            kw["group"] = ctx.int_(node, a, 0, 2147483647)
        else:
            try:
                kw["address"] = ipaddress.ip_interface(a)
            except ValueError:
                kw["name"] = a
    f["use_ipvlan"] = m.Ipvlan(**kw)


def _h_timer_expired_backup(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["timer_expired_backup"] = ctx.int_(node, w[1], 0, 254) if len(w) > 1 else 0


def _h_old_unicast_checksum(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["old_unicast_checksum"] = "never" if len(w) > 1 and w[1] == "never" else "always"


def _h_notify_deleted(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) > 1:
        f["notify_deleted"] = ctx.script(node, rest_text(node))
    else:
        f["notify_deleted_set"] = True


def _h_lvs_sync_daemon_interface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.warn(node, f"({f['name']}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated.")
    ctx.warn(node, "        Please use global lvs_sync_daemon")
    ctx.need(node, w, 1)


def _h_preempt_delay(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0, 1000)
    if v is None:
        ctx.warn(node, f"({f['name']}) Preempt_delay not valid! must be between 0-1000")
    else:
        f["preempt_delay"] = v


def _h_accept(value: bool) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        f["accept"] = value
    return h


def _h_garp(field: str, is_timer: bool) -> Handler:
    bad = "({name}): {kw} '{v}' invalid - ignoring"
    return timer(field, 0, 4294.967295, bad) if is_timer else integer(field, 0, 2147483647, bad)


VRRP_INSTANCE: dict[str, Handler] = {
    "state": _h_state,
    "interface": _h_interface,
    "dont_track_primary": flag("dont_track_primary"),
    "track_interface": block(_h_track_interface),
    "track_script": _h_track_ref("track_script", -253, 253),
    "track_file": _h_track_ref("track_file", -254, 254),
    "track_process": _h_track_ref("track_process", -254, 254),
    "track_bfd": _h_track_ref("track_bfd", -253, 253),
    "track_src_ip": flag("track_src_ip"),
    "mcast_src_ip": _h_src_ip("mcast_src_ip"),
    "unicast_src_ip": _h_src_ip("unicast_src_ip"),
    "mcast_dst_ip": _h_ip_field("mcast_dst_ip"),
    "unicast_peer": block(_h_unicast_peer),
    "unicast_ttl": integer("unicast_ttl", 0, 255, "({name}): TTL '{v}' not valid - must be between 0 & 255"),
    "unicast_fault_no_peer": flag("unicast_fault_no_peer"),
    "check_unicast_src": flag("check_unicast_src"),
    "old_unicast_checksum": _h_old_unicast_checksum,
    "virtual_router_id": integer("virtual_router_id", 1, 255,
                                 "({name}): VRID '{v}' not valid - must be between 1 & 255"),
    "priority": integer("priority", 1, 255,
                        "({name}) Priority not valid! must be between 1 & 255. Using default 100"),
    "advert_int": _h_advert_int,
    "version": integer("version", 2, 3, "({name}): Version must be either 2 or 3"),
    "virtual_ipaddress": _h_vips("virtual_ipaddress"),
    "virtual_ipaddress_excluded": _h_vips("virtual_ipaddress_excluded"),
    "no_virtual_ipaddress": flag("no_virtual_ipaddress"),
    "promote_secondaries": flag("promote_secondaries"),
    "virtual_routes": _h_routes("virtual_routes"),
    "virtual_rules": _h_rules("virtual_rules"),
    "accept": _h_accept(True),
    "no_accept": _h_accept(False),
    "skip_check_adv_addr": flag("skip_check_adv_addr"),
    "strict_mode": flag("strict_mode"),
    "preempt": flag("nopreempt", False),
    "nopreempt": flag("nopreempt"),
    "preempt_delay": _h_preempt_delay,
    "debug": integer("debug", 0, 4, "({name}) Debug value '{v}' not valid; must be between 0-4"),
    "notify_backup": script("notify_backup"),
    "notify_master": script("notify_master"),
    "notify_fault": script("notify_fault"),
    "notify_stop": script("notify_stop"),
    "notify_deleted": _h_notify_deleted,
    "notify": script("notify"),
    "notify_master_rx_lower_pri": script("notify_master_rx_lower_pri"),
    "notify_priority_changes": flag("notify_priority_changes"),
    "smtp_alert": flag("smtp_alert"),
    "lvs_sync_daemon_interface": _h_lvs_sync_daemon_interface,
    "garp_master_delay": _h_garp("garp_master_delay", True),
    "garp_master_repeat": _h_garp("garp_master_repeat", False),
    "garp_lower_prio_delay": _h_garp("garp_lower_prio_delay", True),
    "garp_lower_prio_repeat": _h_garp("garp_lower_prio_repeat", False),
    "garp_master_refresh": _h_garp("garp_master_refresh", True),
    "garp_master_refresh_repeat": _h_garp("garp_master_refresh_repeat", False),
    "garp_extra_if": _h_garp_extra_if(""),
    "vmac_garp_intvl": deprecated(_h_garp_extra_if(""), 'Keyword "vmac_garp_intvl" is deprecated - please use'
                                                         ' "garp_extra_if"'),
    "lower_prio_no_advert": flag("lower_prio_no_advert"),
    "higher_prio_send_advert": flag("higher_prio_send_advert"),
    "owner_ignore_adverts": flag("owner_ignore_adverts"),
    "kernel_rx_buf_size": integer("kernel_rx_buf_size", 0, 2147483647),
    "native_ipv6": deprecated(noop, "({name}) native_ipv6 is deprecated (implied by an IPv6 address)"),
    "linkbeat_use_polling": deprecated(noop, "({name}) 'linkbeat_use_polling' in vrrp instance deprecated - "
                                                "use linkbeat_interfaces"),
    "authentication": block(_h_authentication, lambda: AUTHENTICATION),
    "use_vmac": _h_use_vmac,
    "use_vmac_addr": flag("use_vmac_addr"),
    "vmac_xmit_base": flag("vmac_xmit_base"),
    "use_ipvlan": _h_use_ipvlan,
    "vrf": string("vrf"),
    "down_timer_adverts": integer("down_timer_adverts", 1, 100, "({name}): Invalid down_timer_adverts [1:100] '{v}'"),
    "timer_expired_backup": _h_timer_expired_backup,
    "thread_timer_expired": _h_timer_expired_backup,
    "v3_checksum_as_v2": flag("v3_checksum_as_v2"),
}


# ---------------------------------------------------------------------------------------------
# vrrp_sync_group, trackers


def _h_group_names(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["group"] = tuple(f.get("group", ())) + tuple(x for _, ws in value_lines(ctx, node) for x in ws)


SYNC_GROUP: dict[str, Handler] = {
    "group": block(_h_group_names),
    "track_interface": block(_h_track_interface),
    "track_script": _h_track_ref("track_script", -253, 253),
    "track_file": _h_track_ref("track_file", -254, 254),
    "track_process": _h_track_ref("track_process", -254, 254),
    "track_bfd": _h_track_ref("track_bfd", -253, 253),
    "notify_backup": script("notify_backup"),
    "notify_master": script("notify_master"),
    "notify_fault": script("notify_fault"),
    "notify_stop": script("notify_stop"),
    "notify": script("notify"),
    "smtp_alert": flag("smtp_alert"),
    "notify_priority_changes": flag("notify_priority_changes"),
    "global_tracking": deprecated(flag("sync_group_tracking_weight"), "({name}) global_tracking is deprecated. "
                                  "Use track_interface/script/file on the sync group"),
    "sync_group_tracking_weight": flag("sync_group_tracking_weight"),
}


def _h_weight_rev(lo: int, hi: int) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        v = ctx.int_(node, w[1], lo, hi)
        if v is None:
            ctx.warn(node, f"({f['name']}) weight '{w[1]}' must be between {lo} and {hi}")
            return
        f["weight"] = v
        if len(w) > 2:
            if w[2] == "reverse":
                f["weight_reverse"] = True
            elif w[2] != "noreverse":
                ctx.warn(node, f"({f['name']}) unknown weight option {w[2]}")
    return h


def _h_user(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["user"] = w[1]  # as script_user: `user [group]`
    if len(w) > 2:
        f["group"] = w[2]


def _h_script_optional(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) > 1:
        f["script"] = ctx.script(node, rest_text(node))


def _h_script_interval(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    v = ctx.float_(node, w[1], 0, 4294.967295)
    if v is None:
        ctx.warn(node, f"({f['name']}): vrrp script interval '{w[1]}' invalid - ignoring")
    elif v == 0:
        ctx.warn(node, f"({f['name']}): vrrp script interval must be greater than 0, setting to 1")
        f["interval"] = 1.0
    else:
        f["interval"] = v


VRRP_SCRIPT: dict[str, Handler] = {
    "script": _h_script_optional,
    "interval": _h_script_interval,
    "timeout": timer("timeout", 0.000001, 4294.967295),
    "weight": _h_weight_rev(-253, 253),
    "rise": integer("rise", 1, 2147483647, "({name}): vrrp script rise value '{v}' invalid, defaulting to 1", 1),
    "fall": integer("fall", 1, 2147483647, "({name}): vrrp script fall value '{v}' invalid, defaulting to 1", 1),
    "user": _h_user,
    "init_fail": flag("init_fail"),
}


def _h_init_file(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["init_file"] = 0
    for a in w[1:]:
        if a == "overwrite":
            f["init_file_overwrite"] = True
        else:
            v = ctx.int_(node, a, -2147483648, 2147483647)
            if v is not None:
                f["init_file"] = v


TRACK_FILE: dict[str, Handler] = {
    "file": string("file"),
    "weight": _h_weight_rev(-254, 254),
    "init_file": _h_init_file,
}


def _h_process(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["process"] = w[1]
    f["parameters"] = tuple(w[2:])


def _h_param_match(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        f["param_match"] = "initial"
        return
    if w[1] in ("initial", "partial"):
        f["param_match"] = w[1]
    else:
        ctx.warn(node, f"({f['name']}) invalid param_match type {w[1]} - ignoring")


def _h_process_delay(prefix: str) -> Handler:
    """fork_delay / terminate_delay / delay (both): 1 us .. 3600 s; the last keyword wins."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        v = ctx.float_(node, w[1], 0.000001, 3600)
        if v is None:
            ctx.warn(node, f"{prefix}delay ({w[1]}) for vrrp_track_process {f.get('name', '')} must be between "
                           "[0.000001..3600] inclusive. Ignoring...")
            return
        if prefix != "fork_":
            f["terminate_delay"] = v
        if prefix != "terminate_":
            f["fork_delay"] = v
    return h


TRACK_PROCESS: dict[str, Handler] = {
    "process": _h_process,
    "param_match": _h_param_match,
    "weight": _h_weight_rev(-254, 254),
    "quorum": integer("quorum", 0, 65535),
    "quorum_max": integer("quorum_max", 0, 65535),
    "fork_delay": _h_process_delay("fork_"),
    "terminate_delay": _h_process_delay("terminate_"),
    "delay": _h_process_delay(""),
    "full_command": flag("full_command"),
}


# ---------------------------------------------------------------------------------------------
# LVS


def _h_sched(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] not in ("rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos"):
        ctx.warn(node, f"Invalid lvs_scheduler '{w[1]}' - ignoring")
        return
    f["lvs_sched"] = w[1]


def _h_method(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        meth = w[1].upper()
        if meth not in ("NAT", "DR", "TUN"):
            ctx.warn(node, f"PARSER : unknown [{w[1]}] routing method for virtual server.")
            return
        f[field] = meth
        if meth == "TUN" and len(w) > 2:
            kw: Fields = {}
            i = 2
            while i < len(w):
                if w[i] == "type" and i + 1 < len(w) and w[i + 1] in ("ipip", "gue", "gre"):
                    kw["type"] = w[i + 1]
                    i += 2
                elif w[i] == "port" and i + 1 < len(w):
                    kw["port"] = ctx.int_(node, w[i + 1], 1, 65535)
                    i += 2
                elif w[i] in ("nocsum", "csum", "remcsum"):
                    kw["csum"] = w[i]
                    i += 1
                else:
                    ctx.warn(node, f"Unknown tunnel option {w[i]}")
                    i += 1
            f["tunnel"] = m.Tunnel(**kw)
    return h


def _h_flag_list(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    need = {"hashed": "sh", "sh-port": "sh", "sh-fallback": "sh", "mh-port": "mh", "mh-fallback": "mh"}.get(w[0])
    if need is not None and f.get("lvs_sched") != need:
        # checked against the scheduler given so far, as 2.2.7 does (its message says sh for mh too)
        ctx.warn(node, f"{w[0]} only applies to sh scheduler - ignoring")
        return
    f["flags"] = tuple(f.get("flags", ())) + (w[0],)


def _h_persistence_timeout(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if len(w) < 2:
        f["persistence_timeout"] = 360
        return
    v = ctx.int_(node, w[1], 1, 2678400)
    if v is None:
        ctx.warn(node, "persistence_timeout invalid")
    else:
        f["persistence_timeout"] = v


def _h_protocol(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    p = w[1].upper()
    if p not in ("TCP", "UDP", "SCTP"):
        ctx.warn(node, f"Unknown protocol {w[1]} - ignoring")
        return
    f["protocol"] = p
    f["_protocol_node"] = node


def _h_sorry_server(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    try:
        a = ipaddress.ip_address(w[1])
    except ValueError:
        ctx.warn(node, f"Invalid sorry server IP address {w[1]} - skipping")
        return
    port = ctx.int_(node, w[2], 0, 65535) if len(w) > 2 else 0
    if port is not None:
        f["sorry_server"] = (a, port)


def _h_sorry_inhibit(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if "sorry_server" not in f:
        ctx.warn(node, "Ignoring sorry_server inhibit used before or without sorry_server")
        return
    flag("sorry_server_inhibit")(ctx, node, w, f)


def _h_sorry_method(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    if "sorry_server" not in f:
        ctx.warn(node, "sorry_server forwarding used without sorry_server")
        return
    _h_method("sorry_server_lvs_method")(ctx, node, w, f)


def _h_ip_family(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if w[1] in ("inet", "inet6"):
        f["ip_family"] = w[1]
    else:
        ctx.warn(node, f"unknown address family {w[1]}")


def _h_hysteresis_quorum(field: str) -> Handler:
    return integer(field, 0, 2147483647)


COMMON_TIMING: dict[str, Handler] = {
    "delay_loop": timer("delay_loop", 0.000001, 4294.967295),
    "connect_timeout": timer("connect_timeout", 0.000001, 4294.967295, "{kw} {v} invalid - ignoring"),
    "retry": integer("retry", 0, 2147483647),
    "delay_before_retry": timer("delay_before_retry", 0, 4294.967295),
    "warmup": timer("warmup", 0, 4294.967295),
}


def _new_checker(kind: str) -> Handler:
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


CHECKER_COMMON: dict[str, Handler] = {
    "connect_ip": _h_connect_ip,
    "connect_port": integer("connect_port", 0, 65535),
    "bindto": _h_bindto,
    "bind_if": string("bind_if"),
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


URL: dict[str, Handler] = {
    "path": string("path"),
    "digest": _h_digest,
    "status_code": _h_status_code,
    "virtualhost": string("virtualhost"),
    "regex": optional_string("regex"),
    "regex_no_match": flag("regex_no_match"),
    "regex_options": lambda ctx, node, w, f: f.__setitem__("regex_options", tuple(w[1:])),
    "regex_stack": optional_integer("regex_stack", 0, 2147483647, None),
    "regex_min_offset": optional_integer("regex_min_offset", 0, 2147483647, None),
    "regex_max_offset": optional_integer("regex_max_offset", 0, 2147483647, None),
}


def _h_url(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    uf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], URL, uf)
    if "path" not in uf:
        ctx.warn(node, "Url path not specified - ignoring url")
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
                   "misc_dynamic": flag("misc_dynamic"), "user": _h_user, "alpha": flag("alpha"),
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


def _h_real_server(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    a = ctx.ip(node, w[1], "real server")
    port = ctx.int_(node, w[2], 0, 65535) if len(w) > 2 else 0
    rf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], REAL_SERVER, rf)
    if a is None or port is None:
        return
    rf["address"] = a
    rf["port"] = port
    f.setdefault("_real_servers", []).append((node, rf))


REAL_SERVER: dict[str, Handler] = {
    "weight": integer("weight", 0, 2147483647, "Real server weight {v} is outside range 0-2147483647"),
    "lvs_method": _h_method("lvs_method"),
    "lb_kind": _h_method("lvs_method"),
    "uthreshold": integer("uthreshold", 0, 2147483647),
    "lthreshold": integer("lthreshold", 0, 2147483647),
    "inhibit_on_failure": flag("inhibit_on_failure"),
    "notify_up": script("notify_up"),
    "notify_down": script("notify_down"),
    "alpha": flag("alpha"),
    "smtp_alert": flag("smtp_alert"),
    "virtualhost": string("virtualhost"),
    **COMMON_TIMING,
    **{k: _new_checker(k) for k in CHECKER_TABLES},
}


VIRTUAL_SERVER: dict[str, Handler] = {
    "lvs_sched": _h_sched,
    "lb_algo": _h_sched,
    "lvs_method": _h_method("lvs_method"),
    "lb_kind": _h_method("lvs_method"),
    **{k: _h_flag_list for k in ("flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port",
                                  "mh-fallback", "ops", "hashed")},
    "persistence_timeout": _h_persistence_timeout,
    "persistence_granularity": string("persistence_granularity"),
    "persistence_engine": string("persistence_engine"),
    "protocol": _h_protocol,
    "ip_family": _h_ip_family,
    "ha_suspend": flag("ha_suspend"),
    "alpha": flag("alpha"),
    "omega": flag("omega"),
    "quorum": integer("quorum", 1, 4294967295, "Quorum {v} must be in [1, 4294967295]. Setting to 1.", 1),
    "hysteresis": integer("hysteresis", 0, 2147483647),
    "quorum_up": script("quorum_up"),
    "quorum_down": script("quorum_down"),
    "sorry_server": _h_sorry_server,
    "sorry_server_inhibit": _h_sorry_inhibit,
    "sorry_server_lvs_method": _h_sorry_method,
    "inhibit_on_failure": flag("inhibit_on_failure"),
    "smtp_alert": flag("smtp_alert"),
    "virtualhost": string("virtualhost"),
    "snmp_name": string("snmp_name"),
    "real_server": block(_h_real_server, lambda: REAL_SERVER),
    **COMMON_TIMING,
    "delay_loop": timer("delay_loop", 0.000001, 4294.967295, "virtual server delay loop '{v}' invalid - ignoring"),
}


# ---------------------------------------------------------------------------------------------
# Small root blocks


SSL_TABLE: dict[str, Handler] = {"password": string("password"), "ca": string("ca"),
                                 "certificate": string("certificate"), "key": string("key")}


def _h_ssl(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    sf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], SSL_TABLE, sf)
    f["ssl"] = m.Ssl(**sf)


BFD_INSTANCE: dict[str, Handler] = {
    "neighbor_ip": _h_ip_field("neighbor_ip"),
    "neighbour_ip": _h_ip_field("neighbor_ip"),
    "source_ip": _h_ip_field("source_ip"),
    "min_rx": integer("min_rx", 1, 1000000),
    "min_tx": integer("min_tx", 1, 1000000),
    "idle_tx": integer("idle_tx", 1, 1000000),
    "multiplier": integer("multiplier", 1, 255),
    "passive": flag("passive"),
    "ttl": integer("ttl", 1, 255),
    "hoplimit": integer("hoplimit", 1, 255),
    "max_hops": integer("max_hops", 0, 255),
    "multihop": flag("multihop"),
    "weight": _h_weight_rev(-253, 253),
    "vrrp": flag("_vrrp_only"),
    "checker": flag("_checker_only"),
}


def _h_garp_ifaces(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    for child, ws in value_lines(ctx, node):
        f.setdefault("_ifaces", []).extend((x, child) for x in ws)


def _h_garp_iface(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f.setdefault("_ifaces", []).append((w[1], node))


GARP_GROUP: dict[str, Handler] = {"garp_interval": timer("garp_interval", 0, 4294.967295),
                                  "gna_interval": timer("gna_interval", 0, 4294.967295),
                                  "interface": _h_garp_iface, "interfaces": block(_h_garp_ifaces)}


def _h_garp_group(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    gf: Fields = {"pos": pos(node)}
    walk(ctx, node.children or [], GARP_GROUP, gf)
    taken = {i for g in f.get("garp_groups", []) for i in g.interfaces}
    names: list[str] = []
    for name, where in gf.pop("_ifaces", []):
        if name in taken:
            ctx.warn(where, f"garp_group already specified for {name} - ignoring")
            continue
        taken.add(name)
        names.append(name)
    gf["interfaces"] = tuple(names)
    groups = f.setdefault("garp_groups", [])
    if "garp_interval" not in gf and "gna_interval" not in gf:
        ctx.warn(node, f"garp group {len(groups)} does not have any delay set - removing")
        return
    groups.append(m.GarpGroup(**gf))


def _named(ctx: Ctx, node: Node, w: list[str], kind: str) -> str | None:
    if len(w) < 2:
        ctx.need(node, w, 1)
    return w[1]


def _h_named_block(key: str, table: dict[str, Handler]) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        name = _named(ctx, node, w, key)
        bf: Fields = {"name": name, "pos": pos(node), "_node": node}
        walk(ctx, node.children or [], table, bf)
        f.setdefault(key, []).append(bf)
    return block(h, table)


TRACK_GROUP: dict[str, Handler] = {"group": block(_h_group_names)}


def _h_track_group(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    name = _named(ctx, node, w, "track_group")
    tf: Fields = {"name": name, "pos": pos(node)}
    walk(ctx, node.children or [], TRACK_GROUP, tf)
    f.setdefault("track_groups", []).append(m.TrackGroup(**tf))


def _h_linkbeat_interfaces(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("linkbeat_interfaces", ()))
    for child, cw in value_lines(ctx, node):
        t = cw[1].upper() if len(cw) > 1 else "MII"
        kind: Literal["MII", "ETHTOOL", "IOCTL"] = "MII"
        if t == "ETHTOOL":
            kind = "ETHTOOL"
        elif t == "IOCTL":
            kind = "IOCTL"
        elif t != "MII":
            ctx.warn(child, f"Unknown linkbeat type {cw[1]}")
        out.append(m.LinkbeatInterface(name=cw[0], type=kind, pos=pos(child)))
    f["linkbeat_interfaces"] = tuple(out)


def _h_up_down_delays(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    out = list(f.get("interface_up_down_delays", ()))
    for child, cw in value_lines(ctx, node):
        if len(cw) < 2:
            ctx.warn(child, f"interface_up_down_delays: missing delay for {cw[0]}")
            continue
        down = ctx.float_(child, cw[1], 0, 255)
        up = ctx.float_(child, cw[2], 0, 255) if len(cw) > 2 else down
        if down is not None and up is not None:
            out.append(m.InterfaceUpDownDelay(interface=cw[0], down=down, up=up, pos=pos(child)))
    f["interface_up_down_delays"] = tuple(out)


def _h_static(field: str, parse: Callable[..., Any]) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        out = list(f.get(field, ()))
        for child, cw in value_lines(ctx, node):
            r = parse(ctx, child, cw)
            if r is not None:
                out.append(r)
        f[field] = tuple(out)
    return block(h)


def _h_vsg(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    name = _named(ctx, node, w, "virtual_server_group")
    entries: list[m.VsgEntry] = []
    for child, cw in value_lines(ctx, node):
        if cw[0] == "fwmark":
            ctx.need(child, cw, 1)
            mark = ctx.int_(child, cw[1], 1, 4294967295)
            fam: m.Family | None = None
            if len(cw) > 2 and cw[2] == "inet":
                fam = "inet"
            elif len(cw) > 2 and cw[2] == "inet6":
                fam = "inet6"
            if mark is not None:
                entries.append(m.VsgEntry(fwmark=mark, family=fam, pos=pos(child)))
            continue
        port = ctx.int_(child, cw[1], 0, 65535) if len(cw) > 1 else 0
        addr_s = cw[0]
        try:
            first: m.IPAddress
            last: m.IPAddress | None = None
            if "/" in addr_s:
                net = ipaddress.ip_network(addr_s, strict=False)
                first = net.network_address
                last = net.broadcast_address if net.num_addresses > 1 else None
            elif "-" in addr_s:
                a, _, b = addr_s.partition("-")
                first = ipaddress.ip_address(a)
                if first.version == 4:
                    parts = str(first).split(".")
                    last = ipaddress.ip_address(".".join(parts[:3] + [b]))
                else:
                    head = str(first).rsplit(":", 1)[0]
                    last = ipaddress.ip_address(f"{head}:{b}")
                if int(last) < int(first):
                    raise ValueError(addr_s)
            else:
                first = ipaddress.ip_address(addr_s)
        except ValueError:
            ctx.warn(child, f"VS group {name}: invalid address {addr_s}")
            continue
        if port is not None:
            entries.append(m.VsgEntry(address=first, address_end=last, port=port, pos=pos(child)))
    f.setdefault("virtual_server_groups", []).append(
        m.VirtualServerGroup(name=name or "", entries=tuple(entries), pos=pos(node)))


def _h_virtual_server(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    vf: Fields = {"pos": pos(node), "_node": node}
    if w[1] == "fwmark":
        ctx.need(node, w, 2)
        mark = ctx.int_(node, w[2], 1, 4294967295)
        if mark is None:
            return
        vf["fwmark"] = mark
    elif w[1] == "group":
        ctx.need(node, w, 2)
        vf["group"] = w[2]
    else:
        a: m.IPAddress | None
        try:
            a = ipaddress.ip_address(w[1])
        except ValueError:
            a = None
        port = ctx.int_(node, w[2], 0, 65535) if len(w) > 2 else 0
        if a is None or port is None:
            ctx.warn(node, f"Invalid virtual server IP address/port {w[1]}/{w[2] if len(w) > 2 else ''} - skipping")
            return
        vf["address"] = a
        vf["port"] = port
    walk(ctx, node.children or [], VIRTUAL_SERVER, vf)
    f.setdefault("_virtual_servers", []).append(vf)


def _h_global_defs(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    gf: Fields = f.setdefault("_global_defs", {"pos": pos(node)})
    walk(ctx, node.children or [], GLOBAL_DEFS, gf)


def _h_net_namespace(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    if f.get("net_namespace") is not None:
        ctx.warn(node, "Duplicate net_namespace definition - ignoring")
        return
    f["net_namespace"] = w[1]


def _h_net_namespace_ipvs(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["net_namespace_ipvs"] = w[1] if len(w) > 1 else ""


ROOT: dict[str, Handler] = {
    "global_defs": block(_h_global_defs, lambda: GLOBAL_DEFS),
    "vrrp_instance": _h_named_block("vrrp_instances", VRRP_INSTANCE),
    "vrrp_sync_group": _h_named_block("vrrp_sync_groups", SYNC_GROUP),
    "vrrp_script": _h_named_block("vrrp_scripts", VRRP_SCRIPT),
    "track_file": _h_named_block("track_files", TRACK_FILE),
    "vrrp_track_file": _h_named_block("track_files", TRACK_FILE),
    "vrrp_track_process": _h_named_block("track_processes", TRACK_PROCESS),
    "static_ipaddress": _h_static("static_ipaddress", parse_ipaddress),
    "static_routes": _h_static("static_routes", parse_route),
    "static_rules": _h_static("static_rules", parse_rule),
    "virtual_server_group": block(_h_vsg),
    "virtual_server": block(_h_virtual_server, lambda: VIRTUAL_SERVER),
    "SSL": block(_h_ssl, lambda: SSL_TABLE),
    "bfd_instance": _h_named_block("bfd_instances", BFD_INSTANCE),
    "garp_group": block(_h_garp_group, lambda: GARP_GROUP),
    "track_group": block(_h_track_group, lambda: TRACK_GROUP),
    "linkbeat_use_polling": flag("linkbeat_use_polling"),
    "linkbeat_interfaces": block(_h_linkbeat_interfaces),
    "interface_up_down_delays": block(_h_up_down_delays),
    "net_namespace": _h_net_namespace,
    "net_namespace_ipvs": _h_net_namespace_ipvs,
    "namespace_with_ipsets": flag("namespace_with_ipsets"),
    "instance": string("instance"),
    "use_pid_dir": flag("use_pid_dir"),
    "child_wait_time": timer("child_wait_time", 0, 4294.967295),
}


# Keywords that make keepalived 2.2.7 exit at once (status 2) when their parameter is missing,
# per block; measured by running `keepalived -t` on each keyword without its value.
_TIMING_STOPS = {"connect_timeout", "delay_before_retry", "delay_loop", "retry", "warmup"}
_CHECKER_STOPS = frozenset(_TIMING_STOPS | {"bind_if", "bind_port", "bindto", "connect_ip", "connect_port", "fwmark"})
STOP_WHEN_EMPTY: dict[int, frozenset[str]] = {
    id(ROOT): frozenset({"child_wait_time", "track_file", "virtual_server", "virtual_server_group", "vrrp_script",
                         "vrrp_track_file", "vrrp_track_process"}),
    id(GLOBAL_DEFS): frozenset({
        "bfd_process_name", "bfd_rlimit_rtime", "bfd_rlimit_rttime", "checker_process_name", "checker_rlimit_rtime",
        "checker_rlimit_rttime", "config_save_dir", "lvs_process_name", "nftables_ipvs_priority",
        "nftables_ipvs_start_fwmark", "nftables_priority", "process_name", "random_seed", "smtp_connect_timeout",
        "smtp_server", "umask", "vmac_addr_prefix", "vmac_prefix", "vrrp_down_timer_adverts", "vrrp_garp_interval",
        "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_garp_master_delay",
        "vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat", "vrrp_garp_master_repeat",
        "vrrp_gna_interval", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_process_name", "vrrp_rlimit_rtime",
        "vrrp_rlimit_rttime", "vrrp_startup_delay", "vrrp_version"}),
    id(VRRP_INSTANCE): frozenset({
        "interface", "virtual_router_id", "advert_int", "debug", "down_timer_adverts", "garp_lower_prio_delay",
        "garp_lower_prio_repeat", "garp_master_delay", "garp_master_refresh", "garp_master_refresh_repeat",
        "garp_master_repeat", "mcast_dst_ip", "mcast_src_ip", "notify", "notify_backup", "notify_fault",
        "notify_master", "notify_master_rx_lower_pri", "notify_stop", "preempt_delay", "priority", "state",
        "unicast_src_ip", "unicast_ttl", "version", "vrf", "lvs_sync_daemon_interface"}),
    id(SYNC_GROUP): frozenset({"notify", "notify_backup", "notify_fault", "notify_master", "notify_stop"}),
    id(VRRP_SCRIPT): frozenset({"fall", "interval", "rise", "timeout", "user", "weight"}),
    id(TRACK_PROCESS): frozenset({"delay", "fork_delay", "process", "quorum", "quorum_max", "terminate_delay"}),
    id(BFD_INSTANCE): frozenset({"hoplimit", "idle_tx", "max_hops", "min_rx", "min_tx", "multiplier", "source_ip",
                                 "ttl", "weight"}),
    id(VIRTUAL_SERVER): frozenset(_TIMING_STOPS | {
        "hysteresis", "ip_family", "lb_algo", "lb_kind", "lvs_method", "lvs_sched", "persistence_engine",
        "persistence_granularity", "protocol", "quorum", "quorum_down", "quorum_up", "real_server", "sorry_server"}),
    id(REAL_SERVER): frozenset(_TIMING_STOPS | {"lthreshold", "lvs_method", "notify_down", "notify_up", "uthreshold",
                                                "weight"}),
    id(URL): frozenset({"digest", "path"}),
    id(CHECKER_TABLES["TCP_CHECK"]): _CHECKER_STOPS,
    id(CHECKER_TABLES["HTTP_GET"]): _CHECKER_STOPS | {"nb_get_retry"},
    id(CHECKER_TABLES["SMTP_CHECK"]): _CHECKER_STOPS,
    id(CHECKER_TABLES["DNS_CHECK"]): _CHECKER_STOPS | {"name", "type"},
    id(CHECKER_TABLES["MISC_CHECK"]): frozenset(_TIMING_STOPS - {"connect_timeout"} | {"misc_timeout"}),
    id(CHECKER_TABLES["UDP_CHECK"]): _CHECKER_STOPS | {"max_reply_length", "min_reply_length"},
    id(CHECKER_TABLES["PING_CHECK"]): _CHECKER_STOPS,
    id(CHECKER_TABLES["FILE_CHECK"]): frozenset({"track_file"}),
}

# Keywords of newer keepalived versions (documented in man5 of the reference snapshot) that 2.2.7
# reports as unknown: we apply them, and report them so that `-t` exits as 2.2.7 does.
NEWER_THAN_227: dict[int, frozenset[str]] = {
    id(GLOBAL_DEFS): frozenset({
        "iproute_etc_dir", "iproute_usr_dir", "json_dump_file", "state_dump_file", "stats_dump_file",
        "network_timeout", "set_supplementary_groups", "use_symlink_paths", "v3_checksum_as_v2",
        "vrrp_delay_after_boot", "vrrp_owner_ignore_adverts", "vrrp_socket_priority", "thread_timer_expired",
        "dbus_no_interface_name", "snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval",
        "linkbeat_use_polling", "vrrp_ipsets"}),
    id(VRRP_INSTANCE): frozenset({"no_virtual_ipaddress", "owner_ignore_adverts", "thread_timer_expired",
                                  "timer_expired_backup", "v3_checksum_as_v2"}),
    id(CHECKER_TABLES["HTTP_GET"]): frozenset({"sni_name", "tls_compliant"}),
    id(CHECKER_TABLES["FILE_CHECK"]): frozenset({"dynamic"}),
    id(REAL_SERVER): frozenset({"lb_kind"}),
    id(BFD_INSTANCE): frozenset({"multihop"}),
}


def build(lines: list[Line], *, main_file: str, files: tuple[str, ...],
          interfaces: frozenset[str] | None = None,
          prior: list[Diagnostic] | None = None) -> tuple[m.Config | None, list[Diagnostic], int | None]:
    """The model, all diagnostics, and the exit code when keepalived would stop at once (else None)."""
    diags: list[Diagnostic] = list(prior or [])
    ctx = Ctx(diags)
    f: Fields = {}
    try:
        walk(ctx, build_tree(lines, ROOT, block_kind, ctx.err), ROOT, f)
    except StopParse as stop:
        return None, diags, stop.code
    from pykeepalived.config.complete import complete

    return complete(ctx, f, files, interfaces), diags, None
