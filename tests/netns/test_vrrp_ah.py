"""VRRPv2 `auth_type AH` on the wire, pykeepalived beside and against keepalived 2.2.7.

* pairs (py/ka both ways): election, hard-kill takeover, return with preempt; neither side
  logs an AH (or any other) error, and every AH packet either side sent verifies;
* pykeepalived's AH adverts have keepalived's layout (protocol 51, AH next header 112,
  payload length 4, SPI = source, sequence 1, 2, 3 ..., the same VRRP message and IP header
  fields), compared with a capture of keepalived's own;
* a wrong auth_pass is rejected both ways with keepalived's log line, and counted
  (`Authentication Errors: Failure` in the SIGUSR2 stats of both);
* plain VRRP adverts never reach an AH instance (keepalived listens on protocol 51 only):
  the AH backup stays silent and takes over on its timer.
"""

from __future__ import annotations

import re
import signal
import struct
import time
from pathlib import Path

import pytest
from vrrp_pair import VRID, assert_clean_log, start, wait_count

from harness import wait_until
from harness.daemon import VrrpDaemon
from harness.lab import Host, Lab
from harness.pcap import Frame
from pykeepalived.io.ipsec_ah import icv

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.timeout(90)]

BPF = "ip proto 51 or ip proto 112 or arp"
PASSWORD = "ah-pass1"
VIP = "192.0.2.100"
HIGH, LOW = 150, 100
BAD_ICV = ("(VI_1) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !")
AH_ERRORS = re.compile(r"IPSEC|AH header", re.IGNORECASE)


def _config(me: Host, priority: int, password: str = PASSWORD, peer: Host | None = None) -> str:
    """`peer`: unicast to it (the ICV then leaves out the TTL)."""
    unicast = [] if peer is None else [f"    unicast_src_ip {me.ip}", "    unicast_peer {", f"        {peer.ip}", "    }"]
    return "\n".join([
        "global_defs {", f"    router_id {me.name}", "}",
        "vrrp_instance VI_1 {", "    interface eth0", f"    virtual_router_id {VRID}", f"    priority {priority}",
        "    advert_int 1", "    version 2", *unicast,
        "    authentication {", "        auth_type AH", f"        auth_pass {password}", "    }",
        "    virtual_ipaddress {", f"        {VIP}/24", "    }", "}", ""])


def _ah(frames: list[Frame], src: str) -> list[Frame]:
    return [f for f in frames if f.family == 4 and f.proto == 51 and f.src == src]


def _ip(f: Frame) -> bytes:
    ip = f.raw[14:]
    return ip[:struct.unpack_from("!H", ip, 2)[0]]


def _check_ah_frames(frames: list[Frame], password: str = PASSWORD, unicast: bool = False) -> list[int]:
    """Every AH frame's layout and ICV; returns the sequence numbers."""
    seqs = []
    for f in frames:
        ip = _ip(f)
        assert ip[9] == 51
        nh, plen, reserved, spi, seq = struct.unpack_from("!BBH4sI", ip, 20)
        assert (nh, plen, reserved) == (112, 4, 0), ip.hex()
        assert spi == ip[12:16], f"SPI {spi.hex()} is not the source {ip[12:16].hex()}"
        assert ip[32:44] == icv(ip, password.encode(), unicast=unicast), f"ICV does not verify: {ip.hex()}"
        seqs.append(seq)
    return seqs


def _no_ah_errors(d: VrrpDaemon) -> None:
    assert_clean_log(d)
    bad = [line for line in d.log().splitlines() if AH_ERRORS.search(line)]
    assert not bad, f"{d.implementation} on {d.host.name} logged AH errors:\n" + "\n".join(bad)


@pytest.mark.parametrize("unicast", [False, True], ids=["multicast", "unicast"])
@pytest.mark.parametrize("hi_impl, lo_impl", [("py", "ka"), ("ka", "py")])
def test_ah_pair_election_kill_and_preempt(lab: Lab, hi_impl: str, lo_impl: str, unicast: bool) -> None:
    a, b = lab.add_hosts("a", "b")
    conf_a = _config(a, HIGH, peer=b if unicast else None)
    conf_b = _config(b, LOW, peer=a if unicast else None)
    cap = lab.capture(bpf=BPF)
    da = start(a, hi_impl, conf_a)
    da.wait_state("VI_1", "BACKUP", timeout=10)
    db = start(b, lo_impl, conf_b)
    da.wait_state("VI_1", "MASTER", timeout=10)
    db.wait_state("VI_1", "BACKUP", timeout=5)
    time.sleep(2.5)                           # b must keep accepting a's adverts
    assert "Entering MASTER STATE" not in db.log()
    assert a.has_address(VIP) and not b.has_address(VIP)

    # hard kill: b takes over after 3 * 1 s + skew
    da.kill()
    wait_count(db, r"\(VI_1\) Entering MASTER STATE", 1, timeout=3 + (256 - LOW) / 256 + 3)
    wait_until(lambda: b.has_address(VIP) or None, 5)

    # a comes back with a fresh sequence counter, learns b's as a backup and preempts
    da = start(a, hi_impl, conf_a)
    da.wait_state("VI_1", "MASTER", timeout=3 + (256 - HIGH) / 256 + 8)
    wait_count(db, r"\(VI_1\) Entering BACKUP STATE$", 1, timeout=5)
    time.sleep(2.5)
    assert "Entering MASTER STATE" not in da.log().split("Entering MASTER STATE", 1)[1]
    assert db.log().count("Entering MASTER STATE") == 1
    assert a.has_address(VIP) and not b.has_address(VIP)
    da.stop()
    db.stop()
    frames = cap.stop()

    seq_a, seq_b = _check_ah_frames(_ah(frames, a.ip), unicast=unicast), _check_ah_frames(_ah(frames, b.ip), unicast=unicast)
    assert len(seq_a) >= 5 and len(seq_b) >= 2
    if unicast:
        assert {f.dst for f in _ah(frames, a.ip)} == {b.ip} and {f.dst for f in _ah(frames, b.ip)} == {a.ip}
    assert not [f for f in frames if f.proto == 112], "plain VRRP adverts from an AH instance"
    _no_ah_errors(da)
    _no_ah_errors(db)


