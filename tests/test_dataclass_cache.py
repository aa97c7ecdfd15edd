"""dataclass_cache: dataclasses' generated methods compiled once, then taken from the cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pykeepalived import dataclass_cache


def _define() -> type:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 2
        tags: tuple[str, ...] = ()

    return Point


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "__pycache__" / "dataclasses.test.marshal"
    monkeypatch.setattr(dataclass_cache, "_PATH", str(path))
    monkeypatch.setattr(dataclass_cache, "_cache", None)
    monkeypatch.setattr(dataclass_cache, "_used", {})
    monkeypatch.setattr(dataclass_cache, "_compiled", 0)
    monkeypatch.setattr("sys.dont_write_bytecode", False)
    return path


def test_installed_by_the_package() -> None:
    assert dataclasses.exec is dataclass_cache._exec  # type: ignore[attr-defined]


def test_compiled_once_then_from_the_cache(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _define()
    hits, compiled = dataclass_cache.stats()
    assert compiled >= 3 and hits == 0          # __init__, __repr__, __eq__, __setattr__, ...
    assert dataclass_cache.save() and fresh.exists()
    monkeypatch.setattr(dataclass_cache, "_cache", None)   # a new process: the cache read from the file
    monkeypatch.setattr(dataclass_cache, "_used", {})
    monkeypatch.setattr(dataclass_cache, "_compiled", 0)
    second = _define()
    assert dataclass_cache.stats() == (compiled, 0)
    assert not dataclass_cache.save()                       # nothing new: nothing written
    for cls in (first, second):
        p = cls(1)
        assert (p, repr(p).rpartition(".")[2]) == (cls(1, 2, ()), "Point(x=1, y=2, tags=())")
        assert p != cls(2) and hash(p) == hash(cls(1))
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.x = 3  # type: ignore[misc]
        # the generated code is what exec would have compiled: no inherited __future__ flags
        assert cls.__init__.__annotations__["return"] is None


def test_a_changed_class_compiles_anew(fresh: Path) -> None:
    _define()
    dataclass_cache.save()

    @dataclasses.dataclass
    class Other:
        z: int

    assert dataclass_cache.stats()[1] >= 1
    assert Other(5).z == 5


def test_an_unreadable_cache_is_ignored(fresh: Path) -> None:
    fresh.parent.mkdir(parents=True)
    fresh.write_bytes(b"not marshal data")
    assert _define()(1).y == 2


def test_nothing_written_without_bytecode(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.dont_write_bytecode", True)
    _define()
    assert not dataclass_cache.save() and not fresh.exists()
