"""ref_eval_metrics: Fréchet distance, KID and precision/recall/density/coverage of seeded
Gaussian feature sets, read by tests/unit/test_eval_metrics.c (eval/frechet, eval/kid, eval/prdc).

    /usr/bin/python3 tests/ref/ref_eval_metrics.py OUTDIR    writes OUTDIR/eval_metrics.tsr

numpy only, written from the definitions (scipy is not assumed):
  FD    mean, np.cov(rowvar=False) (unbiased), Σa^½ from eigh with negatives clamped, the
        eigenvalues of the symmetrized Σa^½ Σb Σa^½ (eigvalsh), negatives clamped, sqrt summed.
        Cross-checked here against the independent torch-fidelity formulation, the sum of
        real(sqrt(eigvals(Σa Σb))), to 1e-8 relative on every non-singular case.
  KID   k(x, y) = (x·y/d + 1)³, unbiased MMD² (diagonals excluded) per subset pair; the subsets
        are drawn by a reimplementation of eval/kid.c's kid_subsets (xoshiro256** seeded
        through splitmix64 as core/rng.c, partial Fisher–Yates per subset), and mean and
        population std over subsets.
  PRDC  squared distances summed over features in order (as eval/prdc.c); radius = k-th
        nearest other sample of the own set; inside when distance ≤ radius. The counts are
        cross-checked against the plain ((x - y)**2).sum(-1) formulation, and every case's
        smallest relative gap between a distance and a radius it is compared with (exact ties
        excepted) is printed and required to be > 1e-10, so rounding-order differences
        cannot flip a count.

Tensors (i = case index):
  fd_dims int32 (cases, 3) = na, nb, d; fd<i>_a, fd<i>_b f64; fd f64 (cases); fd_singular int32
  kid_dims int32 (cases, 5) = na, nb, d, n_subsets, m; kid_seed int64 (cases);
    kid<i>_a, kid<i>_b f64; kid<i>_ia, kid<i>_ib int32 (n_subsets, m); kid<i>_mmd f64 (n_subsets);
    kid_mean, kid_std f64 (cases)
  prdc_dims int32 (cases, 4) = n_real, n_fake, d, k; prdc<i>_real, prdc<i>_fake f64;
    prdc_counts int64 (cases, 4) = precision, recall, density, coverage counts
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tensorfile import save  # noqa: E402

MASK = (1 << 64) - 1


# ---------------------------------------------------------------- Fréchet distance

def frechet(a, b):
    """Returns (FD by the symmetric formulation, FD by eigvals(Σa Σb), n ≤ d singular flag)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    lam, q = np.linalg.eigh(cov_a)
    root = (q * np.sqrt(np.clip(lam, 0, None))) @ q.T
    m = root @ cov_b @ root
    m = (m + m.T) / 2
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(m), 0, None)).sum()
    base = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
    fd = max(base - 2 * trace_sqrt, 0.0)
    ev = np.linalg.eigvals(cov_a @ cov_b)
    fd_eigvals = base - 2 * np.sqrt(ev.astype(np.complex128)).real.sum()
    d = a.shape[1]
    singular = a.shape[0] <= d or b.shape[0] <= d or lam[0] <= d * np.finfo(float).eps * max(lam[-1], 0)
    return fd, fd_eigvals, int(singular)


def gaussian(rng, n, d, shift=0.0, scale=1.0, mix=None):
    """n samples of a d-dim Gaussian with mean `shift` and covariance (scale·A)(scale·A)ᵀ."""
    z = rng.normal(size=(n, d))
    if mix is None:
        mix = np.eye(d) + 0.3 * rng.normal(size=(d, d)) / np.sqrt(d)
    return shift + scale * z @ mix.T


def fd_cases(rng):
    out = []
    a = gaussian(rng, 300, 16)
    out.append(("d16_shift_and_cov", a, gaussian(rng, 400, 16, shift=0.5, scale=1.3)))
    a = gaussian(rng, 500, 64, shift=2.0)
    out.append(("d64_shift_and_cov", a, gaussian(rng, 450, 64, shift=1.5, scale=0.7)))
    mix = np.eye(64) + 0.3 * rng.normal(size=(64, 64)) / 8
    out.append(("d64_same_distribution", gaussian(rng, 500, 64, mix=mix), gaussian(rng, 480, 64, mix=mix)))
    a = gaussian(rng, 400, 64, scale=3.0)
    out.append(("d64_identical", a, a.copy()))
    out.append(("d64_fewer_samples_than_dims", gaussian(rng, 40, 64), gaussian(rng, 50, 64, shift=0.2)))
    out.append(("d16_two_samples", gaussian(rng, 2, 16), gaussian(rng, 3, 16, shift=1.0)))
    return out


