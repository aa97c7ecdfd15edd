#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine (as root) for the tests and the demo; idempotent.
#   - apt: whatever of iproute2, nftables, tcpdump, keepalived (2.2.7, the interop peer), ping, a C
#     compiler and Python headers/venv is missing, and every other program a test runs: kmod (modprobe),
#     procps (sysctl, pkill), openssl (the checker tests' throw-away CA), util-linux (unshare, nsenter), mount,
#     passwd (useradd), ipvsadm (cross-checks the kernel IPVS table). tests/test_ci_tools.py keeps this
#     list and the tests in step: a program a test runs is either here or the test skips without it.
#   - .venv with pykeepalived installed editable with its [test] extra (this compiles the Cython fast path)
# Usage: ci/setup.sh [--if-needed]   (--if-needed: skip the pip install when the package already imports)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "ci/setup.sh: run as root (network namespaces, apt)" >&2
    exit 1
fi

packages="iproute2 nftables tcpdump keepalived iputils-ping gcc python3-dev python3-venv
          kmod procps openssl util-linux mount passwd ipvsadm"
missing=""
for p in $packages; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "== apt-get install$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
kv=$(keepalived -v 2>&1 | sed -n 1p)  # sed reads all: head could SIGPIPE keepalived under pipefail
case "$kv" in
    *v2.2.7*) ;;
    *) echo "WARNING: interop peer is '$kv', the reference is keepalived 2.2.7" >&2 ;;
esac

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $($PYTHON -V)"
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
# The build tools of pyproject's [build-system] in the venv too: `setup.py build_ext --inplace`
# (make build, after editing a .pyx) runs with the venv's setuptools, and the venv's bundled one
# (65.x) rejects the SPDX `license` string.
.venv/bin/python -m pip install -q 'setuptools>=77' 'Cython>=3.0.10,<4'
if [ "${1:-}" = "--if-needed" ] && .venv/bin/python -c "import pykeepalived.cli" 2>/dev/null; then
    exit 0
fi
echo "== pip install -e '.[test]' (compiles the Cython fast path into src/_fastpath; log: .venv/pip-install.log)"
if ! .venv/bin/python -m pip install -e '.[test]' > .venv/pip-install.log 2>&1; then
    tail -n 40 .venv/pip-install.log >&2
    echo "ci/setup.sh: pip install failed (full log: .venv/pip-install.log)" >&2
    exit 1
fi
grep -h "WARNING: .*\(fast path\|compile\|Cython\)" .venv/pip-install.log || true
