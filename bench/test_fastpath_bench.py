"""Fast-path micro benchmarks, compiled ("c") and pure ("py") side by side in one run.

    .venv/bin/pytest bench/test_fastpath_bench.py --benchmark-timer=time.process_time \
        --benchmark-warmup=on --benchmark-group-by=group --benchmark-columns=min,median,mean,ops

(process CPU time keeps the figures stable on a shared machine.)

Targets (issue 2): decode+validate of a 1-address advert and encode+checksum each <= 300 ns
compiled and >= 10x faster than pure. Figures go to bench/RESULTS.md (fast path section).
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from pykeepalived import _fastpath

pytest.importorskip("pytest_benchmark")

SRC = bytes((192, 0, 2, 1))
DST = bytes((224, 0, 0, 18))
ADDRS = {n: [bytes((10, 0, i // 256, i % 256)) for i in range(n)] for n in (1, 10, 100)}


def _twin(kind: str) -> SimpleNamespace:
    loader = _fastpath.pure if kind == "py" else _fastpath.compiled
    try:
        return SimpleNamespace(**{name: loader(name) for name in _fastpath.MODULES})
    except ImportError as exc:
        pytest.skip(f"compiled fast path not built ({exc})")


@pytest.fixture(params=["c", "py"])
def fp(request: pytest.FixtureRequest) -> SimpleNamespace:
    return _twin(request.param)


@pytest.mark.parametrize("size", [20, 1500])
def test_internet_checksum(benchmark, fp, size):
    benchmark.group = f"checksum {size} B"
    data = random.Random(size).randbytes(size)
    assert benchmark(fp.checksum.internet_checksum, data) == _twin("py").checksum.internet_checksum(data)


def test_vrrp_checksum_v3(benchmark, fp):
    benchmark.group = "vrrp_checksum v3 pseudo-header"
    msg = fp.codec.encode_advert(3, 1, 100, 100, ADDRS[1], 2, SRC, DST)
    assert benchmark(fp.checksum.vrrp_checksum, msg, 3, SRC, DST) == int.from_bytes(msg[6:8], "big")


@pytest.mark.parametrize("count", [1, 10, 100])
def test_encode(benchmark, fp, count):
    benchmark.group = f"encode+checksum v3 {count} addr"
    addrs = ADDRS[count]
    wire = benchmark(fp.codec.encode_advert, 3, 51, 110, 100, addrs, 2, SRC, DST)
    assert len(wire) == 8 + 4 * count


def test_encode_v2(benchmark, fp):
    benchmark.group = "encode+checksum v2 1 addr PASS"
    wire = benchmark(fp.codec.encode_advert, 2, 51, 110, 1, ADDRS[1], 2, b"", b"", 1, b"secret")
    assert len(wire) == 20


@pytest.mark.parametrize("count", [1, 10, 100])
def test_decode(benchmark, fp, count):
    benchmark.group = f"decode+validate v3 {count} addr"
    wire = fp.codec.encode_advert(3, 51, 110, 100, ADDRS[count], 2, SRC, DST)
    advert, reason = benchmark(fp.codec.decode_advert, wire, 2, SRC, DST)
    assert reason == 0 and advert.count == count


def test_decode_v2(benchmark, fp):
    benchmark.group = "decode+validate v2 1 addr PASS"
    wire = fp.codec.encode_advert(2, 51, 110, 1, ADDRS[1], 2, b"", b"", 1, b"secret")
    advert, reason = benchmark(fp.codec.decode_advert, wire, 2, SRC, DST)
    assert reason == 0 and advert.auth_data == b"secret\0\0"


def test_decode_reject(benchmark, fp):
    benchmark.group = "decode bad checksum (rejected)"
    wire = bytearray(fp.codec.encode_advert(3, 51, 110, 100, ADDRS[1], 2, SRC, DST))
    wire[7] ^= 1
    wire = bytes(wire)
    assert benchmark(fp.codec.decode_advert, wire, 2, SRC, DST) == (None, 4)


def test_patch_priority(benchmark, fp):
    benchmark.group = "patch_priority (prebuilt advert)"
    buf = bytearray(20) + bytearray(fp.codec.encode_advert(3, 51, 110, 100, ADDRS[1], 2, SRC, DST))
    benchmark(fp.codec.patch_priority, buf, 120, 20)
    assert buf[22] == 120


def test_patch_checksum(benchmark, fp):
    benchmark.group = "patch_checksum (unicast peer)"
    buf = bytearray(20) + bytearray(fp.codec.encode_advert(3, 51, 110, 100, ADDRS[1], 2, SRC, DST))
    peer = bytes((192, 0, 2, 77))
    benchmark(fp.codec.patch_checksum, buf, 12, 3, SRC, peer, False, 20)
    assert bytes(buf[20:]) == fp.codec.encode_advert(3, 51, 110, 100, ADDRS[1], 2, SRC, peer)


def _loaded_wheel(fp: SimpleNamespace, n: int = 4000) -> object:
    wheel = fp.wheel.TimerWheel()
    rng = random.Random(4)
    for i in range(n):
        wheel.schedule(i, 1000.0 + rng.uniform(0, 3.6))
    return wheel


def test_wheel_reschedule(benchmark, fp):
    benchmark.group = "wheel reschedule (4000 ids)"
    wheel = _loaded_wheel(fp)
    benchmark(wheel.schedule, 1234, 1001.5)
    assert len(wheel) == 4000


def test_wheel_cancel_schedule(benchmark, fp):
    benchmark.group = "wheel cancel+schedule (4000 ids)"
    wheel = _loaded_wheel(fp)

    def op() -> None:
        wheel.cancel(77)
        wheel.schedule(77, 1002.0)

    benchmark(op)
    assert len(wheel) == 4000


def test_wheel_tick(benchmark, fp):
    """One 1 ms tick of a 4000-instance router at 1 s adverts: advance, re-arm the ~4 expired, next_deadline."""
    benchmark.group = "wheel 1 ms tick (4000 ids, 1 s period)"
    wheel = fp.wheel.TimerWheel()
    for i in range(4000):
        wheel.schedule(i, 1000.0 + i / 4000)
    now = [1000.0]

    def tick() -> None:
        now[0] += 0.001
        t = now[0]
        for ident in wheel.advance(t):
            wheel.schedule(ident, t + 1.0)
        wheel.next_deadline()

    benchmark(tick)
    assert len(wheel) == 4000


def test_wheel_next_deadline_after_expiry(benchmark, fp):
    """The earliest id leaves (cancel) and the new minimum is searched: 4000 ids over the next second."""
    benchmark.group = "wheel cancel earliest+next_deadline+re-add (4000 ids)"
    wheel = fp.wheel.TimerWheel()
    for i in range(4000):
        wheel.schedule(i, 1000.0 + (i + 1) / 4000)
    wheel.advance(1000.0)

    def op() -> None:
        wheel.cancel(0)
        wheel.next_deadline()
        wheel.schedule(0, 1000.00025)

    benchmark(op)
    assert wheel.next_deadline() == 1000.00025
