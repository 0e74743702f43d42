"""Real mpirun with several ranks: the gradient allreduce and scalar reductions the
data-parallel trainer stands on (train/dist.c), and the bucketed sum that overlaps
backward (train/grad_sync.c)."""
import os
import subprocess

import pytest
from conftest import ROOT

MPIRUN_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                  OMPI_MCA_btl_vader_single_copy_mechanism="none", OPENBLAS_NUM_THREADS="1")


def rank_lines(program, ranks):
    """Runs build/tests/mpi/PROGRAM under mpirun; returns each rank's "rank ..." line, sorted."""
    p = subprocess.run(["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none",
                        os.path.join(ROOT, "build/tests/mpi", program)],
                       capture_output=True, text=True, timeout=120, env=MPIRUN_ENV)
    assert p.returncode == 0, p.stdout + p.stderr
    return sorted(line for line in p.stdout.splitlines() if line.startswith("rank "))


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_allreduce_sums_exactly_on_every_rank(ranks):
    assert rank_lines("mpi_allreduce", ranks) == [f"rank {r}/{ranks} ok" for r in range(ranks)]


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_bucketed_sums_give_the_allreduce_mean_bit_for_bit(ranks):
    assert rank_lines("mpi_grad_sync", ranks) == [f"rank {r}/{ranks} ok: 6 cases" for r in range(ranks)]
