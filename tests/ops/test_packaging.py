"""The distributions as a release makes them (`python -m build`) and as an operator installs them.

A clean copy of the tracked files (no generated .c, no .so) is built; the sdist must carry the
.pyx/.pxd sources (and the generated C, for builds without Cython), LICENSE, CHANGELOG.md and the
systemd files; the wheel built from it must be compiled and carry no C or .pyx sources; installing
the sdist into a fresh virtual environment must give the compiled fast path; a build without a C
compiler must say so loudly and still install the pure twins, or fail with
PYKEEPALIVED_REQUIRE_COMPILED=1.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
MODULES = ("checksum", "codec", "wheel", "advert_io")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # compiling the fast path takes minutes on a busy machine


def clean_copy(dest: Path) -> Path:
    """The tracked files of the working tree, as a fresh checkout has them (uncommitted edits included)."""
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout (or no git): cannot tell tracked files from build products")
    names = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True,
                           timeout=60).stdout.decode().split("\0")
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def build(src: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("PYKEEPALIVED_")}
    # cwd: the clean copy, never the working tree (its `build/` from build_ext would shadow the module)
    return subprocess.run([PY, "-m", "build", "--no-isolation", "--outdir", str(out), *args, str(src)],
                          capture_output=True, text=True, timeout=900, env={**e, **(env or {})}, cwd=src)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Built once per session: xdist workers share the build through a lock in the common temp root."""
    pytest.importorskip("build")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                       # the session's root, shared by every worker
    base = root / "pyka-dists"
    base.mkdir(exist_ok=True)
    with open(base / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = base / "out"
        done = base / "done"
        if not done.exists():
            shutil.rmtree(base / "src", ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            (base / "src").mkdir()
            src = clean_copy(base / "src")
            p = build(src, out)      # sdist, then the wheel from the sdist (as `python -m build` does)
            assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
            assert "NOT being built" not in p.stdout + p.stderr
            done.write_text("ok")
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return base / "src", sdist, wheel


def test_sdist_carries_the_sources_the_fast_path_is_built_from(dists: tuple[Path, Path, Path]) -> None:
    _src, sdist, _wheel = dists
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for m in MODULES:
        assert f"src/_fastpath/{m}.pyx" in names, m
        assert f"src/_fastpath/{m}.c" in names, m        # builds without Cython compile these
        assert f"src/_fastpath/{m}_py.py" in names, m
    assert "src/_fastpath/_csum.pxd" in names
    assert {"LICENSE", "CHANGELOG.md", "setup.py", "pyproject.toml", "MANIFEST.in"} <= names
    assert {"systemd/pykeepalived.service", "systemd/pykeepalived.default"} <= names
    assert not [n for n in names if n.endswith(".so")]


def test_wheel_is_compiled_and_carries_no_sources(dists: tuple[Path, Path, Path]) -> None:
    _src, _sdist, wheel = dists
    assert "py3-none-any" not in wheel.name and "linux" in wheel.name, wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for m in MODULES:
        assert any(n.startswith(f"pykeepalived/_fastpath/{m}.cpython-") and n.endswith(".so") for n in names), m
    assert not [n for n in names if n.endswith((".c", ".pyx"))]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    for pkg in ("supervisor", "checker", "config", "core", "io", "check", "lvs", "status"):
        assert f"pykeepalived/{pkg}/__init__.py" in names, pkg
    assert "License-Expression: GPL-2.0-or-later" in meta
    assert "License-File: LICENSE" in meta
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if "pyparsing" in r or ("prometheus" in r and "extra ==" not in r)]


def test_sdist_installs_compiled_into_a_fresh_venv(dists: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """pip builds the sdist in its own isolated environment (setuptools and Cython from the index),
    as an operator's `pip install pykeepalived-X.tar.gz` does; --no-deps keeps the index traffic small
    (the fast path and the CLI's --version need none of the runtime dependencies)."""
    _src, sdist, _wheel = dists
    venv = tmp_path / "venv"
    subprocess.run([PY, "-m", "venv", str(venv)], check=True, timeout=120)
    vpy = venv / "bin" / "python"
    p = subprocess.run([str(vpy), "-m", "pip", "install", "-q", "--no-deps", str(sdist)],
                       capture_output=True, text=True, timeout=900,
                       env={k: v for k, v in os.environ.items() if not k.startswith("PYKEEPALIVED_")})
    if p.returncode != 0 and "No matching distribution found" in p.stderr:
        pytest.skip(f"the package index cannot provide the build requirements: {p.stderr[-300:]}")
    assert p.returncode == 0, p.stderr[-3000:]
    code = ("from pykeepalived import _fastpath as f\n"
            "mods = [f.compiled(m) for m in f.MODULES]\n"
            "assert all(m.__file__.endswith('.so') for m in mods), mods\n"
            "print(f.IMPLEMENTATION)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYKEEPALIVED_")}   # the pure pass sets NO_EXTENSIONS
    out = subprocess.run([str(vpy), "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean)
    assert out.returncode == 0 and out.stdout.strip() == "compiled", out.stderr
    fp = "lib/python3*/site-packages/pykeepalived/_fastpath/"
    assert not [*venv.glob(fp + "*.c"), *venv.glob(fp + "*.pyx")]
    ver = subprocess.run([str(venv / "bin" / "pykeepalived"), "--version"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env=clean)
    assert "fast path: compiled" in ver.stderr, ver.stderr


def test_build_without_a_compiler_says_so_and_can_be_made_to_fail(dists: tuple[Path, Path, Path],
                                                                  tmp_path: Path) -> None:
    _src, sdist, _wheel = dists
    with tarfile.open(sdist) as t:
        t.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.glob("pykeepalived-*")
    no_cc = {"CC": "/bin/false", "LDSHARED": "/bin/false"}
    p = build(unpacked, tmp_path / "out", "--wheel", env=no_cc)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "the compiled fast path is NOT being built" in p.stdout + p.stderr
    (wheel,) = (tmp_path / "out").glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    assert not [n for n in names if n.endswith(".so")]
    assert "pykeepalived/_fastpath/codec_py.py" in names
    strict = build(unpacked, tmp_path / "out-strict", "--wheel", env={**no_cc, "PYKEEPALIVED_REQUIRE_COMPILED": "1"})
    assert strict.returncode != 0
    assert not list((tmp_path / "out-strict").glob("*.whl"))


def test_ci_install_sh_makes_the_path_the_unit_starts(dists: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The supported install on Debian 12 (PEP 668 refuses system pip): ci/install.sh puts the wheel
    and its dependencies into a virtual environment and links the executable where the unit's
    ExecStart looks. Here under tmp_path (PREFIX/SBINDIR/UNITDIR/DEFAULTDIR), without apt."""
    _src, _sdist, wheel = dists
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 (Debian's interpreter) to make the environment from")
    paths = {"PREFIX": tmp_path / "opt" / "pykeepalived", "SBINDIR": tmp_path / "usr" / "sbin",
             "UNITDIR": tmp_path / "etc" / "systemd" / "system", "DEFAULTDIR": tmp_path / "etc" / "default",
             "MANDIR": tmp_path / "man"}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PYKEEPALIVED_", "VIRTUAL_ENV"))},
           **{k: str(v) for k, v in paths.items()}}
    p = subprocess.run([str(ROOT / "ci" / "install.sh"), "--no-apt", "--from", str(wheel)], capture_output=True,
                       text=True, timeout=900, env=env)
    if p.returncode != 0 and "No matching distribution found" in p.stdout + p.stderr:
        pytest.skip(f"the package index cannot provide the dependencies: {p.stderr[-300:]}")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    exe = paths["SBINDIR"] / "pykeepalived"
    assert exe.is_symlink() and exe.resolve() == (paths["PREFIX"] / "bin" / "pykeepalived").resolve()
    ver = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60, env=env)
    assert "fast path: compiled" in ver.stderr
    unit = paths["UNITDIR"] / "pykeepalived.service"
    exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    assert exec_start.startswith(f"ExecStart={exe} --dont-fork ")
    assert (paths["DEFAULTDIR"] / "pykeepalived").read_text() == (ROOT / "systemd" / "pykeepalived.default").read_text()
    man = paths["MANDIR"] / "man8" / "pykeepalived.8"
    assert man.read_text().startswith(".TH PYKEEPALIVED 8 ")
    # the daemon's own imports (runtime dependencies included) work from the environment
    imp = subprocess.run([str(paths["PREFIX"] / "bin" / "python"), "-c",
                          "import pykeepalived.supervisor.process, pyroute2, uvloop, dns, setproctitle"],
                         capture_output=True, text=True, timeout=120)
    assert imp.returncode == 0, imp.stderr
    if shutil.which("systemd-analyze"):
        text = "\n".join(line for line in unit.read_text().splitlines()
                         if not line.startswith("ConditionFileNotEmpty="))
        unit.write_text(text + "\n")
        v = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        problems = [line for line in (v.stdout + v.stderr).splitlines() if "pykeepalived.service" in line]
        assert problems == [], problems
    u = subprocess.run([str(ROOT / "ci" / "install.sh"), "--uninstall"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert u.returncode == 0, u.stderr
    assert not exe.exists() and not exe.is_symlink() and not unit.exists() and not paths["PREFIX"].exists()
    assert not man.exists()
    assert (paths["DEFAULTDIR"] / "pykeepalived").exists()       # configuration stays, as apt remove
