"""`-t/--config-test[=LOGFILE]` and `-d/--dump-conf`."""

from __future__ import annotations

import argparse
import sys

from pykeepalived.config.loader import load


def config_test(opts: argparse.Namespace) -> int:
    """Load the config, print every message with file and line, return keepalived's -t exit code.

    Without -t (only -d), the parsed model is printed and 0/1 returned."""
    try:
        result = load(opts.config_file, config_id=getattr(opts, "config_id", None),
                      all_config=bool(getattr(opts, "all_config", False)))
    except Exception as exc:  # a bug of ours: one clear line, never a traceback
        print(f"pykeepalived: internal error reading {opts.config_file}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 4
    test = getattr(opts, "config_test", None)
    out = sys.stderr
    logfile = None
    if test:
        try:
            logfile = open(test, "a", encoding="utf-8")  # noqa: SIM115
            out = logfile
        except OSError as exc:
            print(f"Unable to open config-test log file {test}: {exc.strerror}", file=sys.stderr)
    try:
        for d in result.diagnostics:
            print(d.format(), file=out)
        if getattr(opts, "dump_conf", False) and result.config is not None:
            from pykeepalived.config.dump import dump_config

            sys.stdout.write(dump_config(result.config))
    finally:
        if logfile is not None:
            logfile.close()
    if test is not None:
        return result.exit_code
    return 0 if result.config is not None else 1
