"""The VQ-VAE tokenizer end to end: `tessera train model=vqvae` (metrics, reconstructions,
2 ranks, resume), `tessera tokenize` from a pixel store and from JPEGs, `tessera detokenize`
back to pixels (PSNR equal to the run's own validation), resume after kill -9, a killed
worker, and every refusal of bad input: one line, exit 1, nothing half-written.

One tiny tokenizer (8-channel convolutions, K = 32 codes of dimension 8, 10 steps on 512
Fashion-MNIST images) is trained once per session and shared."""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from types import SimpleNamespace

import lmdb
import numpy as np
import pytest
from PIL import Image
from conftest import ASAN_TESSERA, FMNIST, ROOT, TESSERA, Store, fmnist_idx_subset, ingest_store, run, write_corpus
from test_pool import _children, _free_port, _kill_once_busy, _popen
from test_resume import _committed
from test_train import train

K = 32
TINY = f"""model = vqvae
downsample = 4
channels = 8,8,8
groups = 4
res_blocks = 1
codebook_size = {K}
code_dim = 8
batch_size = 16
steps = 10
lr = 3e-3
schedule = constant
log_every = 1
val_every = 5
val_images = 64
ckpt_every = 5
"""
STEP_FIELDS = {"step", "epoch", "loss", "lr", "grad_norm", "examples_per_s", "recon_loss", "quantizer_loss",
               "perplexity", "codes_restarted"}
VAL_FIELDS = {"val_psnr", "val_ssim", "val_codebook_usage", "val_perplexity"}




def _config(folder, train_store, val_store=None):
    path = folder / "vq.ini"
    path.write_text(TINY + f"store = {train_store}\n" + (f"val_store = {val_store}\n" if val_store else ""))
    return path


@pytest.fixture(scope="session")
def fm(tmp_path_factory):
    """512 training and 64 held-out images, and the tokenizer trained on them (validated on all 64)."""
    d = tmp_path_factory.mktemp("tokenize")
    train_store = ingest_store(fmnist_idx_subset(d, "train", "train", 0, 512), d / "train")
    held = ingest_store(fmnist_idx_subset(d, "held", "t10k", 0, 64), d / "held")
    cfg = _config(d, train_store, held)
    train(cfg, f"run_dir={d}/vq")
    return SimpleNamespace(dir=d, idx=d / "held-images-idx3-ubyte", train=train_store, held=held, cfg=cfg,
                           run=d / "vq", ckpt=d / "vq/ckpt_00000010.bin")


@pytest.fixture(scope="session")
def big(fm, tmp_path_factory):
    """The 10,000 test images, and their tokens from an uninterrupted 2-worker run."""
    d = tmp_path_factory.mktemp("tokenize_big")
    store = ingest_store(f"{FMNIST}/t10k-images-idx3-ubyte.gz", d / "t10k")
    run("tokenize", "--tokenizer", fm.ckpt, store, "-o", d / "reference", "--workers", 2, check=0)
    return store, raw_records(d / "reference")


@pytest.fixture(scope="module")
def tokens(fm, tmp_path_factory):
    """The held-out images' tokens."""
    d = tmp_path_factory.mktemp("tokens")
    tokenize(fm.ckpt, fm.held, "-o", d / "held.tokens")
    return d / "held.tokens"


@pytest.fixture(scope="module")
def other(fm, tmp_path_factory):
    """A second tokenizer, same shape, another seed."""
    d = tmp_path_factory.mktemp("other")
    train(fm.cfg, f"run_dir={d}", "seed=2")
    return d / "ckpt_00000010.bin"


def raw_records(path):
    """Every record's bytes (header and payload), in order."""
    with Store(str(path)) as s, s.env.begin() as txn:
        return [bytes(v) for _, v in txn.cursor(db=s._records)]


def metrics(run_dir):
    return [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]


def identity(ckpt):
    """A tokenizer's identity: vqvae and the CRC-32 its checkpoint ends with (docs/FORMAT.md)."""
    raw = open(ckpt, "rb").read()
    crc = zlib.crc32(raw[:-4])
    assert struct.unpack("<I", raw[-4:])[0] == crc
    return f"vqvae:{crc:08x}"


