"""ref_optim: PyTorch reference for nn/adamw, nn/clip, nn/schedule and nn/ema, read by
tests/unit/test_nn_optim.c.

    /usr/bin/python3 tests/ref/ref_optim.py OUTDIR    writes OUTDIR/optim.tsr

A tiny model (the tensors of SPECS, laid out flat in that order, as nn/params.h does) takes
10 steps of torch.optim.AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1 except on the
no-decay tensors, which sit in a second parameter group with weight decay 0) on fixed
per-step gradients whose norms straddle max_norm, so some steps are clipped by
torch.nn.utils.clip_grad_norm_(max_norm=1.0) and some are not. The learning rate comes from
torch's SequentialLR(LinearLR warmup 3 steps, CosineAnnealingLR to 0.1 × 1e-2 at step 10),
checked here against the closed form of nn/schedule.h. An EMA (decay 0.8) follows the
parameters. Saved, all flat over the SPECS layout:
    params0, grads (10, n) before clipping, clipped (10, n), norms (10), lrs (10, f64),
    params (10, n) after each step, ema (10, n) after each step,
    sched_cosine, sched_constant (16, f64): the closed-form schedules for steps 0..15.
"""
import math
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tensorfile import save  # noqa: E402

torch.set_num_threads(1)

SPECS = [("w1", (8, 5), False), ("b1", (8,), True), ("norm.weight", (8,), True), ("w2", (3, 8), False),
         ("b2", (3,), True)]  # name, shape, no_decay (test_nn_optim.c has the same table)
STEPS, MAX_LR, WARMUP, MIN_RATIO, WD, MAX_NORM, EMA_DECAY = 10, 1e-2, 3, 0.1, 0.1, 1.0, 0.8
GRAD_NORMS = [0.2, 3.0, 0.5, 1.5, 0.05, 2.0, 0.8, 4.0, 0.3, 1.2]  # about; > 1 gets clipped


def lr_at(step, kind, max_lr=MAX_LR, warmup=WARMUP, total=STEPS, min_ratio=MIN_RATIO):
    """nn/schedule.h's schedule_lr; step counts from 0."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if kind == "constant":
        return max_lr
    min_lr = max_lr * min_ratio
    r = min(1.0, (step - warmup) / (total - warmup))
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * r))


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts])


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    n = sum(int(np.prod(s)) for _, s, _ in SPECS)
    params0 = torch.randn(n) * 0.5
    grads = torch.randn(STEPS, n)
    grads *= torch.tensor(GRAD_NORMS)[:, None] / grads.norm(dim=1, keepdim=True)
    grads *= 1 + 0.1 * torch.randn(STEPS, 1)  # so no norm sits exactly on a round number

    tensors, at = [], 0
    for _, shape, _ in SPECS:
        size = int(np.prod(shape))
        tensors.append(torch.nn.Parameter(params0[at:at + size].reshape(shape).clone()))
        at += size
    decay = [p for p, (_, _, nd) in zip(tensors, SPECS) if not nd]
    no_decay = [p for p, (_, _, nd) in zip(tensors, SPECS) if nd]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=MAX_LR, betas=(0.9, 0.95), eps=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's spurious "step before optimizer.step" warning
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [
            torch.optim.lr_scheduler.LinearLR(opt, 1 / WARMUP, 1.0, total_iters=WARMUP - 1),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS - WARMUP, eta_min=MAX_LR * MIN_RATIO)],
            milestones=[WARMUP])
    ema = [p.detach().clone() for p in tensors]

    out = {"params0": params0, "grads": grads, "clipped": [], "norms": [], "lrs": [], "params": [], "ema": []}
    for step in range(STEPS):
        at = 0
        for p in tensors:
            p.grad = grads[step, at:at + p.numel()].reshape(p.shape).clone()
            at += p.numel()
        norm = torch.nn.utils.clip_grad_norm_(tensors, MAX_NORM)
        lr = opt.param_groups[0]["lr"]
        assert abs(lr - lr_at(step, "cosine")) <= 1e-12 * lr, (step, lr, lr_at(step, "cosine"))
        opt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched.step()
        with torch.no_grad():
            for e, p in zip(ema, tensors):
                e.mul_(EMA_DECAY).add_(p, alpha=1 - EMA_DECAY)
        out["clipped"].append(flat([p.grad for p in tensors]))
        out["norms"].append(float(norm))
        out["lrs"].append(lr)
        out["params"].append(flat(tensors))
        out["ema"].append(flat(ema))
    save(os.path.join(outdir, "optim.tsr"), {
        "params0": params0, "grads": grads, "clipped": torch.stack(out["clipped"]),
        "norms": np.array(out["norms"], np.float32), "lrs": np.array(out["lrs"], np.float64),
        "params": torch.stack(out["params"]), "ema": torch.stack(out["ema"]),
        "sched_cosine": np.array([lr_at(s, "cosine") for s in range(16)], np.float64),
        "sched_constant": np.array([lr_at(s, "constant") for s in range(16)], np.float64),
    })


if __name__ == "__main__":
    main()
