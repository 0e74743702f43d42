"""PyTorch peer of `bench/ar_bench.c train`: the AR model of train/ar.c (RAR, r = 1) at
configs/fmnist-rar.ini's shape, one full training step timed the same way.

The model is train/gpt.c's GPT (the Block of bench/torch_gpt.py: pre-LN, qkv linear with
bias, causal attention, proj; LN, fc 4C, GELU (erf), proj; final LN; lm head K without
bias), with train/ar.c's inputs: vocabulary K + classes + 1 in (codes, classes, null
class), K out, and two position tables of N + 1 rows, wpe for each token's own grid
position (row 0: the class slot) and wta for the position it must predict (the
target-aware embedding). Per step, as ar_step: a fresh uniform order per sample
(argsort of uniform noise), the class replaced by the null class with probability 0.1,
the sequences gathered from the codes, then forward + cross-entropy, zero_grad,
backward, clip_grad_norm_(1.0), AdamW (lr 1e-3, betas 0.9/0.96, eps 1e-8, weight decay
0.03 on the matrices only, as tessera). Random seeded codes and classes.

    /usr/bin/python3 bench/torch_ar.py --threads 1 [--batch 64 --grid 7 --steps 10 --warmup 3]

Attention: written out (q·kᵀ, masked_fill with the causal mask, softmax, ·v) by
default, because Debian's PyTorch 1.13 has no F.scaled_dot_product_attention; --sdpa uses
it with is_causal=True where it exists (torch >= 2.0). Set OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS before starting Python (bench/run_ar_bench.sh does). The last line is
"RESULT key=value ..." for the script.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gpt import Block  # noqa: E402  (the same block as the GPT benchmark)


class AR(nn.Module):
    def __init__(self, K, classes, N, L, C, NH, sdpa):
        super().__init__()
        self.K = K
        self.wte = nn.Embedding(K + classes + 1, C)
        self.wpe = nn.Embedding(N + 1, C)
        self.wta = nn.Embedding(N + 1, C)
        self.blocks = nn.ModuleList(Block(C, NH, sdpa) for _ in range(L))
        self.lnf = nn.LayerNorm(C)
        self.lm = nn.Linear(C, K, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(N, N, dtype=torch.bool)))
        for name, p in self.named_parameters():  # GPT-2 init, as gpt_init_weights
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln" in name:
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * L) if name.endswith(("proj.weight", "fcp.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, inputs, positions, target_positions, targets):
        x = self.wte(inputs) + self.wpe(positions) + self.wta(target_positions)
        for b in self.blocks:
            x = b(x, self.mask)
        logits = self.lm(self.lnf(x))
        return F.cross_entropy(logits.view(-1, self.K), targets.view(-1))


def rar_batch(codes, labels, K, classes, gen):
    """ar_sequence for a batch at r = 1: slot t predicts the code at grid position order[t]
    and holds the one at order[t-1] (slot 0: the class), at wpe row 1 + order[t-1] (0)."""
    B, N = codes.shape
    order = torch.argsort(torch.rand(B, N, generator=gen), dim=1)  # a uniform permutation per sample
    targets = torch.gather(codes, 1, order)
    drop = torch.rand(B, generator=gen) < 0.1
    cls = torch.where(drop, torch.full_like(labels, K + classes), labels + K)
    inputs = torch.cat([cls[:, None], targets[:, :-1]], 1)
    positions = torch.cat([torch.zeros(B, 1, dtype=order.dtype), order[:, :-1] + 1], 1)
    return inputs, positions, order, targets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--grid", type=int, default=7)
    ap.add_argument("--K", type=int, default=512)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--sdpa", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    K, classes, N, B, C, L = a.K, a.classes, a.grid * a.grid, a.batch, a.width, a.layers
    sdpa = a.sdpa and hasattr(F, "scaled_dot_product_attention")
    model = AR(K, classes, N, L, C, a.heads, sdpa)
    n = sum(p.numel() for p in model.parameters())
    decay = [p for nm, p in model.named_parameters() if p.dim() == 2 and nm.split(".")[0] not in ("wte", "wpe", "wta")]
    no_decay = [p for p in model.parameters() if all(p is not q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.03}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.96), eps=1e-8)
    gen = torch.Generator().manual_seed(42)
    codes = torch.randint(0, K, (B, N), generator=gen)
    labels = torch.randint(0, classes, (B,), generator=gen)

    n_mat = L * 12 * C * C + K * C
    flops = B * N * (6 * n_mat + 12 * L * N * C)  # as bench/ar_bench.c counts them

    times, prep = [], []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        batch = rar_batch(codes, labels, K, classes, gen)
        t1 = time.perf_counter()
        loss = model(*batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t = time.perf_counter() - t0
        if s >= a.warmup:
            times.append(t)
            prep.append(t1 - t0)
    step = statistics.median(times)
    tok_s = B * N / step
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, attention "
          f"{'sdpa is_causal' if sdpa else 'explicit causal mask'}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"config: K {K}, {classes} classes + null, grid {a.grid}x{a.grid} = {N} codes, layers {L}, heads {a.heads}, "
          f"width {C}, target-aware; batch {B}; parameters {n}")
    print(f"step median {step:.4f} s (min {min(times):.4f}, max {max(times):.4f}; orders + sequences "
          f"{statistics.median(prep):.4f}); loss {loss.item():.4f}")
    print(f"tokens/s {tok_s:.0f}, {flops / step / 1e9:.2f} GFLOP/s")
    print(f"RESULT mode=torch threads={a.threads} batch={B} N={N} params={n} step_s={step:.5f} tok_s={tok_s:.1f} "
          f"gflops={flops / step / 1e9:.3f} prep_s={statistics.median(prep):.5f} loss={loss.item():.4f} "
          f"attention={'sdpa' if sdpa else 'explicit'} torch={torch.__version__}")


if __name__ == "__main__":
    main()
