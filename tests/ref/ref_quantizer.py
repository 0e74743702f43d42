"""ref_quantizer: PyTorch reference outputs and gradients for nn/quantizer, read by
tests/unit/test_quantizer.c.

    /usr/bin/python3 tests/ref/ref_quantizer.py OUTDIR    writes OUTDIR/quantizer_<case>.tsr

Forward/backward cases draw seeded float32 z (N, D) and codebook (K, D) and quantize as
a VQ-VAE does (zn, en: z and codebook, l2-normalized when "normalize"):

    codes = argmin_k ||zn - en_k||^2     zq = zn + sg(en[codes] - zn)   (straight-through)
    qloss = beta * mse(zn, sg(en[codes])) + [codebook_loss] mse(sg(zn), en[codes])

and backpropagate loss = sum(zq * R) + qloss for a fixed random R (so dzq = R and the
loss scale is 1). Saved: an int32 "config" row [N, K, D, normalize, codebook_loss], beta,
z, codebook, R, codes (int32), zq, loss, dz and dcodebook (zeros without codebook_loss,
where the codebook gets no gradient). The zq saved is the value en[codes] itself: torch's
zn + (en - zn) rounds it by up to ~3e-6 relative. Rows whose nearest and second-nearest
codes are closer than 1e-3 (in float64) are redrawn, so float rounding cannot flip an argmin.

The ema_* cases are numpy (float64, saved as float32): z, codes (nearest, as above), a
start state codebook, ema_count, ema_sum, the batch's counts/sums, and the state after one
update with decay 0.9 and eps 1e-5 (constants the C test uses too):

    ema_count = decay*ema_count + (1-decay)*counts;  ema_sum likewise;  n = sum(ema_count)
    codebook[k] = ema_sum[k] / ((ema_count[k] + eps) / (n + K*eps) * n)   (re-normalized when "normalize")
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tensorfile import save  # noqa: E402

torch.set_num_threads(1)

EMA_DECAY, EMA_EPS = 0.9, 1e-5
MIN_GAP = 1e-3


def compared(x, normalize):
    """x as the quantizer compares it: as is, or l2-normalized (F.normalize's clamp at 1e-12)."""
    if not normalize:
        return x
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def unambiguous_z(rng, codebook, N, D, normalize, scale):
    """Draws z (N, D) and redraws every row whose two nearest codes are within MIN_GAP."""
    en = compared(codebook.astype(np.float64), normalize)
    z = (scale * rng.standard_normal((N, D))).astype(np.float32)
    while True:
        zn = compared(z.astype(np.float64), normalize)
        d = (zn ** 2).sum(1, keepdims=True) - 2 * zn @ en.T + (en ** 2).sum(1)[None, :]
        if d.shape[1] == 1:
            return z
        two = np.sort(d, axis=1)[:, :2]
        bad = two[:, 1] - two[:, 0] < MIN_GAP
        if not bad.any():
            return z
        z[bad] = (scale * rng.standard_normal((int(bad.sum()), D))).astype(np.float32)


def quantizer_case(name, N, K, D, normalize, codebook_loss, beta=0.25, seed=0):
    rng = np.random.default_rng(seed)
    codebook_np = rng.standard_normal((K, D)).astype(np.float32)
    z_np = unambiguous_z(rng, codebook_np, N, D, normalize, scale=1.2)
    z = torch.tensor(z_np, requires_grad=True)
    codebook = torch.tensor(codebook_np, requires_grad=True)
    zn = F.normalize(z, dim=1) if normalize else z
    en = F.normalize(codebook, dim=1) if normalize else codebook
    with torch.no_grad():
        d = (zn ** 2).sum(1, keepdim=True) - 2 * zn @ en.t() + (en ** 2).sum(1)[None, :]
        codes = torch.argmin(d, dim=1)
    e = en[codes]
    qloss = beta * F.mse_loss(zn, e.detach())
    if codebook_loss:
        qloss = qloss + F.mse_loss(zn.detach(), e)
    zq = zn + (e - zn).detach()
    R = torch.tensor(rng.standard_normal((N, D)).astype(np.float32))
    ((zq * R).sum() + qloss).backward()
    dcodebook = codebook.grad if codebook.grad is not None else torch.zeros_like(codebook)
    if not codebook_loss:
        assert not dcodebook.abs().sum().item()
    return name, {"config": np.array([N, K, D, normalize, codebook_loss], np.int32),
                  "beta": np.array([beta], np.float32), "z": z, "codebook": codebook, "R": R,
                  "codes": codes.to(torch.int32), "zq": e, "loss": qloss.reshape(1), "dz": z.grad,
                  "dcodebook": dcodebook}


def ema_case(name, N, K, D, normalize, seed):
    rng = np.random.default_rng(seed)
    codebook = rng.standard_normal((K, D)).astype(np.float32)
    # A few codes far from everything, so that some get no vector and the smoothing matters.
    codebook[: K // 4] += 8
    z = unambiguous_z(rng, codebook, N, D, normalize, scale=1.0)
    zn, en = compared(z.astype(np.float64), normalize), compared(codebook.astype(np.float64), normalize)
    codes = np.argmin((zn ** 2).sum(1, keepdims=True) - 2 * zn @ en.T + (en ** 2).sum(1)[None, :], axis=1)
    counts = np.bincount(codes, minlength=K).astype(np.float64)
    sums = np.zeros((K, D))
    np.add.at(sums, codes, zn)
    ema_count0 = rng.uniform(0.5, 5, K).astype(np.float32)
    ema_sum0 = (ema_count0[:, None] * compared(rng.standard_normal((K, D)), normalize)).astype(np.float32)
    ema_count = EMA_DECAY * ema_count0.astype(np.float64) + (1 - EMA_DECAY) * counts
    ema_sum = EMA_DECAY * ema_sum0.astype(np.float64) + (1 - EMA_DECAY) * sums
    n = ema_count.sum()
    c = (ema_count + EMA_EPS) / (n + K * EMA_EPS) * n
    new_codebook = compared(ema_sum / c[:, None], normalize)
    assert (counts == 0).any() and (counts > 0).any()
    f32 = np.float32
    return name, {"config": np.array([N, K, D, normalize, 0], np.int32), "z": z, "codes": codes.astype(np.int32),
                  "codebook0": codebook, "ema_count0": ema_count0, "ema_sum0": ema_sum0,
                  "counts": counts.astype(f32), "sums": sums.astype(f32), "codebook": new_codebook.astype(f32),
                  "ema_count": ema_count.astype(f32), "ema_sum": ema_sum.astype(f32)}


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    cases = [
        # N, K, D, normalize, codebook_loss
        quantizer_case("plain", 24, 16, 8, 0, 1, seed=1),
        quantizer_case("normalized", 24, 16, 8, 1, 1, seed=2),
        quantizer_case("ema_mode", 24, 16, 8, 0, 0, seed=3),
        quantizer_case("ema_mode_normalized", 24, 16, 8, 1, 0, seed=4),
        quantizer_case("odd", 37, 11, 5, 0, 1, beta=0.4, seed=5),
        quantizer_case("odd_normalized", 37, 11, 5, 1, 1, beta=0.4, seed=6),
        quantizer_case("big", 300, 64, 16, 0, 1, seed=7),  # more rows than one distance chunk (256)
        quantizer_case("big_normalized", 300, 64, 16, 1, 1, seed=8),
        ema_case("ema_update", 50, 12, 6, 0, seed=9),
        ema_case("ema_update_normalized", 50, 12, 6, 1, seed=10),
    ]
    for name, tensors in cases:
        save(os.path.join(outdir, f"quantizer_{name}.tsr"), tensors)


if __name__ == "__main__":
    main()
