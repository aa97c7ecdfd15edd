"""The pykeepalived demo: a two-router VRRP cluster and a client in network namespaces.

    ci/demo.sh                      # what the README shows (installs what is missing, then runs this)
    .venv/bin/python ci/demo.py [--keepalived-peer]

r1 and r2 run pykeepalived on the bundled example config (pykeepalived/data/demo.conf, one file
for both nodes through keepalived's "@id" lines). The client pings the virtual address and shows
whose MAC it reached. Then r1, the MASTER, dies (its daemon is SIGKILLed and its link goes down,
as when the machine fails), r2 takes over, and the takeover time is measured on a tcpdump capture
of the LAN: from the old master's last advert to the new master's first. Everything is removed at
the end, also on Ctrl-C or an error. --keepalived-peer runs the real keepalived 2.2.7 on r2 instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import Host, Lab, VrrpDaemon, keepalived_path, vrrp_frames, wait_until  # noqa: E402

VIP = "192.0.2.100"
VRID = 51


def say(text: str = "") -> None:
    print(text, flush=True)


def sole_holder(routers: list[Host]) -> Host | None:
    """The one router holding the VIP; None while none or both do (e.g. during the election)."""
    holders = [r for r in routers if r.has_address(VIP)]
    return holders[0] if len(holders) == 1 else None


def wait_for_stable_master(routers: list[Host], settle: float = 2.5) -> Host:
    """The sole VIP holder once it has stayed the same for `settle` s (a daemon that starts later
    can briefly let a lower-priority router win before it preempts it)."""
    seen: list[tuple[Host | None, float]] = [(None, time.monotonic())]

    def probe() -> Host | None:
        h = sole_holder(routers)
        if h is not seen[0][0]:
            seen[0] = (h, time.monotonic())
        return h if h is not None and time.monotonic() - seen[0][1] >= settle else None

    return wait_until(probe, 20, interval=0.1, message="one router holding the VIP steadily")


def show_client_view(client: Host, routers: list[Host]) -> Host:
    ok = wait_until(lambda: client.ping(VIP, timeout=1), 10, interval=0.2, message=f"client ping {VIP}")
    mac = client.neigh(VIP)
    owner = next((r for r in routers if r.mac() == mac), None)
    say(f"  client: ping {VIP} {'ok' if ok else 'FAILED'}; neighbour entry {VIP} -> {mac}"
        f" = {owner.name if owner else '?'}")
    if owner is None:
        raise SystemExit("the client's neighbour entry for the VIP points at no router")
    return owner


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keepalived-peer", action="store_true", help="run the real keepalived 2.2.7 on r2")
    args = ap.parse_args()
    conf = resources.files("pykeepalived").joinpath("data/demo.conf").read_text()
    impls = {"r1": "pykeepalived", "r2": "keepalived" if args.keepalived_peer else "pykeepalived"}
    if "keepalived" in impls.values() and keepalived_path() is None:
        raise SystemExit("--keepalived-peer needs keepalived installed (apt-get install keepalived)")

    say("pykeepalived demo: routers r1 and r2 share 192.0.2.100 (VRRP id 51), client on the same LAN")
    say("  bundled config: pykeepalived/data/demo.conf (r1 priority 150, r2 priority 100, advert_int 1)")
    for name, impl in impls.items():
        say(f"  {name}: {impl}" + (" 2.2.7 (the real one, as interop peer)" if impl == "keepalived" else ""))
    with Lab() as lab:
        r1, r2, client = lab.add_hosts("r1", "r2", "client")
        routers = [r1, r2]
        say(f"  namespaces: {', '.join(lab.namespaces())}")
        cap = lab.capture(bpf="ip proto 112 or arp")
        daemons: dict[str, VrrpDaemon] = {
            r.name: r.keepalived(conf, implementation=impls[r.name], extra_args=["-i", r.name]) for r in routers}

        say("\n1. electing a MASTER (a backup waits 3 x advert_int + skew before it claims the VIP)")
        master = wait_for_stable_master(routers)
        say(f"  MASTER: {master.name} ({master.ip}, {master.mac()}) holds {VIP}")
        owner = show_client_view(client, routers)
        if owner is not master:
            raise SystemExit(f"the client reaches {owner.name}, but {master.name} holds the VIP")

        backup = r2 if master is r1 else r1
        say(f"\n2. {master.name} dies: SIGKILL to its {impls[master.name]} and its link goes down")
        daemons[master.name].kill()
        master.set_link(False)
        wait_until(lambda: backup.has_address(VIP), 15, interval=0.02, message=f"{backup.name} taking over")
        say(f"  new MASTER: {backup.name} ({backup.ip}, {backup.mac()}) holds {VIP}")
        wait_until(lambda: client.neigh(VIP) == backup.mac(), 10, message="the client's neighbour entry moving")
        show_client_view(client, routers)
        time.sleep(0.3)
        frames = cap.stop()

        old = [f for f in vrrp_frames(frames, vrid=VRID, src=master.ip) if f.vrrp and f.vrrp.priority > 0]
        if not old:
            raise SystemExit(f"no advert from {master.name} in the capture")
        new = [f for f in vrrp_frames(frames, vrid=VRID, src=backup.ip) if f.ts_ns > old[-1].ts_ns]
        if not new:
            raise SystemExit(f"no advert from {backup.name} after the takeover in the capture")
        garps = [f for f in frames if f.arp and f.arp.sender_ip == VIP and f.src_mac == backup.mac()
                 and f.ts_ns > old[-1].ts_ns]
        takeover_ms = (new[0].ts_ns - old[-1].ts_ns) / 1e6
        priority = new[0].vrrp.priority if new[0].vrrp else 0
        expected_ms = 3 * 1000 + (256 - priority) * 1000 / 256
        say("\n3. takeover, measured on the LAN capture (kernel timestamps)")
        say(f"  last advert of {master.name}:  {time.strftime('%H:%M:%S', time.localtime(old[-1].ts))}"
            f".{old[-1].ts_ns % 10**9 // 10**6:03d}")
        say(f"  first advert of {backup.name}: {time.strftime('%H:%M:%S', time.localtime(new[0].ts))}"
            f".{new[0].ts_ns % 10**9 // 10**6:03d}")
        if garps:
            say(f"  first GARP of {backup.name}:   +{(garps[0].ts_ns - new[0].ts_ns) / 1e6:.1f} ms after its advert")
        say(f"  takeover time: {takeover_ms:.0f} ms (master down interval 3 x 1 s + skew (256-{priority})/256 s"
            f" = {expected_ms:.0f} ms)")
        say("\n4. cleaning up")
        names = lab.namespaces()
    left = [n for n in names if Path("/run/netns", n).exists()]
    say(f"  {len(names)} namespaces and all daemons removed" if not left else f"  LEFT BEHIND: {left}")
    return 0 if not left else 1


if __name__ == "__main__":
    sys.exit(main())
