# cython: language_level=3
"""Hashed timer wheel: one deadline per integer id, compiled.

Twin of ``wheel_py`` (see there for the contract): same names, same results. Entries live in
one C array (intrusive doubly linked bucket lists, a free list for reuse); a dict maps ids to
entries. schedule/cancel are O(1); advance visits only the buckets of the ticks that passed.
"""

from libc.math cimport floor, isfinite
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF

cdef double _MAX_TICK = 4611686018427387904.0  # 2**62, as in wheel_py


cdef struct Entry:
    int64_t ident
    double deadline
    int64_t tick       # the tick whose bucket holds the entry
    Py_ssize_t prev    # bucket list links; prev == -2 marks a free entry
    Py_ssize_t next


cdef struct Due:
    double deadline
    int64_t ident


cdef int _cmp_due(const void* a, const void* b) noexcept nogil:
    cdef const Due* x = <const Due*>a
    cdef const Due* y = <const Due*>b
    if x.deadline < y.deadline:
        return -1
    if x.deadline > y.deadline:
        return 1
    return (x.ident > y.ident) - (x.ident < y.ident)


cdef class TimerWheel:
    """One deadline per id; ``schedule`` (re)arms, ``cancel`` disarms, ``advance`` fires."""

    cdef Entry* _entries
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _free            # head of the free list (via next), -1 if none
    cdef Py_ssize_t* _heads          # bucket heads, -1 if empty
    cdef Py_ssize_t _nslots
    cdef int64_t _mask
    cdef double _tps
    cdef int64_t _cursor             # first tick not yet fully expired
    cdef bint _has_cursor
    cdef dict _index                 # id -> entry index
    cdef double _min
    cdef bint _min_valid
    cdef Due* _due                   # scratch for advance
    cdef Py_ssize_t _due_cap

    def __cinit__(self, Py_ssize_t slots=4096, long ticks_per_second=1000):
        if slots < 1 or slots & (slots - 1):
            raise ValueError(f"slots must be a power of two, got {slots}")
        if ticks_per_second < 1:
            raise ValueError(f"ticks_per_second must be positive, got {ticks_per_second}")
        self._heads = <Py_ssize_t*>malloc(slots * sizeof(Py_ssize_t))
        if self._heads == NULL:
            raise MemoryError()
        cdef Py_ssize_t i
        for i in range(slots):
            self._heads[i] = -1
        self._nslots = slots
        self._mask = slots - 1
        self._tps = <double>ticks_per_second
        self._entries = NULL
        self._cap = 0
        self._free = -1
        self._has_cursor = False
        self._index = {}
        self._min = 0.0
        self._min_valid = True
        self._due = NULL
        self._due_cap = 0

    def __dealloc__(self):
        free(self._heads)
        free(self._entries)
        free(self._due)

    def __len__(self):
        return len(self._index)

    def __contains__(self, ident):
        return ident in self._index

    def deadline(self, ident):
        """The id's deadline, or None when it is not scheduled."""
        idx = self._index.get(ident)
        if idx is None:
            return None
        return self._entries[<Py_ssize_t>idx].deadline

    cdef int64_t _tick_of(self, double deadline) except? -1:
        cdef double scaled = deadline * self._tps
        if not isfinite(scaled) or not (-_MAX_TICK < scaled < _MAX_TICK):
            raise ValueError(f"deadline {deadline} is not a finite time the wheel can hold")
        return <int64_t>floor(scaled)

    cdef Py_ssize_t _alloc(self) except -1:
        cdef Py_ssize_t i, new_cap
        cdef Entry* grown
        if self._free < 0:
            new_cap = self._cap * 2 if self._cap else 64
            grown = <Entry*>realloc(self._entries, new_cap * sizeof(Entry))
            if grown == NULL:
                raise MemoryError()
            self._entries = grown
            for i in range(new_cap - 1, self._cap - 1, -1):
                grown[i].prev = -2
                grown[i].next = self._free
                self._free = i
            self._cap = new_cap
        i = self._free
        self._free = self._entries[i].next
        return i

    cdef inline void _unlink(self, Py_ssize_t i) noexcept:
        cdef Entry* e = &self._entries[i]
        if e.prev >= 0:
            self._entries[e.prev].next = e.next
        else:
            self._heads[e.tick & self._mask] = e.next
        if e.next >= 0:
            self._entries[e.next].prev = e.prev
        e.prev = -2
        e.next = self._free
        self._free = i

    def schedule(self, ident, double deadline):
        """Arm ``ident`` to fire at ``deadline``, replacing any earlier deadline it had."""
        if not isinstance(ident, int):
            raise TypeError(f"timer id must be an int, not {type(ident).__name__}")
        cdef int64_t cident = ident  # OverflowError beyond 64 bits, as in wheel_py
        cdef int64_t tick = self._tick_of(deadline)
        cdef Py_ssize_t i
        cdef object key = cident  # a plain int for the dict, as advance() returns
        idx = self._index.get(key)
        if idx is not None:
            i = idx
            if self._entries[i].deadline <= self._min:
                self._min_valid = False
            self._unlink(i)
        if not self._has_cursor or tick < self._cursor:
            # Behind the cursor: move the cursor back so the next advance visits this bucket.
            self._cursor = tick
            self._has_cursor = True
        i = self._alloc()
        cdef Entry* e = &self._entries[i]
        e.ident = cident
        e.deadline = deadline
        e.tick = tick
        e.prev = -1
        cdef Py_ssize_t slot = tick & self._mask
        e.next = self._heads[slot]
        if e.next >= 0:
            self._entries[e.next].prev = i
        self._heads[slot] = i
        if idx is None or idx != i:
            self._index[key] = i
        if self._min_valid and (len(self._index) == 1 or deadline < self._min):
            self._min = deadline

    def cancel(self, ident):
        """Disarm ``ident``; False if it was not scheduled."""
        idx = self._index.pop(ident, None)
        if idx is None:
            return False
        cdef Py_ssize_t i = idx
        if self._entries[i].deadline <= self._min:
            self._min_valid = False
        self._unlink(i)
        return True

    def clear(self):
        cdef Py_ssize_t i
        for i in range(self._nslots):
            self._heads[i] = -1
        self._free = -1
        for i in range(self._cap - 1, -1, -1):
            self._entries[i].prev = -2
            self._entries[i].next = self._free
            self._free = i
        self._index.clear()
        self._min_valid = True

    cdef int _push_due(self, Py_ssize_t n, double deadline, int64_t ident) except -1:
        cdef Due* grown
        if n >= self._due_cap:
            grown = <Due*>realloc(self._due, (self._due_cap * 2 + 16) * sizeof(Due))
            if grown == NULL:
                raise MemoryError()
            self._due = grown
            self._due_cap = self._due_cap * 2 + 16
        self._due[n].deadline = deadline
        self._due[n].ident = ident
        return 0

    def advance(self, double now):
        """Remove and return every id whose deadline is <= ``now``, ordered by (deadline, id)."""
        cdef int64_t now_tick = self._tick_of(now)
        if not self._has_cursor or not self._index:
            if not self._has_cursor or now_tick > self._cursor:
                self._cursor = now_tick
                self._has_cursor = True
            return []
        cdef int64_t first = self._cursor
        cdef int64_t last
        if now_tick < first:
            return []  # every entry's tick is >= the cursor, so every deadline is > now
        elif now_tick - first >= self._nslots:
            last = first + self._nslots - 1
        else:
            last = now_tick
        cdef Py_ssize_t n = 0, i, nxt
        cdef int64_t tick
        cdef Entry* e
        tick = first
        while tick <= last:
            i = self._heads[tick & self._mask]
            while i >= 0:
                e = &self._entries[i]
                nxt = e.next
                if e.deadline <= now:
                    self._push_due(n, e.deadline, e.ident)
                    n += 1
                    self._unlink(i)
                i = nxt
            tick += 1
        if now_tick > first:
            self._cursor = now_tick
        if n == 0:
            return []
        self._min_valid = False
        qsort(self._due, n, sizeof(Due), _cmp_due)
        cdef list out = PyList_New(n)
        cdef dict index = self._index
        cdef object key
        for i in range(n):
            key = self._due[i].ident
            del index[key]
            Py_INCREF(key)
            PyList_SET_ITEM(out, i, key)
        return out

    def next_deadline(self):
        """The earliest deadline, or None when nothing is scheduled."""
        if not self._index:
            return None
        if not self._min_valid:
            self._min = self._find_min()
            self._min_valid = True
        return self._min

    cdef double _find_min(self) noexcept:
        # Walk ticks from the cursor: the first bucket holding an entry of this round holds the
        # minimum (every entry's tick is >= the cursor, and deadlines grow with ticks).
        # Entries of later rounds share buckets; they are skipped by comparing ticks.
        cdef int64_t tick = self._cursor
        cdef Py_ssize_t i
        cdef bint found = False
        cdef double best = 0.0
        cdef Entry* e
        while tick < self._cursor + self._nslots:
            i = self._heads[tick & self._mask]
            while i >= 0:
                e = &self._entries[i]
                if e.tick == tick and (not found or e.deadline < best):
                    best = e.deadline
                    found = True
                i = e.next
            if found:
                return best
            tick += 1
        for i in range(self._cap):  # everything is at least one revolution away
            e = &self._entries[i]
            if e.prev != -2 and (not found or e.deadline < best):
                best = e.deadline
                found = True
        return best
