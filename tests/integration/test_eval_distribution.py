"""The feature network (model = evalnet) and `tessera eval fd|kid|is|prdc|cas`: every number is
recomputed here from the features the command dumped (--dump-features), with scipy, sklearn or
numpy written from the definitions, and every refusal is one line."""
import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from conftest import ASAN_TESSERA, ROOT, fmnist_idx_subset, ingest_store, run, write_corpus

sys.path.insert(0, os.path.join(ROOT, "tests/ref"))
from ref_eval_metrics import kid_subsets, mmd2_unbiased, prdc_counts, sq_dist_in_order  # noqa: E402

TINY = """model = evalnet
task = labels
channels = 8,16,16
features = 24
groups = 4
batch_size = 64
steps = 60
lr = 3e-3
schedule = constant
log_every = 20
val_every = 60
ckpt_every = 60
seed = 3
"""




def _train(folder, train_store, val_store, run_dir, *overrides):
    cfg = folder / "evalnet.ini"
    cfg.write_text(TINY + f"store = {train_store}\nval_store = {val_store}\n")
    run("train", cfg, f"run_dir={run_dir}", *overrides, check=0, env={"OPENBLAS_NUM_THREADS": "1"}, timeout=300)
    return run_dir / "ckpt_00000060.bin"


@pytest.fixture(scope="module")
def ev(tmp_path_factory):
    """2,000 training images, 600 held out as REAL, 500 others standing in for samples, and a
    feature network trained 60 steps on the training images."""
    d = tmp_path_factory.mktemp("evalnet")
    train_store = ingest_store(fmnist_idx_subset(d, "train", "train", 0, 2000), d / "train")
    real = ingest_store(fmnist_idx_subset(d, "real", "t10k", 0, 600), d / "real")
    fake = ingest_store(fmnist_idx_subset(d, "fake", "t10k", 600, 500), d / "fake")
    blurred = ingest_store(fmnist_idx_subset(d, "fake", "t10k", 600, 500), d / "blurred", size=14)  # 14×14: another shape
    ckpt = _train(d, train_store, real, d / "run")
    return SimpleNamespace(dir=d, train=train_store, real=real, fake=fake, small=blurred, ckpt=ckpt)


def _eval(ev, metric, tmp, *extra, fakes=None, check=0, binary=None):
    out = tmp / f"{metric}-dump"
    p = run("eval", metric, ev.real, *(fakes or [ev.fake]), "--net", ev.ckpt, "--json", tmp / f"{metric}.json",
            "--dump-features", out, *extra, check=check, binary=binary, timeout=300)
    return p, (json.load(open(tmp / f"{metric}.json")) if check == 0 else None), out


def _npy(folder, name):
    return np.load(folder / f"{name}_features.npy"), np.load(folder / f"{name}_probs.npy"), \
        np.load(folder / f"{name}_labels.npy")


def _fd_scipy(a, b):
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(sa @ sb)
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2 * np.trace(covmean.real))


def _rel(got, want):
    return abs(got - want) / max(abs(want), 1e-300)


def test_training_logs_accuracy_and_writes_the_predictions_grid(ev):
    lines = [json.loads(line) for line in open(ev.dir / "run/metrics.jsonl")]
    assert [m["step"] for m in lines] == [20, 40, 60]
    assert all(0 <= m["accuracy"] <= 1 for m in lines)
    assert 0.5 < lines[-1]["val_accuracy"] <= 1 and lines[-1]["val_loss"] > 0  # ten classes: chance is 0.1
    assert (ev.dir / "run/predictions.png").read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_network(ev, tmp):
    """Deterministic training: another run of the same config gives the same features, bit for bit."""
    again = _train(tmp, ev.train, ev.real, tmp / "again")
    a = _eval(ev, "fd", tmp, "--no-floor")[2]
    run("eval", "fd", ev.real, ev.fake, "--net", again, "--no-floor", "--dump-features", tmp / "again-dump", check=0)
    assert np.array_equal(np.load(a / "real_features.npy"), np.load(tmp / "again-dump/real_features.npy"))


def test_fd_agrees_with_scipy_and_the_floor_is_a_train_subset(ev, tmp):
    p, got, out = _eval(ev, "fd", tmp)
    real, _, _ = _npy(out, "real")
    fake, _, _ = _npy(out, "fake0")
    floor, _, floor_labels = _npy(out, "floor0")
    assert real.shape == (600, 24) and fake.shape == (500, 24) and floor.shape == (500, 24)
    assert _rel(got["rows"][0]["value"], _fd_scipy(real, fake)) <= 1e-6
    assert _rel(got["rows"][0]["floor"], _fd_scipy(real, floor)) <= 1e-6
    assert got["floor_store"] == str(ev.train) and len(set(floor_labels.tolist())) == 10  # random, not the first 500
    assert got["net_checksum"] in p.stdout and "| FD (evalnet features) |" in p.stdout and got["n_real"] == 600


