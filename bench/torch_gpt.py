"""PyTorch peer of bench/train_bench.c: the same GPT as train/gpt.c (pre-LN blocks: LN,
qkv linear with bias, causal attention, proj; LN, fc 4C, GELU (erf), proj; final LN; lm
head without bias; no weight tying), fp32, AdamW (lr 3e-4, betas 0.9/0.95, wd 0.1 on the
matrices only, as tessera), clip 1.0. Random seeded tokens. Times the same full step:
forward + zero_grad + backward + clip + optimizer step.

    /usr/bin/python3 bench/torch_gpt.py --threads 1 [--seq 64 --batch 32 --width 256 --layers 6]

Set OMP_NUM_THREADS and OPENBLAS_NUM_THREADS before starting Python (torch's matmuls go
to OpenBLAS in Debian's build): bench/run_train_bench.sh runs 1/1, 2/2, and 1/2 (torch's
own kernels on 1 thread, OpenBLAS on 2), which is the fastest on 2 cores. The attention is written out (q·kᵀ, masked_fill, softmax,
·v) as tessera computes it; --sdpa uses F.scaled_dot_product_attention where available
(torch >= 2.0; Debian's 1.13 has no fused CPU attention). The last line is
"RESULT key=value ..." for the script.
"""
import argparse
import ctypes
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def openblas_core():
    """The OpenBLAS kernel family this process runs (OPENBLAS_CORETYPE or OpenBLAS's own
    detection), asked of the library torch loaded; '?' if torch's BLAS is not OpenBLAS."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "?"


class Block(nn.Module):
    def __init__(self, C, NH, sdpa):
        super().__init__()
        self.C, self.NH, self.sdpa = C, NH, sdpa
        self.ln1 = nn.LayerNorm(C)
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C)
        self.fcp = nn.Linear(4 * C, C)

    def forward(self, x, mask):
        B, T, C = x.shape
        NH, HS = self.NH, C // self.NH
        q, k, v = self.qkv(self.ln1(x)).split(C, -1)
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in (q, k, v))
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = att @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fcp(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, V, T, L, C, NH, sdpa):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block(C, NH, sdpa) for _ in range(L))
        self.lnf = nn.LayerNorm(C)
        self.lm = nn.Linear(C, V, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))
        # GPT-2 init, as gpt_init_weights
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln" in name:
                nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * L) if name.endswith(("proj.weight", "fcp.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe.weight[:T]
        for b in self.blocks:
            x = b(x, self.mask[:T, :T])
        logits = self.lm(self.lnf(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def sgemm_rate(M, N, K, tb, reps=5):
    a = torch.randn(M, K)
    b = torch.randn(N, K) if tb else torch.randn(K, N)
    out = torch.empty(M, N)
    best = 1e30
    for i in range(reps + 1):
        t0 = time.perf_counter()
        torch.matmul(a, b.t() if tb else b, out=out)
        t = time.perf_counter() - t0
        if i:
            best = min(best, t)
    return 2.0 * M * N * K / best / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=1035)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--sdpa", action="store_true")
    ap.add_argument("--no-peak", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    V, T, B, C, L = a.vocab, a.seq, a.batch, a.width, a.layers
    sdpa = a.sdpa and hasattr(F, "scaled_dot_product_attention")
    model = GPT(V, T, L, C, a.heads, sdpa)
    n = sum(p.numel() for p in model.parameters())
    decay = [p for nm, p in model.named_parameters() if nm.endswith("weight") and p.dim() == 2 and "wte" not in nm
             and "wpe" not in nm]
    no_decay = [p for p in model.parameters() if all(p is not q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(42)
    idx = torch.randint(0, V, (B, T), generator=g)
    tgt = torch.randint(0, V, (B, T), generator=g)

    n_mat = L * 12 * C * C + V * C
    flops = B * T * (6 * n_mat + 12 * L * T * C)

    times = []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = model(idx, tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t = time.perf_counter() - t0
        if s >= a.warmup:
            times.append(t)
    step = statistics.median(times)
    gflops = flops / step / 1e9
    peak = 0.0 if a.no_peak else sgemm_rate(1024, 1024, 1024, False)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, attention {'sdpa' if sdpa else 'explicit'}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, OpenBLAS kernel {openblas_core()}")
    print(f"config: vocab {V}, layers {L}, width {C}, heads {a.heads}, seq {T}, batch {B}; parameters {n}")
    print(f"step time median {step:.4f} s (min {min(times):.4f}, max {max(times):.4f}); loss {loss.item():.4f}")
    print(f"tokens/s {B * T / step:.0f}, achieved {gflops:.2f} GFLOP/s; torch.matmul 1024^3 {peak:.1f} GFLOP/s")
    print(f"RESULT threads={a.threads} seq={T} batch={B} width={C} layers={L} params={n} step_s={step:.5f} "
          f"tok_s={B * T / step:.1f} gflops={gflops:.3f} peak1024={peak:.2f} blas_core={openblas_core()}")


if __name__ == "__main__":
    main()
