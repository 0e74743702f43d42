"""ref_eval_probe: the linear probe (multinomial logistic regression, sklearn) and the Inception
Score (numpy), read by tests/unit/test_eval_probe.c (eval/probe, eval/lbfgs, eval/inception_score).

    /usr/bin/python3 tests/ref/ref_eval_probe.py OUTDIR    writes OUTDIR/eval_probe.tsr

Logistic regression. sklearn's LogisticRegression(penalty='l2', C=1/(λ·n), multi_class=
  'multinomial', solver='lbfgs', tol=1e-12, max_iter=100000) minimizes n times eval/probe.h's
  objective. It stops early, though: sklearn 1.2 leaves scipy's L-BFGS-B at its default
  ftol = 2.2e-9 (relative decrease of f), which ends the fits after ~20 iterations with weights
  ~1e-4 from the optimum. So each fit here is that sklearn result ("sklearn", kept to show it)
  polished by Newton's method on the numpy objective with the exact Hessian (minimum-norm
  steps: the Hessian is singular along the all-biases-plus-one direction) until max |gradient|
  < 1e-15 ("optimum"). Checked: the optimum is within 1e-3 of sklearn's weights and its
  objective no higher; and scipy's L-BFGS-B with ftol = 0 on sklearn's own loss code
  (LinearModelLoss + HalfMultinomialLoss, the function LogisticRegression hands to scipy, with
  l2_reg_strength = 1/C) lands within 1e-6 of it (1.3e-7 at worst, where scipy's line search
  meets the rounding of f), so the objectives are the same.
Protocol. eval/probe.c's linear_probe reimplemented: the held-out rows drawn as
  probe_holdout_split (xoshiro256** and the partial Fisher–Yates, from ref_eval_metrics.py),
  n_val = floor(val_fraction·n + 0.5) (C's round), standardization by mean and population std
  (a constant feature: its value and 1), a fit per λ, best held-out accuracy with ties to the
  larger λ, the refit on all training rows. Predictions are the argmax of the optimum's logits;
  every one is required to win by a logit margin > 1e-5 (printed), so the accuracies cannot
  hinge on the last digits of the weights.
Inception Score. From the definition in numpy (0·log 0 = 0), each split's mean KL
  cross-checked against scipy.stats.entropy(p(·|x), p_y) to 1e-12.

Tensors (i = case index):
  probe_dims int32 (cases, 6) = n_train, n_test, d, n_classes, n_val, n_lambdas;
    probe_seed int64; probe_val_fraction f64; probe<i>_train_x, probe<i>_test_x f64;
    probe<i>_train_y, probe<i>_test_y int32; probe<i>_lambdas f64; probe<i>_val_rows int32 (in
    draw order); probe<i>_val_accuracy f64 (n_lambdas); probe<i>_result f64 = chosen λ,
    train accuracy, test accuracy
  logreg_dims int32 (cases, 3) = n, d, n_classes; logreg_lambda f64; logreg<i>_x f64
    (standardized); logreg<i>_y int32; logreg<i>_w, logreg<i>_b f64 (the optimum);
    logreg<i>_w_sklearn, logreg<i>_b_sklearn f64 (LogisticRegression as is)
  is_dims int32 (cases, 3) = n, n_classes, splits; is<i>_probs f64; is_mean, is_std f64
"""
import math
import os
import sys
import warnings

import numpy as np
import scipy.optimize
import scipy.stats
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn._loss.loss import HalfMultinomialLoss

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tensorfile import save  # noqa: E402
from ref_eval_metrics import Xoshiro  # noqa: E402

DEFAULT_LAMBDAS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]
MIN_MARGIN = 1e-5
TIGHT_GAPS = []  # distances of scipy's tight minimum of sklearn's loss from the Newton optimum


# ---------------------------------------------------------------- logistic regression

def objective(w, b, x, y, lam):
    """eval/probe.h's objective: (f, dW, db, softmax probabilities)."""
    n = len(x)
    z = x @ w.T + b
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    p = np.exp(z - lse[:, None])
    f = (lse - z[np.arange(n), y]).mean() + lam / 2 * (w ** 2).sum()
    r = p.copy()
    r[np.arange(n), y] -= 1
    return f, r.T @ x / n + lam * w, r.mean(axis=0), p


