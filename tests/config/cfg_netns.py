"""Helpers for config tests: a network namespace with only lo + eth0 (what the samples README
assumes) in which the real `keepalived -t` runs, and the same interface set for ours."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

KEEPALIVED = "/usr/sbin/keepalived"
SAMPLES = Path("/work/shared/keepalived-samples/conformance")
NS_INTERFACES = frozenset({"lo", "eth0"})


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name

    def keepalived_t(self, path: str | os.PathLike[str], *extra: str) -> tuple[int, str]:
        p = subprocess.run(["ip", "netns", "exec", self.name, KEEPALIVED, "-t", "-l", "-f", str(path), *extra],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr + p.stdout

    def ours_t(self, path: str | os.PathLike[str], *extra: str) -> tuple[int, str]:
        py = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"
        p = subprocess.run(["ip", "netns", "exec", self.name, str(py), "-m", "pykeepalived", "-t", "-f", str(path),
                            *extra], capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr + p.stdout


@pytest.fixture(scope="session")
def netns() -> Iterator[Netns]:
    """A namespace with lo and a veth named eth0; skipped without root or without keepalived."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    if not Path(KEEPALIVED).exists():
        pytest.skip("real keepalived is not installed")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 missing")
    name = "cfgt" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
                       check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "eth0", "up"], check=True)
        yield Netns(name)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
