"""The interface dump a reload (and a dynamic interface) awaits does not block the VRRP loop.

Seed 120024 of the randomised histories (fuzz/README.md): a pykeepalived master reloaded with a
new priority sent one advert, then nothing for 0.18 s, and its backup took over (equal priority,
higher address: a flap).  The reload's `await netlink.interfaces()` ran the RTM_GETLINK/GETADDR
dump in the loop's thread, and the kernel's RTNL lock, contended by namespaces and links
created and deleted elsewhere on the machine, held it: on the loaded test machine a dump in an
empty namespace took >50 ms in 19 % of 208 calls, up to 0.42 s.  The dump now runs on a worker
thread while the loop goes on (adverts, timers)."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from pykeepalived.io import netlink
from pykeepalived.io.netlink import Interface, Netlink

STALL = 0.6


def test_interface_dump_does_not_block_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_dump() -> dict[str, Interface]:
        time.sleep(STALL)       # the kernel holding RTNL
        return {"eth0": Interface(index=2, name="eth0", mac=bytes(6), up=True)}

    monkeypatch.setattr(netlink, "dump_interfaces", slow_dump)

    async def main() -> tuple[dict[str, Interface], float]:
        nl = Netlink(asyncio.get_running_loop())
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        found = await nl.interfaces()
        await asyncio.sleep(0.05)
        task.cancel()
        return found, max(b - a for a, b in zip(ticks, ticks[1:], strict=False))

    found, gap = uvloop.run(main())
    assert list(found) == ["eth0"]
    assert gap < STALL / 2, f"the loop stood still for {gap:.3f} s during the dump"