def hessian(x, p, lam):
    """Exact Hessian over θ = [W (k×d) | b (k)]: (1/n) Σ_i (diag p_i − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ, x̃ = [x, 1]."""
    n, d = x.shape
    k = p.shape[1]
    xt = np.hstack([x, np.ones((n, 1))])
    a = np.einsum("ic,ce->ice", p, np.eye(k)) - np.einsum("ic,ie->ice", p, p)
    h = np.einsum("ice,ij,il->cjel", a, xt, xt).reshape(k * (d + 1), k * (d + 1)) / n
    order = [c * (d + 1) + j for c in range(k) for j in range(d)] + [c * (d + 1) + d for c in range(k)]
    h = h[np.ix_(order, order)]
    h[: k * d, : k * d] += lam * np.eye(k * d)
    return h


def newton_polish(w, b, x, y, lam):
    k, d = w.shape
    theta = np.concatenate([w.ravel(), b])
    for _ in range(50):
        f, gw, gb, p = objective(theta[: k * d].reshape(k, d), theta[k * d:], x, y, lam)
        g = np.concatenate([gw.ravel(), gb])
        if np.abs(g).max() < 1e-15:
            break
        theta = theta - np.linalg.lstsq(hessian(x, p, lam), g, rcond=None)[0]
    f, gw, gb, _ = objective(theta[: k * d].reshape(k, d), theta[k * d:], x, y, lam)
    gmax = max(np.abs(gw).max(), np.abs(gb).max())
    assert gmax < 1e-14, f"Newton stopped at max |gradient| {gmax:.1e}"
    b = theta[k * d:]
    return theta[: k * d].reshape(k, d), b - b.mean(), f


def sklearn_loss_optimum(x, y, k, lam):
    """scipy L-BFGS-B with ftol = 0 on the function LogisticRegression minimizes."""
    n, d = x.shape
    loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=k), fit_intercept=True)
    res = scipy.optimize.minimize(loss.loss_gradient, np.zeros(k * (d + 1)), method="L-BFGS-B", jac=True,
                                  args=(x, y.astype(float), np.ones(n), lam * n, 1),
                                  options={"gtol": 1e-13, "ftol": 0, "maxiter": 100000, "maxls": 100})
    coef = res.x.reshape((k, d + 1), order="F")
    return coef[:, :d], coef[:, d] - coef[:, d].mean()


