"""The autoregressive token model end to end: `tessera train model=ar` on a token store
(raster and RAR: r logged per step along its schedule, the tokenizer resolved from the
store's meta, resume), `tessera sample` into a pixel store and a grid (the same images
whatever the ranks and batch), and every refusal: one line, nothing written.

Runs on the tiny tokenizer test_tokenize trains once per session (K = 32, 7×7 codes)."""
import json
import os
import shutil
import struct
import subprocess

import lmdb
import pytest
from PIL import Image
from conftest import ROOT, Store, ingest_store, records, write_corpus
from test_tokenize import _tensors, fm, metrics, other, refused, tokenize  # noqa: F401  (fixtures)
from test_train import ENV, train

TINY_AR = """model = ar
layers = 1
heads = 2
width = 16
batch_size = 16
steps = 10
lr = 3e-3
schedule = constant
log_every = 1
ckpt_every = 5
samples_per_class = 2
sample_cfg = 2
"""


@pytest.fixture(scope="module")
def ar(fm, tmp_path_factory):
    """Token stores of the 512 training and 64 held-out images, and a RAR run on them:
    r = 1 for 2 steps, falling to 0 at step 6."""
    d = tmp_path_factory.mktemp("ar")
    tokenize(fm.ckpt, fm.train, "-o", d / "train.tokens")
    tokenize(fm.ckpt, fm.held, "-o", d / "held.tokens")
    cfg = d / "ar.ini"
    cfg.write_text(TINY_AR + f"store = {d / 'train.tokens'}\nanneal_start = 2\nanneal_end = 6\n")
    train(cfg, f"run_dir={d}/run")
    return d, cfg, d / "run/ckpt_00000010.bin"


def sample(ckpt, out, *args, ranks=0, check=0):
    cmd = [os.path.join(ROOT, "build/tessera"), "sample", "--ckpt", str(ckpt), "-o", str(out), *map(str, args)]
    if ranks:
        cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    if check is not None:
        assert p.returncode == check, p.stdout + p.stderr
    return p


# ------------------------------------------------------------------ training


def test_r_follows_the_anneal_schedule_and_is_logged_every_step(ar, fm):
    d, _, ckpt = ar
    lines = metrics(d / "run")
    assert [x["step"] for x in lines] == list(range(1, 11))
    # Step s is trained with s - 1 updates done: r = 1 before 2, linear to 0 at 6.
    assert [x["r"] for x in lines] == [1, 1, 1, 0.75, 0.5, 0.25, 0, 0, 0, 0]
    assert all(x["tokens_per_s"] == pytest.approx(49 * x["examples_per_s"], rel=1e-4) for x in lines)
    config = (d / "run/config.ini").read_text()
    assert f"tokenizer = {fm.ckpt}  # the store's meta" in config
    grid = Image.open(d / "run/samples.png")
    assert grid.size[0] > grid.size[1] / 10 > 0  # 10 rows of 2


def test_anneal_in_epochs(ar, tmp):
    d, cfg, _ = ar
    # 512 records at batch 16: 32 steps an epoch; r = 1 until 1/8 epoch (4 steps), 0 from 1/4 (8 steps).
    train(cfg, f"run_dir={tmp}/run", "anneal_unit=epochs", "anneal_start=0.125", "anneal_end=0.25")
    assert [x["r"] for x in metrics(tmp / "run")] == [1, 1, 1, 1, 1, 0.75, 0.5, 0.25, 0, 0]


def test_raster_is_r_zero_from_the_first_step(ar, tmp):
    d, cfg, _ = ar
    train(cfg, f"run_dir={tmp}/run", "anneal_start=0", "anneal_end=0", "steps=3")
    assert [x["r"] for x in metrics(tmp / "run")] == [0, 0, 0]


def test_five_steps_resume_five_steps_equals_ten(ar, tmp):
    """Orders and label dropout are drawn per step, so a resumed run draws what an unbroken one did."""
    d, cfg, ckpt = ar
    train(cfg, f"run_dir={tmp}/resumed", "steps=5")
    p = train(cfg, f"run_dir={tmp}/resumed")
    assert "(step 5)" in p.stderr
    a, b = metrics(d / "run"), metrics(tmp / "resumed")
    for x in a + b:
        del x["examples_per_s"], x["tokens_per_s"]
    assert a == b
    assert _tensors(ckpt) == _tensors(tmp / "resumed/ckpt_00000010.bin")


