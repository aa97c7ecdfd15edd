"""Hashed timer wheel: one deadline per integer id, in pure Python.

Twin of the compiled ``wheel`` module: same names, same results.

Deadlines are monotonic-clock seconds (floats). The wheel has ``slots`` buckets of one tick
each (1 ms by default); a deadline goes into the bucket of its tick, whatever its round, and
``advance(now)`` visits only the buckets of the ticks that passed (at most one revolution).
Invariant: every scheduled tick is >= the cursor (the first tick not yet fully expired). An id fires only once
``deadline <= now``: the bucket is an index, the float deadline decides, so nothing fires
early. Expired ids come back ordered by (deadline, id).
"""

from __future__ import annotations

import math
import operator

# Ticks beyond this cannot be held by the compiled twin's 64-bit tick counter.
_MAX_TICK = 2**62


class TimerWheel:
    """One deadline per id; ``schedule`` (re)arms, ``cancel`` disarms, ``advance`` fires."""

    __slots__ = ("_slots", "_mask", "_tps", "_cursor", "_deadline", "_tick", "_min", "_min_valid")

    def __init__(self, slots: int = 4096, ticks_per_second: int = 1000) -> None:
        if slots < 1 or slots & (slots - 1):
            raise ValueError(f"slots must be a power of two, got {slots}")
        if ticks_per_second < 1:
            raise ValueError(f"ticks_per_second must be positive, got {ticks_per_second}")
        self._slots: list[set[int]] = [set() for _ in range(slots)]
        self._mask = slots - 1
        self._tps = ticks_per_second
        self._cursor: int | None = None  # first tick not yet fully expired
        self._deadline: dict[int, float] = {}
        self._tick: dict[int, int] = {}  # floor(deadline * ticks_per_second): picks the bucket
        self._min = 0.0
        self._min_valid = True

    def __len__(self) -> int:
        return len(self._deadline)

    def __contains__(self, ident: object) -> bool:
        return ident in self._deadline

    def deadline(self, ident: int) -> float | None:
        """The id's deadline, or None when it is not scheduled."""
        return self._deadline.get(ident)

    def _tick_of(self, deadline: float) -> int:
        scaled = deadline * self._tps
        if not math.isfinite(scaled) or not -_MAX_TICK < scaled < _MAX_TICK:
            raise ValueError(f"deadline {deadline} is not a finite time the wheel can hold")
        return math.floor(scaled)

    def schedule(self, ident: int, deadline: float) -> None:
        """Arm ``ident`` to fire at ``deadline``, replacing any earlier deadline it had."""
        deadline = float(deadline)
        tick = self._tick_of(deadline)
        ident = operator.index(ident)
        if not -(2**63) <= ident < 2**63:
            raise OverflowError(f"timer id {ident} does not fit 64 bits")
        if ident in self._deadline:
            self._remove(ident)
        if self._cursor is None or tick < self._cursor:
            # Behind the cursor: move the cursor back so the next advance visits this bucket.
            self._cursor = tick
        self._slots[tick & self._mask].add(ident)
        self._deadline[ident] = deadline
        self._tick[ident] = tick
        if self._min_valid and (len(self._deadline) == 1 or deadline < self._min):
            self._min = deadline

    def _remove(self, ident: int) -> float:
        deadline = self._deadline.pop(ident)
        self._slots[self._tick.pop(ident) & self._mask].discard(ident)
        if deadline <= self._min:
            self._min_valid = False
        return deadline

    def cancel(self, ident: int) -> bool:
        """Disarm ``ident``; False if it was not scheduled."""
        if ident not in self._deadline:
            return False
        self._remove(ident)
        return True

    def clear(self) -> None:
        for bucket in self._slots:
            bucket.clear()
        self._deadline.clear()
        self._tick.clear()
        self._min_valid = True

    def advance(self, now: float) -> list[int]:
        """Remove and return every id whose deadline is <= ``now``, ordered by (deadline, id)."""
        now_tick = self._tick_of(float(now))
        if self._cursor is None or not self._deadline:
            if self._cursor is None or now_tick > self._cursor:
                self._cursor = now_tick
            return []
        cursor = self._cursor
        if now_tick < cursor:
            return []  # every entry's tick is >= the cursor, so every deadline is > now
        if now_tick - cursor >= len(self._slots):
            ticks = range(cursor, cursor + len(self._slots))
        else:
            ticks = range(cursor, now_tick + 1)
        expired: list[tuple[float, int]] = []
        for tick in ticks:
            bucket = self._slots[tick & self._mask]
            if bucket:
                due = [i for i in bucket if self._deadline[i] <= now]
                for ident in due:
                    bucket.discard(ident)
                    del self._tick[ident]
                    expired.append((self._deadline.pop(ident), ident))
        self._cursor = now_tick  # ids left in visited buckets belong to later rounds (or to now_tick)
        if expired:
            self._min_valid = False
            expired.sort()
        return [ident for _, ident in expired]

    def next_deadline(self) -> float | None:
        """The earliest deadline, or None when nothing is scheduled."""
        if not self._deadline:
            return None
        if not self._min_valid:
            self._min = self._find_min()
            self._min_valid = True
        return self._min

    def _find_min(self) -> float:
        # Walk ticks from the cursor: the first bucket holding an id of this round holds the
        # minimum (every tick is >= the cursor, and deadlines grow with ticks). Ids of later
        # rounds share buckets; they are told apart by their tick.
        assert self._cursor is not None
        ticks, deadlines, slots, mask = self._tick, self._deadline, self._slots, self._mask
        if len(deadlines) <= 256:
            return min(deadlines.values())  # cheaper than walking empty buckets in Python
        for tick in range(self._cursor, self._cursor + len(slots)):
            bucket = slots[tick & mask]
            if bucket:
                due = [deadlines[i] for i in bucket if ticks[i] == tick]
                if due:
                    return min(due)
        return min(deadlines.values())  # everything is at least one revolution away