# One local worker unless a test says otherwise: two workers on a few dozen images often end
# with a 3 s wait for a worker that never got a batch (ingest/pool_coordinator.c, shut_down).
def tokenize(ckpt, *args, check=0):
    return run("tokenize", "--tokenizer", ckpt, *args, *([] if "--workers" in args else ["--workers", 1]), check=check)


def detokenize(ckpt, *args, check=0):
    return run("detokenize", "--tokenizer", ckpt, *args, *([] if "--workers" in args else ["--workers", 1]),
               check=check)


# ------------------------------------------------------------------ training


def _check_metrics(lines, steps):
    assert [x["step"] for x in lines] == steps
    for x in lines:
        val_step = x["step"] % 5 == 0
        assert set(x) == STEP_FIELDS | (VAL_FIELDS if val_step else set()), x
        assert abs(x["loss"] - x["recon_loss"] - x["quantizer_loss"]) <= 1e-5 * x["loss"], x
        assert 1 <= x["perplexity"] <= K and x["codes_restarted"] >= 0
        if val_step:
            assert 5 < x["val_psnr"] < 100 and 0 < x["val_ssim"] < 1, x
            assert 0 < x["val_codebook_usage"] <= 1 and 1 <= x["val_perplexity"] <= K * x["val_codebook_usage"], x


def test_training_logs_the_vqvae_and_validation_metrics(fm):
    lines = metrics(fm.run)
    _check_metrics(lines, list(range(1, 11)))
    assert lines[-1]["recon_loss"] < lines[0]["recon_loss"]  # learning
    assert lines[-1]["val_psnr"] > lines[4]["val_psnr"]
    assert sorted(os.listdir(fm.run)) == ["ckpt_00000005.bin", "ckpt_00000010.bin", "config.ini", "metrics.jsonl",
                                          "reconstructions.png"]


def test_reconstructions_png_is_originals_over_reconstructions(fm, tokens, tmp):
    """Row 1: the first 16 held-out images; row 2: what detokenize makes of their tokens."""
    raw = (fm.run / "reconstructions.png").read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    png = np.asarray(Image.open(fm.run / "reconstructions.png").convert("L"))
    scale, gutter, n = 2, 2, 16  # grid_auto_scale(28, 56), core/grid.c
    tile = 28 * scale
    assert png.shape == (2 * tile + 3 * gutter, n * tile + (n + 1) * gutter)
    detokenize(fm.ckpt, tokens, "-o", tmp / "recon")
    with Store(str(fm.held)) as held, Store(str(tmp / "recon")) as recon:
        for i in range(n):
            x = gutter + i * (tile + gutter)
            top = png[gutter:gutter + tile:scale, x:x + tile:scale]
            bottom = png[2 * gutter + tile:2 * gutter + 2 * tile:scale, x:x + tile:scale]
            assert np.array_equal(top, held[i]["image"][:, :, 0]), i
            # The trainer decodes 16 at a time, detokenize one by one: float rounding may move a pixel by one.
            assert np.abs(bottom.astype(int) - recon[i]["image"][:, :, 0]).max() <= 1, i


def test_two_ranks_train_and_log_the_same_fields(fm, tmp):
    p = train(fm.cfg, f"run_dir={tmp}/two", ranks=2)
    assert "on 2 ranks" in p.stderr
    _check_metrics(metrics(tmp / "two"), list(range(1, 11)))
    assert (tmp / "two/reconstructions.png").read_bytes()[:4] == b"\x89PNG"
    tokenize(tmp / "two/ckpt_00000010.bin", fm.held, "-o", tmp / "tokens")  # a usable tokenizer
    assert len(raw_records(tmp / "tokens")) == 64


def _tensors(ckpt):
    """Parameters and AdamW moments of a checkpoint (everything after the config text)."""
    raw = open(ckpt, "rb").read()
    config_bytes = struct.unpack_from("<Q", raw, 220)[0]
    return raw[256 + config_bytes:-4]


