"""What every script we start sees: the one `script_env` (notify scripts, vrrp_script and
track scripts, MISC_CHECK, LVS quorum notifies, FIFO scripts).

keepalived 2.2.7 execve()s scripts with its own environment (lib/notify.c) and adds nothing:
with no PATH in keepalived's environment the script gets no PATH either (keepalived only uses
confstr(_CS_PATH) to look a bare name up, it does not export it); observed by running
keepalived under `env -i` with a notify_master script that dumps its environment. We also drop
IFS, LD_PRELOAD and LD_LIBRARY_PATH (hardening kept from before; keepalived passes them).

A leaf module (it imports no layer of ours): the checkers (`check/`) may not import `io/`.
"""

from __future__ import annotations

import os

REMOVED = ("IFS", "LD_PRELOAD", "LD_LIBRARY_PATH")


def script_env() -> dict[str, str]:
    """Our environment without REMOVED; PATH only if we have one (as keepalived)."""
    return {k: v for k, v in os.environ.items() if k not in REMOVED}