def test_two_ranks_train(ar, tmp):
    d, cfg, _ = ar
    p = train(cfg, f"run_dir={tmp}/run", "steps=4", ranks=2)
    assert "on 2 ranks" in p.stderr
    assert [x["r"] for x in metrics(tmp / "run")] == [1, 1, 1, 0.75]


def test_stores_and_configs_it_cannot_train_on(ar, fm, other, tmp):
    d, cfg, _ = ar

    def corrupted(name, db, key, edit):
        """A copy of the train tokens with one entry of one table rewritten by edit(bytearray)."""
        path = tmp / name
        shutil.copytree(d / "train.tokens", path)
        env = lmdb.open(str(path), max_dbs=8)
        table = env.open_db(db)  # before the write txn (open_db inside one would wait for itself)
        with env.begin(write=True) as txn:
            value = bytearray(txn.get(key, db=table))
            edit(value)
            txn.put(key, bytes(value), db=table)
        env.close()
        return path

    record7 = struct.pack(">Q", 7)
    code = corrupted("code.tokens", b"records", record7, lambda v: v.__setitem__(slice(16 + 24, 16 + 26), struct.pack("<H", 32)))
    label = corrupted("label.tokens", b"records", record7, lambda v: v.__setitem__(slice(4, 8), struct.pack("<i", 10)))
    grid = corrupted("grid.tokens", b"records", record7, lambda v: v.__setitem__(slice(8, 12), struct.pack("<HH", 49, 1)))
    short = corrupted("short.tokens", b"records", record7, lambda v: v.__setitem__(slice(8, 10), struct.pack("<H", 6)))
    kind = corrupted("kind.tokens", b"meta", b"token_kind", lambda v: v.__setitem__(slice(0, len(v)), b"dq"))
    cases = [
        ([f"tokenizer={other}"], f"tokenizer {other} (vqvae:"),
        ([f"tokenizer={other}"], "is not the tokenizer that made"),
        ([f"store={fm.train}"], "is a pixels store; model = ar trains on tokens stores"),
        ([f"store={code}"], f"{code}: record 7: code 32 at row 1, column 5 is out of range (the tokenizer has 32 codes)"),
        ([f"store={label}"], f"{label}: record 7: label 10 is not one of the store's 10 classes"),
        ([f"store={grid}"], f"{grid}: record 7: is not a 7×7 uint16 code grid"),
        ([f"store={short}"], f"{short}: record 7: record payload is 98 bytes, 6x7x1 needs 84"),
        ([f"store={kind}"], f"{kind}: holds dq tokens; model = ar trains on VQ code grids"),
        (["anneal_start=5", "anneal_end=2"], "anneal_end = 2 comes before anneal_start = 5"),
        (["width=17"], "width = 17 is not a multiple of heads = 2"),
        ([f"tokenizer={tmp / 'missing.bin'}"], "missing.bin"),
    ]
    for overrides, words in cases:
        p = train(cfg, f"run_dir={tmp}/run", *overrides, check=1)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (overrides, p.stderr)
        assert not (tmp / "run" / "ckpt_00000005.bin").exists()


# ------------------------------------------------------------------ sampling


def test_sample_writes_labelled_images_and_a_grid(ar, fm, tmp):
    _, _, ckpt = ar
    p = sample(ckpt, tmp / "s", "--n", 25, "--cfg", 2, "--grid", tmp / "g.png")
    assert "25 images in" in p.stderr
    got = records(str(tmp / "s"))
    assert len(got) == 25 and [label for label, _ in got] == [i % 10 for i in range(25)]
    assert all(len(pixels) == 28 * 28 for _, pixels in got)
    assert len({pixels for _, pixels in got}) == 25
    with Store(str(tmp / "s")) as s:
        meta = s.meta
    assert meta["num_labels"] == 10 and meta["kind"] == "pixels" and meta["tokenizer"].startswith("vqvae:")
    assert "cfg=2 " in meta["sampler"] and str(ckpt) in meta["source"]
    g = Image.open(tmp / "g.png")
    assert abs(g.size[1] / g.size[0] - 10 / 3) < 0.1  # 10 rows of 3
    sample(ckpt, tmp / "k", "--n", 6, "--class", 3)
    assert [label for label, _ in records(str(tmp / "k"))] == [3] * 6