def test_five_steps_resume_five_steps_equals_ten(fm, tmp):
    """restart_fraction = 1 restarts codes every step, so the restart picks must resume too."""
    over = ["restart_fraction=1"]
    train(fm.cfg, f"run_dir={tmp}/straight", *over)
    train(fm.cfg, f"run_dir={tmp}/resumed", "steps=5", *over)
    p = train(fm.cfg, f"run_dir={tmp}/resumed", *over)
    assert "resuming from" in p.stderr and "(step 5)" in p.stderr
    a, b = metrics(tmp / "straight"), metrics(tmp / "resumed")
    assert a[-1]["codes_restarted"] > a[4]["codes_restarted"] > 0  # the restart path ran before and after step 5
    for x in a + b:
        del x["examples_per_s"]
    measured = ("loss", "recon_loss", "quantizer_loss", "grad_norm", "perplexity", *sorted(VAL_FIELDS))
    assert [[x.get(k) for k in measured] for x in a] == [[x.get(k) for k in measured] for x in b]  # bit-identical
    assert _tensors(tmp / "straight/ckpt_00000010.bin") == _tensors(tmp / "resumed/ckpt_00000010.bin")
    # codes_restarted counts restarts "so far" (docs/CONFIG.md): a resumed run continues the count.
    assert [x["codes_restarted"] for x in a] == [x["codes_restarted"] for x in b], "codes_restarted after resume"
    assert a == b


# ------------------------------------------------------------------ tokenize


def test_tokenize_a_pixel_store(fm, tmp):
    tokenize(fm.ckpt, fm.train, "-o", tmp / "one", "--workers", 1)
    p = tokenize(fm.ckpt, fm.train, "-o", tmp / "two", "--workers", 2)
    assert "512 stored, 0 rejected" in p.stdout
    with Store(str(fm.train)) as pixels, Store(str(tmp / "two")) as tokens:
        assert len(tokens) == len(pixels) == 512
        m = tokens.meta
        assert (m["kind"], m["dtype"], m["height"], m["width"]) == ("tokens", "uint16", 7, 7)
        assert m["codebook_size"] == str(K)
        assert (m["image_height"], m["image_width"], m["image_channels"]) == ("28", "28", "1")
        assert m["tokenizer"] == identity(fm.ckpt) and m["tokenizer_path"] == str(fm.ckpt)
        assert m["source_store"] == str(fm.train) and m["label_names"] == pixels.meta["label_names"]
        grids = [r["tokens"] for r in tokens]
        assert all(g.dtype == np.uint16 and g.shape == (7, 7) for g in grids)
        codes = np.stack(grids)
        assert codes.max() < K and len(np.unique(codes)) > 4  # in range, and not one constant code
        assert [r["label"] for r in tokens] == [r["label"] for r in pixels]
        assert tokens.index_of(f"{fm.train}#511") == 511
    assert raw_records(tmp / "one") == raw_records(tmp / "two")
    p = tokenize(fm.ckpt, fm.train, "-o", tmp / "two")  # a re-run finds everything done
    assert "0 stored, 0 rejected, 512 already done" in p.stdout


def test_tokenize_jpegs_in_one_pass_equals_ingest_then_tokenize(fm, tmp):
    """RGB photos of all sizes: decoded, cropped, resized and made grey as ingest does, then encoded."""
    write_corpus(tmp / "jpegs", 48, classes=["bag", "coat", "shirt"], size_range=(30, 120), seed=3)
    for name, options in (("default", []), ("stretched", ["--crop", "none", "--resize", "bilinear"])):
        ingest_store(tmp / "jpegs", tmp / f"pixels-{name}", *options)
        tokenize(fm.ckpt, tmp / f"pixels-{name}", "-o", tmp / f"via-store-{name}")
        tokenize(fm.ckpt, tmp / "jpegs", "-o", tmp / f"direct-{name}", "--workers", 2, *options)
        expected = raw_records(tmp / f"via-store-{name}")
        assert len(expected) == 48
        assert raw_records(tmp / f"direct-{name}") == expected, name
    assert raw_records(tmp / "direct-default") != raw_records(tmp / "direct-stretched")  # the options were applied
    with Store(str(tmp / "direct-default")) as s:
        assert s.meta["label_names"] == ["bag", "coat", "shirt"]
        assert [r["label"] for r in s] == [0] * 16 + [1] * 16 + [2] * 16
        assert s.index_of(str(tmp / "jpegs/coat/00001.jpg")) == 16
    # With --bind the coordinator reads the files and sends their bytes: the same codes.
    tokenize(fm.ckpt, tmp / "jpegs", "-o", tmp / "bytes", "--bind", f"tcp://127.0.0.1:{_free_port()}")
    assert raw_records(tmp / "bytes") == raw_records(tmp / "direct-default")
    # Another --size gives another grid (the network is convolutional).
    tokenize(fm.ckpt, tmp / "jpegs", "-o", tmp / "big", "--size", 40)
    with Store(str(tmp / "big")) as s:
        assert s[0]["tokens"].shape == (10, 10) and s.meta["image_height"] == "40"


