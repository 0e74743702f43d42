"""Shared helpers for the integration tests: the tessera binary, small JPEG corpora,
and a reader for the stores they produce.

TESSERA_BIN picks the binary (default build/tessera; the ASan build is build-asan/tessera).
"""
import gzip
import io
import os
import random
import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from tessera_store import Store  # noqa: E402

TESSERA = os.environ.get("TESSERA_BIN", os.path.join(ROOT, "build/tessera"))
ASAN_TESSERA = os.path.join(ROOT, "build-asan/tessera")
FMNIST = "/usr/share/datasets/fashion-mnist"
FIXTURES = os.environ.get("TESSERA_FIXTURES", os.path.join(ROOT, "tests/out/fixtures"))


def run(*args, timeout=120, check=None, env=None, binary=None):
    """Runs tessera; returns the CompletedProcess. check=N asserts the exit code."""
    e = dict(os.environ, TESSERA_QUIET="1")
    if env:
        e.update(env)
    p = subprocess.run([binary or TESSERA, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}, wanted {check}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def picture(rng, width, height):
    """A photo-like RGB test image: smooth gradients, a few shapes, mild noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([
        128 + 100 * np.sin(x / (7 + rng.random() * 20) + rng.random() * 6),
        128 + 100 * np.cos(y / (5 + rng.random() * 25)),
        (x + y) * 255.0 / (width + height),
    ], axis=-1)
    for _ in range(4):
        cx, cy, r = rng.random() * width, rng.random() * height, 5 + rng.random() * width / 4
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = [rng.random() * 255 for _ in range(3)]
    img += np.asarray(rng.normal(0, 6, img.shape), dtype=np.float32)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def jpeg_bytes(img, quality=90, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def write_corpus(folder, n, classes=None, size_range=(40, 120), seed=0):
    """n JPEGs under folder, spread over class sub-folders (or flat); returns the paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        sub = os.path.join(folder, classes[i % len(classes)]) if classes else folder
        os.makedirs(sub, exist_ok=True)
        w, h = (int(rng.integers(*size_range)) for _ in range(2))
        p = os.path.join(sub, f"{i:05d}.jpg")
        with open(p, "wb") as f:
            f.write(jpeg_bytes(picture(rng, w, h), quality=int(rng.integers(75, 96))))
        paths.append(p)
    return paths


def fmnist_idx_subset(folder, name, split, start, n):
    """Images start..start+n of a Fashion-MNIST split as an IDX pair ingest reads (labels beside)."""
    images = gzip.open(f"{FMNIST}/{split}-images-idx3-ubyte.gz").read()
    labels = gzip.open(f"{FMNIST}/{split}-labels-idx1-ubyte.gz").read()
    (folder / f"{name}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) +
                                                       images[16 + start * 784:16 + (start + n) * 784])
    (folder / f"{name}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels[8 + start:8 + start + n])
    return folder / f"{name}-images-idx3-ubyte"


def ingest_store(src, out, *options, size=28, channels=1):
    """A pixel store of src made by one local worker."""
    run("ingest", src, "-o", out, "--size", size, "--channels", channels, "--workers", 1, *options, check=0)
    return out


def records(path):
    """All (label, image bytes) of a store, in order."""
    with Store(path) as s:
        return [(r["label"], r["image"].tobytes()) for r in s]


@pytest.fixture
def tmp(tmp_path):
    return tmp_path
