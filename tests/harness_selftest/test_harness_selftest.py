"""The namespace harness itself: connectivity, nftables, captures, daemons, and above all cleanup."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import (
    PREFIX,
    Lab,
    cleanup_stale,
    golden_cases,
    our_namespaces,
    parse_ethernet,
    private_netns,
    read_pcap,
    vrrp_frames,
    wait_until,
)

TESTS_DIR = Path(__file__).resolve().parent.parent


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def received(host_ping_output: str) -> int:
    # "40 packets transmitted, 17 received, ..."
    return int(host_ping_output.split(" received")[0].rsplit(",", 1)[1])


# ---------------------------------------------------------------- pure parsing (no root needed)


def write_pcap(path: Path, frames: list[tuple[int, bytes]], *, nano: bool, big_endian: bool) -> None:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for ts_ns, raw in frames:
        frac = ts_ns % 1_000_000_000 if nano else (ts_ns % 1_000_000_000) // 1000
        out += struct.pack(e + "IIII", ts_ns // 1_000_000_000, frac, len(raw), len(raw)) + raw
    path.write_bytes(out + b"\x00" * 10)  # a truncated trailing record, as from a killed tcpdump


@pytest.mark.parametrize("nano", [True, False])
@pytest.mark.parametrize("big_endian", [True, False])
def test_pcap_reader_reads_both_precisions_and_byte_orders(tmp_path: Path, nano: bool, big_endian: bool) -> None:
    garp = golden_cases("garp")[0]
    path = tmp_path / "x.pcap"
    write_pcap(path, [(1_700_000_000_123_456_789, garp.data), (1_700_000_001_000_001_000, garp.data)],
               nano=nano, big_endian=big_endian)
    frames = read_pcap(path)
    assert len(frames) == 2
    assert frames[0].ts_ns == (1_700_000_000_123_456_789 if nano else 1_700_000_000_123_456_000)
    assert frames[1].ts_ns - frames[0].ts_ns == (876_544_211 if nano else 876_545_000)
    assert frames[0].arp is not None and frames[0].arp.sender_ip == garp.fields["sender_ip"]


def test_golden_frames_decode_to_their_recorded_fields() -> None:
    for case in golden_cases("garp") + golden_cases("na"):
        f = parse_ethernet(case.data)
        assert (f.src_mac, f.dst_mac) == (case.fields["src_mac"], case.fields["dst_mac"])
        decoded = f.arp if case.kind == "garp" else f.na
        assert decoded is not None
        for key in ("op", "sender_ip", "target_mac", "target", "override", "router", "target_mac"):
            if key in case.fields:
                assert getattr(decoded, key) == case.fields[key], (case.name, key)


def test_golden_adverts_decode_to_their_recorded_fields() -> None:
    from harness.pcap import Vrrp

    cases = golden_cases("vrrp")
    assert {c.fields["version"] for c in cases} == {2, 3} and {c.fields["family"] for c in cases} == {4, 6}
    for case in cases:
        v = Vrrp.parse(case.data, case.fields["family"])
        for key in ("version", "type", "vrid", "priority", "count", "auth_type", "adver_int", "checksum"):
            assert getattr(v, key) == case.fields[key], (case.name, key)
        assert list(v.addresses) == case.fields["addresses"]
        assert v.auth_data.hex() == case.fields["auth_data"]


# ---------------------------------------------------------------- namespaces (root)


@pytest.mark.privileged
def test_two_hosts_ping_each_other_over_ipv4_and_ipv6(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    assert a.ip == "192.0.2.11" and b.ip6 == "2001:db8:0::12"
    assert a.ping(b.ip) and b.ping(a.ip)
    assert a.ping(b.ip6) and b.ping(a.link_local() + "%eth0")
    assert a.neigh(b.ip) == b.mac()


@pytest.mark.privileged
def test_nothing_is_added_to_the_root_namespace(lab: Lab) -> None:
    before = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.count("\n")
    lab.add_hosts("a", "b")
    lab.add_lan()
    after = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.count("\n")
    assert after == before
    assert all(ns.startswith(lab.tag) for ns in lab.namespaces())


@pytest.mark.privileged
def test_drop_rule_stops_traffic_and_undrop_restores_it(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    assert a.ping(b.ip)
    b.drop("ip protocol icmp", hook="input")
    assert not a.ping(b.ip, timeout=1)
    assert a.ping(b.ip6)  # only what matched is dropped
    b.undrop()
    assert a.ping(b.ip)
    a.drop(hook="arp-output")
    a.run(["ip", "neigh", "flush", "all"])
    assert not a.ping(b.ip, timeout=1)


@pytest.mark.privileged
def test_random_loss_drops_some_packets_but_not_all(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    b.drop("ip protocol icmp", percent=50)
    out = a.run(["ping", "-n", "-q", "-c", "60", "-i", "0.005", "-W", "1", b.ip], check=False).stdout
    assert 5 < received(out) < 55  # P(outside) under 1e-10 with 60 fair coins


@pytest.mark.privileged
def test_second_lan_gives_hosts_a_second_interface(lab: Lab) -> None:
    lan1 = lab.add_lan()
    a = lab.add_host("a", lans=(0, lan1))
    b = lab.add_host("b", lans=(lan1,))
    assert a.has_address("198.51.100.11", "eth1") and b.has_address("198.51.100.12", "eth0")
    assert a.ping(b.addr4(1))
    a.set_link(False, "eth1")
    assert not a.ping(b.addr4(1), timeout=1)


@pytest.mark.privileged
def test_capture_on_the_bridge_sees_every_host_with_kernel_timestamps(lab: Lab) -> None:
    a, b = lab.add_hosts("a", "b")
    cap = lab.capture(bpf="icmp")
    a.run(["ping", "-n", "-q", "-c", "3", "-i", "0.2", b.ip])
    frames = cap.stop()
    requests = [f for f in frames if f.src == a.ip and f.payload[0] == 8]
    replies = [f for f in frames if f.src == b.ip and f.payload[0] == 0]
    assert len(requests) == 3 and len(replies) == 3
    gaps = [y.ts - x.ts for x, y in zip(requests, requests[1:], strict=False)]
    assert all(0.15 < g < 1.0 for g in gaps), gaps   # -i 0.2; late on a loaded machine, never early


@pytest.mark.privileged
def test_teardown_stops_processes_and_removes_namespaces(tmp_path: Path) -> None:
    lab = Lab(workdir=tmp_path)
    a = lab.add_host("a")
    # a process that ignores SIGTERM and puts a child in its own session: close() still gets both
    p = a.spawn(["sh", "-c", "trap '' TERM; setsid sleep 1000 & echo $!; wait"], name="stubborn")
    child = int(p.wait_output(r"^\d+$").group(0))
    names = lab.namespaces()
    lab.close()
    assert not p.alive and not pid_alive(child)
    assert not set(names) & set(our_namespaces())
    lab.close()  # twice is fine


@pytest.mark.privileged
def test_teardown_happens_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError), Lab() as lab:
        lab.add_host("a")
        names = lab.namespaces()
        raise RuntimeError("test body failed")
    assert not set(names) & set(our_namespaces())


SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from harness import Lab
    lab = Lab()
    lab.add_host("a").spawn(["sleep", "1000"])
    print(" ".join(lab.namespaces()), flush=True)
    time.sleep(60)
""")