def test_remote_workers_only_give_the_same_codes(fm, tmp):
    """--workers 0: two `tessera worker --connect` processes over TCP on loopback do all the work."""
    tokenize(fm.ckpt, fm.train, "-o", tmp / "local")
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    workers = [_popen("worker", "--connect", endpoint, "--idle-timeout", 5) for _ in range(2)]
    try:
        p = tokenize(fm.ckpt, fm.train, "-o", tmp / "remote", "--workers", 0, "--bind", endpoint)
        assert p.returncode == 0, p.stderr
        # The job takes about 0.1 s, so the second worker's connection may come up after it
        # ended (about 1 run in 10 started this way): that worker never hears of the job, and
        # waits for a coordinator until its --idle-timeout. Every worker that took part is
        # told STOP and exits 0; at least one did, since nothing else does the work.
        ends = [(w.wait(timeout=30), w.stderr.read()) for w in workers]
        assert all(rc == 0 or (rc == 1 and "no coordinator for" in err) for rc, err in ends), ends
        assert any(rc == 0 for rc, _ in ends), ends
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert raw_records(tmp / "remote") == raw_records(tmp / "local")
    detokenize(fm.ckpt, tmp / "remote", "-o", tmp / "pixels-local")
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    worker = _popen("worker", "--connect", endpoint, "--idle-timeout", 60)
    try:
        detokenize(fm.ckpt, tmp / "remote", "-o", tmp / "pixels-remote", "--workers", 0, "--bind", endpoint)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert raw_records(tmp / "pixels-remote") == raw_records(tmp / "pixels-local")


def test_detokenize_gives_the_psnr_of_the_runs_validation(fm, tokens, tmp):
    """val_images = 64 = the whole held-out store: validation saw exactly these images."""
    final = metrics(fm.run)[-1]
    p = detokenize(fm.ckpt, tokens, "-o", tmp / "recon", "--workers", 2)
    assert "64 stored" in p.stdout
    with Store(str(fm.held)) as held, Store(str(tmp / "recon")) as recon:
        assert len(recon) == 64 and [r["label"] for r in recon] == [r["label"] for r in held]
        assert recon[0]["image"].shape == (28, 28, 1)
        assert recon.meta["kind"] == "pixels" and recon.meta["tokenizer"] == identity(fm.ckpt)
        assert recon.meta["source"] == f"detokenize of {tokens}"
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools/recon_metrics.py"), str(fm.held),
                          str(tmp / "recon")], capture_output=True, text=True, check=True)
    m = json.loads(out.stdout)
    assert m["images"] == 64
    assert abs(m["psnr"] - final["val_psnr"]) < 0.01, (m, final)
    assert abs(m["ssim"] - final["val_ssim"]) < 1e-3, (m, final)


def test_kill_9_during_tokenize_then_resume(fm, big, tmp):
    store, reference = big
    out = tmp / "tokens"
    args = [TESSERA, "tokenize", "--tokenizer", str(fm.ckpt), str(store), "-o", str(out), "--workers", "1"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0,
                         env=dict(os.environ, TESSERA_QUIET="1"))
    deadline = time.time() + 60
    while p.poll() is None and _committed(out) < 1 and time.time() < deadline:
        time.sleep(0.002)
    os.killpg(p.pid, signal.SIGKILL)  # the coordinator and its local workers
    p.wait()
    saved = _committed(out)
    assert 0 < saved < 10000, f"the kill did not land mid-run: {saved} records"
    assert raw_records(out) == reference[:saved]
    q = run("tokenize", "--tokenizer", fm.ckpt, store, "-o", out, "--workers", 2, check=0)
    assert f"{10000 - saved} stored, 0 rejected, {saved} already done" in q.stdout
    assert raw_records(out) == reference
    with Store(str(out)) as s:
        assert s.meta["count"] == 10000
        with s.env.begin() as txn:
            assert txn.stat(s._sources)["entries"] == 10000
            assert sorted(struct.unpack(">Q", v)[0] for _, v in txn.cursor(db=s._sources)) == list(range(10000))
        assert s.index_of(f"{store}#{saved}") == saved


