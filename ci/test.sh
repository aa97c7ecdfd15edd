#!/usr/bin/env bash
# The whole test suite, as CI runs it (README: `ci/test.sh`, as root). Fresh Debian 12, as root.
#   1. ci/setup.sh: apt packages, .venv, editable install (compiles the fast path)
#   2. pytest with the compiled fast path; includes ruff + mypy (tests/test_lint.py) and the one-minute
#      fuzz run of both decoders (tests/unit/test_fuzz.py -> fuzz/run.sh 60)
#   3. pytest again with the pure-Python twins (PYKEEPALIVED_NO_EXTENSIONS=1)
#   4. kernel IPVS tests (tests/ipvs, tests/check/test_vm_interop.py) inside ../shared/tools/ipvs-vm,
#      when that tool is present
# Every step runs even if an earlier one failed; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
results=()
failed=0

step() {  # step NAME COMMAND...: run, time and record one step
    local name=$1 t0 rc
    shift
    echo
    echo "==================== $name ===================="
    t0=$(date +%s)
    "$@"
    rc=$?
    results+=("$(printf '%-34s %s (%ss)' "$name" "$([ $rc = 0 ] && echo ok || echo "FAILED rc=$rc")" $(($(date +%s) - t0)))")
    [ $rc = 0 ] || failed=1
    return 0
}

ci/setup.sh || { echo "ci/test.sh: setup failed" >&2; exit 1; }
PY=$PWD/.venv/bin/python
"$PY" -c 'import pykeepalived._fastpath as f, sys; sys.exit(f.IMPLEMENTATION != "compiled")' || {
    echo "ci/test.sh: the compiled fast path did not build, the 'compiled' run would test the pure twins" >&2
    exit 1
}

# --tb=native: CPython 3.11's ast.parse can fail with "AST constructor recursion depth mismatch" while pytest
# formats a long traceback, which aborts the whole session (INTERNALERROR); native tracebacks need no AST.
# -n: the namespace and interop tests mostly wait on protocol timers (a failover cycle is ~20 s of
# advert intervals), so workers in parallel cut the wall time; every lab has its own unique names.
WORKERS=${CI_WORKERS:-3}  # more contend for the 2 cores and make protocol timing noisy
PYTEST=("$PY" -m pytest -p no:cacheprovider -ra --tb=native --timeout=300 --durations=10 --ignore=tests/ipvs
        -n "$WORKERS" --dist worksteal)
step "pytest (compiled fast path)" "${PYTEST[@]}"
step "pytest (pure twins)" env PYKEEPALIVED_NO_EXTENSIONS=1 "${PYTEST[@]}" --ignore=tests/test_lint.py

VM=../shared/tools/ipvs-vm/run-in-ipvs-vm.sh
if [ ! -d tests/ipvs ]; then
    echo; echo "== IPVS: no tests/ipvs, skipped"
elif [ -x "$VM" ]; then
    step "IPVS VM setup" "$VM" --setup
    # One boot for every test that needs a kernel with ip_vs (real keepalived runs checkers only there).
    step "pytest tests/ipvs + checker interop (IPVS VM)" "$VM" \
        "$PY -m pytest -p no:cacheprovider -ra --timeout=600 tests/ipvs tests/check/test_vm_interop.py"
else
    echo; echo "== IPVS: $VM not found; kernel IPVS tests skipped (they also run directly on a kernel with ip_vs:"
    echo "   $PY -m pytest tests/ipvs)"
fi

echo
echo "==================== summary ($(($(date +%s) - start))s) ===================="
printf '%s\n' "${results[@]}"
exit $failed
