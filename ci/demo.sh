#!/usr/bin/env bash
# The demo (README: `ci/demo.sh`): installs what is missing on a fresh Debian 12 (as root), then runs
# a two-router pykeepalived cluster and a client in network namespaces, kills the master, shows the
# takeover and cleans up. Extra arguments go to ci/demo.py (--keepalived-peer: real keepalived on r2).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/setup.sh --if-needed
exec .venv/bin/python ci/demo.py "$@"
