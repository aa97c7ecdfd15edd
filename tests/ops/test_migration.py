"""docs/MIGRATING.md, performed: a keepalived 2.2.7 pair becomes a pykeepalived pair node by node
in a live cluster, then is rolled back, with a client using the VIP throughout.

The steps are the guide's (sections 2-5) with the lab in place of systemctl: `systemctl disable
--now X` is the daemon's SIGTERM (what the unit sends), `systemctl enable --now Y` starts the other
daemon on the same configuration text. At every step: the expected node holds the VIP, the client
reaches it, and over the whole run two nodes never held the VIP together for longer than a
preemption takes (one advert interval plus scheduling slack: the node preempting takes the VIP
before the old master hears its advert, in keepalived as here).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import pytest

from harness.daemon import VrrpDaemon, keepalived_path
from harness.lab import Host, Lab
from harness.wait import wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.slow, pytest.mark.timeout(300)]

VIP = "192.0.2.100"
ADVERT_INT = 1
STARTUP = 30          # a daemon's first state on a loaded machine; bounds nothing in the protocol
OVERLAP_LIMIT = ADVERT_INT + 1.0


def conf(name: str, priority: int) -> str:
    """The cluster's keepalived.conf (one per node), the same text for both daemons."""
    return f"""global_defs {{
    router_id {name}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 61
    priority {priority}
    advert_int {ADVERT_INT}
    authentication {{
        auth_type PASS
        auth_pass migr8
    }}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
"""


class Holders:
    """Polls who holds the VIP (every ~0.1 s) and keeps the longest time two held it at once."""

    def __init__(self, hosts: list[Host]) -> None:
        self.hosts = hosts
        self.longest_overlap = 0.0
        self.overlaps: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        since: float | None = None
        while not self._stop.is_set():
            held = [h.name for h in self.hosts if h.has_address(VIP)]
            now = time.monotonic()
            if len(held) > 1:
                since = now if since is None else since
                self.longest_overlap = max(self.longest_overlap, now - since)
            elif since is not None:
                self.overlaps.append(now - since)
                since = None
            self._stop.wait(0.1)

    def __enter__(self) -> Holders:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def cluster(lab: Lab) -> Iterator[tuple[Host, Host, Host]]:
    if keepalived_path() is None:
        pytest.skip("needs the real keepalived 2.2.7")
    yield tuple(lab.add_hosts("r1", "r2", "client"))  # type: ignore[misc]


def holders(*hosts: Host) -> list[str]:
    return [h.name for h in hosts if h.has_address(VIP)]


def reach(client: Host, timeout: float = 3 * ADVERT_INT + 6) -> None:
    wait_until(lambda: client.ping(VIP, timeout=1) or None, timeout, message=f"client cannot reach {VIP}")


def check_config(host: Host, text: str) -> None:
    """Guide section 1/2: `pykeepalived -t -f /etc/keepalived/keepalived.conf` exits 0 on the node."""
    path = host.lab.workdir / f"{host.name}-check.conf"
    path.write_text(text)
    p = host.run([sys.executable, "-m", "pykeepalived", "-t", "-f", str(path)], check=False)
    assert p.returncode == 0, p.stdout + p.stderr


def switch(host: Host, old: VrrpDaemon, impl: str, text: str) -> VrrpDaemon:
    """`systemctl disable --now <old>` then `systemctl enable --now <impl>` on one node."""
    rc = old.stop()
    assert rc == 0, f"{old.implementation} on {host.name} exited {rc}\n{old.log()}"
    return host.keepalived(text, implementation=impl)


def test_rolling_migration_and_rollback(cluster: tuple[Host, Host, Host]) -> None:
    r1, r2, client = cluster
    c1, c2 = conf("r1", 150), conf("r2", 100)
    k1 = r1.keepalived(c1)
    k2 = r2.keepalived(c2)
    k1.wait_state("VI_1", "MASTER", STARTUP)
    k2.wait_state("VI_1", "BACKUP", STARTUP)
    with Holders([r1, r2]) as watch:
        reach(client)
        assert holders(r1, r2) == ["r1"]

        # 2. Replace one node: the backup r2 first.
        check_config(r2, c2)
        p2 = switch(r2, k2, "pykeepalived", c2)
        p2.wait_log(r"fast path: (compiled|pure)", STARTUP)
        p2.wait_state("VI_1", "BACKUP", STARTUP)
        time.sleep(3 * ADVERT_INT + 1)            # a master-down interval: r2 must not take over
        assert "Entering MASTER STATE" not in p2.log()
        assert holders(r1, r2) == ["r1"]
        reach(client)

        # 3. Move the master: keepalived on r1 stops (priority 0), pykeepalived on r2 takes over;
        # then pykeepalived on r1 starts and preempts with its higher priority.
        check_config(r1, c1)
        k1.stop()
        p2.wait_state("VI_1", "MASTER", 3 * ADVERT_INT + 2)
        wait_until(lambda: holders(r1, r2) == ["r2"] or None, 5, message="VIP not moved to r2")
        reach(client)
        p1 = r1.keepalived(c1, implementation="pykeepalived")
        p1.wait_state("VI_1", "MASTER", STARTUP)
        p2.wait_log(r"\(VI_1\) Entering BACKUP STATE", 3 * ADVERT_INT + 2)
        wait_until(lambda: holders(r1, r2) == ["r1"] or None, 5, message="VIP not back on r1")
        reach(client)

        # 5. Roll back, node by node: the backup r2 first, then the master r1.
        k2 = switch(r2, p2, "keepalived", c2)
        k2.wait_state("VI_1", "BACKUP", STARTUP)
        assert holders(r1, r2) == ["r1"]
        reach(client)
        p1.stop()
        k2.wait_state("VI_1", "MASTER", 3 * ADVERT_INT + 2)
        wait_until(lambda: holders(r1, r2) == ["r2"] or None, 5, message="VIP not moved to r2")
        reach(client)
        k1 = r1.keepalived(c1)
        k1.wait_state("VI_1", "MASTER", STARTUP)
        wait_until(lambda: holders(r1, r2) == ["r1"] or None, 3 * ADVERT_INT + 2, message="VIP not back on r1")
        reach(client)
    print(f"[migration] VIP held by both nodes at once: longest {watch.longest_overlap:.2f} s, all {watch.overlaps}")
    assert watch.longest_overlap <= OVERLAP_LIMIT, (watch.longest_overlap, watch.overlaps)
    for d in (p1, p2):
        assert "Traceback" not in d.log()
