"""Timer arithmetic matches keepalived's integer-microsecond formulas (include/vrrp.h)."""

from __future__ import annotations

from pykeepalived.core import timing


def test_v2_skew_ignores_the_interval() -> None:
    """v2 Skew_Time is (256 - P)/256 s whatever the advert interval."""
    assert timing.skew_us(2, 100, 1_000_000) == 609_375
    assert timing.skew_us(2, 100, 5_000_000) == 609_375


def test_v3_skew_scales_with_the_master_interval() -> None:
    """v3 Skew_Time is (256 - P) * Master_Adver_Interval / 256, truncated like keepalived."""
    assert timing.skew_us(3, 100, 1_000_000) == 609_375
    assert timing.skew_us(3, 100, 100_000) == 60_937
    assert timing.skew_us(3, 200, 10_000) == 2_187


def test_master_down_interval() -> None:
    """Master_Down = down_timer_adverts * interval + skew; measured 3.609 s for prio 100 at 1 s."""
    assert timing.master_down_us(2, 100, 1_000_000) == 3_609_375
    assert timing.master_down_us(3, 255, 1_000_000) == 3_003_906
    assert timing.master_down_us(3, 100, 1_000_000, down_timer_adverts=5) == 5_609_375


def test_wire_interval_units() -> None:
    """The advert carries seconds in v2 and centiseconds (12 bits) in v3."""
    assert timing.wire_adver_int(2, 3.0) == 3
    assert timing.wire_adver_int(3, 0.01) == 1
    assert timing.adver_int_us_from_wire(2, 3) == 3_000_000
    assert timing.adver_int_us_from_wire(3, 0xF00A) == 100_000
