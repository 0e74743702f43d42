"""kmeans_baseline: the classical vector-quantization baseline a VQ-VAE tokenizer has to beat.

    /usr/bin/python3 tools/kmeans_baseline.py TRAIN_STORE TEST_STORE --patch F --codes K
        [--iters 20] [--train-patches 200000] [--seed 0] [--recon-png PATH]

Every image is cut into non-overlapping F×F×C patches (a 28×28 image with F = 4 gives a 7×7
token grid; sides must be multiples of F). k-means with K codes (k-means++ initialization, then
Lloyd iterations; a cluster left empty is re-seeded with the point farthest from its centroid)
runs on a random sample of training patches. Each test patch is then replaced by its nearest
centroid, rounded to uint8, and the reconstructions are scored with the project's PSNR and SSIM
(tools/recon_metrics.py, the definitions of eval/recon_metrics.h), averaged per image. Prints one
JSON line:

    {"method": "kmeans", "patch": F, "K": K, "grid": [h, w], "test_images": n, "psnr": ..,
     "ssim": .., "codes_used_fraction": .., "perplexity": .., "seconds": .., ...}

codes_used_fraction and perplexity = exp(-Σ p·log p) describe the histogram of test codes;
seconds is the wall time of the whole run. --recon-png writes the first 16 test images above
their reconstructions. Distances are float32, computed in chunks as |x|² - 2x·c + |c|².
"""
import argparse
import json
import sys
import time

import numpy as np

from recon_metrics import psnr_batch, ssim_batch
from tessera_store import Store, StoreError

DIST_CHUNK = 16384  # patches per chunk of the distance matrix (× K float32)


def load_images(path):
    """Every record of a pixel store as one (N, H, W, C) uint8 array; all records must share a shape."""
    with Store(path) as store:
        images = []
        for i, r in enumerate(store):
            if "image" not in r:
                raise ValueError(f"{path}: record {i} is not a uint8 pixel record")
            if images and r["image"].shape != images[0].shape:
                raise ValueError(f"{path}: record {i} has shape {'x'.join(map(str, r['image'].shape))}, "
                                 f"record 0 has {'x'.join(map(str, images[0].shape))}")
            images.append(r["image"])
    if not images:
        raise ValueError(f"{path}: the store holds no records")
    return np.stack(images)


