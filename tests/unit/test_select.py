"""Choosing the twin: PYKEEPALIVED_NO_EXTENSIONS, fallback with one warning, IMPLEMENTATION."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pykeepalived import _fastpath

PROBE = """
import warnings, sys
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import pykeepalived._fastpath as fp
print(fp.IMPLEMENTATION, fp.codec.__name__, fp.checksum.__name__, fp.wheel.__name__,
      fp.decode_advert is fp.codec.decode_advert, fp.TimerWheel is fp.wheel.TimerWheel)
print(len([w for w in caught if "fast path" in str(w.message)]))
"""

BLOCK_CODEC = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "pykeepalived._fastpath.codec":
            raise ImportError("simulated broken build")
sys.meta_path.insert(0, Block())
"""


def _run(code: str, **env: str) -> list[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "PYKEEPALIVED_NO_EXTENSIONS"}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True)
    return out.stdout.split("\n")


def test_no_extensions_switch_gives_pure_without_warning():
    first, warnings_seen = _run(PROBE, PYKEEPALIVED_NO_EXTENSIONS="1")[:2]
    assert first == ("pure pykeepalived._fastpath.codec_py pykeepalived._fastpath.checksum_py "
                     "pykeepalived._fastpath.wheel_py True True")
    assert warnings_seen == "0"


def test_failed_import_falls_back_with_one_warning():
    first, warnings_seen = _run(BLOCK_CODEC + PROBE)[:2]
    assert first.startswith("pure pykeepalived._fastpath.codec_py")
    assert warnings_seen == "1"


def test_compiled_when_built():
    try:
        _fastpath.compiled("codec")
    except ImportError:
        pytest.skip("compiled fast path not built")
    first, warnings_seen = _run(PROBE)[:2]
    assert first == ("compiled pykeepalived._fastpath.codec pykeepalived._fastpath.checksum "
                     "pykeepalived._fastpath.wheel True True")
    assert warnings_seen == "0"


def test_reaching_a_twin_keeps_the_active_one():
    active = _fastpath.codec
    assert _fastpath.pure("codec").__name__.endswith("codec_py")
    try:
        _fastpath.compiled("codec")
    except ImportError:
        pass
    assert _fastpath.codec is active
    with pytest.raises(ValueError):
        _fastpath.pure("nope")


def test_version_names_the_implementation():
    out = subprocess.run([sys.executable, "-m", "pykeepalived", "--version"], capture_output=True, text=True,
                         env={**os.environ, "PYKEEPALIVED_NO_EXTENSIONS": "1"})
    assert "fast path: pure" in out.stdout + out.stderr
