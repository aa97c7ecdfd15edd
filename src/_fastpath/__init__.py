"""The packet fast path: checksum, VRRP advert codec, timer wheel, batched advert IO; compiled or pure.

Every module exists twice with the same names and results: ``checksum``/``codec``/``wheel``/
``advert_io`` (Cython) and ``checksum_py``/``codec_py``/``wheel_py``/``advert_io_py`` (pure
Python, the test oracle and the fallback). This package exports the active twin::

    from pykeepalived._fastpath import advert_io, codec, decode_advert, TimerWheel, IMPLEMENTATION

``PYKEEPALIVED_NO_EXTENSIONS=1`` selects the pure twins; so does a compiled module that fails
to import (with one warning). ``IMPLEMENTATION`` is "compiled" or "pure". Tests reach a given
twin with ``pure(name)`` / ``compiled(name)``.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING

MODULES = ("checksum", "codec", "wheel", "advert_io")
NO_EXTENSIONS = bool(os.environ.get("PYKEEPALIVED_NO_EXTENSIONS"))


def pure(name: str) -> ModuleType:
    """The pure-Python twin of fast-path module ``name`` ("checksum", "codec" or "wheel")."""
    if name not in MODULES:
        raise ValueError(f"unknown fast-path module {name!r}")
    return importlib.import_module(f"{__name__}.{name}_py")


def compiled(name: str) -> ModuleType:
    """The compiled twin of ``name``; ImportError when it is not built. Leaves the active one alone."""
    if name not in MODULES:
        raise ValueError(f"unknown fast-path module {name!r}")
    package = sys.modules[__name__]
    active = package.__dict__.get(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    finally:
        # Importing a submodule rebinds the package attribute; keep the selected twin there.
        if active is not None:
            setattr(package, name, active)


def _select() -> tuple[str, dict[str, ModuleType]]:
    if not NO_EXTENSIONS:
        try:
            return "compiled", {name: importlib.import_module(f"{__name__}.{name}") for name in MODULES}
        except ImportError as exc:
            warnings.warn(f"pykeepalived: compiled fast path unavailable ({exc}); using the pure-Python twins "
                          "(installed: reinstall with gcc and the Python headers, Debian: gcc python3-dev; "
                          "a checkout: `python setup.py build_ext --inplace`; PYKEEPALIVED_NO_EXTENSIONS=1 "
                          "silences this)", RuntimeWarning, stacklevel=2)
    return "pure", {name: pure(name) for name in MODULES}


if TYPE_CHECKING:
    # Both twins share one contract; type-check against the pure one.
    from . import advert_io_py as advert_io
    from . import checksum_py as checksum
    from . import codec_py as codec
    from . import wheel_py as wheel

    IMPLEMENTATION: str
else:
    IMPLEMENTATION, _active = _select()
    checksum = _active["checksum"]
    codec = _active["codec"]
    wheel = _active["wheel"]
    advert_io = _active["advert_io"]
    del _active

internet_checksum = checksum.internet_checksum
ones_sum = checksum.ones_sum
pseudo_header_sum = checksum.pseudo_header_sum
vrrp_checksum = checksum.vrrp_checksum
update_checksum = checksum.update_checksum

Advert = codec.Advert
decode_advert = codec.decode_advert
encode_advert = codec.encode_advert
encode = codec.encode
patch_priority = codec.patch_priority
patch_checksum = codec.patch_checksum
build_garp = codec.build_garp
build_unsolicited_na = codec.build_unsolicited_na
AF_INET = codec.AF_INET
AF_INET6 = codec.AF_INET6
OK = codec.OK
ERR_LENGTH = codec.ERR_LENGTH
ERR_VERSION = codec.ERR_VERSION
ERR_TYPE = codec.ERR_TYPE
ERR_CHECKSUM = codec.ERR_CHECKSUM
ERR_ADDR_COUNT = codec.ERR_ADDR_COUNT
ERR_AUTH = codec.ERR_AUTH
REASON_NAMES = codec.REASON_NAMES

TimerWheel = wheel.TimerWheel

__all__ = [
    "AF_INET", "AF_INET6", "Advert", "advert_io", "ERR_ADDR_COUNT", "ERR_AUTH", "ERR_CHECKSUM", "ERR_LENGTH", "ERR_TYPE",
    "ERR_VERSION", "IMPLEMENTATION", "MODULES", "NO_EXTENSIONS", "OK", "REASON_NAMES", "TimerWheel",
    "build_garp", "build_unsolicited_na", "checksum", "codec", "compiled", "decode_advert", "encode",
    "encode_advert", "internet_checksum", "ones_sum", "patch_checksum", "patch_priority",
    "pseudo_header_sum", "pure", "update_checksum", "vrrp_checksum", "wheel",
]
