"""Run pykeepalived's VRRP side in the foreground on one config file, without the supervisor.

    python tests/netns/vrrp_child.py CONFIG [keepalived options...]

Loads the config, logs to stderr and calls `run_vrrp` in this process: handy to instrument
the VRRP loop (wrap runtime methods before calling main()) or when the daemon is broken.
"""

from __future__ import annotations

import logging
import sys

from pykeepalived.cli import build_parser
from pykeepalived.config import load
from pykeepalived.vrrp.process import run_vrrp


def main() -> int:
    opts = build_parser().parse_args(["-f", sys.argv[1], *sys.argv[2:]])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s: %(message)s")
    result = load(opts.config_file)
    for d in result.diagnostics:
        print(d.format(), file=sys.stderr)
    if result.config is None:
        return 1
    return run_vrrp(result.config, opts)


if __name__ == "__main__":
    sys.exit(main())
