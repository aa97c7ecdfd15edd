"""keepalived.conf preprocessor: physical lines -> logical lines, each with its file and line.

Follows keepalived's lib/parser.c `read_line()`: comments and their escapes (`decomment`),
`include` with globs and csh braces (and the includer/m/w/b/a checks, `include_check`),
`@id` / `@^id` conditionals, `$NAME=` definitions (also multi-line), `$NAME` / `${NAME}`
substitution, built-ins (`${_PWD}`, `${_INSTANCE}`, `${_RANDOM}`, `${_ENV}`, `${_HASH}`,
`${_BANG}`), `~SEQ` / `~SEQx` / `~LST` repetition, and the split of a line at the first
`{` or `}` outside quotes, so every brace reaches the grammar as a line of its own.

Word splitting (`split_words`, `split_script`) is here too because the keyword table
decides which of the two a keyword uses, as keepalived does.
"""

from __future__ import annotations

import glob as globmod
import os
import random
import re
import stat
from collections.abc import Generator
from dataclasses import dataclass
from typing import NamedTuple

from pykeepalived.config.model import Diagnostic, Level

MAXBUF = 1024  # keepalived's line buffer: at most 1023 characters per line
MAX_SUBSTITUTIONS = 1000  # per line; keepalived loops forever on $A=$A, we report it
# keepalived nests includes until it runs out of file descriptors (a loop: until EMFILE). We read
# them without recursion, refuse a file that is already being read (a loop) and stop at this depth.
MAX_INCLUDE_DEPTH = 10000
# ~SEQ/~LST repetitions and multi-line definitions can expand without end (nested ~SEQ, a
# definition using itself); keepalived then spins for ever. We stop reading, with an error naming
# the line, once they have produced this many lines or nest this deep.
MAX_EXPANDED_LINES = 250_000
MAX_EXPANSION_DEPTH = 100
MAX_SEQ_VALUES = 100_000  # values of one ~SEQ (its list is built at once)
# Names one include pattern may expand to: `{a,b}` repeated n times is 2**n names (keepalived hands
# the pattern to glob(GLOB_BRACE) and spins through them; seen profiling fuzz/fuzz_lexer.py).
MAX_BRACE_NAMES = 10_000
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL = re.compile(r'[!#"\\]')
_BRACE_OR_QUOTE = re.compile(r'[{}"]')
_SCRIPT_SPECIAL = re.compile(r"[\"'\\]")
_DEF_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)[ \t]*=")
INCLUDE_WORDS = {"include": "", "includer": "r", "includem": "m", "includew": "w", "includeb": "b",
                 "includea": "rmwb"}
CHECK_WORDS = {"read": "r", "match": "m", "wildcard_match": "w", "brace_match": "b"}


class Line(NamedTuple):
    """One logical line: the text after preprocessing, and where it came from."""

    text: str
    file: str
    line: int


# ---------------------------------------------------------------------------------------------
# Word splitting


class QuoteError(ValueError):
    pass


def split_words(text: str) -> list[str]:
    """keepalived's alloc_strvec(): split on whitespace; `"..."` is one word without the quotes."""
    if '"' not in text:
        return text.split()
    out: list[str] = []
    i, n = 0, len(text)
    ws = " \t\f\n\r\v"
    while True:
        while i < n and text[i] in ws:
            i += 1
        if i >= n:
            break
        if text[i] == '"':
            j = text.find('"', i + 1)
            if j < 0:
                raise QuoteError(f"Unmatched quote: '{text}'")
            out.append(text[i + 1:j])
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in ws and text[j] != '"':
                j += 1
            out.append(text[i:j])
            i = j
    return out


