"""Config tests: the namespace fixture lives in cfg_netns.py."""

from __future__ import annotations

from cfg_netns import netns  # noqa: F401  (fixture)
