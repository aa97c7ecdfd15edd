"""A fixed-seed slice of the pure-Python fuzz targets (fuzz/fuzz_lexer.py, fuzz/fuzz_http.py):
the seeds and a sample of the kept corpus, then a few hundred seeded mutations of them, through the target's
own checks, in-process (no libFuzzer run: a few seconds). The long runs are in fuzz/RESULTS.md."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
MUTATIONS = 400
KEPT = 150  # corpus inputs replayed besides the seeds (the whole corpus is the long run's business)


def load(name: str) -> ModuleType:
    pytest.importorskip("atheris")
    # Imported before the target so that its atheris.instrument_imports() has nothing left to
    # instrument (rewriting prometheus_client, http.server, email ... takes ~10 s).
    import prometheus_client.parser  # noqa: F401

    import pykeepalived.check.http  # noqa: F401
    import pykeepalived.config.lexer  # noqa: F401
    import pykeepalived.status.metrics  # noqa: F401
    import pykeepalived.status.server  # noqa: F401
    spec = importlib.util.spec_from_file_location(f"fuzz_target_{name}", FUZZ / f"fuzz_{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokens(name: str) -> list[bytes]:
    path = FUZZ / f"{name}.dict"
    out = []
    for line in path.read_text().splitlines():
        if line.startswith('"') and line.endswith('"'):
            out.append(line[1:-1].encode().decode("unicode_escape").encode("latin-1"))
    return out


def mutate(rng: random.Random, data: bytes, other: bytes, words: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randint(0, len(b))
        if op == 0 and b:
            b[min(pos, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and b:
            del b[pos:pos + rng.randint(1, 8)]
        elif op == 3:
            b[pos:pos] = rng.choice(words)
        else:
            b[pos:] = other[rng.randint(0, len(other)):]
    return bytes(b[:2048])


@pytest.mark.parametrize("name", ["lexer", "http"])
def test_fuzz_target_slice(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = load(name)
    if name == "lexer":
        monkeypatch.chdir(target.ROOT)  # relative includes resolve in the target's sandbox
    files = sorted(p for p in (FUZZ / f"corpus-{name}").iterdir() if p.is_file())
    rng = random.Random(20261207)
    seeds = [p for p in files if p.name.startswith("seed-")]
    found = [p for p in files if not p.name.startswith("seed-")]
    corpus = [p.read_bytes() for p in seeds + rng.sample(found, min(KEPT, len(found)))]
    assert seeds, f"fuzz/corpus-{name} has no seeds"
    for data in corpus:
        target.one_input(data)
    words = tokens(name)
    for _ in range(MUTATIONS):
        target.one_input(mutate(rng, rng.choice(corpus), rng.choice(corpus), words))