def test_the_same_images_whatever_the_ranks_and_batch(ar, tmp):
    _, _, ckpt = ar
    opts = ["--n", 30, "--cfg", 3, "--cfg-schedule", "powcos", "--cfg-power", 2, "--temperature", 0.9, "--top-k", 8]
    sample(ckpt, tmp / "one", *opts, "--batch", 7)
    sample(ckpt, tmp / "two", *opts, ranks=2)
    a = records(str(tmp / "one"))
    assert len(a) == 30 and a == records(str(tmp / "two"))  # labels and pixels, byte for byte
    sample(ckpt, tmp / "seed2", *opts, "--seed", 2)
    assert [label for label, _ in records(str(tmp / "seed2"))] == [label for label, _ in a]
    assert records(str(tmp / "seed2")) != a


def test_bad_sampling_requests_write_nothing(ar, fm, other, tmp):
    d, cfg, ckpt = ar
    out = tmp / "out"
    p = sample(ckpt, out, "--n", 0, check=2)
    assert "--n: expected a positive integer, got '0'" in p.stderr
    refused(sample(ckpt, out, "--n", 5, "--class", 10, check=None), "--class 10 is out of range", "0..9")
    refused(sample(ckpt, out, "--n", 5, "--top-k", 33, check=None), "--top-k 33", "32 codes")
    for flags, words in ((["--cfg-schedule", "linear"], "--cfg-schedule linear: expected const or powcos"),
                         (["--temperature", 0], "--temperature 0: expected a number in"),
                         (["--cfg", "x"], "--cfg x: expected a number in")):
        p = sample(ckpt, out, "--n", 5, *flags, check=2)
        assert words in p.stderr, (flags, p.stderr)
    refused(sample(fm.ckpt, out, "--n", 5, check=None), "is a checkpoint of model 'vqvae', not of an autoregressive")
    (tmp / "x").write_text("not a checkpoint")
    refused(sample(tmp / "x", out, "--n", 5, check=None), tmp / "x")
    # The tokenizer the checkpoint names was replaced by another one, or is gone.
    tok_copy = tmp / "tok.bin"
    shutil.copy(fm.ckpt, tok_copy)
    train(cfg, f"run_dir={tmp}/copy", "steps=1", f"tokenizer={tok_copy}", "ckpt_every=1")
    copy_ckpt = tmp / "copy/ckpt_00000001.bin"
    shutil.copy(other, tok_copy)
    refused(sample(copy_ckpt, out, "--n", 5, check=None), "has changed since the model trained")
    os.unlink(tok_copy)
    refused(sample(copy_ckpt, out, "--n", 5, check=None), "its tokenizer", str(tok_copy), "cannot open")
    # -o that exists is refused; -o that cannot be created leaves nothing behind.
    (tmp / "exists").mkdir()
    refused(sample(ckpt, tmp / "exists", "--n", 5, check=None), "exists")
    (tmp / "file").write_text("")
    p = sample(ckpt, tmp / "file" / "out", "--n", 5, check=1)
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not out.exists() and not (tmp / "out.partial").exists()
    assert not (tmp / "file" / "out.partial").exists()


def test_unlabelled_models_sample_unconditionally(fm, tmp):
    """A token store without labels: the null class starts every sequence; guidance is refused."""
    write_corpus(tmp / "jpegs", 16)
    ingest_store(tmp / "jpegs", tmp / "px")
    tokenize(fm.ckpt, tmp / "px", "-o", tmp / "px.tokens")
    cfg = tmp / "ar.ini"
    cfg.write_text(TINY_AR.replace("steps = 10", "steps = 2") + f"store = {tmp / 'px.tokens'}\n")
    train(cfg, f"run_dir={tmp}/run", "ckpt_every=2")
    ckpt = tmp / "run/ckpt_00000002.bin"
    sample(ckpt, tmp / "s", "--n", 4)
    assert [label for label, _ in records(str(tmp / "s"))] == [-1] * 4
    refused(sample(ckpt, tmp / "t", "--n", 4, "--cfg", 2, check=None), "guidance needs classes")
    refused(sample(ckpt, tmp / "t", "--n", 4, "--class", 0, check=None), "--class 0: the model was trained on an unlabelled store")
    assert not (tmp / "t").exists()
