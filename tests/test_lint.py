"""ruff and mypy as tests: a lint or type violation fails the suite (config: pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if "No module named" in r.stderr:
        pytest.fail(f"{argv[0]} is not installed: pip install -e '.[test]'")
    return r


def test_ruff_check_is_clean() -> None:
    r = run_tool("ruff", "check", "--no-cache", "src", "tests")
    if r.returncode != 0:
        pytest.fail(f"ruff check src tests:\n{r.stdout}{r.stderr}", pytrace=False)


def test_mypy_strict_is_clean() -> None:
    r = run_tool("mypy")  # files and strict = true come from [tool.mypy]
    if r.returncode != 0:
        pytest.fail(f"mypy:\n{r.stdout}{r.stderr}", pytrace=False)
