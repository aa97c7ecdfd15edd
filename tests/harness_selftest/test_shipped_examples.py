"""What a newcomer runs first: the README's example config, the bundled demo config, the demo itself."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from harness import Lab, our_namespaces

ROOT = Path(__file__).resolve().parents[2]
DATA = resources.files("pykeepalived").joinpath("data")


def readme_conf_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A typical keepalived.conf", 1)[1]
    m = re.search(r"\n```\n(.*?)```\n", section, re.S)
    assert m, "README: no code block under 'A typical keepalived.conf'"
    return m.group(1)


def test_readme_example_is_the_shipped_example() -> None:
    assert readme_conf_block() == DATA.joinpath("example-haproxy.conf").read_text()


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("name,args", [("example-haproxy.conf", []), ("demo.conf", ["-i", "r1"]),
                                       ("demo.conf", ["-i", "r2"])])
@pytest.mark.parametrize("impl", ["keepalived", "pykeepalived"])
def test_shipped_configs_pass_the_config_test(lab: Lab, keepalived_bin: str, name: str, args: list[str],
                                              impl: str) -> None:
    lab.add_lan()
    host = lab.add_host("lb1", lans=(0, 1))  # eth0 and eth1, as the examples expect
    conf = lab.workdir / name
    conf.write_text(DATA.joinpath(name).read_text())
    argv = [keepalived_bin] if impl == "keepalived" else [sys.executable, "-m", "pykeepalived"]
    r = host.run([*argv, "-t", "-f", str(conf), *args], check=False)
    assert r.returncode == 0, r.stderr


@pytest.mark.privileged
@pytest.mark.slow
def test_demo_shows_a_takeover_in_the_master_down_interval_and_cleans_up() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "ci" / "demo.py")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "r1: pykeepalived" in r.stdout and "r2: pykeepalived" in r.stdout
    m = re.search(r"takeover time: (\d+) ms .* = (\d+) ms\)", r.stdout)
    assert m, r.stdout
    measured, expected = int(m.group(1)), int(m.group(2))
    # a crashed master: the backup waits 3 x advert_int + skew from the last advert it heard
    assert expected - 50 <= measured <= expected + 300, r.stdout
    assert "namespaces and all daemons removed" in r.stdout
    m = re.search(r"namespaces: (.*)", r.stdout)
    assert m, r.stdout
    demo_namespaces = set(m.group(1).split(", "))
    assert len(demo_namespaces) == 4 and not demo_namespaces & set(our_namespaces())