def logreg(x, y, k, lam):
    """(optimum w, b, sklearn's w, b)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning would mean max_iter ran out
        m = LogisticRegression(penalty="l2", C=1 / (lam * len(x)), multi_class="multinomial", solver="lbfgs",
                               tol=1e-12, max_iter=100000, fit_intercept=True).fit(x, y)
    w_sk, b_sk = m.coef_, m.intercept_
    assert abs(b_sk.sum()) < 1e-12, b_sk
    w, b, f = newton_polish(w_sk, b_sk, x, y, lam)
    f_sk = objective(w_sk, b_sk, x, y, lam)[0]
    assert f <= f_sk + 1e-15 and max(np.abs(w - w_sk).max(), np.abs(b - b_sk).max()) < 1e-3, (f, f_sk)
    w_tight, b_tight = sklearn_loss_optimum(x, y, k, lam)
    gap = max(np.abs(w - w_tight).max(), np.abs(b - b_tight).max())
    assert gap < 1e-6, f"sklearn's loss minimized tightly is {gap:.1e} from the Newton optimum"
    TIGHT_GAPS.append(gap)
    return w, b, w_sk, b_sk


def scales(x):
    """Per feature mean and population std; a constant feature: its value and 1 (as eval/probe.c)."""
    constant = (x == x[0]).all(axis=0)
    mean = np.where(constant, x[0], x.mean(axis=0))
    std = np.sqrt(((x - mean) ** 2).sum(axis=0) / len(x))
    return mean, np.where(std > 0, std, 1.0)


def predict(w, b, x):
    """Argmax of the logits (the first on a tie) and the smallest margin of the winner."""
    z = x @ w.T + b
    top2 = np.sort(z, axis=1)[:, -2:]
    return z.argmax(axis=1), (top2[:, 1] - top2[:, 0]).min()


# ---------------------------------------------------------------- the protocol

def holdout_split(n, n_val, seed):
    rng = Xoshiro(seed)
    perm = list(range(n))
    for i in range(n_val):
        j = i + rng.below(n - i)
        perm[i], perm[j] = perm[j], perm[i]
    val = perm[:n_val]
    return np.array(val, np.int64), np.array(sorted(set(range(n)) - set(val)), np.int64)


def linear_probe(train_x, train_y, test_x, test_y, k, val_fraction, seed, lambdas):
    n = len(train_x)
    n_val = math.floor(val_fraction * n + 0.5)
    val_rows, fit_rows = holdout_split(n, n_val, seed)
    mean, std = scales(train_x[fit_rows])
    fx, vx = (train_x[fit_rows] - mean) / std, (train_x[val_rows] - mean) / std
    accs, margins = [], []
    for lam in lambdas:
        w, b, w_sk, b_sk = logreg(fx, train_y[fit_rows], k, lam)
        pred, margin = predict(w, b, vx)
        accs.append((pred == train_y[val_rows]).sum() / n_val)
        margins.append(margin)
    best = 0
    for t in range(len(lambdas)):
        if accs[t] > accs[best] or (accs[t] == accs[best] and lambdas[t] > lambdas[best]):
            best = t
    ties = sum(a == accs[best] for a in accs)
    mean, std = scales(train_x)
    ax, tx = (train_x - mean) / std, (test_x - mean) / std
    w, b, _, _ = logreg(ax, train_y, k, lambdas[best])
    pred_train, m_train = predict(w, b, ax)
    pred_test, m_test = predict(w, b, tx)
    margin = min(min(margins), m_train, m_test)
    assert margin > MIN_MARGIN, f"a prediction wins by {margin:.1e}: accuracies are fragile"
    result = (lambdas[best], (pred_train == train_y).mean(), (pred_test == test_y).mean())
    return val_rows, np.array(accs), result, ties, margin


def mixture(rng, n, centers, scale):
    """n rows: a random class each, its center plus unit Gaussian noise, then per-feature scale."""
    y = rng.integers(0, len(centers), n)
    return (centers[y] + rng.normal(size=(n, centers.shape[1]))) * scale, y.astype(np.int32)


def probe_cases(rng):
    # (name, train_x, train_y, test_x, test_y, k, val_fraction, seed, lambdas)
    out = []
    centers = 0.9 * rng.normal(size=(4, 8))
    train_x, train_y = mixture(rng, 360, centers, np.ones(8))
    test_x, test_y = mixture(rng, 200, centers, np.ones(8))
    train_x[:, 7] = test_x[:, 7] = 3.7  # a constant feature: exactly 0 after standardization
    out.append(("d8_k4_default_grid", train_x, train_y, test_x, test_y, 4, 0.1, 2024, DEFAULT_LAMBDAS))
    # Features on scales 1e-3 … 1e3; 0.25 · 362 = 90.5 rounds away from 0 to 91 held-out rows.
    centers = 1.2 * rng.normal(size=(3, 5))
    scale = np.array([1e-3, 1.0, 1e3, 0.05, 20.0])
    train_x, train_y = mixture(rng, 362, centers, scale)
    test_x, test_y = mixture(rng, 150, centers, scale)
    out.append(("d5_k3_scaled_unsorted_grid", train_x, train_y, test_x, test_y, 3, 0.25, 0xDEADBEEFCAFEF00D,
                [1e-3, 0.1, 1e-2, 3.0]))
    return out


# ---------------------------------------------------------------- Inception Score

def inception_score(p, splits):
    n = len(p)
    scores = []
    for s in range(splits):
        part = p[s * n // splits:(s + 1) * n // splits]
        p_y = part.mean(axis=0)
        safe = np.where(part > 0, part, 1.0)
        kl = np.where(part > 0, part * (np.log(safe) - np.log(np.where(p_y > 0, p_y, 1.0))), 0.0).sum(axis=1)
        kl_scipy = np.array([scipy.stats.entropy(row, p_y) for row in part])
        assert np.abs(kl - kl_scipy).max() <= 1e-12 * max(1.0, np.abs(kl).max()), "KL disagrees with scipy"
        scores.append(np.exp(kl.mean()))
    return np.mean(scores), np.std(scores)


def is_cases(rng):
    # (name, probs, splits)
    out = []
    out.append(("k10_dirichlet_10_splits", rng.dirichlet(0.3 * np.ones(10), size=500), 10))
    # Exact zeros: sparse rows, and a class absent from the whole first split (p_y(c) = 0).
    p = rng.dirichlet(np.ones(6), size=120)
    p[rng.random(p.shape) < 0.4] = 0
    p[:40, 5] = 0
    p[p.sum(axis=1) == 0, 0] = 1
    out.append(("k6_exact_zeros_3_splits", p / p.sum(axis=1, keepdims=True), 3))
    out.append(("k4_103_rows_5_splits", rng.dirichlet(np.ones(4), size=103), 5))
    out.append(("k3_one_split", rng.dirichlet(0.5 * np.ones(3), size=50), 1))
    # One-hot rows spread evenly over 8 classes: each split scores exactly 8.
    out.append(("k8_one_hot_4_splits", np.eye(8)[np.arange(64) % 8], 4))
    return out


# ---------------------------------------------------------------- main

def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(20240613)
    t = {}

    dims, seeds, fractions, any_tie = [], [], [], False
    logreg_inputs = []
    for i, (name, trx, try_, tex, tey, k, frac, seed, lambdas) in enumerate(probe_cases(rng)):
        val_rows, accs, result, ties, margin = linear_probe(trx, try_, tex, tey, k, frac, seed, lambdas)
        any_tie |= ties > 1
        print(f"  probe {i} {name:28s} train {trx.shape} test {tex.shape} k {k} n_val {len(val_rows)}"
              f"  val acc {np.round(accs, 4).tolist()}  λ {result[0]:g} ({ties} at best)"
              f"  train {result[1]:.4f} test {result[2]:.4f}  min margin {margin:.1e}")
        t[f"probe{i}_train_x"], t[f"probe{i}_train_y"] = trx, try_
        t[f"probe{i}_test_x"], t[f"probe{i}_test_y"] = tex, tey
        t[f"probe{i}_lambdas"] = np.array(lambdas, np.float64)
        t[f"probe{i}_val_rows"] = val_rows.astype(np.int32)
        t[f"probe{i}_val_accuracy"] = accs
        t[f"probe{i}_result"] = np.array(result, np.float64)
        dims.append((len(trx), len(tex), trx.shape[1], k, len(val_rows), len(lambdas)))
        seeds.append(np.uint64(seed).astype(np.int64))
        fractions.append(frac)
        mean, std = scales(trx)
        logreg_inputs.append(((trx - mean) / std, try_, k))
    assert any_tie, "no case exercises the tie rule"
    t["probe_dims"] = np.array(dims, np.int32)
    t["probe_seed"] = np.array(seeds, np.int64)
    t["probe_val_fraction"] = np.array(fractions, np.float64)

    dims, lams = [], []
    for i, (src, lam) in enumerate([(0, 1e-5), (0, 1e-2), (0, 1.0), (1, 1e-3)]):
        x, y, k = logreg_inputs[src]
        w, b, w_sk, b_sk = logreg(x, y, k, lam)
        sk_gap = max(np.abs(w - w_sk).max(), np.abs(b - b_sk).max())
        print(f"  logreg {i} probe case {src} {x.shape} k {k} λ {lam:g}  max |w| {np.abs(w).max():.3f}"
              f"  LogisticRegression's distance from the optimum {sk_gap:.1e}")
        t[f"logreg{i}_x"], t[f"logreg{i}_y"] = x, y
        t[f"logreg{i}_w"], t[f"logreg{i}_b"] = w, b
        t[f"logreg{i}_w_sklearn"], t[f"logreg{i}_b_sklearn"] = w_sk, b_sk
        dims.append((len(x), x.shape[1], k))
        lams.append(lam)
    t["logreg_dims"] = np.array(dims, np.int32)
    t["logreg_lambda"] = np.array(lams, np.float64)

    dims, means, stds = [], [], []
    for i, (name, p, splits) in enumerate(is_cases(rng)):
        mean, std = inception_score(p, splits)
        if "one_hot" in name:
            assert abs(mean - 8) < 1e-12 and std < 1e-12
        print(f"  is {i} {name:26s} {p.shape} splits {splits}  IS {mean:.12g} ± {std:.6g}"
              f"  zeros {(p == 0).sum()}")
        t[f"is{i}_probs"] = p
        dims.append((len(p), p.shape[1], splits))
        means.append(mean)
        stds.append(std)
    t["is_dims"] = np.array(dims, np.int32)
    t["is_mean"] = np.array(means, np.float64)
    t["is_std"] = np.array(stds, np.float64)

    print(f"  scipy L-BFGS-B (ftol 0) on sklearn's loss vs the Newton optimum: {len(TIGHT_GAPS)} fits,"
          f" largest max |Δθ| {max(TIGHT_GAPS):.1e}")
    save(os.path.join(outdir, "eval_probe.tsr"), t)
    print(f"ref_eval_probe: {len(seeds)} probe, {len(lams)} logistic regression, {len(means)} IS cases")


if __name__ == "__main__":
    main()
