"""Render a model back as keepalived.conf text (used by -d and the round-trip tests)."""

from __future__ import annotations

from pykeepalived.config.model import Config


def dump_config(cfg: Config) -> str:
    return repr(cfg) + "\n"
