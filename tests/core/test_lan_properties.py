"""Randomised LAN runs (hypothesis): whatever the start times, priorities, loss and partitions,
once the link is clean the highest priority router is the only MASTER."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pykeepalived.core.params import RouterParams, VipSpec

from .lan import Lan

VIP = (VipSpec("192.168.77.100"),)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(2, 4))
    prios = draw(st.lists(st.integers(1, 254), min_size=n, max_size=n, unique=True))
    version = draw(st.sampled_from([2, 3]))
    interval = 1.0 if version == 2 else draw(st.sampled_from([0.05, 0.1, 1.0]))
    starts = draw(st.lists(st.floats(0, 10 * interval), min_size=n, max_size=n))
    outage = draw(st.tuples(st.floats(0, 20 * interval), st.floats(0, 20 * interval)))
    split = draw(st.integers(1, n - 1))
    return dict(prios=prios, version=version, interval=interval, starts=starts, outage=outage, split=split)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_highest_priority_ends_as_the_only_master(sc: dict[str, object]) -> None:
    """After a partition plus random loss heals, exactly one MASTER remains: the best one."""
    prios: list[int] = sc["prios"]  # type: ignore[assignment]
    interval: float = sc["interval"]  # type: ignore[assignment]
    starts: list[float] = sc["starts"]  # type: ignore[assignment]
    begin, length = sc["outage"]  # type: ignore[misc]
    lan = Lan(delay=0.0005)
    names = [f"r{i}" for i in range(len(prios))]
    for i, (name, prio) in enumerate(zip(names, prios, strict=True)):
        lan.add(name, f"192.168.77.{i + 1}", RouterParams(name="VI_1", vrid=51, priority=prio,
                                                          version=sc["version"], advert_int=interval,  # type: ignore[arg-type]
                                                          vips=VIP))
        lan.start(name, when=starts[i])
    split: int = sc["split"]  # type: ignore[assignment]
    lan.run_until(begin)
    lan.partition(set(names[:split]), set(names[split:]))
    lan.drop_rules.append(lambda s, d, w: begin <= w.time < begin + length and int(w.time * 1000) % 3 == 0)
    lan.run_until(begin + length)
    lan.heal()
    lan.run_for(20 * interval + 5)
    best = names[prios.index(max(prios))]
    assert lan.masters() == [best]
    # and it stays that way: no flapping on a clean link
    flips = {n: len(lan[n].states) for n in names}
    lan.run_for(50 * interval)
    assert {n: len(lan[n].states) for n in names} == flips
