"""Every program a test runs is installed by ci/setup.sh, is part of Debian's essential set, or the
test skips without it (issue 23: a bare machine without kmod errored at collection on `modprobe`).

The scan reads the test sources for the first word of a command (an argv list literal given to
run/spawn/Popen, the program after `ip netns exec NS`, a `.run("prog ...")` shell string). A new
program fails this test until it is added to ci/setup.sh's package list (PACKAGE_OF says which
package) or its test guards it with `shutil.which("prog")` (GUARDED).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# program -> the Debian 12 package that ships it
PACKAGE_OF = {
    "ip": "iproute2", "ss": "iproute2", "nft": "nftables", "tcpdump": "tcpdump", "ping": "iputils-ping",
    "keepalived": "keepalived", "modprobe": "kmod", "sysctl": "procps", "pkill": "procps",
    "openssl": "openssl", "unshare": "util-linux", "nsenter": "util-linux", "setpriv": "util-linux", "useradd": "passwd",
    "userdel": "passwd", "ipvsadm": "ipvsadm", "gcc": "gcc", "cc": "gcc", "mount": "mount", "umount": "mount",
}
# Essential: yes in Debian 12 (coreutils, dash), present on every installation
ESSENTIAL = {"sh", "true", "false", "sleep", "cat", "date", "echo", "stdbuf", "kill", "env"}
# Not installed by ci/setup.sh: the tests that run them skip with a reason when they are missing
GUARDED = {"systemd-analyze", "pidof", "git", "promtool", "groff"}

_LIST = re.compile(r'(?:run|spawn|Popen|check_output|check_call|call|argv\s*=|return)\w*\(?\s*\[\s*"([A-Za-z][\w.+-]*)"')
_NETNS_EXEC = re.compile(r'"exec",\s*[\w.\[\]"]+,\s*"([A-Za-z][\w.+-]*)"')
_SHELL = re.compile(r'\.run\(\s*f?"([A-Za-z][\w.+-]*)[ "]')


def programs_in_tests() -> dict[str, set[Path]]:
    found: dict[str, set[Path]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name == Path(__file__).name:
            continue
        text = path.read_text()
        for rx in (_LIST, _NETNS_EXEC, _SHELL):
            for m in rx.finditer(text):
                found.setdefault(m.group(1), set()).add(path)
    return found


def setup_packages() -> set[str]:
    text = (ROOT / "ci" / "setup.sh").read_text()
    m = re.search(r'^packages="([^"]*)"', text, re.M)
    assert m, "ci/setup.sh has no packages=\"...\" list"
    return set(m.group(1).split())


def test_the_scan_sees_the_known_programs() -> None:
    found = programs_in_tests()
    assert {"ip", "nft", "tcpdump", "ping", "modprobe", "openssl"} <= set(found), sorted(found)


def test_every_program_a_test_runs_is_installed_or_guarded() -> None:
    packages = setup_packages()
    problems = []
    for prog, paths in sorted(programs_in_tests().items()):
        where = ", ".join(str(p.relative_to(ROOT)) for p in sorted(paths))
        if prog in ESSENTIAL:
            continue
        if prog in GUARDED:
            unguarded = [p for p in paths if f'shutil.which("{prog}")' not in p.read_text()]
            if unguarded:
                problems.append(f"{prog}: not installed by ci/setup.sh and not guarded with shutil.which in "
                                + ", ".join(str(p.relative_to(ROOT)) for p in unguarded))
            continue
        pkg = PACKAGE_OF.get(prog)
        if pkg is None:
            problems.append(f"{prog} (run by {where}): unknown program; add it to PACKAGE_OF and ci/setup.sh, "
                            "or guard it and add it to GUARDED")
        elif pkg not in packages:
            problems.append(f"{prog} (run by {where}): package {pkg} is not in ci/setup.sh's list")
    assert not problems, "\n".join(problems)


def test_ipvs_module_probe_is_guarded() -> None:
    """modprobe runs at collection time (skip conditions): without kmod it must not raise."""
    for rel in ("tests/check/test_vm_interop.py", "tests/ipvs/conftest.py"):
        text = (ROOT / rel).read_text()
        assert 'shutil.which("modprobe")' in text, f"{rel} runs modprobe unguarded"


def test_no_test_file_is_git_ignored() -> None:
    """A file the tests need must reach a fresh clone: tests/netns/flood.c was matched by .gitignore's
    `*.c` (meant for Cython output), never committed, and test_flood.py failed in every CI clone. In
    a working tree this lists the ignored files under tests/ (generated caches aside)."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git working tree")
    r = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--others", "--ignored", "--exclude-standard", "tests"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"git ls-files: {r.stderr.strip()}")
    generated = ("__pycache__/", ".pyc", ".so", ".hypothesis/", ".pytest_cache/")
    ignored = [p for p in r.stdout.splitlines() if not any(g in p for g in generated)]
    assert not ignored, f"files under tests/ that .gitignore keeps out of the repository: {ignored}"