def _master_alone(lab: Lab, host: Host, impl: str) -> list[Frame]:
    cap = lab.capture(bpf=BPF, name=f"ah-{impl}")
    d = start(host, impl, _config(host, 255))    # the address owner: master at once
    d.wait_state("VI_1", "MASTER", timeout=10)
    time.sleep(3.3)
    d.stop()
    time.sleep(0.2)
    _no_ah_errors(d)
    return _ah(cap.stop(), host.ip)


def test_ah_adverts_have_keepalived_layout(lab: Lab) -> None:
    (a,) = lab.add_hosts("a")
    ka, py = _master_alone(lab, a, "ka"), _master_alone(lab, a, "py")
    assert len(ka) >= 4 and len(py) >= 4, (len(ka), len(py))
    ka_seq, py_seq = _check_ah_frames(ka), _check_ah_frames(py)
    assert ka_seq == list(range(1, len(ka) + 1)), ka_seq
    assert py_seq == list(range(1, len(py) + 1)), py_seq
    ka_ip, py_ip = _ip(ka[0]), _ip(py[0])
    # IP header: everything but the ID (a per-instance counter) and the header checksum
    assert ka_ip[:4] + ka_ip[6:10] + ka_ip[12:20] == py_ip[:4] + py_ip[6:10] + py_ip[12:20]
    assert struct.unpack_from("!H", ka_ip, 4) == struct.unpack_from("!H", py_ip, 4) == (1,)
    assert ka_ip[20:32] == py_ip[20:32]          # AH up to the ICV (SPI, sequence 1)
    assert ka_ip[44:] == py_ip[44:]               # the VRRP message
    assert ka_ip[32:44] == py_ip[32:44]           # same bytes covered, so the same ICV
    ka_zero = [f for f in ka if _ip(f)[44 + 2] == 0]
    py_zero = [f for f in py if _ip(f)[44 + 2] == 0]
    assert len(ka_zero) == len(py_zero) == 1      # the priority-0 advert at stop is AH too


def _stats_failures(d: VrrpDaemon, tmp: Path) -> int:
    stats = tmp / "keepalived.stats"
    stats.unlink(missing_ok=True)
    d._p().send_signal(signal.SIGUSR2)
    wait_until(lambda: stats.exists() and "Failure" in stats.read_text() or None, 10)
    m = re.search(r"Authentication Errors:\n.*\n.*\n\s+Failure: (\d+)", stats.read_text())
    assert m, stats.read_text()
    return int(m.group(1))


@pytest.mark.parametrize("master_impl, backup_impl", [("ka", "py"), ("py", "ka")])
def test_ah_wrong_password_is_rejected(lab: Lab, monkeypatch: pytest.MonkeyPatch,
                                       master_impl: str, backup_impl: str) -> None:
    a, b = lab.add_hosts("a", "b")
    tmps = []
    daemons = []
    for host, impl, prio, password in ((a, master_impl, 255, PASSWORD), (b, backup_impl, LOW, "wrong-pw")):
        tmp = lab.workdir / f"{host.name}-{impl}-tmp"
        tmp.mkdir()
        monkeypatch.setenv("TMPDIR", str(tmp))      # where SIGUSR2 writes keepalived.stats
        daemons.append(start(host, impl, _config(host, prio, password)))
        tmps.append(tmp)
    monkeypatch.delenv("TMPDIR")
    da, db = daemons
    da.wait_state("VI_1", "MASTER", timeout=10)
    # b rejects every advert: it takes over as if a were silent, and a rejects b's too
    db.wait_state("VI_1", "MASTER", timeout=3 + (256 - LOW) / 256 + 5)
    # keepalived 2.2.7 logs every failing packet, and so do we (the backup gets one a second;
    # a's count is left open: a keepalived master fed bad adverts sends irregularly, ~every 3 s)
    wait_count(db, re.escape(BAD_ICV), 3, timeout=8)
    da.wait_log(re.escape(BAD_ICV), timeout=10)
    assert "Entering BACKUP STATE" not in da.log().split("Entering MASTER STATE", 1)[1]
    assert _stats_failures(da, tmps[0]) >= 1
    assert _stats_failures(db, tmps[1]) >= 3


@pytest.mark.parametrize("ah_impl", ["py", "ka"])
def test_plain_adverts_do_not_reach_an_ah_instance(lab: Lab, ah_impl: str) -> None:
    a, b = lab.add_hosts("a", "b")
    plain = start(a, "ka", _config(a, 255).replace("auth_type AH", "auth_type PASS"))
    plain.wait_state("VI_1", "MASTER", timeout=10)
    d = start(b, ah_impl, _config(b, LOW))
    d.wait_state("VI_1", "MASTER", timeout=3 + (256 - LOW) / 256 + 5)
    assert "Receive advertisement timeout" in d.log() or ah_impl == "py"
    bad = [line for line in d.log().splitlines() if re.search(r"AH header|auth|IPSEC", line)]
    assert not bad, "\n".join(bad)
