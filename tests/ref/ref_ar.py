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
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_gpt  # noqa: E402  (the same blocks)
import tensorfile  # noqa: E402

torch.set_num_threads(1)
K, CLASSES, GRID_H, GRID_W = 11, 3, 3, 3
N = GRID_H * GRID_W
LAYERS, HEADS, WIDTH = 2, 4, 16
B = 4
GPT = dict(vocab_in=K + CLASSES + 1, vocab_out=K, max_seq=N + 1, layers=LAYERS, heads=HEADS, width=WIDTH)


def shapes(target_aware):
    """train/gpt.c's order: wte, wpe, wta when target-aware (N + 1 rows each), the blocks, the head."""
    out = ref_gpt.shapes(GPT)
    if target_aware:
        out.insert(2, ("wta", (N + 1, WIDTH)))
    return out


def make_params(target_aware, gen):
    return ref_gpt.init_params(shapes(target_aware), gen)


def rar_sequence(codes, class_tokens, orders):
    """codes (B,N) raster, class_tokens (B), orders (B,N): the RAR training sequence."""
    permuted = torch.gather(codes, 1, orders)
    inputs = torch.cat([class_tokens[:, None], permuted[:, :-1]], 1)
    targets = permuted
    pe_rows = torch.cat([torch.zeros(B, 1, dtype=torch.long), 1 + orders], 1)[:, :-1]
    ta_rows = orders
    return inputs, pe_rows, ta_rows, targets


def forward(P, inputs, pe_rows, ta_rows, targets, target_aware, qk_norm):
    x = P["wte"][inputs] + P["wpe"][pe_rows]
    if target_aware:
        x = x + P["wta"][ta_rows]
    T = inputs.shape[1]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    logits = ref_gpt.trunk(GPT, P, x, causal, qk_norm)
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