# ---------------------------------------------------------------- KID

def splitmix_mix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


class Xoshiro:
    """xoshiro256** seeded as core/rng.c's rng_seed (four chained mix64 calls)."""

    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = splitmix_mix(seed)
            self.s.append(seed)

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def below(self, n):
        if n <= 1:
            return 0
        limit = MASK - MASK % n
        while True:
            x = self.next()
            if x < limit:
                return x % n


def kid_subsets(na, nb, m, n_subsets, seed):
    rng = Xoshiro(seed)

    def draw(n):
        perm = list(range(n))
        for i in range(m):
            j = i + rng.below(n - i)
            perm[i], perm[j] = perm[j], perm[i]
        return perm[:m]

    ia, ib = [], []
    for _ in range(n_subsets):
        ia.append(draw(na))
        ib.append(draw(nb))
    return np.array(ia, np.int64), np.array(ib, np.int64)


def mmd2_unbiased(x, y):
    d = x.shape[1]
    m, n = len(x), len(y)
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.sum() / (m * n))


def kid_cases(rng):
    # (name, a, b, n_subsets, m, seed)
    out = []
    out.append(("d16_shift", gaussian(rng, 300, 16), gaussian(rng, 250, 16, shift=0.3, scale=1.2), 20, 100, 2020))
    out.append(("d64_cov", gaussian(rng, 500, 64), gaussian(rng, 500, 64, scale=1.5), 10, 200, 7))
    mix = np.eye(16) + 0.3 * rng.normal(size=(16, 16)) / 4
    out.append(("d16_same_distribution", gaussian(rng, 400, 16, mix=mix), gaussian(rng, 350, 16, mix=mix), 25, 80,
                0xDEADBEEFCAFEF00D))
    out.append(("d64_whole_sets", gaussian(rng, 200, 64), gaussian(rng, 200, 64, shift=0.1), 3, 200, 1))
    return out


# ---------------------------------------------------------------- precision, recall, density, coverage

def sq_dist_in_order(x, y):
    """(len(x), len(y)) squared distances, summed over features in order (as eval/prdc.c)."""
    out = np.zeros((len(x), len(y)))
    for t in range(x.shape[1]):
        diff = x[:, None, t] - y[None, :, t]
        out += diff * diff
    return out


def kth_radius(dself, k):
    dself = dself.copy()
    np.fill_diagonal(dself, np.inf)  # other samples only, by index
    return np.partition(dself, k - 1, axis=1)[:, k - 1]


def prdc_counts(real, fake, k, dist):
    r_real = kth_radius(dist(real, real), k)
    r_fake = kth_radius(dist(fake, fake), k)
    d_rf = dist(real, fake)  # (n_real, n_fake)
    in_real_ball = d_rf <= r_real[:, None]
    in_fake_ball = d_rf <= r_fake[None, :]
    counts = (int(in_real_ball.any(axis=0).sum()), int(in_fake_ball.any(axis=1).sum()), int(in_real_ball.sum()),
              int(in_real_ball.any(axis=1).sum()))
    # The smallest relative gap between a compared distance and radius, exact ties excepted.
    gaps = []
    for rad in (r_real[:, None], r_fake[None, :]):
        diff, radii = np.abs(d_rf - rad), np.broadcast_to(rad, d_rf.shape)
        apart = diff > 0
        gaps.append((diff[apart] / np.maximum(radii[apart], 1e-300)).min() if apart.any() else np.inf)
    return counts, min(gaps), int((d_rf == r_real[:, None]).sum() + (d_rf == r_fake[None, :]).sum())


def prdc_cases(rng):
    # (name, real, fake, k)
    out = []
    out.append(("d16_shift_k3", gaussian(rng, 300, 16), gaussian(rng, 350, 16, shift=0.4, scale=1.2), 3))
    out.append(("d64_scale_k3", gaussian(rng, 400, 64), gaussian(rng, 400, 64, scale=0.8, shift=0.1), 3))
    out.append(("d64_same_k5", gaussian(rng, 300, 64), gaussian(rng, 320, 64), 5))
    # Duplicates: real rows repeated (one row 4 times: radius 0 with k = 3), fake holding
    # exact copies of real rows (distance 0 to their original, and ties at radii).
    real = gaussian(rng, 120, 16)
    real[10:14] = real[3]
    real[20:22] = real[5]
    real[50:53] = real[40]
    fake = gaussian(rng, 150, 16, shift=0.2)
    fake[:30] = real[rng.choice(120, 30, replace=False)]
    fake[30] = real[3]
    fake[31:34] = fake[100]
    out.append(("d16_duplicates_k3", real, fake, 3))
    out.append(("d16_tiny_k1", gaussian(rng, 2, 16), gaussian(rng, 3, 16, shift=0.5), 1))
    return out


