"""Runs each cmocka unit-test binary, plain and under ASan+UBSan, as one pytest test."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARIES = sorted(glob.glob(os.path.join(ROOT, "build/tests/test_*")) +
                  glob.glob(os.path.join(ROOT, "build/tests/fd_*")) +
                  glob.glob(os.path.join(ROOT, "build-asan/tests/test_*")))
BINARIES = [b for b in BINARIES if os.access(b, os.X_OK) and not b.endswith(".d")]


@pytest.mark.parametrize("binary", BINARIES, ids=[os.path.relpath(b, ROOT) for b in BINARIES])
def test_unit_binary(binary):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    p = subprocess.run([binary], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = p.stdout + p.stderr
    assert p.returncode == 0, output[-4000:]
    assert "[  PASSED  ]" in output, output[-4000:]
    assert "[  FAILED  ]" not in output, output[-4000:]


def test_unit_binaries_exist():
    assert len(BINARIES) >= 2, "no unit-test binaries were built (make test builds them)"
