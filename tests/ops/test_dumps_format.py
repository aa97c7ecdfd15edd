"""Dump file layouts against files written by keepalived 2.2.7 (tests/ops/data/keepalived-2.2.7.*).

The reference files come from a lone 2.2.7 master (VI_1, vrid 51, priority 110, d0 with
192.168.77.1, VIP 192.168.77.100/24) after SIGUSR2 / SIGRTMIN+2 / SIGUSR1. The same
instance is built here as a real core VirtualRouter, driven to MASTER, given the same
counters, and formatted by status/dumps.py: the stats and JSON files must be byte-identical.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pykeepalived.config import load_text
from pykeepalived.core.events import DeadlineReached, Startup
from pykeepalived.core.params import RouterParams, VipSpec
from pykeepalived.core.vrrp import State, VirtualRouter
from pykeepalived.status import dumps

DATA = Path(__file__).parent / "data"
LAST_TRANSITION = 1795612617.117468   # the reference master's, as epoch seconds


def reference_master() -> VirtualRouter:
    params = RouterParams(name="VI_1", vrid=51, priority=110, interface="d0", source_address="192.168.77.1",
                          vips=(VipSpec("192.168.77.100", 24),))
    r = VirtualRouter(params)
    now = 100.0
    r.handle(Startup(), now)
    deadline = r.deadline()
    assert deadline is not None
    r.handle(DeadlineReached(), deadline)
    assert r.state == State.MASTER
    r.last_transition = LAST_TRANSITION
    r.stats.advert_sent = 2
    return r


def test_stats_file_is_byte_identical_to_keepalived() -> None:
    r = reference_master()
    assert r.stats.become_master == 1
    assert dumps.format_stats([r]) == (DATA / "keepalived-2.2.7.stats").read_text()


def test_stats_of_two_instances_follow_each_other() -> None:
    a, b = reference_master(), reference_master()
    b.name = "VI_2"
    text = dumps.format_stats([a, b])
    assert text.count("VRRP Instance: ") == 2
    assert text.index("VRRP Instance: VI_1") < text.index("VRRP Instance: VI_2")
    assert text.endswith("    Sent: 0\n")


def test_json_v1_is_byte_identical_to_keepalived() -> None:
    r = reference_master()
    assert dumps.format_json([r]) == (DATA / "keepalived-2.2.7.json").read_text()


def test_json_v2_wraps_the_same_objects() -> None:
    r = reference_master()
    v1 = json.loads(dumps.format_json([r], version=1))
    v2 = json.loads(dumps.format_json([r], version=2))
    assert v2 == {"vrrp": v1, "track_process": []}


def test_json_omits_empty_arrays_and_masks_auth() -> None:
    params = RouterParams(name="VI_9", vrid=9, priority=100, interface="eth0", auth_type=1, auth_data=b"secret")
    r = VirtualRouter(params)
    data = json.loads(dumps.format_json([r]))[0]["data"]
    assert "vips" not in data and "evips" not in data
    assert data["auth_type"] == 1 and data["auth_data"] == "********"
    assert data["state"] == 0 and data["vipset"] is False


def test_json_scripts_and_tracking_come_from_the_config() -> None:
    conf = """
