"""Delta debugging over a failing history's events: the shortest event list that still fails.

Events are absolute (set the script to failed, start r2, ...) and the runner treats one that does
not apply (start a running daemon, SIGCONT a running one) as a no-op, so any sub-list is a valid
history.  Each test is a full replay, so the number of replays is bounded.
"""

from __future__ import annotations

from collections.abc import Callable

from histories.model import Event, History


def shrink(history: History, failing_index: int, fails: Callable[[History], bool], *,
           max_runs: int = 30, log: Callable[[str], None] = print) -> History:
    """ddmin (complements only) over history.events[:failing_index + 1]."""
    events: list[Event] = list(history.events[:failing_index + 1])
    runs = 0

    def attempt(evs: list[Event]) -> bool:
        nonlocal runs
        runs += 1
        h = History(history.seed, history.cluster, evs)
        bad = fails(h)
        log(f"shrink run {runs}: {len(evs)} events -> {'fails' if bad else 'passes'}: "
            + " ".join(str(e) for e in evs))
        return bad

    if not events:
        return History(history.seed, history.cluster, [])
    # the cold start alone?
    if attempt([]):
        return History(history.seed, history.cluster, [])
    n = 2
    while len(events) >= 2 and runs < max_runs:
        size = -(-len(events) // n)
        reduced = False
        for start in range(0, len(events), size):
            complement = events[:start] + events[start + size:]
            if not complement or runs >= max_runs:
                continue
            if attempt(complement):
                events = complement
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if n >= len(events):
                break
            n = min(len(events), 2 * n)
    return History(history.seed, history.cluster, events)
