"""PyTorch references for the dense layers of nn/ (linear, embedding, layernorm, gelu,
silu, crossentropy, dropout, residual, attention, qknorm), read by
tests/unit/test_nn_dense.c.

    /usr/bin/python3 tests/ref/ref_dense.py OUTDIR    -> OUTDIR/dense_<layer>.tsr

Every layer runs on seeded float32 inputs of small, odd shapes. Its scalar test loss is
sum(out * R) with a fixed random R, so every output element reaches the gradients; each
file holds the inputs, weights, R, the output and every gradient.

The inputs are float32 values; the layer itself runs in float64 on them and its results
are rounded to float32 once, when saved. So a fixture holds the exact answer for its
inputs, and the C tests measure the float layers' own error, not the sum of theirs and
torch's float32 rounding (torch's float32 tanh-GELU gradient, for one, is 0 where the
true value is 2e-6 near x = -5). The attention has one
file per mask kind: none, causal, shared (T,T) random, per-sample (B,T,T) random with a
query that sees no key, and causal with QK-norm; and again at T = 70 and T = 33, several
of attention.c's 32-row blocks, one file per mask kind (dense_attention_T<T>_<kind>.tsr).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

import tensorfile

torch.set_num_threads(1)


def save(path, tensors):
    """Writes float results as float32 (see the module comment), everything else as is."""
    tensorfile.save(path, {k: v.detach().float() if torch.is_tensor(v) and v.is_floating_point() else v
                           for k, v in tensors.items()})


N, C, OC, V = 7, 13, 11, 11           # rows, channels, output channels, vocabulary
B, T, NH, HS = 2, 5, 3, 4             # attention: batch, tokens, heads, head size
IGNORE = -100


def f32(t):
    """float32 values, held in float64 for the computation."""
    return t.float().double()


def randn(*shape, scale=1.0):
    return f32(torch.randn(*shape) * scale).requires_grad_()


def grads_of(out):
    """Backprops sum(out * R) for a fixed random R; returns R."""
    R = f32(torch.randn(out.shape))
    (out * R).sum().backward()
    return R


def linear(outdir):
    x, w, b = randn(N, C), randn(OC, C, scale=0.3), randn(OC)
    out = F.linear(x, w, b)
    R = grads_of(out)
    save(f"{outdir}/dense_linear.tsr", {"in": x, "weight": w, "bias": b, "R": R, "out": out,
                                         "out_nobias": F.linear(x, w).detach(), "din": x.grad, "dweight": w.grad,
                                         "dbias": b.grad})


def embedding(outdir):
    table = randn(V, C)
    ids = torch.tensor([3, 0, 10, 3, 7, 3, 0], dtype=torch.int64)  # repeats: the scatter must add
    out = F.embedding(ids, table)
    R = grads_of(out)
    save(f"{outdir}/dense_embedding.tsr", {"ids": ids.int(), "table": table, "R": R, "out": out,
                                            "dtable": table.grad})


def layernorm(outdir):
    x = f32(torch.randn(N, C) * 3 + 2).requires_grad_()  # an offset and a scale to normalise away
    w, b = randn(C), randn(C)
    out = F.layer_norm(x, (C,), w, b, eps=1e-5)
    xd = x.detach()
    mean = xd.mean(-1)
    rstd = 1 / torch.sqrt(xd.var(-1, unbiased=False) + 1e-5)
    R = grads_of(out)
    save(f"{outdir}/dense_layernorm.tsr", {"in": x, "weight": w, "bias": b, "R": R, "out": out,
                                            "mean": mean, "rstd": rstd, "din": x.grad,
                                            "dweight": w.grad, "dbias": b.grad})


def extreme_inputs():
    """(N,C) values around 0 at scale 3, with the first row at the saturated tails."""
    x = torch.randn(N, C) * 3
    x[0] = torch.tensor([-200, -30, -12, -6, -3, -1e-3, 0, 1e-3, 3, 6, 12, 30, 200])
    return f32(x)


def activations(outdir):
    x = extreme_inputs()
    tensors = {"in": x}
    for name, fn in [("erf", lambda t: F.gelu(t)), ("tanh", lambda t: F.gelu(t, approximate="tanh"))]:
        xi = x.clone().requires_grad_()
        out = fn(xi)
        R = grads_of(out)
        tensors.update({f"R_{name}": R, f"out_{name}": out, f"din_{name}": xi.grad})
    save(f"{outdir}/dense_gelu.tsr", tensors)
    xi = x.clone().requires_grad_()
    out = F.silu(xi)
    R = grads_of(out)
    save(f"{outdir}/dense_silu.tsr", {"in": x, "R": R, "out": out, "din": xi.grad})


def crossentropy(outdir):
    logits = torch.randn(N, V) * 2
    logits[1] += 1000  # stability: exp without the max shift would overflow float
    logits = f32(logits)
    targets = torch.randint(0, V, (N,))
    targets[2] = targets[5] = IGNORE
    weights = f32(torch.rand(N) + 0.25)
    dloss = float(np.float32(0.7))  # the scalar "R" of a scalar output, as the C test holds it
    tensors = {"logits": logits, "targets": targets.int(), "weights": weights,
               "ignore": torch.tensor([IGNORE], dtype=torch.int32), "dloss": torch.tensor([dloss], dtype=torch.float32)}
    for name, w in [("weighted", weights), ("unweighted", torch.ones(N, dtype=torch.float64))]:
        z = logits.clone().requires_grad_()
        nll = F.cross_entropy(z, targets, reduction="none", ignore_index=IGNORE)
        keep = (targets != IGNORE).double()
        loss = (w * nll).sum() / (w * keep).sum()
        (loss * dloss).backward()
        tensors.update({f"loss_{name}": loss.reshape(1), f"dlogits_{name}": z.grad, "losses": nll})
    # torch's own mean reduction agrees with the unweighted form
    ref = F.cross_entropy(logits, targets, ignore_index=IGNORE)
    assert torch.allclose(ref, tensors["loss_unweighted"][0])
    save(f"{outdir}/dense_crossentropy.tsr", tensors)


# Dropout's mask is the counter-based hash of nn/dropout.h, reproduced here.
M64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def dropout_mask(seed, first_index, n, p):
    key = mix64(seed)
    p = float(np.float32(p))
    keep = [((mix64((key + (first_index + i + 1) * 0x9E3779B97F4A7C15) & M64) >> 11) * 2.0 ** -53) >= p
            for i in range(n)]
    return torch.tensor(keep, dtype=torch.float64)


def dropout(outdir):
    p, seed, first_index = 0.3, 1234, 5
    x = randn(N, C)
    mask = dropout_mask(seed, first_index, N * C, p).reshape(N, C)
    out = x * mask / (1 - float(np.float32(p)))  # p as the C code holds it, a float
    R = grads_of(out)
    save(f"{outdir}/dense_dropout.tsr", {"in": x, "p": torch.tensor([p], dtype=torch.float32),
                                          "seed": torch.tensor([seed]), "first_index": torch.tensor([first_index]),
                                          "mask": mask, "R": R, "out": out, "din": x.grad})


def residual(outdir):
    a, b = randn(N, C), randn(N, C)
    out = a + b
    R = grads_of(out)
    save(f"{outdir}/dense_residual.tsr", {"a": a, "b": b, "R": R, "out": out, "da": a.grad, "db": b.grad})


def attention_ref(qkv, mask, qk_norm=False, shape=(B, T, NH, HS)):
    """qkv (B,T,3C); mask None or bool broadcastable to (B,1,T,T). Returns out (B,T,C), att."""
    B, T, NH, HS = shape
    Cm = NH * HS
    q, k, v = qkv.split(Cm, dim=2)
    q, k, v = (t.reshape(B, T, NH, HS).transpose(1, 2) for t in (q, k, v))
    if qk_norm:
        q, k = F.layer_norm(q, (HS,), eps=1e-5), F.layer_norm(k, (HS,), eps=1e-5)
    s = (q @ k.transpose(-2, -1)) / HS ** 0.5
    if mask is None:
        att = torch.softmax(s, dim=-1)
    else:
        any_key = mask.any(-1, keepdim=True)
        # a query with no key gets probabilities 0: softmax over a harmless row, times 0
        s = s.masked_fill(~mask, float("-inf")).masked_fill(~any_key, 0.0)
        att = torch.softmax(s, dim=-1) * any_key
    out = (att @ v).transpose(1, 2).reshape(B, T, Cm)
    return out, att


def attention(outdir):
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    shared = torch.rand(T, T) < 0.6
    shared[torch.arange(T), torch.randint(0, T, (T,))] = True  # every query sees some key
    per_sample = torch.rand(B, T, T) < 0.5
    per_sample[1, 2, :] = False  # a query that sees nothing
    per_sample[0, 0, :] = False
    per_sample[0, 4, :] = True
    cases = [("none", None, False), ("causal", causal, False), ("shared", shared, False),
             ("per_sample", per_sample, False), ("qknorm", causal, True)]
    for name, mask, qk_norm in cases:
        qkv = randn(B, T, 3 * NH * HS, scale=1.5)
        m = None if mask is None else (mask if mask.dim() == 3 else mask.expand(B, T, T)).unsqueeze(1)
        out, att = attention_ref(qkv, m, qk_norm)
        R = grads_of(out)
        tensors = {"qkv": qkv, "R": R, "out": out, "att": att, "dqkv": qkv.grad}
        if mask is not None:
            tensors["mask"] = mask.to(torch.int32)
        tensors["per_sample"] = torch.tensor([int(mask is not None and mask.dim() == 3)], dtype=torch.int32)
        if qk_norm:
            Cm = NH * HS
            x = qkv.detach()
            qk = x[:, :, :2 * Cm].reshape(B, T, 2 * NH, HS)
            normed = torch.cat([F.layer_norm(qk, (HS,), eps=1e-5).reshape(B, T, 2 * Cm), x[:, :, 2 * Cm:]], -1)
            tensors["qkv_normed"] = normed
        save(f"{outdir}/dense_attention_{name}.tsr", tensors)


# Sequences of several 32-row blocks (nn/attention.c goes through query rows in blocks of
# 32 and computes, per block, only the keys its rows' masks allow).
BLOCK_SHAPES = [(2, 70, 2, 4), (2, 33, 2, 4)]  # batch, tokens, heads, head size


def see_some_key(m):
    """Every row of the (T,T) bool m sees at least one key (one at random)."""
    T = m.shape[0]
    m[torch.arange(T), torch.randint(0, T, (T,))] = True


def block_masks(T):
    """The masks of the multi-block cases for T tokens, {name: bool mask}.

    shared: a random bidirectional (T,T) mask with holes (MaskGIT, RAR), every row seeing
    some key; at T = 70, rows 32..63 (the second block) see only keys in [16, 48), so the
    blocks need different key ranges, one of them starting past 0 and ending before T.
    per_sample: (B,T,T) random masks in which some rows see only themselves (a block's
    keys start at its first such row) and one row sees nothing; at T = 70 every row of
    sample 1's second block sees only itself and sample 1's last block (rows 64..69)
    sees nothing at all; at T = 33 the last block is the one row 32, seeing only itself,
    and sample 1's first block is self-only throughout."""
    eye = torch.eye(T, dtype=torch.bool)
    shared = torch.rand(T, T) < 0.5
    see_some_key(shared)
    if T > 64:
        shared[32:64, :16] = shared[32:64, 48:] = False
        shared[32 + torch.arange(32), torch.randint(16, 48, (32,))] = True
    per_sample = torch.rand(2, T, T) < 0.4
    for b in range(2):
        see_some_key(per_sample[b])
    if T > 64:
        for i in (0, 5, 31, 40, 69):  # self-only rows in sample 0, in every block
            per_sample[0, i] = eye[i]
        per_sample[0, 50] = False  # a row that sees nothing
        per_sample[1, 32:64] = eye[32:64]  # a whole block self-only
        per_sample[1, 64:] = False  # a whole block that sees nothing
    else:
        per_sample[0, 32] = eye[32]  # the one-row last block, self-only
        per_sample[0, 3] = False  # a row that sees nothing
        per_sample[1, :32] = eye[:32]  # the whole first block self-only
    return {"causal": torch.tril(torch.ones(T, T, dtype=torch.bool)), "none": None, "shared": shared,
            "per_sample": per_sample}


