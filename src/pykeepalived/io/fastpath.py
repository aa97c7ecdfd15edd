"""The fast-path modules the IO layer uses: compiled when built, else the pure twins.

PYKEEPALIVED_NO_EXTENSIONS=1 forces the pure twins (the same switch setup.py reads).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def load(name: str) -> ModuleType:
    """`pykeepalived._fastpath.<name>` if compiled and allowed, else `<name>_py`."""
    if not os.environ.get("PYKEEPALIVED_NO_EXTENSIONS"):
        try:
            return importlib.import_module(f"pykeepalived._fastpath.{name}")
        except ImportError:
            pass
    return importlib.import_module(f"pykeepalived._fastpath.{name}_py")


advert_io = load("advert_io")
codec = load("codec")
wheel = load("wheel")
