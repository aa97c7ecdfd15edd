"""Regenerate the golden captures: real keepalived 2.2.7 adverts, GARP and NA, recorded in namespaces.

    sudo .venv/bin/python tests/golden/capture.py            # rewrites tests/golden/*.hex and *.json

How: a lab with three hosts on one bridge. r1 (priority 150) and r2 (priority 100) run the real
keepalived on the same config (CONFIG below: one instance per golden case), r3 is only a unicast
peer. tcpdump records everything on the bridge. r1 becomes MASTER of every instance, adverts for a
few seconds, then gets SIGTERM: its priority-0 adverts follow, and r2 takes over. From the pcap we
keep, per case, one advert of r1 (all of r1's adverts of that instance are byte-identical; this is
checked), r1's priority-0 adverts, r1's first GARP and first unsolicited NA.

Files: NAME.hex holds the VRRP message (the IP payload, no IP header) for adverts, and the whole
Ethernet frame for garp_* and na_* (see "hex_is" in NAME.json). NAME.json holds the decoded fields,
read by the harness's own small decoder (tests/harness/pcap.py), and every checksum is re-verified
here with an independent RFC 1071 sum, so the fields are not taken on trust.
"""

from __future__ import annotations

import ipaddress
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from harness import Frame, Lab, keepalived_path, vrrp_frames  # noqa: E402
from harness.lab import DEFAULT_BPF  # noqa: E402

# (golden name, vrrp_instance body). Every instance runs in one keepalived per router.
INSTANCES = {
    "v2_ipv4_mcast_1addr": """
    version 2
    virtual_router_id 21
    virtual_ipaddress { 192.0.2.121/24 }""",
    "v2_ipv4_mcast_pass_auth": """
    version 2
    virtual_router_id 22
    authentication { auth_type PASS
        auth_pass secret }
    virtual_ipaddress { 192.0.2.122/24 }""",
    "v2_ipv4_mcast_3addr": """
    version 2
    virtual_router_id 23
    virtual_ipaddress { 192.0.2.123/24
        192.0.2.124/24
        198.51.100.123/32 }""",
    "v3_ipv4_mcast_1addr": """
    version 3
    virtual_router_id 31
    virtual_ipaddress { 192.0.2.131/24 }""",
    "v3_ipv4_mcast_3addr_int2": """
    version 3
    virtual_router_id 32
    advert_int 2
    virtual_ipaddress { 192.0.2.132/24
        192.0.2.133/24
        192.0.2.134/24 }""",
    "v3_ipv4_mcast_12addr": """
    version 3
    virtual_router_id 34
    virtual_ipaddress {
""" + "\n".join(f"        198.51.100.{i}/32" for i in range(1, 13)) + " }",
    "v3_ipv4_unicast": """
    version 3
    virtual_router_id 33
    unicast_src_ip {src}
    unicast_peer {
        {peers}
    }
    virtual_ipaddress { 192.0.2.135/24 }""",
    "v3_ipv6_mcast_2addr": """
    version 3
    virtual_router_id 61
    virtual_ipaddress { 2001:db8::161/64
        2001:db8::162/64 }""",
}

CONFIG_HEAD = """global_defs {
    router_id golden_{name}
}
"""


def config_for(name: str, priority: int, src: str, peers: list[str]) -> str:
    parts = [CONFIG_HEAD.replace("{name}", name)]
    for case, body in INSTANCES.items():
        body = body.replace("{src}", src).replace("{peers}", "\n        ".join(peers))
        parts.append(f"vrrp_instance {case} {{\n    state BACKUP\n    interface eth0\n"
                     f"    priority {priority}\n    advert_int 1\n{body}\n}}\n")
    return "\n".join(parts)


def inet_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def verify_checksum(f: Frame) -> None:
    """RFC 3768 (v2: message only) or RFC 5798 (v3: with the IPv4/IPv6 pseudo-header)."""
    msg = f.payload
    assert f.src is not None and f.dst is not None
    zeroed = msg[:6] + b"\0\0" + msg[8:]
    if msg[0] >> 4 == 2:
        expect = inet_sum(zeroed)
    elif f.family == 4:
        pseudo = ipaddress.IPv4Address(f.src).packed + ipaddress.IPv4Address(f.dst).packed
        expect = inet_sum(pseudo + struct.pack("!BBH", 0, 112, len(msg)) + zeroed)
    else:
        pseudo = ipaddress.IPv6Address(f.src).packed + ipaddress.IPv6Address(f.dst).packed
        expect = inet_sum(pseudo + struct.pack("!I3xB", len(msg), 112) + zeroed)
    got = struct.unpack_from("!H", msg, 6)[0]
    if got != expect:
        raise SystemExit(f"checksum mismatch in captured advert from {f.src}: {got:#06x} != {expect:#06x}")


