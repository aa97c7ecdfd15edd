"""atheris target: arbitrary bytes through the keepalived.conf preprocessor (config/lexer.py).

Run through fuzz/run_lexer.sh (or directly: `fuzz_lexer.py [libFuzzer options] [corpus dirs]`).

Each input is a configuration text (decoded as the loader does, UTF-8 with surrogateescape).
It goes through `Preprocessor.read_text`, then every logical line through `split_words` and
`split_script`, the two word splitters the grammar uses. A crash is any exception other than
the splitters' documented `QuoteError`, or a broken promise of the preprocessor:

- a logical line is one line: no newline in it, at most MAXBUF - 1 characters;
- a brace outside quotes reaches the grammar as a line of its own: a line that is not exactly
  `{` or `}` has no `{`/`}` outside double quotes;
- the braces balance: an extra `}` is dropped (with a diagnostic) and what is left open is
  closed at the end (`MISSING_BOB`), unless the read stopped fatally (`fatal_exit`: the
  loader then discards the lines);
- every diagnostic has a level and a message.

Hermetic: `include` resolves inside a private directory holding three small files (none
includes anything, so no include loop is possible; include loops are the loader's tests'),
absolute patterns outside that directory find nothing, `${_ENV}` reads a fixed environment and
`${_RANDOM}` a seeded generator. The work per input is bounded (BUDGET expansions): a
~SEQ that repeats a million lines is a preprocessor feature, not a crash, and the budget keeps
one input from taking minutes. Inputs hitting the budget are counted, not failed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from pykeepalived.config import lexer

BUDGET = 200  # logical lines (expansions) per input


class OverBudget(Exception):
    pass


def sandbox() -> str:
    root = tempfile.mkdtemp(prefix="pykeepalived-fuzz-lexer.")
    atexit.register(shutil.rmtree, root, True)
    files = {
        "a.conf": "vrrp_instance VI_A {\n  interface eth0 # comment\n  virtual_router_id 1\n}\n",
        "b.conf": "$B=from_b\n@fuzz global_defs {\n  router_id ${B}\n}\n",
        "sub/c.conf": "~SEQ(i,1,3) vrrp_script s$i {\n}\n",
    }
    for name, text in files.items():
        path = Path(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return os.path.realpath(root)


ROOT = sandbox()


class Hermetic(lexer.Preprocessor):
    """The preprocessor with its file system limited to ROOT and its work bounded."""

    def __init__(self) -> None:
        super().__init__(config_id="fuzz", environ={"HOME": "/root", "X": "${X}$X", "EMPTY": ""})
        self._rand.seed(0)
        self.steps = 0

    def _glob(self, pattern: str) -> list[str]:
        inside = os.path.realpath(pattern).startswith(ROOT + os.sep)
        return super()._glob(pattern) if inside else []

    def _expand(self, buf: str) -> str:
        self.steps += 1
        if self.steps > BUDGET:
            raise OverBudget
        return super()._expand(buf)


def outside_quotes_has_brace(text: str) -> bool:
    quoted = False
    for c in text:
        if c == '"':
            quoted = not quoted
        elif c in "{}" and not quoted:
            return True
    return False


over_budget = 0


def one_input(data: bytes) -> None:
    global over_budget
    text = data.decode("utf-8", errors="surrogateescape")
    pre = Hermetic()
    try:
        lines = pre.read_text(text, os.path.join(ROOT, "main.conf"))
    except OverBudget:
        over_budget += 1
        return
    depth = 0
    for line in lines:
        if not isinstance(line.text, str) or "\n" in line.text or len(line.text) >= lexer.MAXBUF:
            raise AssertionError(f"logical line with a newline or too long: {line!r}")
        if line.text in ("{", "}"):
            depth += 1 if line.text == "{" else -1
            if depth < 0:
                raise AssertionError(f"a '}}' closes nothing: {[ln.text for ln in lines]!r}")
        elif outside_quotes_has_brace(line.text):
            raise AssertionError(f"brace inside a logical line: {line!r}")
        for split in (lexer.split_words, lexer.split_script):
            try:
                words = split(line.text)
            except lexer.QuoteError:
                continue
            if not all(isinstance(w, str) for w in words):
                raise AssertionError(f"{split.__name__} returned non-strings for {line!r}")
    if depth != 0 and pre.fatal_exit is None:  # a fatal stop (exit 6) discards the lines anyway
        raise AssertionError(f"braces left open: {[ln.text for ln in lines]!r}")
    for d in pre.diagnostics:
        if not d.message or d.level is None:
            raise AssertionError(f"empty diagnostic {d!r}")


def main() -> None:
    os.chdir(ROOT)
    atexit.register(lambda: print(f"fuzz_lexer: {over_budget} inputs stopped at the budget of {BUDGET} "
                                  "expansions", file=sys.stderr))
    atheris.Setup([f"{sys.executable} {Path(__file__).resolve()}", *sys.argv[1:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