def save_attention_cases(outdir, shapes, scale, file_name):
    """One fixture per shape and block_masks kind; file_name(T, HS, kind) names it."""
    for shape in shapes:
        Bs, Ts, NHs, HSs = shape
        for name, mask in block_masks(Ts).items():
            qkv = randn(Bs, Ts, 3 * NHs * HSs, scale=scale)
            m = None if mask is None else (mask if mask.dim() == 3 else mask.expand(Bs, Ts, Ts)).unsqueeze(1)
            out, att = attention_ref(qkv, m, shape=shape)
            R = grads_of(out)
            tensors = {"shape": torch.tensor(shape, dtype=torch.int32), "qkv": qkv, "R": R, "out": out, "att": att,
                       "dqkv": qkv.grad}
            if mask is not None:
                tensors["mask"] = mask.to(torch.int32)
            tensors["per_sample"] = torch.tensor([int(mask is not None and mask.dim() == 3)], dtype=torch.int32)
            save(f"{outdir}/{file_name(Ts, HSs, name)}", tensors)


def attention_blocks(outdir):
    save_attention_cases(outdir, BLOCK_SHAPES, 1.5, lambda T, HS, kind: f"dense_attention_T{T}_{kind}.tsr")


# Head sizes that are whole vectors of 16 floats take nn/headgemm.c's register tiles
# instead of BLAS: 32 (two vectors, the benchmark's) and 80 (a tile of four vectors and
# one of one), over several row blocks and key tiles.
WIDE_HEAD_SHAPES = [(2, 70, 2, 32), (2, 33, 1, 80)]  # batch, tokens, heads, head size


def attention_wide_heads(outdir):
    save_attention_cases(outdir, WIDE_HEAD_SHAPES, 0.5, lambda T, HS, kind: f"dense_attention_T{T}_hs{HS}_{kind}.tsr")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/out/ref"
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(20240601)
    # (new makers go last: a maker added before another would change that one's draws)
    for make in (linear, embedding, layernorm, activations, crossentropy, dropout, residual, attention,
                 attention_blocks, attention_wide_heads):
        make(outdir)


if __name__ == "__main__":
    main()
