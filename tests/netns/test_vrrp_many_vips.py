"""More VIPs than an advert holds (issue 24, item 4): 300 IPv4 VIPs on a pair. The advert carries
255 (keepalived moves the rest to eVIPs); the backup used to expect all 300, rejected every
advert ("unexpected ip number count 255, expected 300") and both became MASTER. With 100 IPv6
VIPs the advert (1,608 bytes) went out as IPv6 fragments: keepalived holds 89 at MTU 1500."""

from __future__ import annotations

import re
import time

import pytest
from vrrp_pair import start

from harness.lab import Lab

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

N = 300
ADVERT_INT = 0.5  # master down ~1.7 s; the watch below is several of those


def config(priority: int) -> str:
    vips = "".join(f"        10.{(i >> 8) & 255}.{i & 255}.1/32\n" for i in range(1, N + 1))
    return ("vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 61\n"
            f"    priority {priority}\n    advert_int {ADVERT_INT}\n    version 3\n"
            f"    virtual_ipaddress {{\n{vips}    }}\n}}\n")


@pytest.mark.parametrize("hi_impl, lo_impl", [pytest.param("py", "py", id="py-py"),
                                              pytest.param("py", "ka", id="py-ka", marks=pytest.mark.interop),
                                              pytest.param("ka", "py", id="ka-py", marks=pytest.mark.interop)])
def test_300_vips_one_master(lab: Lab, hi_impl: str, lo_impl: str) -> None:
    a, b = lab.add_hosts("a", "b")
    da = start(a, hi_impl, config(150))
    da.wait_state("VI_1", "MASTER", timeout=20)
    db = start(b, lo_impl, config(100))
    db.wait_state("VI_1", "BACKUP", timeout=20)
    time.sleep(6 * ADVERT_INT + 3)  # > 3 master-down intervals with the master's adverts arriving
    assert not re.search(r"\(VI_1\) Entering MASTER STATE", db.log()), db.log()[-3000:]
    assert not re.search(r"unexpected ip number count|address list", db.log(), re.I), db.log()[-3000:]
    assert a.has_address("10.0.255.1") and not b.has_address("10.0.255.1")  # an advertised VIP
    assert a.has_address("10.1.44.1") and not b.has_address("10.1.44.1")    # the 300th: an eVIP now
    for d in (da, db):
        assert "exceeds maximum/space available in packet (max 255 addresses)" in d.log(), d.log()[-3000:]


def config6(priority: int) -> str:
    vips = "".join(f"        2001:db8:1::{i:x}/128\n" for i in range(1, 101))
    return ("vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    virtual_router_id 62\n"
            f"    priority {priority}\n    advert_int {ADVERT_INT}\n    version 3\n"
            f"    virtual_ipaddress {{\n        fe80::62/64\n{vips}    }}\n}}\n")


@pytest.mark.parametrize("hi_impl, lo_impl", [pytest.param("py", "py", id="py-py"),
                                              pytest.param("py", "ka", id="py-ka", marks=pytest.mark.interop),
                                              pytest.param("ka", "py", id="ka-py", marks=pytest.mark.interop)])
def test_101_ipv6_vips_one_master(lab: Lab, hi_impl: str, lo_impl: str) -> None:
    a, b = lab.add_hosts("a", "b")
    da = start(a, hi_impl, config6(150))
    da.wait_state("VI_1", "MASTER", timeout=20)
    db = start(b, lo_impl, config6(100))
    db.wait_state("VI_1", "BACKUP", timeout=20)
    time.sleep(6 * ADVERT_INT + 3)
    assert not re.search(r"\(VI_1\) Entering MASTER STATE", db.log()), db.log()[-3000:]
    assert a.has_address("2001:db8:1::58") and not b.has_address("2001:db8:1::58")  # the 89th VIP: advertised
    assert a.has_address("2001:db8:1::64") and not b.has_address("2001:db8:1::64")  # the 101st: an eVIP
    for d in (da, db):
        assert "exceeds maximum/space available in packet (max 89 addresses)" in d.log(), d.log()[-3000:]