@pytest.mark.privileged
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_test_process_still_cleans_up(sig: signal.Signals) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(tests=str(TESTS_DIR))], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    names = proc.stdout.readline().split()
    assert len(names) == 2 and all(n.startswith(PREFIX) for n in names)
    proc.send_signal(sig)
    proc.wait(15)
    assert not set(names) & set(our_namespaces())


@pytest.mark.privileged
def test_cleanup_stale_removes_labs_of_dead_processes_only(lab: Lab) -> None:
    lab.add_host("mine")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(tests=str(TESTS_DIR))], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    names = proc.stdout.readline().split()
    proc.kill()  # SIGKILL: no handler runs, the namespaces are left behind
    proc.wait(5)
    assert set(names) <= set(our_namespaces())
    removed = cleanup_stale()
    assert set(names) <= set(removed)
    assert not set(names) & set(our_namespaces())
    assert set(lab.namespaces()) <= set(our_namespaces())  # a live lab is left alone


PRIVATE_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from harness import private_netns
    with private_netns("solo") as ns:
        print(ns, flush=True)
        time.sleep(60)
""")


@pytest.mark.privileged
def test_private_netns_is_removed_on_failure_signal_and_kill() -> None:
    """A bare namespace (the config and IPVS tests' kind) goes away when the test fails, when its
    process is signalled, and, after a SIGKILL, at the next cleanup_stale() (the cfgt* namespaces
    of a killed run used to stay for ever)."""
    with pytest.raises(RuntimeError), private_netns("fail") as ns:
        assert ns in our_namespaces()
        raise RuntimeError("the test failed")
    assert ns not in our_namespaces()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        proc = subprocess.Popen([sys.executable, "-c", PRIVATE_SCRIPT.format(tests=str(TESTS_DIR))],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        name = proc.stdout.readline().strip()
        assert name in our_namespaces()
        proc.send_signal(sig)
        proc.wait(10)
        if sig == signal.SIGKILL:          # no handler ran: left for the next session's clean-up
            assert name in cleanup_stale()
        assert name not in our_namespaces()


# ---------------------------------------------------------------- real keepalived


CONF = """
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 42
    priority 150
    advert_int 1
    virtual_ipaddress { 192.0.2.100/24 }
}
"""


@pytest.mark.privileged
@pytest.mark.interop
def test_keepalived_runs_in_a_host_and_its_adverts_are_captured(lab: Lab) -> None:
    r1, client = lab.add_hosts("r1", "client")
    cap = lab.capture()
    ka = r1.keepalived(CONF)
    ka.wait_state("VI_1", "MASTER", timeout=10)
    wait_until(lambda: r1.has_address("192.0.2.100"), 5, message="VIP on r1")
    assert client.ping("192.0.2.100") and client.neigh("192.0.2.100") == r1.mac()
    time.sleep(2.2)
    vrrp_pid = ka.vrrp_pid()
    assert vrrp_pid is not None and pid_alive(vrrp_pid)
    ka.stop()
    assert not pid_alive(vrrp_pid)
    frames = cap.stop()
    adverts = vrrp_frames(frames, vrid=42, src=r1.ip)
    live = [f for f in adverts if f.vrrp and f.vrrp.priority == 150]
    assert len(live) >= 2
    v = live[0].vrrp
    assert v is not None and (v.version, v.adver_int, v.addresses) == (2, 1, ("192.0.2.100",))
    assert live[0].dst == "224.0.0.18" and live[0].ttl == 255
    gaps = [b.ts - a.ts for a, b in zip(live, live[1:], strict=False)]
    assert all(0.9 < g < 1.5 for g in gaps), gaps   # advert_int 1; late on a loaded machine, never early
    assert adverts[-1].vrrp is not None and adverts[-1].vrrp.priority == 0  # SIGTERM: priority 0 last
    garps = [f for f in frames if f.arp and f.arp.sender_ip == "192.0.2.100" and f.src_mac == r1.mac()]
    assert garps


def test_without_root_privileged_tests_skip_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.fixtures import privileged_skip_reason
    from harness.lab import HarnessError

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    reason = privileged_skip_reason()
    assert reason is not None and "root" in reason
    with pytest.raises(HarnessError, match="root"):
        Lab()
