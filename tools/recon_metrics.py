"""recon_metrics: PSNR and SSIM of uint8 images, the definitions of eval/recon_metrics.h in numpy.

    from recon_metrics import psnr, ssim, psnr_batch, ssim_batch
    psnr(a, b), ssim(a, b)              # one pair, (H, W) or (H, W, C) uint8
    psnr_batch(A, B), ssim_batch(A, B)  # N pairs, (N, H, W) or (N, H, W, C): arrays of N values

    /usr/bin/python3 tools/recon_metrics.py ORIGINAL_STORE RECON_STORE [--limit N]
        compares record i of two pixel stores and prints one JSON line
        {"images": n, "psnr": mean per-image PSNR, "ssim": mean per-image SSIM}

PSNR: 10·log10(255² / MSE) over all H·W·C values, capped at PSNR_MAX = 100 dB (which identical
images give instead of infinity, so means stay finite).

SSIM (Wang et al. 2004): 11×11 Gaussian window, σ = 1.5, normalized; K1 = 0.01, K2 = 0.03,
L = 255; population variances and covariance; the SSIM map at the positions where the window fits
inside the image (no padding), averaged, then averaged over channels. This equals
skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1). Images smaller than 11 in a side
use the largest odd window ≤ min(H, W), same σ.

This is written straight from the paper's formula, with the explicit 2-D window, and is
deliberately not the separable filtering eval/recon_metrics.c uses: tests/ref/ref_recon_metrics.py
builds the C test's fixtures with it. It is vectorized across images (a stack is filtered in
chunks by one einsum over sliding windows), so 10,000 28×28 images take a few seconds.
"""
import argparse
import json
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PSNR_MAX = 100.0
DATA_RANGE = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
CHUNK_VALUES = 1 << 20  # image values filtered per einsum chunk (×5 maps ×8 bytes ≈ 40 MB)