def test_several_fake_stores_give_mean_and_sample_std(ev, tmp):
    _, got, out = _eval(ev, "fd", tmp, "--no-floor", "--n", 300, fakes=[ev.fake, ev.fake, ev.real])
    real = np.load(out / "real_features.npy")
    per = [_fd_scipy(real, np.load(out / f"fake{i}_features.npy")) for i in range(3)]
    row = got["rows"][0]
    assert max(_rel(g, w) for g, w in zip(row["per_store"], per)) <= 1e-6
    assert _rel(row["value"], np.mean(per)) <= 1e-6 and _rel(row["std"], np.std(per, ddof=1)) <= 1e-6
    assert "floor" not in row and got["n_real"] == 300


def test_kid_agrees_with_numpy(ev, tmp):
    _, got, out = _eval(ev, "kid", tmp, "--kid-subsets", 20, "--kid-size", 200, "--seed", 7)
    real, fake = np.load(out / "real_features.npy"), np.load(out / "fake0_features.npy")
    ia, ib = kid_subsets(len(real), len(fake), 200, 20, 7)
    mmd = np.array([mmd2_unbiased(real[a], fake[b]) for a, b in zip(ia, ib)])
    assert _rel(got["rows"][0]["value"], mmd.mean()) <= 1e-6 and _rel(got["rows"][0]["std"], mmd.std()) <= 1e-6


def _inception_score(p, splits):
    scores = []
    for k in range(splits):
        part = p[k * len(p) // splits:(k + 1) * len(p) // splits]
        py = part.mean(0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(row, py) for row in part])))
    return np.mean(scores), np.std(scores)


def test_is_agrees_with_scipy(ev, tmp):
    _, got, out = _eval(ev, "is", tmp, "--splits", 5)
    _, probs, _ = _npy(out, "fake0")
    assert np.allclose(probs.sum(1), 1, atol=1e-12)
    mean, std = _inception_score(probs, 5)
    assert _rel(got["rows"][0]["value"], mean) <= 1e-9 and _rel(got["rows"][0]["std"], std) <= 1e-6
    _, floor_probs, _ = _npy(out, "floor0")
    assert _rel(got["rows"][0]["floor"], _inception_score(floor_probs, 5)[0]) <= 1e-9


def test_prdc_counts_agree_exactly(ev, tmp):
    _, got, out = _eval(ev, "prdc", tmp)
    real, fake = np.load(out / "real_features.npy"), np.load(out / "fake0_features.npy")
    rows = {r["name"]: r["value"] for r in got["rows"]}
    (precision, recall, _, _), gap3, _ = prdc_counts(real, fake, 3, sq_dist_in_order)
    (_, _, density, coverage), gap5, _ = prdc_counts(real, fake, 5, sq_dist_in_order)
    assert min(gap3, gap5) > 1e-10  # no distance so near a radius that summation order could flip it
    assert rows["precision"] == precision / len(fake) and rows["recall"] == recall / len(real)
    assert rows["density"] == density / (5 * len(fake)) and rows["coverage"] == coverage / len(real)


def test_cas_is_accuracy_at_the_asked_class(ev, tmp):
    _, got, out = _eval(ev, "cas", tmp)
    _, probs, labels = _npy(out, "fake0")
    assert got["rows"][0]["value"] == np.mean(probs.argmax(1) == labels)


def test_identical_sets_and_too_few_samples(ev, tmp):
    p, got, _ = _eval(ev, "fd", tmp, "--no-floor", fakes=[ev.real])
    assert abs(got["rows"][0]["value"]) < 1e-9 and got["warnings"] == []
    p, got, out = _eval(ev, "fd", tmp, "--no-floor", "--n", 20)  # 20 samples, 24 features
    assert "singular" in p.stderr and np.isfinite(got["rows"][0]["value"]) and got["warnings"]
    real, fake = np.load(out / "real_features.npy"), np.load(out / "fake0_features.npy")
    assert _rel(got["rows"][0]["value"], _fd_scipy(real, fake)) <= 1e-5


def refused(p, *words):
    assert p.returncode != 0 and p.stderr.strip().count("\n") == 0, p.stderr
    for w in words:
        assert w in p.stderr, (w, p.stderr)