_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def split_script(text: str) -> list[str]:
    """keepalived's alloc_strvec_quoted_escaped(): both quote styles, adjacent pieces join,
    shell-like escapes decoded. Raises QuoteError on a missing closing quote."""
    if _SCRIPT_SPECIAL.search(text) is None:
        return text.split()
    out: list[str] = []
    i, n = 0, len(text)
    ws = " \t\f\n\r\v"
    while True:
        while i < n and text[i] in ws:
            i += 1
        if i >= n:
            break
        word: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            if c == "\\":
                i += 1
                if i >= n:
                    raise QuoteError(f"Missing escape char at end: '{text}'")
                c = text[i]
                if c == "x" and i + 1 < n and text[i + 1] in "0123456789abcdefABCDEF":
                    i += 1
                    v = 0
                    while i < n and text[i] in "0123456789abcdefABCDEF":
                        v = ((v << 4) | int(text[i], 16)) & 0xFF
                        i += 1
                    word.append(chr(v))
                elif c == "c" and i + 1 < n:
                    word.append(chr(ord(text[i + 1]) & 0x1F))
                    i += 2
                elif "0" <= c <= "7":
                    v = 0
                    k = 0
                    while k < 3 and i < n and "0" <= text[i] <= "7":
                        v = (v << 3) + int(text[i])
                        i += 1
                        k += 1
                    word.append(chr(v & 0xFF))
                else:
                    word.append(_ESCAPES.get(c, c))
                    i += 1
                continue
            if quote:
                if c == quote:
                    quote = ""
                else:
                    word.append(c)
                i += 1
                continue
            if c in "\"'":
                quote = c
                i += 1
                continue
            if c in ws:
                break
            word.append(c)
            i += 1
        if quote:
            raise QuoteError(f"String '{text}': missing terminating {quote}")
        out.append("".join(word))
    return out


# ---------------------------------------------------------------------------------------------
# Comments


def decomment(s: str) -> tuple[str, bool]:
    """Strip comments (`#`/`!` outside quotes), `\\#`/`\\!` escapes and surrounding blanks.
    Returns the text and whether a quote was left open. A trailing backslash is kept."""
    s = s.lstrip(" \t")
    if _SPECIAL.search(s) is None:
        return s.rstrip(" \t"), False
    quote = False
    cont = False
    skip = -1
    out: list[str] = []
    last = 0  # text before `last` has been copied to out
    n = len(s)
    i = 0
    while True:
        mt = _SPECIAL.search(s, i)
        if mt is None:
            break
        i = mt.start()
        c = s[i]
        if c == '"':
            if skip < 0:
                quote = not quote
            i += 1
        elif c == "\\":
            if i + 1 < n:
                if not quote and s[i + 1] in "#!":
                    out.append(s[last:i])  # drop the backslash, keep the escaped char
                    last = i + 1
                i += 2
                continue
            cont = True
            break
        else:
            if not quote and skip < 0:
                skip = i
            i += 1
    end = i if cont else n
    if skip >= 0:
        end = min(end, skip)
    if end >= last:
        out.append(s[last:end])
    else:  # the cut is inside text already copied (cannot happen: skip/cont lie after `last`)
        out = ["".join(out)[:end]]
    res = "".join(out).rstrip(" \t")
    if cont:
        res += "\\"
    return res, quote


# ---------------------------------------------------------------------------------------------
# Brace expansion and globbing for include


class BraceError(ValueError):
    pass


def brace_expand(pattern: str) -> list[str]:
    """csh-style `{a,b}` expansion (nesting allowed); a brace with no comma stays literal.
    Raises BraceError past MAX_BRACE_NAMES names (the work stays within a few times that)."""
    depth = 0
    start = -1
    for i, c in enumerate(pattern):
        if c == "\\":
            continue
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth == 0:
                inner = pattern[start + 1:i]
                parts: list[str] = []
                d = 0
                last = 0
                for j, ch in enumerate(inner):
                    if ch == "{":
                        d += 1
                    elif ch == "}":
                        d -= 1
                    elif ch == "," and d == 0:
                        parts.append(inner[last:j])
                        last = j + 1
                parts.append(inner[last:])
                if len(parts) == 1:
                    rest = brace_expand(pattern[i + 1:])
                    return [pattern[:i + 1] + r for r in rest]
                prefix, suffix = pattern[:start], pattern[i + 1:]
                out: list[str] = []
                for p in parts:
                    out.extend(brace_expand(prefix + p + suffix))
                    if len(out) > MAX_BRACE_NAMES:
                        raise BraceError(f"Brace pattern expands to more than {MAX_BRACE_NAMES} names")
                return out
    return [pattern]


