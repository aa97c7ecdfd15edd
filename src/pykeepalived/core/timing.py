"""VRRP timer arithmetic (RFC 3768 / RFC 5798 as keepalived computes it, `include/vrrp.h`).

keepalived keeps every interval in integer microseconds and divides with truncation; doing
the same here makes our skew and master-down times identical to its, to the microsecond.
The public helpers return microseconds; `seconds()` converts for the callers' clocks.
"""

from __future__ import annotations

TIMER_HZ = 1_000_000          # microseconds per second
CENTI_HZ = TIMER_HZ // 100    # microseconds per VRRPv3 wire unit


def to_us(seconds: float) -> int:
    """Seconds (float) to integer microseconds, rounded to the nearest."""
    return round(seconds * TIMER_HZ)


def seconds(us: int) -> float:
    return us / TIMER_HZ


def skew_us(version: int, priority: int, master_adver_int_us: int) -> int:
    """Skew_Time: v2 (256-P)/256 s whatever the interval; v3 (256-P) * interval / 256."""
    if version == 3:
        return (256 - priority) * master_adver_int_us // 256
    return (256 - priority) * TIMER_HZ // 256


def master_down_us(version: int, priority: int, master_adver_int_us: int, down_timer_adverts: int = 3) -> int:
    """Master_Down_Interval = down_timer_adverts * Master_Adver_Interval + Skew_Time."""
    return down_timer_adverts * master_adver_int_us + skew_us(version, priority, master_adver_int_us)


def wire_adver_int(version: int, interval_s: float) -> int:
    """The advert's interval field: seconds for v2, centiseconds for v3."""
    return round(interval_s) if version == 2 else round(interval_s * 100)


def adver_int_us_from_wire(version: int, value: int) -> int:
    """Microseconds from the advert's interval field (v3 uses the low 12 bits)."""
    return value * TIMER_HZ if version == 2 else (value & 0x0FFF) * CENTI_HZ
