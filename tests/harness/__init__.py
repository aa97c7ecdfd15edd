"""Test harness: hosts in network namespaces, daemons in them, captures, packet loss, cleanup.

    from harness import Lab, wait_until

    with Lab() as lab:                       # or the `lab` pytest fixture
        r1, r2 = lab.add_hosts("r1", "r2")   # eth0 = 192.0.2.11 / .12, 2001:db8:0::11 / ::12
        assert r1.ping(r2.ip)
        cap = lab.capture()                  # tcpdump on the bridge
        ka = r1.keepalived(CONF)             # real keepalived 2.2.7 (implementation="pykeepalived" for ours)
        ka.wait_state("VI_1", "MASTER")
        r2.drop("ip protocol vrrp")          # nftables in r2 only; percent=30 for random loss
        adverts = [f.vrrp for f in cap.stop() if f.vrrp]

Drops and random loss only: this kernel has neither sch_netem nor nft_queue, so there is no delay
on the real kernel; delay and reordering scenarios belong to the simulated LAN (tests/core/lan.py).
"""

from harness.daemon import VrrpDaemon, keepalived_path
from harness.golden import GoldenCase, golden_cases
from harness.lab import (
    LAN_V4,
    PREFIX,
    Capture,
    HarnessError,
    Host,
    Lab,
    Proc,
    cleanup_stale,
    is_root,
    missing_tools,
    our_namespaces,
    private_netns,
)
from harness.pcap import Arp, Frame, NeighborAdvert, Vrrp, parse_ethernet, read_pcap, vrrp_frames
from harness.wait import wait_until

__all__ = [
    "LAN_V4", "PREFIX", "Arp", "Capture", "Frame", "GoldenCase", "golden_cases", "HarnessError", "Host", "Lab", "NeighborAdvert", "Proc",
    "Vrrp", "VrrpDaemon", "cleanup_stale", "is_root", "keepalived_path", "missing_tools", "our_namespaces", "private_netns",
    "parse_ethernet", "read_pcap", "vrrp_frames", "wait_until",
]