def _has_wildcard(s: str) -> bool:
    return any(c in s for c in "*?[")


# ---------------------------------------------------------------------------------------------
# The preprocessor


@dataclass(slots=True)
class _Def:
    value: str
    multiline: bool = False
    builtin: str | None = None  # name of the built-in function
    max_params: int = 0


@dataclass(slots=True)
class _Seq:
    var: str
    values: list[str]  # remaining values, next last (popped from the end)
    text: str


@dataclass(slots=True)
class _Frame:
    lines: list[str]
    index: int
    name: str
    directory: str
    checks: str  # include checks in force in this file
    ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the file, to recognise include loops


# The reader nests includes through generators run by `_drive`, never through Python recursion:
# a generator yields the generator of an included file, which runs to its end first.
_Gen = Generator["_Gen", None, None]


def _drive(gen: _Gen) -> None:
    stack = [gen]
    while stack:
        try:
            sub = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        stack.append(sub)


class Preprocessor:
    """Turns a config file (and everything it includes) into logical `Line`s."""

    def __init__(self, *, config_id: str | None = None, all_config: bool = False,
                 environ: dict[str, str] | None = None) -> None:
        if config_id is None:
            config_id = os.uname().nodename.split(".")[0]
        self.config_id = config_id
        self.all_config = all_config
        self.environ = dict(os.environ) if environ is None else environ
        self.diagnostics: list[Diagnostic] = []
        self.files: list[str] = []
        self.fatal_exit: int | None = None  # set when keepalived would stop at once
        self._defs: dict[str, _Def] = {
            "_PWD": _Def("", builtin="pwd"),
            "_INSTANCE": _Def("", builtin="instance"),
            "_RANDOM": _Def("", builtin="random", max_params=2),
            "_ENV": _Def("", builtin="env", max_params=1),
            "_HASH": _Def("#"),
            "_BANG": _Def("!"),
        }
        self._rand = random.Random()
        self._out: list[Line] = []
        self._seqs: list[_Seq] = []
        self._multiline_seq_depth = 0
        self._next: list[str] | None = None  # remaining lines of a multi-line definition being expanded
        self._multi_stack: list[tuple[list[str], int]] = []
        self._frames: list[_Frame] = []
        self._block_stack: list[str] = []
        self._checks = "rmwb" if all_config else ""

    # -- diagnostics ------------------------------------------------------------------------

    def _pos(self) -> tuple[str | None, int | None]:
        if self._frames:
            f = self._frames[-1]
            return f.name, f.index
        return None, None

    def error(self, level: Level, message: str) -> None:
        file, line = self._pos()
        self.diagnostics.append(Diagnostic(level, file, line, message))

    # -- entry points -----------------------------------------------------------------------

    def read_main(self, path: str) -> list[Line] | None:
        """Read the main file. None when keepalived would not parse anything (with -e: exit 4)."""
        matches = self._glob(path)
        files = [m for m in matches if not m.endswith("/")]
        if not files:
            level = Level.FILE_NOT_FOUND if self.all_config else Level.OK
            self.diagnostics.append(Diagnostic(level, None, None, f"Unable to find configuration file {path}"))
            return None
        if len(files) > 1:
            self.diagnostics.append(Diagnostic(
                Level.MULTIPLE_FILES, None, None,
                f"WARNING, more than one file matches configuration file {path}, using {files[0]}"))
        _drive(self._read_files([files[0]], path, "", base_dir=os.getcwd()))
        self._finish()
        return self._out

    def read_text(self, text: str, name: str = "<string>") -> list[Line]:
        _drive(self._run_frame(_Frame(text.split("\n"), 0, name, os.getcwd(), self._checks)))
        self._finish()
        return self._out

    def _finish(self) -> None:
        if self._block_stack and self.fatal_exit is None:
            n = len(self._block_stack)
            # keepalived reports it after the whole read, where no file or line is current
            self.diagnostics.append(Diagnostic(Level.MISSING_BOB, None, None,
                                               f"There are {n} missing '}}'s or extra '{{'s"))
            last = self._out[-1] if self._out else Line("", "", 0)
            for _ in range(n):
                self._out.append(Line("}", last.file, last.line))
            self._block_stack.clear()

    # -- files ------------------------------------------------------------------------------

    def _glob(self, pattern: str) -> list[str]:
        out: list[str] = []
        try:
            names = brace_expand(pattern)
        except BraceError as exc:
            self.error(Level.GENERAL_ERROR, f"{exc}: '{pattern[:80]}'")
            return out
        for p in names:
            if _has_wildcard(p):
                found = sorted(globmod.glob(p))
            else:
                found = [p] if os.path.lexists(p) else []
            out.extend(f + "/" if os.path.isdir(f) else f for f in found)
        return out

    def _read_files(self, names: list[str], pattern: str, checks: str, base_dir: str) -> _Gen:
        for name in names:
            try:
                st = os.stat(name)
            except OSError as exc:
                self.error(Level.OK, f"Configuration file '{name}' open problem ({exc.strerror}) - skipping")
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o111:
                self.error(Level.OK, f"Configuration file '{name}' is not a regular non-executable file - skipping")
                continue
            ident = (st.st_dev, st.st_ino)
            reading = [f.ident for f in self._frames]
            if ident in reading:
                chain = [f.name for f in self._frames[reading.index(ident):]] + [name]
                self.error(Level.GENERAL_ERROR, f"Configuration file '{name}' is already being read (include loop: "
                                                f"{' -> '.join(chain)}) - skipping")
                continue
            if len(self._frames) >= MAX_INCLUDE_DEPTH:
                self.error(Level.GENERAL_ERROR, f"Configuration file '{name}' nested deeper than {MAX_INCLUDE_DEPTH}"
                                                " includes - skipping")
                continue
            try:
                with open(name, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                self.error(Level.OK, f"Configuration file '{name}' open problem ({exc.strerror}) - skipping")
                continue
            text = data.decode("utf-8", errors="surrogateescape")
            self.files.append(name)
            directory = os.path.dirname(os.path.join(base_dir, name))
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            saved_checks = self._checks
            yield self._run_frame(_Frame(lines, 0, name, directory, self._checks, ident))
            self._checks = saved_checks  # include_check is saved and restored per file
            if self.fatal_exit is not None:
                return

    def _include(self, word: str, target: str) -> _Gen:
        frame = self._frames[-1]
        checks = set(self._checks) | set(INCLUDE_WORDS[word])
        pattern = target if os.path.isabs(target) else os.path.join(frame.directory, target)
        try:
            alternatives = brace_expand(pattern)
        except BraceError as exc:
            self.error(Level.GENERAL_ERROR, f"{exc}: '{target[:80]}' - skipping")
            return
        matches = [m for m in self._glob(pattern) if not m.endswith("/")]
        missing = False
        if "m" in checks and not matches:
            missing = True
        if "b" in checks and len(alternatives) > 1:
            for alt in alternatives:
                if not any(m for m in self._glob(alt) if not m.endswith("/")):
                    missing = True
        if "w" in checks:
            for alt in alternatives:
                if _has_wildcard(alt) and not self._glob(alt):
                    missing = True
        if "r" in checks:
            for alt in alternatives:
                if not _has_wildcard(alt) and not os.access(alt, os.R_OK):
                    missing = True
            for m in matches:
                if not os.access(m, os.R_OK):
                    missing = True
        if not matches or missing:
            self.error(Level.OK, f"Config files missing '{target}'.")
            if missing or (checks and not matches):
                # keepalived stops with EXIT_NO_CONFIG, also under -t
                self.fatal_exit = 6
                return
        yield from self._read_files(matches, target, "", base_dir=frame.directory)

    def _include_check(self, words: list[str]) -> None:
        if len(words) == 1:
            self._checks = "rmwb"
            return
        for w in words[1:]:
            sign = ""
            if w[:1] in ("+", "-"):  # not `in "+-"`: the empty word of `include_check ""` is in any string
                sign, w = w[0], w[1:]
            c = CHECK_WORDS.get(w)
            if c is None:
                self.error(Level.GENERAL_ERROR, f"Unknown include_check type '{w}'")
                continue
            if sign == "-":
                self._checks = self._checks.replace(c, "")
            elif c not in self._checks:
                self._checks += c

    # -- the line reader --------------------------------------------------------------------

    def _physical(self, frame: _Frame) -> str | None:
        """The next non-empty physical line, decommented; None at end of file."""
        while frame.index < len(frame.lines):
            raw = frame.lines[frame.index]
            frame.index += 1
            if raw.endswith("\r"):
                raw = raw.rstrip("\r")
            if "\0" in raw:
                self.error(Level.GENERAL_ERROR, "Line contains a NUL character - text after it ignored")
                raw = raw[:raw.index("\0")]
            if len(raw) >= MAXBUF:
                self.error(Level.GENERAL_ERROR, f"Line too long ({len(raw)} characters, maximum {MAXBUF - 1})")
                raw = raw[:MAXBUF - 1]
            if not raw:
                if self._mdef is not None:
                    self._end_multiline_def()
                continue
            text, open_quote = decomment(raw)
            if open_quote:
                self.error(Level.GENERAL_ERROR, f"Unterminated quote '{text}'")
            return text
        return None

    _mdef: _Def | None = None

    def _end_multiline_def(self) -> None:
        d = self._mdef
        if d is not None and not d.value:
            d.multiline = False
        self._mdef = None

    def _run_frame(self, frame: _Frame) -> _Gen:
        self._frames.append(frame)
        try:
            residue: str | None = None
            while True:
                if self.fatal_exit is not None:
                    return
                if residue is not None:
                    buf, residue = residue, None
                elif self._seqs and len(self._seqs) > self._multiline_seq_depth:
                    buf = self._seq_next()
                    if self._count_expanded():
                        return
                elif self._next is not None:
                    buf = self._multiline_next()
                    if self._count_expanded():
                        return
                else:
                    phys = self._physical(frame)
                    if phys is None:
                        if self._mdef is not None:
                            self._end_multiline_def()
                        self._seqs.clear()
                        return
                    buf = phys
                    if self._mdef is not None:
                        self._add_multiline(buf)
                        continue
                if not buf:
                    continue
                buf = self._expand(buf)
                if not buf:
                    continue
                if "include" in buf:
                    sub = self._maybe_include(buf)
                    if sub is not None:
                        yield sub  # the included files are read before this one goes on
                        continue
                residue = self._emit(buf, frame)
        finally:
            self._frames.pop()

    _expanded = 0

    def _count_expanded(self) -> bool:
        """Count a line made by expansion; True (and stop reading) once past the bounds."""
        self._expanded += 1
        if self._expanded > MAX_EXPANDED_LINES:
            self._runaway_expansion(f"produced more than {MAX_EXPANDED_LINES} lines")
        elif len(self._seqs) > MAX_EXPANSION_DEPTH or len(self._multi_stack) > MAX_EXPANSION_DEPTH:
            self._runaway_expansion(f"nested deeper than {MAX_EXPANSION_DEPTH} levels")
        else:
            return False
        return True

    def _runaway_expansion(self, what: str) -> None:
        self.error(Level.GENERAL_ERROR, f"~SEQ/~LST and multi-line definition expansion {what} (recursive or "
                                        "nested definitions?) - configuration not read further")
        self.fatal_exit = 5  # keepalived's -t code for configuration errors (it never gets there: it spins)
        self._seqs.clear()
        self._next = None
        self._multi_stack.clear()

    def _add_multiline(self, buf: str) -> None:
        d = self._mdef
        assert d is not None
        cont = buf.endswith("\\")
        if cont:
            buf = buf[:-1].rstrip(" \t") + "\n"
        else:
            self._mdef = None
        if len(buf) >= 2 or (buf and not cont):
            d.value += buf
        if not cont and not d.value:
            d.multiline = False

    def _seq_next(self) -> str:
        seq = self._seqs[-1]
        val = seq.values.pop()
        if seq.var.startswith("{"):
            names = [n.strip() for n in seq.var[1:-1].split(",")]
            vals = [v.strip() for v in val[1:-1].split(",")] if val.startswith("{") else [val]
            for i, n in enumerate(names):
                self._set_def(n, vals[i] if i < len(vals) else "")
        else:
            self._set_def(seq.var, val)
        if not seq.values:
            self._seqs.pop()
        return seq.text

    def _multiline_next(self) -> str:
        assert self._next is not None
        buf = self._next.pop(0)
        if not self._next:
            if self._multi_stack:
                self._next, self._multiline_seq_depth = self._multi_stack.pop()
            else:
                self._next = None
                self._multiline_seq_depth = 0
        return buf

    def _set_def(self, name: str, value: str) -> None:
        d = self._defs.get(name)
        if d is None:
            self._defs[name] = _Def(value)
        else:
            d.value, d.builtin, d.multiline, d.max_params = value, None, False, 0

    def _expand(self, buf: str) -> str:
        """@id conditionals, definitions, ~SEQ/~LST and $ substitution (read_line's inner loop)."""
        rounds = 0
        while True:
            if buf[0] == "@":
                rev = buf[1:2] == "^"
                ofs = 2 if rev else 1
                m = re.search(r"[ \t]", buf[ofs:])
                if m is None:
                    return ""
                ident = buf[ofs:ofs + m.start()]
                if (ident != self.config_id) != rev:
                    return ""
                buf = buf[ofs + m.start():].lstrip(" \t")
                if not buf:
                    return ""
            if buf[0] == "$":
                m = _DEF_RE.match(buf)
                if m is not None:
                    self._define(m.group(1), buf[m.end():])
                    return ""
            if buf.startswith("~SEQ") or buf.startswith("~LST"):
                if not self._add_seq(buf):
                    self.error(Level.GENERAL_ERROR, f"Invalid {buf[:4]} specification '{buf}'")
                return ""
            if buf[0] == "~":
                return buf
            if "$" not in buf:
                return buf
            new = self._replace(buf)
            if new is None or self._runaway:
                self._runaway = False
                return buf if new is None else new
            # 2.2.7 decomments the substituted line again: a '#' or '!' brought in by a value
            # (even ${_HASH} / ${_BANG}) starts a comment there
            buf = decomment(new)[0]
            if not buf:
                return ""
            if not (buf[0] == "@" or "$" in buf):
                return buf
            # keepalived's recheck loop has no bound either: `$X=$X${_HASH}` then `$X` gives
            # `$X#`, decommented back to `$X`, for ever (found by fuzz/fuzz_lexer.py)
            rounds += 1
            if rounds > MAX_SUBSTITUTIONS:
                self.error(Level.GENERAL_ERROR, f"Recursive definition on line '{buf[:80]}' - stopped expanding")
                return buf

    _runaway = False

    def _define(self, name: str, rest: str) -> None:
        value = rest.lstrip(" \t")
        multiline = value.endswith("\\")
        if multiline:
            value = value[:-1].rstrip(" \t")
            value = value + "\n" if value else ""
        d = _Def(value, multiline=multiline)
        self._defs[name] = d
        if multiline:
            self._mdef = d

    def _find_def(self, s: str, i: int) -> tuple[_Def, int, str] | None:
        """At s[i] == '$': the definition referenced, the end index of the reference, params."""
        j = i + 1
        braces = j < len(s) and s[j] == "{"
        if braces:
            j += 1
        m = _NAME_RE.match(s, j)
        if m is None:
            return None
        name = m.group(0)
        k = m.end()
        params = ""
        if braces:
            close = s.find("}", k)
            if close < 0:
                return None
            params = s[k:close]
            if params and not params.startswith(" "):
                return None
            params = params.strip()
            end = close + 1
        else:
            if k < len(s) and s[k] not in " \t,)":
                return None
            end = k
        d = self._defs.get(name)
        if d is None:
            return None
        if params and not d.max_params:
            return None
        if d.multiline and end != len(s):
            return None
        return d, end, params

    def _builtin(self, d: _Def, params: str) -> str:
        if d.builtin == "pwd":
            return self._frames[-1].directory if self._frames else os.getcwd()
        if d.builtin == "instance":
            return self.config_id
        if d.builtin == "env":
            return self.environ.get(params, "")
        if d.builtin == "random":
            lo, hi = 0, 32767
            nums = params.split()
            try:
                if nums:
                    lo = int(nums[0])
                if len(nums) > 1:
                    hi = int(nums[1])
            except ValueError:
                self.error(Level.GENERAL_ERROR, f"Invalid parameters for ${{_RANDOM {params}}}")
            if hi < lo:
                lo, hi = hi, lo
            return str(self._rand.randint(lo, hi))
        return d.value

    def _replace(self, buf: str) -> str | None:
        """Substitute definitions; None when nothing was substituted."""
        pos = buf.find("$")
        found = False
        count = 0
        while 0 <= pos < len(buf) - 1:
            ref = self._find_def(buf, pos)
            if ref is None:
                pos = buf.find("$", pos + 1)
                continue
            d, end, params = ref
            found = True
            count += 1
            if count > MAX_SUBSTITUTIONS:
                self.error(Level.GENERAL_ERROR, f"Recursive definition on line '{buf[:80]}' - stopped expanding")
                self._runaway = True
                return buf
            value = self._builtin(d, params) if d.builtin else d.value
            if d.multiline:
                first, _, rest = value.partition("\n")
                if self._next is not None:
                    self._multi_stack.append((self._next, self._multiline_seq_depth))
                self._multiline_seq_depth = len(self._seqs)
                rest_lines = rest.split("\n") if rest else []
                if rest_lines and rest_lines[-1] == "":
                    rest_lines.pop()
                self._next = rest_lines if rest_lines else None
                if self._next is None and self._multi_stack:
                    self._next, self._multiline_seq_depth = self._multi_stack.pop()
                value = first
            buf = buf[:pos] + value + buf[end:]
            if len(buf) >= MAXBUF:
                self.error(Level.GENERAL_ERROR,
                           f"Parameter substitution on line '{buf[:80]}' would exceed maximum line length")
                self._runaway = True
                return buf[:MAXBUF - 1]
            if value.lstrip(" \t").startswith("~"):
                break
            pos = buf.find("$", pos)
        return buf if found else None

    def _add_seq(self, buf: str) -> bool:
        lst = buf.startswith("~LST")
        p = 4
        hexa = False
        if not lst and buf[p:p + 1] == "x":
            hexa = True
            p += 1
        rest = buf[p:].lstrip(" \t")
        if not rest.startswith("("):
            return False
        # find the matching ')' (tuples in ~LST may contain ',' inside braces)
        depth = 0
        close = -1
        for i, c in enumerate(rest):
            if c in "({":
                depth += 1
            elif c in ")}":
                depth -= 1
                if depth == 0 and c == ")":
                    close = i
                    break
        if close < 0:
            return False
        inner = rest[1:close]
        text = rest[close + 1:].lstrip(" \t")
        substituted = self._replace(inner)
        if substituted is not None:
            inner = substituted
        parts: list[str] = []
        depth = 0
        last = 0
        for i, c in enumerate(inner):
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "," and depth == 0:
                parts.append(inner[last:i].strip())
                last = i + 1
        parts.append(inner[last:].strip())
        var = parts[0]
        if not var or not (_NAME_RE.fullmatch(var) or (lst and var.startswith("{") and var.endswith("}"))):
            return False
        if lst:
            values = parts[1:]
            if not values:
                return False
            self._seqs.append(_Seq(var, values[::-1], text))
            return True
        try:
            nums = [int(x, 0) for x in parts[1:]]
        except ValueError:
            return False
        if len(nums) == 1:
            end = nums[0]
            step = -1 if end < 1 else 1
            start = -1 if end < 0 else 1
        elif len(nums) == 2:
            start, end = nums
            step = 1 if start <= end else -1
        elif len(nums) == 3:
            start, step, end = nums
            if step == 0 or (start < end and step < 0) or (start > end and step > 0):
                self.error(Level.GENERAL_ERROR, f"Invalid ~SEQ values '{buf}'")
                return True
        else:
            return False
        if hexa and (start < 0 or end < 0):
            self.error(Level.GENERAL_ERROR, f"~SEQx is only valid for positive numbers '{buf}'")
            return True
        if abs(end - start) // abs(step) > MAX_SEQ_VALUES:
            self.error(Level.GENERAL_ERROR, f"~SEQ range too large '{buf}'")
            return True
        vals = [format(v, "x") if hexa else str(v) for v in range(start, end + (1 if step > 0 else -1), step)]
        if vals:
            self._seqs.append(_Seq(var, vals[::-1], text))
        return True

    def _maybe_include(self, buf: str) -> _Gen | None:
        """The reader of an include line's files; None when the line is not an include."""
        try:
            words = split_words(buf)
        except QuoteError:
            return None
        if words and words[0] in INCLUDE_WORDS and len(words) == 2:
            return self._include(words[0], words[1])
        return None

    def _emit(self, buf: str, frame: _Frame) -> str | None:
        """Split at the first brace outside quotes, emit the first part, return the residue."""
        residue: str | None = None
        if buf[0] in "{}":
            rest = buf[1:].lstrip(" \t")
            if rest:
                residue = rest.rstrip(" \t")
            buf = buf[0]
        elif "{" in buf or "}" in buf:
            cut = -1
            i = 0
            while True:
                mt = _BRACE_OR_QUOTE.search(buf, i)
                if mt is None:
                    break
                if mt.group() == '"':
                    j = buf.find('"', mt.end())
                    if j < 0:
                        break
                    i = j + 1
                    continue
                cut = mt.start()
                break
            if cut >= 0:
                residue = buf[cut:].rstrip(" \t")
                buf = buf[:cut]
        buf = buf.rstrip(" \t")
        if not buf:
            return residue
        if buf == "{":
            # the block's keyword: the first word of the previous line (only global_defs matters)
            prev = self._out[-1].text if self._out else ""
            self._block_stack.append(prev.split(None, 1)[0] if prev.strip() else "")
        elif buf == "}":
            if not self._block_stack:
                self.diagnostics.append(Diagnostic(Level.GENERAL_ERROR, frame.name, frame.index,
                                                   "Extra '}' found"))
                # keepalived then also reads it as a keyword at the top level
                self.diagnostics.append(Diagnostic(Level.UNKNOWN_KEYWORD, frame.name, frame.index,
                                                   "Unknown keyword '}'"))
                return residue
            self._block_stack.pop()
        elif buf.startswith("random_seed") and self._block_stack[-1:] == ["global_defs"]:
            words = buf.split()
            if len(words) == 2 and words[0] == "random_seed" and words[1].isdigit():
                self._rand.seed(int(words[1]))  # later ${_RANDOM} values repeat from run to run
        elif buf.startswith("include_check") and self._block_stack[-1:] == ["global_defs"]:
            try:
                words = split_words(buf)
                if words[0] == "include_check":
                    self._include_check(words)
            except QuoteError:
                pass
        self._out.append(Line(buf, frame.name, frame.index))
        return residue
