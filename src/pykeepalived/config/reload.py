"""Reload identity and equality: what a SIGHUP changed, for the VRRP child's reload
(vrrp/: an instance's virtual routes and rules). `delta(old, new, key)` says which
items were added, removed, changed or kept; identity keys follow keepalived's reload matching
(routes by (type, destination, table, metric), rules by their full text); positions (file:line)
never make a difference: moving a block inside the file is not a change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pykeepalived.config import model as m

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Delta(Generic[T]):
    added: tuple[T, ...] = ()
    removed: tuple[T, ...] = ()
    changed: tuple[tuple[T, T], ...] = ()  # (old, new)
    kept: tuple[T, ...] = ()

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)


def strip_pos(obj: Any) -> Any:
    """The same value with every `pos` replaced by NOPOS (for position-blind comparison)."""
    if isinstance(obj, m.Pos):
        return m.NOPOS
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            nv = strip_pos(v)
            if nv is not v:
                changes[f.name] = nv
        return dataclasses.replace(obj, **changes) if changes else obj
    if isinstance(obj, tuple):
        items = tuple(strip_pos(x) for x in obj)
        return obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    return obj


def same(a: Any, b: Any) -> bool:
    return bool(strip_pos(a) == strip_pos(b))


def delta(old: Iterable[T], new: Iterable[T], key: Callable[[T], Hashable],
          equal: Callable[[T, T], bool] = same) -> Delta[T]:
    old_map = {key(x): x for x in old}
    new_map = {key(x): x for x in new}
    added = tuple(x for k, x in new_map.items() if k not in old_map)
    removed = tuple(x for k, x in old_map.items() if k not in new_map)
    changed: list[tuple[T, T]] = []
    kept: list[T] = []
    for k, x in new_map.items():
        if k in old_map:
            if equal(old_map[k], x):
                kept.append(x)
            else:
                changed.append((old_map[k], x))
    return Delta(added, removed, tuple(changed), tuple(kept))


def route_key(r: m.Route) -> Hashable:
    return (r.type, r.dst, r.table, r.metric)


def rule_key(r: m.Rule) -> Hashable:
    return r.text
