#!/usr/bin/env bash
# Runs every test: C unit tests (cmocka, plain and under ASan+UBSan), a short fuzzing
# session per libFuzzer target, and the integration tests; pytest drives them all, so
# its summary line ("N passed, M failed") closes the run.
set -uo pipefail
cd "$(dirname "$0")/.."
export TESSERA_FIXTURES="$PWD/tests/out/fixtures"
mkdir -p tests/out
/usr/bin/python3 tests/fixtures/make_fixtures.py "$TESSERA_FIXTURES" || { echo "fixture generation failed"; echo "0 passed, 1 failed"; exit 1; }
# PyTorch reference fixtures for nn/ (tests/ref/ref_*.py OUTDIR), regenerated when a script changes.
export TESSERA_REF="$PWD/tests/out/ref"
mkdir -p "$TESSERA_REF"
for script in tests/ref/ref_*.py; do
  [ -e "$script" ] || continue
  stamp="$TESSERA_REF/.$(basename "$script").done"
  if [ ! -e "$stamp" ] || [ "$script" -nt "$stamp" ] || [ tests/ref/tensorfile.py -nt "$stamp" ]; then
    /usr/bin/python3 "$script" "$TESSERA_REF" || { echo "$script failed"; echo "0 passed, 1 failed"; exit 1; }
    touch "$stamp"
  fi
done
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
