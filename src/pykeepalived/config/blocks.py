"""The keyword machinery: a block's keyword table (keyword -> handler, like keepalived's
install_keyword()), the handler factories, and `walk`, which runs a table over a block's lines.

Handlers fill a dict of model fields; config/complete.py turns the dicts into the model. The
tables themselves are in config/keywords/<block>.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from pykeepalived.config import model as m
from pykeepalived.config.grammar import Node
from pykeepalived.config.lexer import QuoteError, split_script, split_words
from pykeepalived.config.model import Diagnostic, Level, Pos

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


def flag(field: str, value: bool = True) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        v = ctx.bool_(node, w, value)
        if v is not None:
            f[field] = v
    return h


def switch(field: str, value: bool = True) -> Handler:
    """A keyword whose keepalived 2.2.7 handler ignores its parameters (`nopreempt 255` is nopreempt)."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        f[field] = value
    return h


# How an invalid value is reported after the number message; keepalived's words per keyword.
# Placeholders: {kw} keyword, {v} value, {name} the enclosing block's name.
BAD_VALUE = "{kw} '{v}' invalid - ignoring"


def bad_value(ctx: Ctx, node: Node, w: list[str], f: Fields, fmt: str) -> None:
    ctx.warn(node, fmt.format(kw=w[0], v=w[1], name=f.get("name", "")))


def integer(field: str, lo: int, hi: int, bad: str = BAD_VALUE, fallback: int | None = None) -> Handler:
    """An integer in [lo, hi]; `fallback` is set when the value is invalid (else it is ignored)."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        v = ctx.int_(node, w[1], lo, hi)
        if v is not None:
            f[field] = v
        else:
            bad_value(ctx, node, w, f, bad)
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
            bad_value(ctx, node, w, f, bad)
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


# Per keyword table (by identity), filled by the table's module with keyword_rules():
# keywords that make keepalived 2.2.7 exit at once (status 2) when their parameter is missing
# (measured by running `keepalived -t` on each keyword without its value), and keywords of newer
# keepalived versions (documented in man5 of the reference snapshot) that 2.2.7 reports as
# unknown: we apply them, and report them so that `-t` exits as 2.2.7 does.
STOP_WHEN_EMPTY: dict[int, frozenset[str]] = {}
NEWER_THAN_227: dict[int, frozenset[str]] = {}


def keyword_rules(table: dict[str, Handler], *, stops: Iterable[str] = (), newer: Iterable[str] = ()) -> None:
    if stops:
        STOP_WHEN_EMPTY[id(table)] = frozenset(stops)
    if newer:
        NEWER_THAN_227[id(table)] = frozenset(newer)


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


def at_least_one(handler: Handler) -> Handler:
    """2.2.7: a repeat count of 0 is replaced by 1 with a warning."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        handler(ctx, node, w, f)
        field = w[0]
        if f.get(field) == 0:
            ctx.warn(node, f"{field} must be greater than 0, setting to 1")
            f[field] = 1
    return h


def ip_field(field: str) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        ctx.need(node, w, 1)
        a = ctx.ip(node, w[1])
        if a is not None:
            f[field] = a
    return h


def user_and_group(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    ctx.need(node, w, 1)
    f["user"] = w[1]  # as script_user: `user [group]`
    if len(w) > 2:
        f["group"] = w[2]


def block_name(ctx: Ctx, node: Node, w: list[str], kind: str) -> str | None:
    if len(w) < 2:
        ctx.need(node, w, 1)
    return w[1]


def named_block(key: str, table: dict[str, Handler]) -> Handler:
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        name = block_name(ctx, node, w, key)
        bf: Fields = {"name": name, "pos": pos(node), "_node": node}
        walk(ctx, node.children or [], table, bf)
        f.setdefault(key, []).append(bf)
    return block(h, table)


def value_block(field: str, parse: Callable[[Ctx, Node, list[str]], Any]) -> Handler:
    """A value block of one item per line (addresses, routes, rules): each line parsed by `parse`
    (None: reported and skipped), added to what earlier blocks of the same keyword gave."""
    def h(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
        out = list(f.get(field, ()))
        for child, cw in value_lines(ctx, node):
            r = parse(ctx, child, cw)
            if r is not None:
                out.append(r)
        f[field] = tuple(out)
    return block(h)
