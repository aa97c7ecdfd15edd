"""The command line as operators use it: --help, --version, --signum, bad options."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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
    # pykeepalived's own subcommands and the --lvs-backend values are listed
    assert "  pykeepalived status " in p.stderr and "  pykeepalived genhash " in p.stderr
    assert "--lvs-backend=auto|ipvs|nftables" in p.stderr


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


def test_version_says_which_fast_path_runs() -> None:
    from pykeepalived import _fastpath

    assert f"fast path: {_fastpath.IMPLEMENTATION}" in run("-v").stderr
    pure = subprocess.run([*PYKA, "-v"], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYKEEPALIVED_NO_EXTENSIONS": "1"})
    assert "fast path: pure" in pure.stderr


def test_config_test_on_a_missing_file_fails_with_the_file_named(tmp_path: Path) -> None:
    """A deliberate difference: keepalived 2.2.7 exits 0 here (its issue 955)."""
    missing = tmp_path / "missing.conf"
    p = run("-t", "-f", str(missing))
    assert p.returncode == 6
    assert f"configuration file {missing} not found" in p.stderr
    assert run("-t", "-e", "-f", str(missing)).returncode == 4   # -e: keepalived's own 4, unchanged


def test_missing_capabilities_reads_capeff(tmp_path: Path) -> None:
    from pykeepalived.osutil import missing_capabilities

    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t000001ffffffffff\n")
    assert missing_capabilities(str(status)) == []
    status.write_text("Name:\tx\nCapEff:\t0000000000000000\n")
    assert missing_capabilities(str(status)) == ["CAP_NET_ADMIN", "CAP_NET_RAW"]
    status.write_text(f"CapEff:\t{1 << 12:016x}\n")               # NET_ADMIN only
    assert missing_capabilities(str(status)) == ["CAP_NET_RAW"]
    assert missing_capabilities(str(tmp_path / "absent")) == []   # /proc silent: do not refuse


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a process as another user")
def test_non_root_start_names_the_missing_capabilities_and_exits_4() -> None:
    with tempfile.TemporaryDirectory(prefix="pyka-nonroot-") as d:   # pytest's tmp_path is root-only
        where = Path(d)
        where.chmod(0o777)
        conf = where / "k.conf"
        conf.write_text("global_defs {\n  router_id nonroot\n}\n")
        conf.chmod(0o644)
        pids = [a for what in ("-p", "-r", "-c") for a in (what, str(where / f"{what[1]}.pid"))]
        # setpriv, not subprocess's user=: the latter cannot exec this venv's python here (EACCES)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *PYKA, "-n", "-l",
                            "-f", str(conf), *pids], capture_output=True, text=True, timeout=30, cwd="/")
        out = p.stdout + p.stderr
        assert p.returncode == 4, out
        assert "needs root" in out and "missing: CAP_NET_ADMIN, CAP_NET_RAW" in out
        assert "Operation not permitted" not in out
        assert not any(where.glob("*.pid"))


def test_man_page_is_generated_from_the_option_table() -> None:
    from pykeepalived.cli import build_parser, man_page

    page = man_page()
    assert page.startswith(".TH PYKEEPALIVED 8 ")
    for action in build_parser()._actions:
        for option in action.option_strings:
            assert f"\\fB{option.replace('-', chr(92) + '-')}\\fR" in page, option
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS", "FILES", "SEE ALSO"):
        assert f".SH {section}\n" in page
    if shutil.which("groff"):
        p = subprocess.run(["groff", "-ww", "-man", "-Tascii"], input=page, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0 and p.stderr == "", p.stderr
        assert "--lvs-backend=auto|ipvs|nftables" in re.sub(r".\x08", "", p.stdout)
