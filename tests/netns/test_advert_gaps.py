"""The VRRP process's send-gap histogram (AdvertSender.gap_histogram) in its status snapshot
and in the Prometheus rendering, from a real master in a namespace."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from vrrp_pair import CELLS, start

from harness.lab import Lab
from harness.wait import wait_until
from pykeepalived.status.channel import channel_path, fetch_snapshot
from pykeepalived.status.metrics import render_metrics

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(60)]

CELL = CELLS["v3-100ms"]


def test_advert_gaps_in_snapshot_and_metrics(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    d = start(a, "py", CELL.config(a, b, 150))
    d.wait_state("VI_1", "MASTER", timeout=10)
    path = channel_path(str(d.vrrp_pid_file))

    def gaps() -> dict[str, object] | None:
        snap = asyncio.run(fetch_snapshot(path))
        g = snap.get("advert_gaps")
        return g if g and g["count"] >= 5 else None   # type: ignore[index,operator]

    g = wait_until(gaps, 10, message="5 advert gaps counted")
    buckets, count, total = g["buckets"], g["count"], g["sum"]
    assert buckets[-1] == ["+Inf", count]
    cumulative = [c for _, c in buckets]
    assert cumulative == sorted(cumulative)           # cumulative, never decreasing
    assert 0.5 < total / count < 2.0                  # ratios to the interval, not seconds
    time.sleep(0.3)
    later = asyncio.run(fetch_snapshot(path))
    assert later["advert_gaps"]["count"] > count      # live, not a copy taken at start
    text = render_metrics({"daemon": {}, "children": {"vrrp": later}}).decode()
    metrics = {m.name: m for m in text_string_to_metric_families(text)}
    family = metrics["pykeepalived_advert_send_gap_ratio"]
    rendered = {s.labels.get("le"): s.value for s in family.samples if s.name.endswith("_bucket")}
    assert rendered["+Inf"] == later["advert_gaps"]["count"]
