#!/bin/sh
# Fuzz both advert decoders for SECONDS (default 60): builds the compiled twin with bounds
# checks (PYKEEPALIVED_DEBUG=1) in a temporary copy, never in src/; fuzz_decode.py puts every
# input against a guard page so a read past the buffer crashes.
# New corpus entries go to a temporary directory unless FUZZ_KEEP_CORPUS=1 (then fuzz/corpus).
# Usage: fuzz/run.sh [SECONDS] [extra libFuzzer options]
set -eu
SECONDS_TO_RUN=${1:-60}
[ $# -gt 0 ] && shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PY=${PYTHON:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d /tmp/pykeepalived-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

mkdir -p "$WORK/src"
cp "$ROOT/setup.py" "$ROOT/pyproject.toml" "$WORK/"
cp -r "$ROOT/src/_fastpath" "$WORK/src/_fastpath"
mkdir -p "$WORK/src/pykeepalived" && cp "$ROOT/src/pykeepalived/__init__.py" "$WORK/src/pykeepalived/"
rm -f "$WORK"/src/_fastpath/*.so "$WORK"/src/_fastpath/*.c
(cd "$WORK" && PYKEEPALIVED_DEBUG=1 \
    "$PY" setup.py -q build_ext --build-lib "$WORK/lib" --build-temp "$WORK/tmp" >"$WORK/build.log" 2>&1) \
    || { cat "$WORK/build.log"; exit 2; }
for m in codec checksum; do
    ls "$WORK"/lib/pykeepalived/_fastpath/$m.*.so >/dev/null 2>&1 || { cat "$WORK/build.log"; echo "fuzz: $m not built" >&2; exit 2; }
done

if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then NEW="$HERE/corpus"; else NEW="$WORK/new"; mkdir -p "$NEW"; fi
cd "$ROOT"
PYKEEPALIVED_FUZZ_LIB="$WORK/lib" "$PY" "$HERE/fuzz_decode.py" -max_total_time="$SECONDS_TO_RUN" \
    -rss_limit_mb=2048 -max_len=1200 -print_final_stats=1 -artifact_prefix="$HERE/" "$@" "$NEW" "$HERE/corpus"
