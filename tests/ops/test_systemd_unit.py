"""The shipped systemd unit and /etc/default sample."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pykeepalived.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "pykeepalived.service"
DEFAULT = ROOT / "systemd" / "pykeepalived.default"


def settings(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_unit_is_notify_with_reload_and_keeps_raw_sockets_and_netlink() -> None:
    s = settings(UNIT.read_text())
    assert s["Type"] == "notify"
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert s["ExecStart"].split()[:2] == ["/usr/sbin/pykeepalived", "--dont-fork"]  # ci/install.sh's symlink
    assert s["ExecStart"].endswith(" $DAEMON_ARGS")
    env_files = [line.split("=", 1)[1] for line in UNIT.read_text().splitlines()
                 if line.startswith("EnvironmentFile=")]
    # an operator's existing /etc/default/keepalived first, ours (which wins) second
    assert env_files == ["-/etc/default/keepalived", "-/etc/default/pykeepalived"]
    assert "PIDFile" not in s                          # Type=notify: the main PID is the one started
    families = s["RestrictAddressFamilies"].split()
    assert {"AF_NETLINK", "AF_INET", "AF_INET6", "AF_UNIX", "AF_PACKET"} <= set(families)
    caps = s["CapabilityBoundingSet"].split()
    assert {"CAP_NET_RAW", "CAP_NET_ADMIN"} <= set(caps)
    assert s.get("PrivateTmp", "no") == "no"          # /tmp/keepalived.* dumps must stay visible
    assert s.get("ProtectKernelTunables", "no") == "no"  # /proc/sys/net writes


def test_default_file_args_parse() -> None:
    s = settings(DEFAULT.read_text())
    args = shlex.split(s["DAEMON_ARGS"].strip('"'))
    build_parser().parse_args(["--dont-fork", *args])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("pykeepalived")
    unit = tmp_path / "pykeepalived.service"
    text = UNIT.read_text().replace("/usr/sbin/pykeepalived", str(exe))
    text = re.sub(r"^ConditionFileNotEmpty=.*$", "", text, flags=re.M)
    unit.write_text(text)
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (p.stdout + p.stderr).splitlines() if "pykeepalived.service" in line]
    assert problems == [], problems