def to_patches(images, f):
    """(N, H, W, C) → (N, H/f, W/f, f·f·C): row-major patches, each flattened as (f, f, C)."""
    n, h, w, c = images.shape
    return images.reshape(n, h // f, f, w // f, f, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // f, w // f, f * f * c)


def from_patches(patches, f, c):
    n, gh, gw, _ = patches.shape
    return patches.reshape(n, gh, gw, f, f, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, gh * f, gw * f, c)


def nearest(x, centroids):
    """Index of the nearest centroid of every row of x and the squared distance to it."""
    c_sq = (centroids * centroids).sum(axis=1)
    codes = np.empty(len(x), np.int64)
    dist = np.empty(len(x), np.float32)
    for start in range(0, len(x), DIST_CHUNK):
        xs = x[start:start + DIST_CHUNK]
        d = c_sq[None, :] - 2 * (xs @ centroids.T)  # |x|² is the same for every centroid: add it after
        k = d.argmin(axis=1)
        codes[start:start + len(xs)] = k
        dist[start:start + len(xs)] = np.maximum(d[np.arange(len(xs)), k] + (xs * xs).sum(axis=1), 0)
    return codes, dist


def kmeans_pp(x, k, rng):
    """k-means++: each next centroid drawn with probability ∝ squared distance to the nearest chosen."""
    centroids = np.empty((k, x.shape[1]), np.float32)
    centroids[0] = x[rng.integers(len(x))]
    d = ((x - centroids[0]) ** 2).sum(axis=1, dtype=np.float64)
    for j in range(1, k):
        total = d.sum()
        # Fewer distinct points than codes: the rest are drawn uniformly (and become duplicates).
        i = rng.integers(len(x)) if total <= 0 else min(int(np.searchsorted(np.cumsum(d), rng.random() * total)),
                                                        len(x) - 1)
        centroids[j] = x[i]
        np.minimum(d, ((x - centroids[j]) ** 2).sum(axis=1, dtype=np.float64), out=d)
    return centroids


def kmeans(x, k, iters, rng):
    """Lloyd iterations from k-means++; returns the centroids and the iterations run."""
    centroids = kmeans_pp(x, k, rng)
    prev = None
    for it in range(1, iters + 1):
        codes, dist = nearest(x, centroids)
        if prev is not None and np.array_equal(codes, prev):
            return centroids, it - 1  # converged: the update would change nothing
        prev = codes
        counts = np.bincount(codes, minlength=k)
        sums = np.stack([np.bincount(codes, weights=x[:, j], minlength=k) for j in range(x.shape[1])], axis=1)
        filled = counts > 0
        centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
        empty = np.flatnonzero(~filled)
        if len(empty):
            # Re-seed each empty cluster with one of the points worst served by their centroid.
            far = np.argpartition(dist, len(dist) - len(empty))[len(dist) - len(empty):]
            centroids[empty] = x[far]
            prev = None
    return centroids, iters


def write_recon_png(path, originals, recons):
    from PIL import Image

    n, h, w, c = originals.shape
    scale = max(1, 64 // max(h, w))  # 28×28 tiles become 56×56
    gap = 2
    th, tw = h * scale, w * scale
    sheet = np.full((2 * th + gap, n * tw + (n - 1) * gap, c), 255, np.uint8)
    for row, stack in enumerate((originals, recons)):
        for i in range(n):
            tile = stack[i].repeat(scale, axis=0).repeat(scale, axis=1)
            sheet[row * (th + gap):row * (th + gap) + th, i * (tw + gap):i * (tw + gap) + tw] = tile
    Image.fromarray(sheet[..., 0] if c == 1 else sheet).save(path)


def main(argv=None):
    t0 = time.time()
    ap = argparse.ArgumentParser(description="k-means patch quantization baseline: PSNR/SSIM of test reconstructions.")
    ap.add_argument("train_store")
    ap.add_argument("test_store")
    ap.add_argument("--patch", type=int, required=True, help="patch side F (image sides must be multiples of F)")
    ap.add_argument("--codes", type=int, required=True, help="codebook size K")
    ap.add_argument("--iters", type=int, default=20, help="Lloyd iterations at most (default 20)")
    ap.add_argument("--train-patches", type=int, default=200000, help="training patches sampled (default 200000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recon-png", help="write the first 16 test images above their reconstructions")
    args = ap.parse_args(argv)
    for name in ("patch", "codes", "train_patches"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.iters < 0:
        ap.error("--iters must be at least 0")

    try:
        train = load_images(args.train_store)
        test = load_images(args.test_store)
        f = args.patch
        for path, images in ((args.train_store, train), (args.test_store, test)):
            _, h, w, _ = images.shape
            if h % f or w % f:
                raise ValueError(f"{path}: images are {h}x{w}, not a multiple of --patch {f}")
        if train.shape[3] != test.shape[3]:
            raise ValueError(f"{args.train_store} has {train.shape[3]} channels, {args.test_store} {test.shape[3]}")
    except (ValueError, StoreError) as e:
        print(f"kmeans_baseline: {e}", file=sys.stderr)
        return 1

    rng = np.random.default_rng(args.seed)
    channels = test.shape[3]
    train_patches = to_patches(train, f).reshape(-1, f * f * channels)
    take = min(args.train_patches, len(train_patches))
    if take < args.codes:
        print(f"kmeans_baseline: {take} training patches for {args.codes} codes", file=sys.stderr)
        return 1
    sample = train_patches[rng.choice(len(train_patches), take, replace=False)].astype(np.float32)
    centroids, iters_run = kmeans(sample, args.codes, args.iters, rng)

    test_patches = to_patches(test, f)
    n, gh, gw, d = test_patches.shape
    codes, _ = nearest(test_patches.reshape(-1, d).astype(np.float32), centroids)
    palette = np.clip(np.rint(centroids), 0, 255).astype(np.uint8)
    recon = from_patches(palette[codes].reshape(n, gh, gw, d), f, channels)

    hist = np.bincount(codes, minlength=args.codes)
    p = hist[hist > 0] / len(codes)
    result = {
        "method": "kmeans", "patch": f, "K": args.codes, "grid": [gh, gw], "test_images": n,
        "psnr": float(psnr_batch(test, recon).mean()), "ssim": float(ssim_batch(test, recon).mean()),
        "codes_used_fraction": float((hist > 0).sum() / args.codes), "perplexity": float(np.exp(-(p * np.log(p)).sum())),
        "train_patches": take, "iters": iters_run,
    }
    if args.recon_png:
        write_recon_png(args.recon_png, test[:16], recon[:16])
    result["seconds"] = round(time.time() - t0, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
