"""ref_recon_metrics: PSNR and SSIM of seeded image pairs, read by tests/unit/test_recon_metrics.c.

    /usr/bin/python3 tests/ref/ref_recon_metrics.py OUTDIR    writes OUTDIR/recon_metrics.tsr

The values come from tools/recon_metrics.py, the project's one Python implementation: numpy,
written from the paper's formula with the explicit 2-D Gaussian window (eval/recon_metrics.c
filters separably instead, so the two share definitions, not code). When scikit-image is
importable its structural_similarity (gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1) is asserted to agree to 1e-6 on
every case whose sides are at least 11; without it that cross-check is skipped.

Tensors: "dims" int32 (cases, 3) = H, W, C per case; "a<i>", "b<i>" int32 (H, W, C) holding
the uint8 pixels of case i; "psnr", "ssim" float64 (cases). Case i is the i-th pair cases()
returns; the script prints each with its name, window and values.
"""
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from tensorfile import save  # noqa: E402
from recon_metrics import PSNR_MAX, psnr, ssim, window_size  # noqa: E402


def u8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def smooth(rng, h, w, c):
    """A smooth image with structure at several scales (sines plus a blob), values in 0..255."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, c))
    for ch in range(c):
        f1, f2, ph = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3), rng.uniform(0, 2 * np.pi)
        blob = np.exp(-((yy - h * rng.uniform(0.2, 0.8)) ** 2 + (xx - w * rng.uniform(0.2, 0.8)) ** 2)
                      / (2 * (0.2 * max(h, w)) ** 2))
        img[..., ch] = 128 + 60 * np.sin(f1 * xx + ph) * np.cos(f2 * yy) + 60 * blob
    return img


def noisy(rng, a, sigma):
    return u8(a.astype(np.float64) + rng.normal(0, sigma, a.shape))


def cases():
    rng = np.random.default_rng(20240611)
    out = []
    # Fashion-MNIST-like: a dark background and a bright object, with noise.
    g = smooth(rng, 28, 28, 1)
    g[:4] = 0
    g[:, :3] = 0
    a = u8(g)
    out.append(("gray28_noise", a, noisy(rng, a, 12)))
    out.append(("gray28_heavy_noise", a, noisy(rng, a, 60)))
    a = u8(smooth(rng, 64, 64, 3))
    out.append(("rgb64_noise", a, noisy(rng, a, 8)))
    a = u8(rng.integers(0, 256, (23, 31, 3)))
    out.append(("rgb23x31_random_noise", a, noisy(rng, a, 25)))
    a = u8(smooth(rng, 23, 31, 3))
    out.append(("rgb23x31_smooth_vs_random", a, u8(rng.integers(0, 256, a.shape))))
    a = u8(smooth(rng, 28, 28, 1))
    out.append(("identical", a, a.copy()))
    out.append(("constant_vs_noisy", np.full((20, 20, 1), 128, np.uint8), noisy(rng, np.full((20, 20, 1), 128), 30)))
    out.append(("two_constants", np.full((30, 30, 1), 100, np.uint8), np.full((30, 30, 1), 110, np.uint8)))
    out.append(("black_vs_white", np.zeros((16, 16, 1), np.uint8), np.full((16, 16, 1), 255, np.uint8)))
    a = u8(smooth(rng, 40, 40, 3))
    out.append(("shift_right_1", a, np.roll(a, 1, axis=1)))
    out.append(("shift_down_3", a, np.roll(a, 3, axis=0)))
    a = u8(smooth(rng, 32, 32, 1))
    out.append(("inverted", a, 255 - a))  # negative covariance: SSIM < 0
    # Smaller than the 11×11 window: the largest odd window that fits.
    a = u8(rng.integers(0, 256, (10, 20, 1)))
    out.append(("small_10x20_window9", a, noisy(rng, a, 20)))
    a = u8(smooth(rng, 8, 8, 3))
    out.append(("small_8x8x3_window7", a, noisy(rng, a, 20)))
    a = u8(rng.integers(0, 256, (2, 5, 2)))
    out.append(("small_2x5x2_window1", a, noisy(rng, a, 40)))
    out.append(("single_pixel", np.array([[[200]]], np.uint8), np.array([[[50]]], np.uint8)))
    a = u8(rng.integers(0, 256, (11, 11, 1)))
    out.append(("exactly_11x11", a, noisy(rng, a, 20)))
    return out


def skimage_ssim():
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        return None
    return lambda a, b: structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                              data_range=255, channel_axis=-1)


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    reference = skimage_ssim()
    tensors, dims, psnrs, ssims = {}, [], [], []
    pairs = cases()
    for i, (name, a, b) in enumerate(pairs):
        p, s = psnr(a, b), ssim(a, b)
        h, w, c = a.shape
        # Sanity of the cases themselves, from the definitions.
        assert a.dtype == np.uint8 and b.dtype == np.uint8 and a.shape == b.shape, name
        assert math.isclose(s, ssim(b, a), rel_tol=1e-12), f"{name}: SSIM is not symmetric"
        assert -1 <= s <= 1, f"{name}: SSIM {s} outside [-1, 1]"
        if name == "identical":
            assert p == PSNR_MAX and abs(s - 1) < 1e-12, name
        mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
        if mse > 0:
            assert math.isclose(p, min(PSNR_MAX, 20 * math.log10(255) - 10 * math.log10(mse)), rel_tol=1e-12), name
        if reference is not None and min(h, w) >= 11:
            want = reference(a, b)
            assert abs(s - want) <= 1e-6 * max(abs(want), 1e-3), f"{name}: SSIM {s!r}, skimage {want!r}"
        print(f"  {i:2d} {name:28s} {h}x{w}x{c} window {window_size(h, w):2d}  PSNR {p:8.4f}  SSIM {s:+.6f}")
        tensors[f"a{i}"] = a.astype(np.int32)
        tensors[f"b{i}"] = b.astype(np.int32)
        dims.append((h, w, c))
        psnrs.append(p)
        ssims.append(s)
    assert ssims[[n for n, _, _ in pairs].index("inverted")] < 0
    tensors["dims"] = np.array(dims, np.int32)
    tensors["psnr"] = np.array(psnrs, np.float64)
    tensors["ssim"] = np.array(ssims, np.float64)
    save(os.path.join(outdir, "recon_metrics.tsr"), tensors)
    print(f"ref_recon_metrics: {len(dims)} cases, skimage cross-check {'done' if reference else 'skipped'}")


if __name__ == "__main__":
    main()
