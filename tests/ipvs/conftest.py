"""Kernel IPVS tests. Run them where the kernel has ip_vs: inside the throw-away VM

    /work/shared/tools/ipvs-vm/run-in-ipvs-vm.sh '/work/main/.venv/bin/python -m pytest -q tests/ipvs'

or directly on a host with ip_vs. Every test works inside its own network namespace (IPVS tables
are per namespace), so a host's real table is never touched. Elsewhere they skip, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from harness import private_netns


def ipvs_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, IPVS)"
    if not os.path.exists("/proc/net/ip_vs") and shutil.which("modprobe"):  # no kmod: cannot load it
        subprocess.run(["modprobe", "ip_vs"], capture_output=True, check=False)
    if not os.path.exists("/proc/net/ip_vs"):
        return ("kernel has no ip_vs; run inside the VM: /work/shared/tools/ipvs-vm/run-in-ipvs-vm.sh "
                "'/work/main/.venv/bin/python -m pytest -q tests/ipvs'")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = ipvs_skip_reason()
    for item in items:
        if "tests/ipvs" in str(item.fspath):
            item.add_marker(pytest.mark.ipvs)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh network namespace (its own empty IPVS table), removed afterwards."""
    with private_netns("ipvs") as name:
        yield name
