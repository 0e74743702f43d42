"""PyTorch reference for model = ar (train/ar.c on train/gpt.c): raster AR and RAR written
the RAR paper's way (Yu et al. 2024), independently of the C code's index arithmetic.
Writes OUTDIR/ar_*.tsr (tensorfile.py), one file per case.

A sample is a class token and N codes in raster order; its order is a permutation of
the N grid positions (the identity for raster AR). As RAR builds it:

    permuted = gather(codes, order)              # the codes in generation order
    input    = [class, permuted[:-1]]            # teacher forcing
    target   = permuted
    pe       = wpe[[0, 1 + order]][:-1]          # the PE follows its token: row 0 for the
                                                 # class, 1 + p for the code at grid p
    ta       = wta[order]                        # slot t: the position it must predict

Class ids: K + k for class k, K + classes for the null class (label dropout). The model:
x = wte[input] + pe + ta, then the pre-LN GPT of ref_gpt.py with a causal mask, mean
cross-entropy over the N·B slots. Parameter order (train/gpt.c): wte, wpe, wta (target-
aware only), then per block ln1w ln1b qkvw qkvb projw projb ln2w ln2b fcw fcb fcpw fcpb,
then lnfw lnfb lmw; wpe and wta have N + 1 rows.

Cases: ar_target_aware (the RAR model), ar_target_aware_qknorm (with QK-norm) and
ar_plain (no wta: raster AR's model, fed permuted sequences all the same).
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensorfile  # noqa: E402

torch.set_num_threads(1)
K, CLASSES, GRID_H, GRID_W = 11, 3, 3, 3
N = GRID_H * GRID_W
LAYERS, HEADS, WIDTH = 2, 4, 16
B = 4
BLOCK = ["ln1w", "ln1b", "qkvw", "qkvb", "projw", "projb", "ln2w", "ln2b", "fcw", "fcb", "fcpw", "fcpb"]


def shapes(target_aware):
    C = WIDTH
    out = [("wte", (K + CLASSES + 1, C)), ("wpe", (N + 1, C))]
    if target_aware:
        out.append(("wta", (N + 1, C)))
    block = {"ln1w": (C,), "ln1b": (C,), "qkvw": (3 * C, C), "qkvb": (3 * C,), "projw": (C, C), "projb": (C,),
             "ln2w": (C,), "ln2b": (C,), "fcw": (4 * C, C), "fcb": (4 * C,), "fcpw": (C, 4 * C), "fcpb": (C,)}
    for layer in range(LAYERS):
        out += [(f"h{layer}.{n}", block[n]) for n in BLOCK]
    return out + [("lnfw", (C,)), ("lnfb", (C,)), ("lmw", (K, C))]


def make_params(target_aware, gen):
    params = []
    for name, shape in shapes(target_aware):
        base = name.split(".")[-1]
        if base in ("ln1w", "ln2w", "lnfw"):
            t = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.2 * torch.randn(shape, generator=gen)
        params.append((name, t.float().requires_grad_()))
    return params


def rar_sequence(codes, class_tokens, orders):
    """codes (B,N) raster, class_tokens (B), orders (B,N): the RAR training sequence."""
    permuted = torch.gather(codes, 1, orders)
    inputs = torch.cat([class_tokens[:, None], permuted[:, :-1]], 1)
    targets = permuted
    pe_rows = torch.cat([torch.zeros(B, 1, dtype=torch.long), 1 + orders], 1)[:, :-1]
    ta_rows = orders
    return inputs, pe_rows, ta_rows, targets


def forward(P, inputs, pe_rows, ta_rows, targets, target_aware, qk_norm):
    C, NH = WIDTH, HEADS
    HS = C // NH
    T = inputs.shape[1]
    x = P["wte"][inputs] + P["wpe"][pe_rows]
    if target_aware:
        x = x + P["wta"][ta_rows]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for layer in range(LAYERS):
        w = {n: P[f"h{layer}.{n}"] for n in BLOCK}
        h = F.layer_norm(x, (C,), w["ln1w"], w["ln1b"], 1e-5)
        qkv = h @ w["qkvw"].T + w["qkvb"]
        q, k, v = qkv.split(C, -1)
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in (q, k, v))
        if qk_norm:
            q, k = F.layer_norm(q, (HS,), eps=1e-5), F.layer_norm(k, (HS,), eps=1e-5)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ w["projw"].T + w["projb"]
        h = F.layer_norm(x, (C,), w["ln2w"], w["ln2b"], 1e-5)
        h = F.gelu(h @ w["fcw"].T + w["fcb"])
        x = x + h @ w["fcpw"].T + w["fcpb"]
    x = F.layer_norm(x, (C,), P["lnfw"], P["lnfb"], 1e-5)
    logits = x @ P["lmw"].T
    loss = F.cross_entropy(logits.reshape(-1, K), targets.reshape(-1))
    return logits, loss


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def main(out):
    gen = torch.Generator().manual_seed(2024)
    codes = torch.randint(0, K, (B, N), generator=gen)
    classes = torch.tensor([0, 2, -1, 1])  # -1: the null class
    class_tokens = torch.where(classes >= 0, K + classes, torch.full_like(classes, K + CLASSES))
    # Samples 0 and 2 in raster order, 1 and 3 in random ones.
    orders = torch.stack([torch.arange(N), torch.randperm(N, generator=gen), torch.arange(N),
                          torch.randperm(N, generator=gen)])
    inputs, pe_rows, ta_rows, targets = rar_sequence(codes, class_tokens, orders)
    config = torch.tensor([K, CLASSES, GRID_H, GRID_W, LAYERS, HEADS, WIDTH], dtype=torch.int32)
    for case, target_aware, qk_norm in (("target_aware", True, False), ("target_aware_qknorm", True, True),
                                        ("plain", False, False)):
        params = make_params(target_aware, gen)
        names = [n for n, _ in params]
        P = dict(params)
        logits, loss = forward(P, inputs, pe_rows, ta_rows, targets, target_aware, qk_norm)
        loss.backward()
        tensorfile.save(os.path.join(out, f"ar_{case}.tsr"), {
            "config": config, "flags": torch.tensor([int(target_aware), int(qk_norm)], dtype=torch.int32),
            "codes": codes.int(), "classes": classes.int(), "orders": orders.int(),
            "inputs": inputs.int(), "positions": pe_rows.int(), "target_positions": ta_rows.int(),
            "targets": targets.int(),
            "params": flat([P[n] for n in names]).detach(), "logits": logits.detach(),
            "loss": loss.detach().reshape(1), "grads": flat([P[n].grad for n in names]),
        })


if __name__ == "__main__":
    main(sys.argv[1])
