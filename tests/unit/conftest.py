"""The `fastpath` fixture: every test in tests/unit runs once per twin, ids "py" and "c"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pykeepalived import _fastpath


def _twin(kind: str) -> SimpleNamespace:
    loader = _fastpath.pure if kind == "py" else _fastpath.compiled
    try:
        modules = {name: loader(name) for name in _fastpath.MODULES}
    except ImportError as exc:
        pytest.skip(f"compiled fast path not built ({exc}); run `python setup.py build_ext --inplace`")
    return SimpleNamespace(kind=kind, **modules)


@pytest.fixture(params=["py", "c"])
def fastpath(request: pytest.FixtureRequest) -> SimpleNamespace:
    """Namespace with .checksum, .codec, .wheel of one twin and .kind ("py" or "c")."""
    return _twin(request.param)


@pytest.fixture
def both_twins() -> tuple[SimpleNamespace, SimpleNamespace]:
    """(pure, compiled) for cross-checks; skipped when the compiled twin is not built."""
    return _twin("py"), _twin("c")