def advert_record(name: str, f: Frame, note: str) -> dict[str, object]:
    v = f.vrrp
    assert v is not None
    verify_checksum(f)
    return {"name": name, "kind": "vrrp", "hex_is": "VRRP message (IP payload, no IP header)", "note": note,
            "family": f.family, "src": f.src, "dst": f.dst, "ttl": f.ttl,
            "version": v.version, "type": v.type, "vrid": v.vrid, "priority": v.priority, "count": v.count,
            "auth_type": v.auth_type, "adver_int": v.adver_int, "checksum": v.checksum,
            "addresses": list(v.addresses), "auth_data": v.auth_data.hex()}


def write(out: Path, record: dict[str, object], data: bytes) -> None:
    (out / f"{record['name']}.hex").write_text(data.hex() + "\n")
    (out / f"{record['name']}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"  {record['name']}: {len(data)} bytes")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    if keepalived_path() is None:
        raise SystemExit("keepalived is not installed")
    version = subprocess.run([str(keepalived_path()), "-v"], capture_output=True, text=True).stderr.split("\n")[0]
    print(f"capturing from {version}")
    with Lab() as lab:
        r1, r2, r3 = lab.add_hosts("r1", "r2", "r3")
        mac1 = r1.mac()
        cap = lab.capture(bpf=DEFAULT_BPF)
        k1 = r1.keepalived(config_for("r1", 150, r1.ip, [r2.ip, r3.ip]))
        k2 = r2.keepalived(config_for("r2", 100, r2.ip, [r1.ip, r3.ip]))
        for case in INSTANCES:
            k1.wait_state(case, "MASTER", timeout=15)
        time.sleep(5)  # several adverts of every instance (advert_int 2 included)
        k1.stop()
        for case in INSTANCES:
            k2.wait_state(case, "MASTER", timeout=15)
        time.sleep(1)
        frames = cap.stop()
        k2.stop()
        print(k1.log()[-2000:] if "--log" in sys.argv else "", end="")

    records = []
    for case in INSTANCES:
        vrid = int(INSTANCES[case].split("virtual_router_id")[1].split()[0])
        mine = [f for f in vrrp_frames(frames, vrid=vrid) if f.src_mac == mac1]
        live = [f for f in mine if f.vrrp and f.vrrp.priority == 150]
        if not live:
            raise SystemExit(f"no advert from r1 for {case}")
        by_dst: dict[str | None, Frame] = {}
        for f in live:
            first = by_dst.setdefault(f.dst, f)
            if first.payload != f.payload:
                raise SystemExit(f"{case}: r1's adverts to {f.dst} differ between packets")
        for i, (dst, f) in enumerate(sorted(by_dst.items(), key=lambda kv: str(kv[0]))):
            name = case if len(by_dst) == 1 else f"{case}_peer{i + 1}"
            records.append((advert_record(name, f, f"{version}, priority 150 MASTER, to {dst}"), f.payload))
        zero = [f for f in mine if f.vrrp and f.vrrp.priority == 0]
        if case in ("v2_ipv4_mcast_1addr", "v3_ipv4_mcast_1addr", "v3_ipv6_mcast_2addr"):
            if not zero:
                raise SystemExit(f"no priority-0 advert from r1 for {case}")
            name = case.replace("_mcast", "_prio0")
            records.append((advert_record(name, zero[0], f"{version}, sent on SIGTERM (leaving MASTER)"),
                            zero[0].payload))

    garp = next(f for f in frames if f.src_mac == mac1 and f.arp and f.arp.sender_ip == "192.0.2.131")
    a = garp.arp
    assert a is not None
    records.append(({"name": "garp_192.0.2.131", "kind": "garp", "hex_is": "whole Ethernet frame",
                     "note": f"{version}, first GARP of r1 entering MASTER",
                     "src_mac": garp.src_mac, "dst_mac": garp.dst_mac, "ethertype": garp.ethertype,
                     "op": a.op, "sender_mac": a.sender_mac, "sender_ip": a.sender_ip,
                     "target_mac": a.target_mac, "target_ip": a.target_ip}, garp.raw))
    na_frame = next(f for f in frames if f.src_mac == mac1 and f.na and f.na.target == "2001:db8::161")
    n = na_frame.na
    assert n is not None
    records.append(({"name": "na_2001_db8__161", "kind": "na", "hex_is": "whole Ethernet frame",
                     "note": f"{version}, first unsolicited NA of r1 entering MASTER",
                     "src_mac": na_frame.src_mac, "dst_mac": na_frame.dst_mac, "family": 6,
                     "src": na_frame.src, "dst": na_frame.dst, "hop_limit": na_frame.ttl,
                     "icmp_checksum": struct.unpack_from("!H", na_frame.payload, 2)[0],
                     "router": n.router, "solicited": n.solicited, "override": n.override,
                     "target": n.target, "target_mac": n.target_mac}, na_frame.raw))

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):      # what this script made before; others (kind "ah") stay
        if json.loads(old.read_text()).get("kind") != "ah":
            old.unlink()
            old.with_suffix(".hex").unlink(missing_ok=True)
    for record, data in records:
        write(out, record, data)


if __name__ == "__main__":
    main()
