# Conveniences for developers; CI and the README use the ci/ scripts directly.
PY := .venv/bin/python

.PHONY: test demo setup build dist install lint test-compiled test-pure golden clean-netns bench fuzz

test:                  ## the whole suite as CI runs it (setup, compiled + pure, lint, fuzz, IPVS VM)
	ci/test.sh

demo:                  ## the two-router failover demo in namespaces
	ci/demo.sh

setup:                 ## apt packages, .venv, editable install
	ci/setup.sh

build:                 ## rebuild the Cython fast path in place after editing .pyx
	$(PY) setup.py -q build_ext --inplace

dist:                  ## sdist + compiled wheel into dist/ (python -m build; fails without a compiler)
	PYKEEPALIVED_REQUIRE_COMPILED=1 $(PY) -m build

install:               ## as an operator on Debian 12: /opt/pykeepalived venv, /usr/sbin/pykeepalived, the unit
	ci/install.sh

lint:
	$(PY) -m ruff check src tests
	$(PY) -m mypy

test-compiled:
	$(PY) -m pytest -ra --ignore=tests/ipvs -n 4 --dist worksteal

test-pure:
	PYKEEPALIVED_NO_EXTENSIONS=1 $(PY) -m pytest -ra --ignore=tests/ipvs --ignore=tests/test_lint.py -n 4 --dist worksteal

golden:                ## re-capture tests/golden from the real keepalived
	$(PY) tests/golden/capture.py

clean-netns:           ## remove namespaces left by dead test runs (never those of live ones)
	cd tests && ../$(PY) -c 'from harness import cleanup_stale; print("\n".join(cleanup_stale()) or "nothing stale")'

bench:                 ## fast-path micro benchmarks, compiled vs pure (more scripts in bench/, see README)
	$(PY) -m pytest bench/test_fastpath_bench.py --benchmark-group-by=group

fuzz:                  ## one-hour fuzz run of both decoders, growing fuzz/corpus (see fuzz/README.md)
	FUZZ_KEEP_CORPUS=1 fuzz/run.sh 3600 -jobs=2 -workers=2
