"""AH authentication failures (found by io/ipsec_ah) are logged every time, as keepalived
2.2.7 does (vrrp_in_chk_ipsecah logs each packet), and counted as auth_failure."""

from __future__ import annotations

import logging

import pytest

from pykeepalived.core.events import AdvertRejected, RejectReason
from pykeepalived.io.ipsec_ah import BAD_ICV

from .helpers import PEER, backup, packed


def test_every_ah_failure_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    r = backup()
    with caplog.at_level(logging.INFO, logger="pykeepalived.core.vrrp"):
        for t in (1.0, 2.0, 3.0):
            r.handle(AdvertRejected(RejectReason.AH_ICV, packed(PEER), BAD_ICV), t)
        r.handle(AdvertRejected(RejectReason.AH_ICV, packed(PEER),
                                "IPSEC-AH : sequence number 4 already processed. Packet dropped. Local(9)"), 4.0)
    lines = [rec.getMessage() for rec in caplog.records]
    assert lines == [f"(VI_1) {BAD_ICV}"] * 3 + [
        "(VI_1) IPSEC-AH : sequence number 4 already processed. Packet dropped. Local(9)"]
    assert r.stats.auth_failure == 4
    assert r.deadline() == pytest.approx(3 + 156 / 256)     # the down timer keeps running