@pytest.mark.parametrize("binary", [None, ASAN_TESSERA])
def test_refusals(ev, tmp, binary):
    net = ["--net", ev.ckpt]
    refused(run("eval", "fd", ev.real, ev.small, *net, binary=binary), "14×14×1", "28×28×1")
    refused(run("eval", "fd", ev.real, tmp / "missing", *net, binary=binary), "missing")
    refused(run("eval", "fd", ev.real, ev.fake, "--net", ev.real / "data.mdb", binary=binary), "data.mdb")
    vq = ev.dir / "run/config.ini"
    refused(run("eval", "prdc", ev.real, ev.fake, "--net", vq, binary=binary), "config.ini")
    refused(run("eval", "fd", ev.real, ev.fake, binary=binary, env={"TESSERA_EVALNET": ""}), "--net")
    refused(run("eval", "fd", ev.real, ev.fake, *net, "--n", 601, binary=binary), "600 records", "601")
    refused(run("eval", "fd", ev.real, *net, binary=binary), "FAKE")
    truncated = tmp / "truncated.bin"
    truncated.write_bytes(open(ev.ckpt, "rb").read()[:5000])
    refused(run("eval", "is", ev.real, ev.fake, "--net", truncated, binary=binary), "truncated.bin")


def test_probe_agrees_with_sklearn(ev, tmp):
    from sklearn.linear_model import LogisticRegression
    p = run("eval", "probe", ev.train, ev.real, "--net", ev.ckpt, "--json", tmp / "probe.json", "--dump-features",
            tmp / "dump", check=0, timeout=300)
    got = json.load(open(tmp / "probe.json"))
    x, y = np.load(tmp / "dump/train_features.npy"), np.load(tmp / "dump/train_labels.npy")
    xt, yt = np.load(tmp / "dump/test_features.npy"), np.load(tmp / "dump/test_labels.npy")
    assert x.shape == (2000, 24) and xt.shape == (600, 24) and len(got["trials"]) == 7
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1
    clf = LogisticRegression(C=1 / (got["lambda"] * len(x)), multi_class="multinomial", tol=1e-10, max_iter=10000)
    clf.fit((x - mean) / std, y)
    want = clf.score((xt - mean) / std, yt)
    rows = {r["name"]: r["value"] for r in got["rows"]}
    assert abs(rows["probe test accuracy (evalnet features)"] - want) <= 2 / len(xt)  # sklearn stops a hair early
    assert "(chosen)" in p.stdout and got["net_checksum"] in p.stdout


def test_probe_refusals(ev, tmp):
    refused(run("eval", "probe", ev.train, ev.small, "--net", ev.ckpt), "14×14×1", "28×28×1")
    refused(run("eval", "probe", ev.train, ev.real, "--net", ev.dir / "run/metrics.jsonl"), "metrics.jsonl")
    refused(run("eval", "probe", ev.train, "--net", ev.ckpt), "TRAIN and TEST")


def test_rotation_task_for_unlabelled_corpora(ev, tmp):
    """task = rotation learns which of four quarter turns an image was given; CAS refuses such a network."""
    ckpt = _train(tmp, ev.train, ev.real, tmp / "rot", "task=rotation")
    last = [json.loads(line) for line in open(tmp / "rot/metrics.jsonl")][-1]
    assert last["val_accuracy"] > 0.5  # four rotations: chance is 0.25
    p, got, _ = _eval(SimpleNamespace(**{**vars(ev), "ckpt": ckpt}), "fd", tmp, "--no-floor")
    assert np.isfinite(got["rows"][0]["value"])
    refused(run("eval", "cas", ev.real, ev.fake, "--net", ckpt), "rotation")


def test_unlabelled_stores_and_conflicting_flags(ev, tmp):
    """An unlabelled store (a flat JPEG folder) cannot train task = labels, be scored by cas or
    be probed; the flags that contradict each other or are not counts are refused."""
    write_corpus(tmp / "flat", 40, size_range=(30, 60))
    flat = ingest_store(tmp / "flat", tmp / "unlabelled")
    cfg = tmp / "labels.ini"
    cfg.write_text(TINY + f"store = {flat}\n")
    refused(run("train", cfg, f"run_dir={tmp}/r", "batch_size=8"), "no labels", "task = rotation")
    refused(run("eval", "cas", ev.real, flat, "--net", ev.ckpt, "--no-floor"), "unlabelled", "label -1")
    refused(run("eval", "probe", flat, ev.real, "--net", ev.ckpt), "no label")
    p = run("eval", "fd", ev.real, ev.fake, "--net", ev.ckpt, "--floor", ev.train, "--no-floor", check=2)
    assert "--floor and --no-floor" in p.stderr
    p = run("eval", "kid", ev.real, ev.fake, "--net", ev.ckpt, "--kid-size", "0", check=2)
    assert "--kid-size: expected a positive integer, got '0'" in p.stderr
    p = run("eval", "probe", ev.train, ev.real, "--net", ev.ckpt, "--seed", "-1", check=2)
    assert "--seed: expected a non-negative integer" in p.stderr
