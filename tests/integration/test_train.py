"""tessera train: a tiny class-conditional iGPT on Fashion-MNIST, under real mpirun.
1 rank vs 2 ranks, 20 steps straight vs 10 + resume + 10, a rank killed mid-run, and
every bad input of the training issue: each a clear message."""
import json
import os
import signal
import struct
import subprocess
import time
import zlib

import lmdb
import pytest
from conftest import TESSERA, run

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1",
           OMPI_MCA_btl_vader_single_copy_mechanism="none")
TINY = """model = igpt
batch_size = 16
steps = 20
lr = 3e-3
schedule = constant
log_every = 1
ckpt_every = 10
layers = 2
width = 32
heads = 4
palette = 8
downsample = 4
samples_per_class = 2
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    run("ingest", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "-o", d / "t10k", "--size", 28,
        "--channels", 1, check=0)
    return d / "t10k"


def config(tmp, store):
    path = tmp / "run.ini"
    path.write_text(TINY + f"store = {store}\n")
    return path


def train(cfg, *overrides, ranks=0, timeout=300, check=0):
    cmd = [TESSERA, "train", str(cfg), *overrides]
    if ranks:
        cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)
    if check is not None:
        assert p.returncode == check, p.stdout + p.stderr
    return p


def losses(run_dir):
    return [json.loads(line)["loss"] for line in open(os.path.join(run_dir, "metrics.jsonl"))]


def test_a_run_writes_config_metrics_checkpoints_and_samples(tmp, store):
    cfg = config(tmp, store)
    train(cfg, f"run_dir={tmp}/r", "steps=40", "lr=1e-2")
    lines = [json.loads(line) for line in open(tmp / "r/metrics.jsonl")]
    assert [x["step"] for x in lines] == list(range(1, 41))
    for key in ("epoch", "loss", "lr", "grad_norm", "examples_per_s", "tokens_per_s"):
        assert key in lines[0]
    first, last = sum(x["loss"] for x in lines[:5]) / 5, sum(x["loss"] for x in lines[-5:]) / 5
    assert last < first - 0.2, (first, last)  # clearly learning
    resolved = (tmp / "r/config.ini").read_text()
    assert f"run_dir = {tmp}/r  # override" in resolved and "width = 32  # " in resolved
    assert sorted(os.listdir(tmp / "r")) == ["ckpt_00000010.bin", "ckpt_00000020.bin", "ckpt_00000030.bin",
                                              "ckpt_00000040.bin", "config.ini", "metrics.jsonl", "samples.png"]


def test_two_ranks_follow_the_one_rank_trajectory(tmp, store):
    cfg = config(tmp, store)
    train(cfg, f"run_dir={tmp}/one", "samples_per_class=0", ranks=1)
    train(cfg, f"run_dir={tmp}/two", "samples_per_class=0", ranks=2)
    a, b = losses(tmp / "one"), losses(tmp / "two")
    assert len(a) == len(b) == 20
    assert max(abs(x - y) / abs(x) for x, y in zip(a, b)) <= 1e-5


def test_overlapped_gradient_sums_change_no_bit(tmp, store):
    # Two ranks: each element's sum is one addition either way, then the same 1/2. Buckets
    # of 0.01 MB: each block's gradients (12.7 K floats here) go in a sum of their own.
    cfg = config(tmp, store)
    train(cfg, f"run_dir={tmp}/plain", "samples_per_class=0", ranks=2)
    train(cfg, f"run_dir={tmp}/overlap", "samples_per_class=0", "grad_bucket_mb=0.01", ranks=2)
    assert losses(tmp / "plain") == losses(tmp / "overlap")
    a, b = (tmp / "plain/ckpt_00000020.bin").read_bytes(), (tmp / "overlap/ckpt_00000020.bin").read_bytes()
    n = struct.unpack_from("<Q", a, 104)[0]
    assert a[-4 - 12 * n:-4] == b[-4 - 12 * n:-4]  # parameters and AdamW moments (docs/FORMAT.md)
    assert "grad_bucket_mb = 0.01  # override" in (tmp / "overlap/config.ini").read_text()


def test_ten_steps_resume_ten_steps_equals_twenty(tmp, store):
    cfg = config(tmp, store)
    train(cfg, f"run_dir={tmp}/straight", "samples_per_class=0", "ema_decay=0.9")
    train(cfg, f"run_dir={tmp}/resumed", "samples_per_class=0", "steps=10", "ema_decay=0.9")
    p = train(cfg, f"run_dir={tmp}/resumed", "samples_per_class=0", "ema_decay=0.9")
    assert "resuming from" in p.stderr and "(step 10)" in p.stderr
    assert losses(tmp / "straight") == losses(tmp / "resumed")  # bit-identical
    # Parameters, AdamW moments and EMA weights (the last tensors of the file) resume exactly.
    a, b = (tmp / "straight/ckpt_00000020.bin").read_bytes(), (tmp / "resumed/ckpt_00000020.bin").read_bytes()
    n = struct.unpack_from("<Q", a, 104)[0]
    assert struct.unpack_from("<I", a, 216)[0] == 1  # has_ema (docs/FORMAT.md)
    assert a[-4 - 16 * n:-4] == b[-4 - 16 * n:-4]


def test_a_killed_rank_ends_the_job_and_a_rerun_resumes(tmp, store):
    cfg = config(tmp, store)
    p = subprocess.Popen(["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", TESSERA, "train", str(cfg),
                          f"run_dir={tmp}/k", "samples_per_class=0", "steps=400", "ckpt_every=5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=ENV)
    deadline = time.time() + 60
    while not os.path.exists(tmp / "k/ckpt_00000010.bin") and time.time() < deadline:
        time.sleep(0.01)
    ranks = [int(x) for x in subprocess.run(["pgrep", "-f", f"run_dir={tmp}/k"], capture_output=True,
                                            text=True).stdout.split() if int(x) != p.pid]
    trainers = [pid for pid in ranks if open(f"/proc/{pid}/cmdline", "rb").read().startswith(TESSERA.encode())]
    assert trainers, "no rank processes found"
    os.kill(trainers[-1], signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode != 0  # mpirun ended the job
    q = train(cfg, f"run_dir={tmp}/k", "samples_per_class=0", "steps=400", "ckpt_every=5", ranks=2)
    assert "resuming from" in q.stderr
    assert [json.loads(line)["step"] for line in open(tmp / "k/metrics.jsonl")] == list(range(1, 401))


def expect_error(cfg, words, *overrides):
    p = train(cfg, *overrides, check=1)
    message = p.stderr.strip().splitlines()
    assert any(words in line for line in message), p.stderr
    return p


def test_bad_configs_and_stores(tmp, store):
    cfg = config(tmp, store)
    expect_error(cfg, "unknown key 'widht'", f"run_dir={tmp}/x", "widht=3")
    expect_error(cfg, "width must be an integer, got 'wide'", f"run_dir={tmp}/x", "width=wide")
    expect_error(cfg, "batch_size = 0 is out of range", f"run_dir={tmp}/x", "batch_size=0")
    expect_error(cfg, "run_dir is required", )
    expect_error(cfg, "model = gan is not a model", f"run_dir={tmp}/x", "model=gan")
    expect_error(cfg, "no such store", f"run_dir={tmp}/x", f"store={tmp}/nowhere")
    expect_error(cfg, "width = 30 is not a multiple of heads = 4", f"run_dir={tmp}/x", "width=30")
    expect_error(cfg, "needs about", f"run_dir={tmp}/x", "width=4096", "layers=48", "batch_size=8192")
    # A store of another kind.
    other = tmp / "tokens"
    env = lmdb.open(str(other), max_dbs=8)
    dbs = {name: env.open_db(name) for name in (b"meta", b"records", b"sources", b"rejects")}
    with env.begin(write=True) as txn:  # (open_db inside a write txn would wait for itself)
        txn.put(b"kind", b"tokens", db=dbs[b"meta"])
    env.close()
    expect_error(cfg, "is a tokens store; model = igpt trains on pixels stores", f"run_dir={tmp}/x", f"store={other}")


def test_nan_loss_stops_with_the_step_and_saves_nothing_broken(tmp, store):
    cfg = config(tmp, store)
    env = dict(ENV, TESSERA_INJECT_NAN_STEP="15")
    p = subprocess.run([TESSERA, "train", str(cfg), f"run_dir={tmp}/nan", "samples_per_class=0"], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 1, p.stderr
    assert "step 15: the loss is NaN; stopping without saving" in p.stderr
    assert sorted(n for n in os.listdir(tmp / "nan") if n.startswith("ckpt_")) == ["ckpt_00000010.bin"]
    assert [json.loads(line)["step"] for line in open(tmp / "nan/metrics.jsonl")] == list(range(1, 15))
    q = train(cfg, f"run_dir={tmp}/nan", "samples_per_class=0")  # the saved state is sound: resume and finish
    assert "(step 10)" in q.stderr


def test_checkpoints_from_another_model_or_broken_are_refused(tmp, store):
    cfg = config(tmp, store)
    train(cfg, f"run_dir={tmp}/c", "samples_per_class=0")
    path = tmp / "c/ckpt_00000020.bin"
    raw = bytearray(path.read_bytes())
    raw[16:48] = b"vqvae".ljust(32, b"\0")  # another model, with a valid checksum
    raw[-4:] = struct.pack("<I", zlib.crc32(bytes(raw[:-4])) & 0xFFFFFFFF)
    path.write_bytes(bytes(raw))
    expect_error(cfg, "is a checkpoint of model 'vqvae', not 'igpt'", f"run_dir={tmp}/c", "samples_per_class=0")
    path.write_bytes(bytes(raw[: len(raw) // 2]))  # truncated: skipped, the older one is used
    p = train(cfg, f"run_dir={tmp}/c", "samples_per_class=0")
    assert "skipping" in p.stderr and "truncated" in p.stderr
    assert "resuming from" in p.stderr and "(step 10)" in p.stderr
