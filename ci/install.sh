#!/usr/bin/env bash
# Install pykeepalived on a Debian 12 host the supported way (as root).
#
# Debian 12's Python refuses `pip install` into the system (PEP 668, "externally-managed-
# environment"), and its python3-pyroute2/-uvloop/-dnspython are older than
# pykeepalived needs. So the program and its pinned dependencies go into a private virtual
# environment, and the daemon is reached through a symlink where keepalived's binary lives:
#
#   /opt/pykeepalived/                 the virtual environment (PREFIX)
#   /usr/sbin/pykeepalived          -> /opt/pykeepalived/bin/pykeepalived   (the unit's ExecStart)
#   /etc/systemd/system/pykeepalived.service
#   /etc/default/pykeepalived          DAEMON_ARGS (kept if it exists; /etc/default/keepalived is read first)
#   /usr/local/share/man/man8/pykeepalived.8   generated from the program's own option table
#
# The fast path must compile (PYKEEPALIVED_REQUIRE_COMPILED=1): gcc and python3-dev are installed
# with python3-venv when missing. The daemon is never started or enabled here: see
# docs/MIGRATING.md for taking over from a running keepalived.
#
# Usage: ci/install.sh [--from SOURCE] [--no-apt] [--uninstall]
#   SOURCE: a pykeepalived sdist (.tar.gz), wheel (.whl) or source tree; default: this tree.
#   Paths can be moved for tests and packaging: PREFIX, SBINDIR, UNITDIR, DEFAULTDIR, MANDIR (and PYTHON,
#   the interpreter the environment is made from, default /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

PREFIX=${PREFIX:-/opt/pykeepalived}
SBINDIR=${SBINDIR:-/usr/sbin}
UNITDIR=${UNITDIR:-/etc/systemd/system}
DEFAULTDIR=${DEFAULTDIR:-/etc/default}
MANDIR=${MANDIR:-/usr/local/share/man}
PYTHON=${PYTHON:-/usr/bin/python3}
source=$here
apt=1
uninstall=0
while [ $# -gt 0 ]; do
    case $1 in
        --from) source=$2; shift 2 ;;
        --no-apt) apt=0; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "ci/install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$uninstall" = 1 ]; then
    # The configuration (/etc/keepalived, /etc/default/pykeepalived) stays, as with apt remove.
    if [ -L "$SBINDIR/pykeepalived" ]; then rm -f "$SBINDIR/pykeepalived"; fi
    rm -f "$UNITDIR/pykeepalived.service" "$MANDIR/man8/pykeepalived.8"
    rm -rf "$PREFIX"
    if [ -d /run/systemd/system ] && [ "$UNITDIR" = /etc/systemd/system ]; then systemctl daemon-reload; fi
    echo "pykeepalived removed ($PREFIX, $SBINDIR/pykeepalived, $UNITDIR/pykeepalived.service)"
    exit 0
fi

if [ "$apt" = 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "ci/install.sh: run as root (or --no-apt with PREFIX/SBINDIR/UNITDIR/DEFAULTDIR you can write)" >&2
        exit 4
    fi
    missing=""
    for p in python3 python3-venv python3-dev gcc; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        echo "== apt-get install$missing"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
fi

if [ ! -x "$PREFIX/bin/python" ]; then
    echo "== creating the virtual environment $PREFIX ($("$PYTHON" -V))"
    "$PYTHON" -m venv "$PREFIX"
    "$PREFIX/bin/python" -m pip install -q --upgrade pip
fi
echo "== installing pykeepalived from $source (the fast path must compile)"
log=$(mktemp)
if ! PYKEEPALIVED_REQUIRE_COMPILED=1 "$PREFIX/bin/python" -m pip install --upgrade "$source" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "ci/install.sh: pip install failed (full log: $log)" >&2
    exit 1
fi
rm -f "$log"
version=$("$PREFIX/bin/pykeepalived" --version 2>&1)
case $version in
    *"fast path: compiled"*) ;;
    *) echo "ci/install.sh: installed, but the fast path is not compiled: $version" >&2; exit 1 ;;
esac

mkdir -p "$SBINDIR" "$UNITDIR" "$DEFAULTDIR" "$MANDIR/man8"
"$PREFIX/bin/python" -c 'from pykeepalived.cli import man_page; print(man_page(), end="")' \
    > "$MANDIR/man8/pykeepalived.8"
ln -sfn "$PREFIX/bin/pykeepalived" "$SBINDIR/pykeepalived"
unit_src=$here/systemd/pykeepalived.service
default_src=$here/systemd/pykeepalived.default
sed "s|^ExecStart=/usr/sbin/pykeepalived |ExecStart=$SBINDIR/pykeepalived |" "$unit_src" > "$UNITDIR/pykeepalived.service"
chmod 0644 "$UNITDIR/pykeepalived.service"
if [ ! -e "$DEFAULTDIR/pykeepalived" ]; then
    install -m 0644 "$default_src" "$DEFAULTDIR/pykeepalived"
fi
if [ -d /run/systemd/system ] && [ "$UNITDIR" = /etc/systemd/system ]; then
    systemctl daemon-reload
fi
echo "$version" | sed 's/^/   /'
echo "== installed: $SBINDIR/pykeepalived -> $PREFIX/bin/pykeepalived, $UNITDIR/pykeepalived.service,"
echo "   $MANDIR/man8/pykeepalived.8"
echo "   Not started. Check the configuration first:  $SBINDIR/pykeepalived -t -f /etc/keepalived/keepalived.conf"
echo "   then (docs/MIGRATING.md):  systemctl disable --now keepalived && systemctl enable --now pykeepalived"