vrrp_script chk { script "/bin/true" }
vrrp_instance VI_1 {
  interface lo
  virtual_router_id 51
  priority 110
  virtual_ipaddress { 192.168.77.100/24 }
  track_script { chk }
  notify_master "/etc/keepalived/notify.sh MASTERSCRIPT arg"
}
"""
    cfg = load_text(conf, interfaces=frozenset({"lo"})).config
    assert cfg is not None
    r = reference_master()
    r.params = RouterParams(name="VI_1", vrid=51, priority=110, interface="lo", vips=(VipSpec("192.168.77.100", 24),))
    data = json.loads(dumps.format_json([r], cfg))[0]["data"]
    assert data["script_master"] == "'/etc/keepalived/notify.sh' 'MASTERSCRIPT' 'arg'"
    assert data["track_script"] == ["chk"]


def test_data_file_has_keepalived_sections_and_key_lines() -> None:
    r = reference_master()
    text = dumps.format_data([r], None)
    ref = (DATA / "keepalived-2.2.7.data").read_text()
    for banner in ("------< Global definitions >------", "------< VRRP Topology >------",
                   "------< VRRP Sockpool >------"):
        assert banner in text and banner in ref
    # Key lines operators grep, identical to 2.2.7's.
    for line in (" VRRP Instance = VI_1", "   VRRP Version = 2", "   State = MASTER", "   Wantstate = MASTER",
                 "   Last transition = 1795612617.117468 (Wed Nov 25 13:16:57.117468 2026)",
                 "   Master down timer = 3570312 usecs", "   Interface = d0", "   Using src_ip = 192.168.77.1",
                 "   Multicast address 224.0.0.18", "   Virtual Router ID = 51", "   Priority = 110",
                 "   Effective priority = 110", "   Advert interval = 1 sec", "   Accept = enabled",
                 "   Preempt = enabled", "   Authentication type = none", "   Virtual IP (1):",
                 "     192.168.77.100/24 dev d0 scope global set", " VRRP IPv4 mcast group = 224.0.0.18",
                 " Gratuitous ARP delay = 5", " Gratuitous ARP repeat = 5", " umask = 0177"):
        if "Last transition" in line and os.environ.get("TZ", "UTC") not in ("UTC", "", "Etc/UTC"):
            continue
        assert line + "\n" in ref, line
        assert line + "\n" in text, line


def test_paths_follow_tmpdir_instance_and_state_dump_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert dumps.stats_path() == f"{tmp_path}/keepalived.stats"
    assert dumps.json_path() == f"{tmp_path}/keepalived.json"
    monkeypatch.setenv("TMPDIR", "relative/dir")
    assert dumps.stats_path() == "/tmp/keepalived.stats"
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    assert dumps.data_path(None) == "/tmp/keepalived.data"
    monkeypatch.setenv("TMPDIR", str(tmp_path))

    cfg = load_text("instance inst1\nglobal_defs {\n data_use_instance\n}\n").config
    assert dumps.data_path(cfg) == f"{tmp_path}/keepalived.inst1.data"
    assert dumps.data_path(cfg, "parent") == f"{tmp_path}/keepalived_parent.inst1.data"
    cfg = load_text(f"global_defs {{\n state_dump_file {tmp_path}/st.dump\n}}\n").config
    assert dumps.data_path(cfg) == f"{tmp_path}/st.dump"


def test_files_are_created_0600_whatever_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    old = os.umask(0)
    try:
        r = reference_master()
        paths = [dumps.write_vrrp_stats([r]), dumps.write_vrrp_json([r], None), dumps.write_vrrp_data([r], None),
                 dumps.write_parent_data(None)]
    finally:
        os.umask(old)
    for p in paths:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
    assert sorted(os.listdir(tmp_path)) == ["keepalived.data", "keepalived.json", "keepalived.stats",
                                            "keepalived_parent.data"]


def test_stats_clear_writes_then_zeroes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    r = reference_master()
    path = dumps.write_vrrp_stats([r], clear=True)
    assert "    Sent: 2\n" in Path(path).read_text()
    assert r.stats.advert_sent == 0 and r.stats.become_master == 0


def test_install_signal_handlers_on_a_uvloop_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The VRRP child's wiring: each signal writes its file from the routers as they are then."""
    import asyncio
    import signal

    import uvloop

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    r = reference_master()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        dumps.install_signal_handlers(loop, lambda: [r], lambda: None)
        try:
            for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGRTMIN + 2):
                os.kill(os.getpid(), sig)
                await asyncio.sleep(0.05)
            r.stats.advert_sent = 7
            os.kill(os.getpid(), signal.SIGRTMAX - 1)          # STATS_CLEAR: write, then zero
            await asyncio.sleep(0.05)
        finally:
            for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGRTMIN + 2, signal.SIGRTMAX - 1):
                loop.remove_signal_handler(sig)

    uvloop.run(main())
    assert "   State = MASTER\n" in (tmp_path / "keepalived.data").read_text()
    assert json.loads((tmp_path / "keepalived.json").read_text())[0]["stats"]["advert_sent"] == 2
    assert "    Sent: 7\n" in (tmp_path / "keepalived.stats").read_text()
    assert r.stats.advert_sent == 0


def test_data_lines_keep_keepalived_order() -> None:
    """Every line we print that 2.2.7 also prints comes in 2.2.7's order (topology and globals)."""
    ref = (DATA / "keepalived-2.2.7.data").read_text().splitlines()
    ours = dumps.format_data([reference_master()], None).splitlines()
    positions = [ref.index(line) for line in ours if line in ref]
    assert positions == sorted(positions)
    shared = [line for line in ours if line in ref]
    assert len(shared) >= 40, len(shared)
