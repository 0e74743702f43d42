"""A short fuzzing session for each libFuzzer target (`make fuzz` runs them longer)."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = sorted(glob.glob(os.path.join(ROOT, "build-fuzz/fuzz_*")))


@pytest.mark.parametrize("target", TARGETS, ids=[os.path.basename(t) for t in TARGETS])
def test_fuzz_target_finds_nothing(target, tmp_path):
    seconds = int(os.environ.get("FUZZ_SECONDS", "20"))
    name = os.path.basename(target)
    p = subprocess.run(["bash", os.path.join(ROOT, "tests/fuzz/run_fuzz.sh"), name], cwd=ROOT, capture_output=True,
                       text=True, timeout=seconds * 4 + 120, env=dict(os.environ, FUZZ_SECONDS=str(seconds)))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    log = open(os.path.join(ROOT, "tests/out/fuzz", name, "log.txt")).read()
    runs = [int(line.split()[-1]) for line in log.splitlines() if "stat::number_of_executed_units" in line]
    assert runs and runs[0] > 1000, log[-2000:]


def test_fuzz_targets_exist():
    assert len(TARGETS) >= 2, "make test builds the fuzz targets into build-fuzz/"
