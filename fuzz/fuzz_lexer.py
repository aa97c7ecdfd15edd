"""atheris target: arbitrary bytes through the keepalived.conf preprocessor (config/lexer.py).

Run through `fuzz/run_target.sh lexer` (or directly: `fuzz_lexer.py [libFuzzer options] [corpus dirs]`).

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

Positions: every line names the main text or one of the sandbox files, with a line number
inside that file; the main text's lines come in order. Determinism: one input in DETERMINISM_EVERY
(chosen by CRC, so a replay chooses the same) is read a second time by a fresh preprocessor, which
must give the same lines and diagnostics (state left over between instances would show here: a
reload reads the configuration again in the same process).

Hermetic: `include` resolves inside a private directory holding three small files (on tmpfs when
/dev/shm exists; none includes anything, so no include loop is possible; include loops are the
loader's tests'), absolute patterns outside that directory find nothing, `${_ENV}` reads a fixed
environment and `${_RANDOM}` a generator seeded with 0.

Fast (issue 23 wants 10 million inputs): the product's own bounds on a line and on runaway
expansion (`MAXBUF`, `MAX_SUBSTITUTIONS` per line, `MAX_EXPANDED_LINES`, `MAX_EXPANSION_DEPTH`,
`MAX_SEQ_VALUES`, `MAX_BRACE_NAMES`) are lowered while the target reads (LIMITS), so an input
reaches them after a few dozen steps instead of hundreds of thousands; the code that handles
them is the product's, and the lines read up to them are checked like any others. A harness
budget (BUDGET `_expand` calls) remains for what those bounds do not count (many includes of
a brace pattern naming the same file again and again): inputs hitting it are counted, not
failed. Inputs are at most 512 bytes (run_target.sh), twice the lowered MAXBUF.
counted, not failed.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

import atheris

# Only the product is instrumented: glob, fnmatch and the rest of the standard library are not
# under test, and instrumented they cost more than the lexer itself on include-heavy inputs.
# Branch coverage only (comparisons are not traced: ~1.4x faster; the dictionary and the corpus
# carry the keywords); FUZZ_DATAFLOW=1 traces them too.
DATAFLOW = os.environ.get("FUZZ_DATAFLOW") == "1"
with atheris.import_hook.HookManager({"pykeepalived"}, set(), True, trace_dataflow=DATAFLOW):
    from pykeepalived.config import lexer

BUDGET = 2000  # _expand calls per input (a safety net: LIMITS stop runaway expansion first)
LIMITS = {"MAXBUF": 256, "MAX_SUBSTITUTIONS": 32, "MAX_EXPANDED_LINES": 64, "MAX_EXPANSION_DEPTH": 8,
          "MAX_SEQ_VALUES": 256, "MAX_BRACE_NAMES": 64}
DETERMINISM_EVERY = 16


class OverBudget(Exception):
    pass


def sandbox() -> str:
    # run_target.sh gives its own work directory (removed by its trap: libFuzzer leaves through
    # _exit after a crash, a timeout or SIGUSR1, and this atexit never runs then)
    parent = os.environ.get("FUZZ_WORKDIR") or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    root = tempfile.mkdtemp(prefix="pykeepalived-fuzz-lexer.", dir=parent)
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
MAIN = os.path.join(ROOT, "main.conf")
SANDBOX_LINES = {os.path.join(ROOT, n): len(Path(ROOT, n).read_text().split("\n")) - 1
                 for n in ("a.conf", "b.conf", "sub/c.conf")}


class SeededRandom:
    """random.Random(0), made only when ${_RANDOM} is used (seeding one per input costs ~40 us)."""

    def __init__(self) -> None:
        self._real: random.Random | None = None

    def __getattr__(self, name: str) -> object:
        if self._real is None:
            self._real = random.Random(0)
        return getattr(self._real, name)


FUZZ_GLOBALS = {**LIMITS, "random": type("random", (), {"Random": SeededRandom})}


class Hermetic(lexer.Preprocessor):
    """The preprocessor with its file system limited to ROOT and its work bounded."""

    def __init__(self) -> None:
        super().__init__(config_id="fuzz", environ={"HOME": "/root", "X": "${X}$X", "EMPTY": ""})
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


def read(text: str) -> Hermetic | None:
    # The lowered bounds and the lazy generator only while the target reads (the suite imports
    # this module into a process where other tests use the lexer).
    saved = {name: getattr(lexer, name) for name in FUZZ_GLOBALS}
    try:
        for name, value in FUZZ_GLOBALS.items():
            setattr(lexer, name, value)
        pre = Hermetic()
        pre.read_text(text, MAIN)
    except OverBudget:
        return None
    finally:
        for name, value in saved.items():
            setattr(lexer, name, value)
    return pre


def check_positions(lines: list[lexer.Line], nlines: int) -> None:
    last = 0
    for ln in lines:
        if ln.file == MAIN:
            if not 1 <= ln.line <= nlines or ln.line < last:
                raise AssertionError(f"line {ln.line} of the main text (1..{nlines}, after {last}): {ln!r}")
            last = ln.line
        elif os.path.normpath(ln.file) in SANDBOX_LINES:  # included as given: ./a.conf, sub/../a.conf
            size = SANDBOX_LINES[os.path.normpath(ln.file)]
            if not 1 <= ln.line <= size:
                raise AssertionError(f"line {ln.line} of {ln.file} ({size} lines): {ln!r}")
        else:
            raise AssertionError(f"a line from an unknown file: {ln!r}")


def one_input(data: bytes) -> None:
    global over_budget
    text = data.decode("utf-8", errors="surrogateescape")
    pre = read(text)
    if pre is None:
        over_budget += 1
        return
    lines = pre._out
    depth = 0
    for line in lines:
        if not isinstance(line.text, str) or "\n" in line.text or len(line.text) >= LIMITS["MAXBUF"]:
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
    check_positions(lines, text.count("\n") + 1)
    if zlib.crc32(data) % DETERMINISM_EVERY == 0:
        again = read(text)
        if again is None or (again._out, again.diagnostics, again.fatal_exit) != (lines, pre.diagnostics,
                                                                                  pre.fatal_exit):
            raise AssertionError("a second read of the same text differs")


def main() -> None:
    os.chdir(ROOT)
    atexit.register(lambda: print(f"fuzz_lexer: {over_budget} inputs stopped at the budget of {BUDGET} "
                                  "expansions", file=sys.stderr))
    atheris.Setup([f"{sys.executable} {Path(__file__).resolve()}", *sys.argv[1:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
