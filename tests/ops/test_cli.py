"""The command line as operators use it: --help, --version, --signum, bad options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness import keepalived_path

PYKA = [sys.executable, "-m", "pykeepalived"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYKA, *args], capture_output=True, text=True, timeout=30)


def test_help_is_keepalived_usage_on_stderr() -> None:
    p = run("--help")
    assert p.returncode == 0
    assert p.stdout == ""
    assert p.stderr.startswith("Usage: pykeepalived [OPTION...]\n")
    for line in ("  -f, --use-file=FILE ", "  -P, --vrrp ", "  -n, --dont-fork ", "  -p, --pid=FILE ",
                 "      --signum=SIGFUNC ", "  -t, --config-test[=FILE] "):
        assert line in p.stderr, line
    assert run("-h").stderr == p.stderr


def test_version_on_stderr() -> None:
    p = run("--version")
    assert p.returncode == 0 and p.stdout == ""
    assert p.stderr.startswith("pykeepalived v") and "keepalived 2.2.7 compatible" in p.stderr
    assert run("-v").stderr == p.stderr


@pytest.mark.parametrize("args", [("--bogus",), ("-q",), ("-f",)])
def test_unknown_option_exits_1_with_a_message(args: tuple[str, ...]) -> None:
    p = run(*args)
    assert p.returncode == 1
    assert "pykeepalived:" in p.stderr and p.stdout == ""


@pytest.mark.parametrize("args,name", [(("-x",), "-x/--snmp"), (("-A", "/x"), "-A/--snmp-agent-socket"),
                                       (("--perf",), "--perf")])
def test_unsupported_option_is_refused_not_ignored(args: tuple[str, ...], name: str) -> None:
    p = run(*args, "-f", "/nonexistent.conf")
    assert p.returncode == 1
    assert p.stderr.strip() == f"pykeepalived: option {name} is not supported"


SIGNUM_NAMES = ["STOP", "RELOAD", "DATA", "STATS", "STATS_CLEAR", "JSON"]


def test_signum_numbers() -> None:
    got = {n: run(f"--signum={n}").stdout.strip() for n in SIGNUM_NAMES}
    assert got == {"STOP": "15", "RELOAD": "1", "DATA": "10", "STATS": "12", "STATS_CLEAR": "63", "JSON": "36"}
    bad = run("--signum=TDUMP")
    assert bad.returncode == 1 and bad.stderr.strip() == "Unknown sigfunc TDUMP"


@pytest.mark.interop
def test_signum_matches_real_keepalived() -> None:
    ka = keepalived_path()
    assert ka is not None
    for name in [*SIGNUM_NAMES, "TDUMP", "nonsense", "json"]:
        ours = run(f"--signum={name}")
        theirs = subprocess.run([ka, f"--signum={name}"], capture_output=True, text=True, timeout=10)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), name