def test_a_worker_killed_during_tokenize(fm, big, tmp):
    store, reference = big
    p = subprocess.Popen([TESSERA, "tokenize", "--tokenizer", str(fm.ckpt), str(store), "-o", str(tmp / "tokens"),
                          "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, TESSERA_QUIET="1"))
    deadline = time.time() + 20
    while len(_children(p.pid)) < 2 and time.time() < deadline:
        time.sleep(0.01)
    workers = _children(p.pid)
    assert workers, "no worker processes found"
    _kill_once_busy(workers[0], seconds=0.2)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "was killed by signal 9" in err and "workers lost: 1" in out
    assert raw_records(tmp / "tokens") == reference


# ------------------------------------------------------------------ bad input


def refused(p, *words):
    """Exit 1 with one line on stderr holding every word."""
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tessera: "), p.stderr
    for w in words:
        assert str(w) in lines[0], (w, lines[0])
    return lines[0]


def test_an_out_of_range_code_is_refused_before_anything_is_written(fm, tokens, tmp):
    bad = tmp / "bad.tokens"
    shutil.copytree(tokens, bad)
    env = lmdb.open(str(bad), max_dbs=8)
    records = env.open_db(b"records")  # before the write txn (open_db inside one would wait for itself)
    with env.begin(write=True) as txn:
        key = struct.pack(">Q", 3)
        value = bytearray(txn.get(key, db=records))
        value[16 + 2 * (2 * 7 + 5):16 + 2 * (2 * 7 + 6)] = struct.pack("<H", K)  # row 2, column 5
        txn.put(key, bytes(value), db=records)
    env.close()
    p = detokenize(fm.ckpt, bad, "-o", tmp / "recon", check=None)
    refused(p, bad, "record 3: code 32 at row 2, column 5 is out of range")
    assert not (tmp / "recon").exists()


def test_vqvae_configs_and_stores_it_cannot_train_on(fm, tmp):
    """Each refused before training starts: one line naming the key or the store, exit 1."""
    s30 = ingest_store(fm.idx, tmp / "s30", size=30)
    rgb = ingest_store(fm.idx, tmp / "rgb", channels=3)
    cases = [
        (["downsample=3"], "downsample = 3: must be 2, 4 or 8"),
        (["channels=8,8"], "downsample = 4 needs 3 levels of channels, got 2"),
        (["channels=8,x,8"], "channels = 8,x,8"),
        (["groups=3"], "groups = 3 does not divide channels 8"),
        ([f"store={s30}"], "does not divide the store's image size 30×30"),
        ([f"val_store={fm.train}"], "is the training store"),
        ([f"val_store={rgb}"], "holds 28×28×3 images, the training store 28×28×1"),
        ([f"val_store={tmp / 'missing'}"], "val_store = "),
    ]
    for overrides, words in cases:
        p = train(fm.cfg, f"run_dir={tmp}/run", *overrides, check=1)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], (overrides, p.stderr)
        assert not (tmp / "run" / "ckpt_00000010.bin").exists()


def test_a_checkpoint_that_is_not_a_tokenizer(fm, tokens, tmp):
    (tmp / "igpt.ini").write_text("model = igpt\nlayers = 1\nwidth = 16\nheads = 2\npalette = 4\ndownsample = 4\n"
                                  f"batch_size = 8\nsteps = 2\nsamples_per_class = 0\nstore = {fm.train}\n")
    train(tmp / "igpt.ini", f"run_dir={tmp}/igpt")
    ckpt = tmp / "igpt/ckpt_00000002.bin"
    words = (ckpt, "is a checkpoint of model 'igpt', not of a tokenizer (vqvae)")
    refused(tokenize(ckpt, fm.held, "-o", tmp / "out", check=None), *words)
    refused(tokenize(ckpt, fm.idx, "-o", tmp / "out", check=None), *words)  # the JPEG/IDX sources path
    refused(detokenize(ckpt, tokens, "-o", tmp / "out", check=None), *words)
    assert not (tmp / "out").exists()


def test_corrupted_and_truncated_checkpoints(fm, tokens, tmp):
    raw = bytearray(fm.ckpt.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    (tmp / "flipped.bin").write_bytes(bytes(raw))
    (tmp / "short.bin").write_bytes(fm.ckpt.read_bytes()[:len(raw) // 2])
    for ckpt, words in ((tmp / "flipped.bin", "checksum mismatch"), (tmp / "short.bin", "truncated")):
        refused(tokenize(ckpt, fm.held, "-o", tmp / "out", check=None), ckpt, words)
        refused(tokenize(ckpt, fm.idx, "-o", tmp / "out", check=None), ckpt, words)
        refused(detokenize(ckpt, tokens, "-o", tmp / "out", check=None), ckpt, words)
    assert not (tmp / "out").exists()


def test_pixel_stores_of_the_wrong_shape(fm, tmp):
    ingest_store(fm.idx, tmp / "s30", size=30)
    refused(tokenize(fm.ckpt, tmp / "s30", "-o", tmp / "out", check=None), "s30", fm.ckpt,
            "holds 30×30 images", "downsamples by 4, which does not divide them")
    refused(tokenize(fm.ckpt, fm.idx, "-o", tmp / "out", "--size", 30, check=None), "--size 30",
            "does not divide the image size 30×30")
    ingest_store(fm.idx, tmp / "rgb", channels=3)
    refused(tokenize(fm.ckpt, tmp / "rgb", "-o", tmp / "out", check=None), "rgb", fm.ckpt,
            "holds 3-channel images", "takes 1 channel")
    refused(tokenize(fm.ckpt, fm.idx, "-o", tmp / "out", "--channels", 3, check=None), "--channels 3",
            "takes 1-channel images")
    assert not (tmp / "out").exists()


def test_tokens_of_another_tokenizer_are_refused(fm, tokens, other, tmp):
    mine, theirs = identity(fm.ckpt), identity(other)
    assert mine != theirs
    refused(detokenize(other, tokens, "-o", tmp / "out", check=None), tokens, mine, fm.ckpt, theirs, other)
    assert not (tmp / "out").exists()
    # Adding to an existing token store with another tokenizer: refused, the store untouched.
    before = raw_records(tokens)
    refused(tokenize(other, fm.held, "-o", tokens, check=None), tokens, mine, theirs)
    assert raw_records(tokens) == before
    with Store(str(tokens)) as s:
        assert s.meta["tokenizer"] == mine


def test_tokenize_detokenize_and_refusals_under_address_sanitizer(fm, tokens, other, tmp):
    """Coordinator and workers (the same binary) free what they opened, on every path."""
    def asan(*args, check=0):
        return run(*args, "--workers", 1, binary=ASAN_TESSERA, timeout=300, check=check)

    asan("tokenize", "--tokenizer", fm.ckpt, fm.held, "-o", tmp / "tokens")
    assert raw_records(tmp / "tokens") == raw_records(tokens)
    asan("detokenize", "--tokenizer", fm.ckpt, tmp / "tokens", "-o", tmp / "recon")
    (tmp / "short.bin").write_bytes(fm.ckpt.read_bytes()[:1000])
    ingest_store(fm.idx, tmp / "s30", size=30)
    for args in (["tokenize", "--tokenizer", tmp / "short.bin", fm.held],
                 ["tokenize", "--tokenizer", tmp / "short.bin", fm.idx],
                 ["tokenize", "--tokenizer", fm.ckpt, fm.idx, "--size", 30],
                 ["tokenize", "--tokenizer", fm.ckpt, tmp / "s30"],
                 ["tokenize", "--tokenizer", other, fm.held, "-o", tokens],
                 ["detokenize", "--tokenizer", other, tokens]):
        out = [] if "-o" in args else ["-o", tmp / "out"]
        refused(asan(*args, *out, check=None))
    assert not (tmp / "out").exists()
