"""Differential tests against the real keepalived 2.2.7 `-t` (in a namespace with lo + eth0):
every keyword of the table without its parameter, and a fixed set of generated semi-valid
configs. Both must give the same exit code as keepalived."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from cfg_difffuzz import INCLUDED, gen, gen_preprocessor
from cfg_keyword_cases import cases
from cfg_netns import Netns

from pykeepalived.config import load

IFS = frozenset({"lo", "eth0", "eth0p"})  # what the namespace fixture has
CRASHES = {-11, -6, 134, 139}  # keepalived 2.2.7 crashing is not a behaviour to copy
KEYWORD_CASES = cases()


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize(("cid", "text"), KEYWORD_CASES, ids=[c[0] for c in KEYWORD_CASES])
def test_keyword_without_value_same_exit(netns: Netns, tmp_path: Path, cid: str, text: str) -> None:
    path = tmp_path / "k.conf"
    path.write_text(text)
    real, out = netns.keepalived_t(path)
    if real in CRASHES:
        pytest.skip(f"keepalived 2.2.7 crashes on this input ({real})")
    ours = load(str(path), interfaces=IFS)
    assert ours.exit_code == real, f"keepalived: {out}\nours: {[d.format() for d in ours.diagnostics]}"


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("seed", range(6))
def test_generated_configs_same_exit(netns: Netns, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    mismatches = []
    for k in range(50):
        text = gen(rng)
        path = tmp_path / f"g{k}.conf"
        path.write_text(text)
        real, out = netns.keepalived_t(path)
        if real in CRASHES:
            continue
        ours = load(str(path), interfaces=IFS)
        if ours.exit_code != real:
            mismatches.append(f"{path.name}: keepalived {real} ours {ours.exit_code}\n{text}\n{out}\n"
                              f"{[d.format() for d in ours.diagnostics]}")
    assert not mismatches, "\n".join(mismatches[:3])


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize("seed", range(3))
def test_generated_preprocessor_configs_same_exit(netns: Netns, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    for name, text in INCLUDED.items():
        (tmp_path / name).write_text(text)
    mismatches = []
    for k in range(50):
        text = gen_preprocessor(rng)
        path = tmp_path / f"p{k}.conf"
        path.write_text(text)
        real, out = netns.keepalived_t(path, "-i", "vm")
        if real in CRASHES:
            continue
        ours = load(str(path), config_id="vm", interfaces=IFS)
        if ours.exit_code != real:
            mismatches.append(f"{path.name}: keepalived {real} ours {ours.exit_code}\n{text}\n{out}\n"
                              f"{[d.format() for d in ours.diagnostics]}")
    assert not mismatches, "\n".join(mismatches[:3])
