"""pykeepalived: a drop-in replacement for keepalived."""

__version__ = "0.1.0"
# The keepalived release whose behaviour (wire, files, logs, exit codes) we match.
KEEPALIVED_COMPAT = "2.2.7"

# Before any module of ours defines a dataclass: their generated methods come from a bytecode
# cache (start-up CPU; see dataclass_cache.py).
from pykeepalived import dataclass_cache as _dataclass_cache  # noqa: E402

_dataclass_cache.install()