# ---------------------------------------------------------------- main

def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(20240612)
    t = {}

    dims, fds, singular = [], [], []
    for i, (name, a, b) in enumerate(fd_cases(rng)):
        fd, fd_eig, sing = frechet(a, b)
        scale = np.trace(np.cov(a, rowvar=False)) + np.trace(np.cov(b, rowvar=False))
        if not sing:
            assert abs(fd - fd_eig) <= 1e-8 * max(fd, 1e-3 * scale), f"{name}: {fd!r} vs eigvals {fd_eig!r}"
        if name.endswith("identical"):
            assert fd <= 1e-10 * scale, f"{name}: {fd!r}"
        assert np.isfinite(fd)
        print(f"  fd   {i} {name:30s} {a.shape} {b.shape} FD {fd:.10g} (eigvals form {fd_eig:.10g}) singular {sing}")
        t[f"fd{i}_a"], t[f"fd{i}_b"] = a, b
        dims.append((len(a), len(b), a.shape[1]))
        fds.append(fd)
        singular.append(sing)
    t["fd_dims"] = np.array(dims, np.int32)
    t["fd"] = np.array(fds, np.float64)
    t["fd_singular"] = np.array(singular, np.int32)

    dims, seeds, means, stds = [], [], [], []
    for i, (name, a, b, n_subsets, m, seed) in enumerate(kid_cases(rng)):
        ia, ib = kid_subsets(len(a), len(b), m, n_subsets, seed)
        for s in range(n_subsets):
            assert len(set(ia[s])) == m and len(set(ib[s])) == m
        mmd = np.array([mmd2_unbiased(a[ia[s]], b[ib[s]]) for s in range(n_subsets)])
        # The unbiased estimator, cross-checked against its pairwise form on the first subset.
        x, y = a[ia[0]], b[ib[0]]
        k = lambda p, q: (p @ q / x.shape[1] + 1) ** 3  # noqa: E731
        xx = sum(k(x[p], x[q]) for p in range(m) for q in range(m) if p != q) / (m * (m - 1))
        yy = sum(k(y[p], y[q]) for p in range(m) for q in range(m) if p != q) / (m * (m - 1))
        xy = sum(k(x[p], y[q]) for p in range(m) for q in range(m)) / (m * m)
        assert abs((xx + yy - 2 * xy) - mmd[0]) <= 1e-9 * max(xx, yy), name
        print(f"  kid  {i} {name:30s} {a.shape} {b.shape} {n_subsets}x{m} seed {seed:#x}"
              f"  KID {mmd.mean():.6e} ± {mmd.std():.3e}")
        t[f"kid{i}_a"], t[f"kid{i}_b"] = a, b
        t[f"kid{i}_ia"], t[f"kid{i}_ib"] = ia.astype(np.int32), ib.astype(np.int32)
        t[f"kid{i}_mmd"] = mmd
        dims.append((len(a), len(b), a.shape[1], n_subsets, m))
        seeds.append(np.uint64(seed).astype(np.int64))
        means.append(mmd.mean())
        stds.append(mmd.std())
    t["kid_dims"] = np.array(dims, np.int32)
    t["kid_seed"] = np.array(seeds, np.int64)
    t["kid_mean"] = np.array(means, np.float64)
    t["kid_std"] = np.array(stds, np.float64)

    dims, counts = [], []
    for i, (name, real, fake, k) in enumerate(prdc_cases(rng)):
        c, gap, ties = prdc_counts(real, fake, k, sq_dist_in_order)
        c_plain, _, _ = prdc_counts(real, fake, k, lambda x, y: ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
        assert c == c_plain, f"{name}: {c} vs plain formulation {c_plain}"
        assert gap > 1e-10, f"{name}: a distance lies within {gap:.1e} of a radius; counts are fragile"
        if "duplicates" in name:
            assert ties > 0, name
        print(f"  prdc {i} {name:30s} {real.shape} {fake.shape} k={k} counts P/R/D/C {c}"
              f"  min gap {gap:.1e}, exact ties {ties}")
        t[f"prdc{i}_real"], t[f"prdc{i}_fake"] = real, fake
        dims.append((len(real), len(fake), real.shape[1], k))
        counts.append(c)
    t["prdc_dims"] = np.array(dims, np.int32)
    t["prdc_counts"] = np.array(counts, np.int64)

    save(os.path.join(outdir, "eval_metrics.tsr"), t)
    print(f"ref_eval_metrics: {len(fds)} FD, {len(means)} KID, {len(counts)} PRDC cases")


if __name__ == "__main__":
    main()
