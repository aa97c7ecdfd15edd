"""The short fuzz run of fuzz/README.md as a test: both decoders agree, nothing crashes or reads out of bounds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)  # debug build (~30-90 s on a loaded 2-core VM) + 60 s of fuzzing
def test_fuzz_short_run():
    if os.environ.get("PYKEEPALIVED_NO_EXTENSIONS"):
        pytest.skip("the fuzz run builds and compares both twins itself; it runs in the compiled pass")
    pytest.importorskip("atheris")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("needs a C compiler to build the debug twin")
    seconds = os.environ.get("PYKEEPALIVED_FUZZ_SECONDS", "60")
    result = subprocess.run([str(ROOT / "fuzz" / "run.sh"), seconds], cwd=ROOT, capture_output=True, text=True,
                            timeout=int(seconds) + 600)
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert "Done " in tail and "stat::number_of_executed_units" in tail, tail
