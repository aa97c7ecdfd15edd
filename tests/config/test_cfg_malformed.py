"""At least 40 malformed configs: exit code and file:line of the first message; and the same
exit code as the real `keepalived -t` in a namespace with only lo + eth0."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfg_malformed_cases import CASES
from cfg_netns import NS_INTERFACES, Netns

from pykeepalived.config import load

IDS = [c[0] for c in CASES]


def test_there_are_at_least_40_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("cid", "text", "exit_code", "line"), CASES, ids=IDS)
def test_malformed(tmp_path: Path, cid: str, text: str, exit_code: int, line: int | None) -> None:
    path = tmp_path / f"{cid}.conf"
    path.write_text(text)
    r = load(str(path), interfaces=NS_INTERFACES)
    assert r.exit_code == exit_code, [d.format() for d in r.diagnostics]
    errors = [d for d in r.diagnostics if d.level]
    assert errors, "an error must be reported"
    first = errors[0]
    if line is None:
        assert first.line is None
    else:
        assert (first.file, first.line) == (str(path), line), first.format()
        assert first.format().startswith(f"({path}: Line {line}) ")


@pytest.mark.privileged
@pytest.mark.interop
@pytest.mark.parametrize(("cid", "text", "exit_code", "line"), CASES, ids=IDS)
def test_malformed_same_exit_as_keepalived(netns: Netns, tmp_path: Path, cid: str, text: str, exit_code: int,
                                           line: int | None) -> None:
    path = tmp_path / f"{cid}.conf"
    path.write_text(text)
    real, out = netns.keepalived_t(path)
    assert real == exit_code, out
    assert load(str(path), interfaces=NS_INTERFACES).exit_code == real