def _as_stack(a, b):
    """Checks a pair of stacks and returns them as (N, H, W, C) arrays."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} and {b.shape}")
    if a.ndim == 3:
        a, b = a[..., None], b[..., None]
    if a.ndim != 4:
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) stacks, got shape {a.shape}")
    return a, b


def _as_pair(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {a.shape}")
    return a[None], b[None]


def psnr_batch(a, b):
    """Per-image PSNR in dB of two stacks of uint8 images: an array of N values."""
    a, b = _as_stack(a, b)
    n = a.shape[0]
    values = int(np.prod(a.shape[1:]))
    if values == 0:
        return np.full(n, np.nan)
    sse = np.empty(n, np.int64)
    chunk = max(1, CHUNK_VALUES // values)
    for start in range(0, n, chunk):
        d = a[start:start + chunk].astype(np.int32) - b[start:start + chunk]
        sse[start:start + chunk] = np.einsum("ij,ij->i", d.reshape(len(d), values), d.reshape(len(d), values),
                                             dtype=np.int64)
    mse = sse / values
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(DATA_RANGE * DATA_RANGE / mse)
    out[sse == 0] = PSNR_MAX
    return np.minimum(out, PSNR_MAX)


def window_size(height, width):
    """The SSIM window side: 11, or the largest odd size ≤ min(height, width) when smaller."""
    size = min(SSIM_WINDOW, height, width)
    return size if size % 2 else size - 1


def gaussian_window(size, sigma=SSIM_SIGMA):
    """The size×size window w(i, j) ∝ exp(-(i² + j²) / 2σ²) centred on the middle, summing to 1."""
    r = size // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma * sigma))
    return w / w.sum()


def ssim_batch(a, b):
    """Per-image SSIM of two stacks of uint8 images: an array of N values."""
    a, b = _as_stack(a, b)
    n, h, w, c = a.shape
    if h < 1 or w < 1 or c < 1:
        return np.full(n, np.nan)
    size = window_size(h, w)
    win = gaussian_window(size)
    c1 = (SSIM_K1 * DATA_RANGE) ** 2
    c2 = (SSIM_K2 * DATA_RANGE) ** 2
    out = np.empty(n)
    chunk = max(1, CHUNK_VALUES // (h * w * c))
    for start in range(0, n, chunk):
        # (n, C, H, W): channels become images of their own; the window slides over H and W.
        # order="C" lays W out contiguously (astype would keep the channel-last strides, and the
        # windowed einsum runs several times slower on them).
        x = np.moveaxis(a[start:start + chunk], 3, 1).astype(np.float64, order="C")
        y = np.moveaxis(b[start:start + chunk], 3, 1).astype(np.float64, order="C")
        maps = np.stack([x, y, x * x, y * y, x * y])
        # Local weighted means: Σ_ij w(i, j)·map(u + i, v + j) at every position the window fits.
        mu_x, mu_y, e_xx, e_yy, e_xy = np.einsum(
            "...ij,ij->...", sliding_window_view(maps, (size, size), axis=(-2, -1)), win)
        var_x = e_xx - mu_x * mu_x
        var_y = e_yy - mu_y * mu_y
        cov = e_xy - mu_x * mu_y
        s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
        out[start:start + chunk] = s.mean(axis=(2, 3)).mean(axis=1)
    return out


def psnr(a, b):
    """PSNR in dB of one pair of uint8 images, (H, W) or (H, W, C)."""
    return float(psnr_batch(*_as_pair(a, b))[0])


def ssim(a, b):
    """SSIM of one pair of uint8 images, (H, W) or (H, W, C)."""
    return float(ssim_batch(*_as_pair(a, b))[0])


class MetricSums:
    """Running sums of per-image PSNR and SSIM, fed stacks of pairs of one shape."""

    def __init__(self):
        self.images, self.psnr, self.ssim = 0, 0.0, 0.0

    def add(self, a, b):
        self.images += len(a)
        self.psnr += float(psnr_batch(a, b).sum())
        self.ssim += float(ssim_batch(a, b).sum())

    def means(self):
        return {"images": self.images, "psnr": self.psnr / self.images, "ssim": self.ssim / self.images}


def compare_stores(original_path, recon_path, limit=None, batch=1024):
    """Mean PSNR and SSIM of record i of one pixel store against record i of another.
    Raises ValueError (one line) when the stores disagree in count or in a record's shape."""
    from tessera_store import Store  # beside this file; imported here so the metrics need only numpy

    with Store(original_path) as orig, Store(recon_path) as recon:
        n_orig, n_recon = len(orig), len(recon)
        if limit is None:
            if n_orig != n_recon:
                raise ValueError(f"{original_path} holds {n_orig} records but {recon_path} holds {n_recon}")
            n = n_orig
        else:
            n = limit
            for path, count in ((original_path, n_orig), (recon_path, n_recon)):
                if count < limit:
                    raise ValueError(f"{path} holds {count} records, fewer than --limit {limit}")
        if n == 0:
            raise ValueError(f"{original_path}: no records to compare")
        sums = MetricSums()
        pending_a, pending_b = [], []

        def flush():
            if pending_a:
                sums.add(np.stack(pending_a), np.stack(pending_b))
                pending_a.clear()
                pending_b.clear()

        for i, (ra, rb) in enumerate(zip(orig, recon)):
            if i == n:
                break
            for path, r in ((original_path, ra), (recon_path, rb)):
                if "image" not in r:
                    raise ValueError(f"{path}: record {i} is not a uint8 pixel record")
            a, b = ra["image"], rb["image"]
            if a.shape != b.shape:
                raise ValueError(f"record {i}: {original_path} has shape {'x'.join(map(str, a.shape))}, "
                                 f"{recon_path} has {'x'.join(map(str, b.shape))}")
            if pending_a and (a.shape != pending_a[0].shape or len(pending_a) == batch):
                flush()
            pending_a.append(a)
            pending_b.append(b)
        flush()
        return sums.means()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mean PSNR and SSIM of record i of two Tessera pixel stores.")
    ap.add_argument("original")
    ap.add_argument("recon")
    ap.add_argument("--limit", type=int, help="compare only the first N records (both stores must hold N)")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    from tessera_store import StoreError

    try:
        result = compare_stores(args.original, args.recon, args.limit)
    except (ValueError, StoreError) as e:
        print(f"recon_metrics: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
