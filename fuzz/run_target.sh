#!/bin/sh
# Fuzz one of the pure-Python targets for SECONDS (default 60): lexer (config/lexer.py) or
# http (the status API request parser and router, the metrics renderer, the HTTP_GET checker's
# response parser). The advert decoders have their own script (run.sh: it builds a debug twin).
# New corpus entries go to a temporary directory unless FUZZ_KEEP_CORPUS=1 (then fuzz/corpus-TARGET).
# Usage: fuzz/run_target.sh TARGET [SECONDS] [extra libFuzzer options]
set -eu
TARGET=${1:?usage: fuzz/run_target.sh lexer|http [SECONDS] [libFuzzer options]}
shift
SECONDS_TO_RUN=${1:-60}
[ $# -gt 0 ] && shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PY=${PYTHON:-$ROOT/.venv/bin/python}
case "$TARGET" in
    lexer) MAX_LEN=512 ;;
    http) MAX_LEN=4200 ;;  # past the checker's HEAD_MAX (4095)
    *) echo "fuzz: unknown target $TARGET (lexer or http)" >&2; exit 2 ;;
esac
SHM=/tmp
[ -w /dev/shm ] && SHM=/dev/shm
WORK=$(mktemp -d $SHM/pykeepalived-fuzz-$TARGET.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
export FUZZ_WORKDIR="$WORK"   # fuzz_lexer's include sandbox, removed with WORK however the run ends
if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then NEW="$HERE/corpus-$TARGET"; else NEW="$WORK/new"; mkdir -p "$NEW"; fi
DICT=""
[ -f "$HERE/$TARGET.dict" ] && DICT="-dict=$HERE/$TARGET.dict"
cd "$ROOT"
"$PY" "$HERE/fuzz_$TARGET.py" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -max_len="$MAX_LEN" \
    -timeout=60 -print_final_stats=1 -artifact_prefix="$HERE/" $DICT "$@" "$NEW" "$HERE/corpus-$TARGET"
