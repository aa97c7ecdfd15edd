"""Helpers for config tests: a network namespace with only lo + eth0 (what the samples README
assumes) in which the real `keepalived -t` runs, and the same interface set for ours."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import private_netns

KEEPALIVED = "/usr/sbin/keepalived"
SAMPLES = Path("/work/shared/keepalived-samples/conformance")
NS_INTERFACES = frozenset({"lo", "eth0"})


def our_vrrp_summary(config: object) -> dict[str, dict[str, object]]:
    """The same fields as Netns.keepalived_vrrp_dump, from our model."""
    out: dict[str, dict[str, object]] = {}
    for v in config.vrrp_instances:  # type: ignore[attr-defined]
        e = v.effective
        out[v.name] = {"state": e.state, "vrid": v.virtual_router_id, "priority": e.priority,
                       "advert_int": e.advert_int, "version": e.version,
                       "vips": [str(a.address).removesuffix("/32").removesuffix("/128") for a in v.virtual_ipaddress],
                       "garp_delay": e.garp_master_delay, "preempt": not e.nopreempt, "accept": e.accept}
    return out


class IncompleteDump(Exception):
    """keepalived's -d output stopped inside the VRRP topology (seen under heavy machine load)."""


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name

    def keepalived_t(self, path: str | os.PathLike[str], *extra: str) -> tuple[int, str]:
        p = subprocess.run(["ip", "netns", "exec", self.name, KEEPALIVED, "-t", "-l", "-f", str(path), *extra],
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr + p.stdout

    def keepalived_vrrp_dump(self, path: str | os.PathLike[str], tmp: Path, *extra: str) -> dict[str, dict[str, object]]:
        """As _vrrp_dump_once, retried when keepalived's output was cut short; skips the test if it stays so."""
        for _ in range(3):
            try:
                return self._vrrp_dump_once(path, tmp, *extra)
            except IncompleteDump:
                continue
        pytest.skip("keepalived -d printed an incomplete VRRP topology three times (machine overloaded?)")

    def _vrrp_dump_once(self, path: str | os.PathLike[str], tmp: Path, *extra: str) -> dict[str, dict[str, object]]:
        """Run the real keepalived (VRRP only, -d) briefly and read its VRRP topology dump:
        instance name -> wanted state, VRID, priority, advert interval (s), version, VIPs,
        GARP delay, preempt and accept, as keepalived resolved them."""
        p = subprocess.Popen(["ip", "netns", "exec", self.name, "stdbuf", "-oL", "-eL", KEEPALIVED, "-n", "-l", "-d", "-P", *extra,
                              "-f", str(path), "-p", str(tmp / "k.pid"), "-r", str(tmp / "v.pid")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # the dump is printed right after start-up: stop as soon as the section after it begins
        lines: list[str] = []
        try:
            deadline = time.monotonic() + 20  # generous: other suites may load the machine
            assert p.stdout is not None
            while time.monotonic() < deadline:
                ready, _, _ = select.select([p.stdout], [], [], 0.2)
                if not ready:
                    if p.poll() is not None:
                        break
                    continue
                line = p.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip("\n"))
                if "< Interfaces >" in line or "exited due to" in line:
                    break
        finally:
            p.send_signal(signal.SIGTERM)  # an orderly stop, so that no child outlives the test
            try:
                p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
        out = "\n".join(lines)
        text = "\n".join(ln[26:] if re.match(r"\w{3} \w{3} ", ln) else ln for ln in out.splitlines())
        if "< VRRP Topology >" not in text:
            return {}
        if "< Interfaces >" not in text.split("< VRRP Topology >", 1)[1]:
            raise IncompleteDump(text[-2000:])
        topo = text.split("< VRRP Topology >", 1)[1].split("< Interfaces >", 1)[0]
        res: dict[str, dict[str, object]] = {}
        for block in topo.split(" VRRP Instance = ")[1:]:
            name = block.split("\n", 1)[0].strip()
            field = dict(re.findall(r"^\s+([A-Za-z ]+?) = (.*)$", block, re.M))
            adv = field["Advert interval"]
            vips = re.findall(r"^\s+(\S+) dev", block.split("Virtual IP", 1)[1], re.M) if "Virtual IP" in block else []
            res[name] = {"state": field["Wantstate"], "vrid": int(field["Virtual Router ID"]),
                         "priority": int(field["Priority"]),
                         "advert_int": float(adv.split()[0]) / (1000 if "milli" in adv else 1),
                         "version": int(field["VRRP Version"]), "vips": vips,
                         "garp_delay": float(field["Gratuitous ARP delay"]),
                         "preempt": field["Preempt"] == "enabled", "accept": field["Accept"] == "enabled"}
        return res

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
    with private_netns("cfgt") as name:
        subprocess.run(["ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
                       check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "eth0", "up"], check=True)
        yield Netns(name)
