#!/usr/bin/env bash
# Runs every test: C unit tests (cmocka, plain and under ASan+UBSan), a short fuzzing
# session per libFuzzer target, and the integration tests; pytest drives them all, so
# its summary line ("N passed, M failed") closes the run.
set -uo pipefail
cd "$(dirname "$0")/.."
export TESSERA_FIXTURES="$PWD/tests/out/fixtures"
mkdir -p tests/out
/usr/bin/python3 tests/fixtures/make_fixtures.py "$TESSERA_FIXTURES" || { echo "fixture generation failed"; echo "0 passed, 1 failed"; exit 1; }
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
