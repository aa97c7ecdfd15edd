"""The checker child's reload: the file is parsed off the loop, the checks keep running.

Before child.ChildReload, the checker child parsed a reloaded file on its event loop: every check
(and the LVS table's updates) stopped for the length of the parse (seconds for a big file)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import uvloop

from pykeepalived import child
from pykeepalived.checker import process
from pykeepalived.core.lvs import Table

CONF = """global_defs {
  dynamic_interfaces
}
virtual_server 192.0.2.200 80 {
  protocol TCP
  lvs_sched rr
  real_server 198.51.100.11 8080 {
    weight %d
  }
}
"""


class FakeBackend:
    """Stands in for BackendThread: an empty kernel table that accepts every operation."""

    name = "ipvs"

    def __init__(self, requested: str = "auto", netns: str | None = None) -> None:
        self.ops: list[Any] = []

    async def call(self, fn: Any) -> Any:
        return fn(self)

    def read(self, keys: Any) -> Table:
        return Table()

    def apply(self, ops: list[Any]) -> list[Any]:
        self.ops += ops
        return []

    def close(self) -> None:
        pass


def test_a_slow_parse_does_not_stall_the_checker_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    cfg = tmp_path / "keepalived.conf"
    cfg.write_text(CONF % 1)
    opts = argparse.Namespace(config_file=str(cfg), config_id=None, all_config=False, lvs_backend="auto",
                              checkers_pid_file=None, dont_release_ipvs=False)
    loaded = child.load_config(opts, quiet=True)
    assert loaded.config is not None and loaded.config.virtual_servers
    monkeypatch.setattr(process, "BackendThread", FakeBackend)
    real_load = child.load_config

    def slow_load(o: argparse.Namespace, *, quiet: bool = False) -> child.Loaded:
        time.sleep(1.0)                 # a big file (the sleep lets the GIL go, as parsing does often)
        return real_load(o, quiet=quiet)

    monkeypatch.setattr(child, "load_config", slow_load)
    caplog.set_level(logging.INFO)
    gaps: list[float] = []

    async def main() -> int:
        loop = asyncio.get_running_loop()
        runner = loop.create_task(process._main(loaded.config, opts))

        await asyncio.sleep(0.3)
        cfg.write_text(CONF % 2)
        os.kill(os.getpid(), signal.SIGHUP)
        last = time.monotonic()
        for _ in range(300):
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            if any(r.getMessage() == "Reloading" for r in caplog.records):
                break
        os.kill(os.getpid(), signal.SIGTERM)
        return await runner

    assert uvloop.run(main()) == 0
    assert any(r.getMessage() == "Reloading" for r in caplog.records), "the reload was never applied"
    assert max(gaps) < 0.7, f"the checker loop stalled {max(gaps):.2f} s while the file was parsed"
