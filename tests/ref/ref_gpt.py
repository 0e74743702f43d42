"""PyTorch reference for train/gpt.c: the same pre-LN GPT, parameters in the same
order, run forward and backward on a small odd-sized batch (causal mask, and a
per-sample mask), and for 10 AdamW steps. Writes OUTDIR/gpt_*.tsr (tensorfile.py).

Parameter order (train/gpt.c): wte, wpe, then per block ln1w ln1b qkvw qkvb projw projb
ln2w ln2b fcw fcb fcpw fcpb, then lnfw lnfb lmw. No-decay: everything but the four block
matrices and lmw.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tensorfile  # noqa: E402

torch.set_num_threads(1)
CFG = dict(vocab_in=13, vocab_out=11, max_seq=9, layers=2, heads=4, width=16)
BLOCK = ["ln1w", "ln1b", "qkvw", "qkvb", "projw", "projb", "ln2w", "ln2b", "fcw", "fcb", "fcpw", "fcpb"]
MATRICES = {"qkvw", "projw", "fcw", "fcpw", "lmw"}


def shapes(c):
    C = c["width"]
    out = [("wte", (c["vocab_in"], C)), ("wpe", (c["max_seq"], C))]
    block = {"ln1w": (C,), "ln1b": (C,), "qkvw": (3 * C, C), "qkvb": (3 * C,), "projw": (C, C), "projb": (C,),
             "ln2w": (C,), "ln2b": (C,), "fcw": (4 * C, C), "fcb": (4 * C,), "fcpw": (C, 4 * C), "fcpb": (C,)}
    for layer in range(c["layers"]):
        out += [(f"h{layer}.{n}", block[n]) for n in BLOCK]
    return out + [("lnfw", (C,)), ("lnfb", (C,)), ("lmw", (c["vocab_out"], C))]


def make_params(c, gen):
    return init_params(shapes(c), gen)


def init_params(named_shapes, gen):
    """LayerNorm weights near 1, everything else N(0, 0.2²), in the given order."""
    params = []
    for name, shape in named_shapes:
        base = name.split(".")[-1]
        if base in ("ln1w", "ln2w", "lnfw"):
            t = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            t = 0.2 * torch.randn(shape, generator=gen)
        params.append((name, t.float().requires_grad_()))
    return params


def forward(c, P, inputs, targets, mask, qk_norm=False):
    """mask: bool (T,T) or (B,T,T), True = may attend."""
    T = inputs.shape[1]
    logits = trunk(c, P, P["wte"][inputs] + P["wpe"][:T], mask, qk_norm)
    loss = F.cross_entropy(logits.reshape(-1, c["vocab_out"]), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def trunk(c, P, x, mask, qk_norm=False):
    """The blocks, the final LayerNorm and the head, from embedded inputs x (B,T,C) to logits."""
    B, T, _ = x.shape
    C, NH = c["width"], c["heads"]
    HS = C // NH
    for layer in range(c["layers"]):
        w = {n: P[f"h{layer}.{n}"] for n in BLOCK}
        h = F.layer_norm(x, (C,), w["ln1w"], w["ln1b"], 1e-5)
        qkv = h @ w["qkvw"].T + w["qkvb"]
        q, k, v = qkv.split(C, -1)
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in (q, k, v))
        if qk_norm:
            q, k = F.layer_norm(q, (HS,), eps=1e-5), F.layer_norm(k, (HS,), eps=1e-5)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(HS)
        m = mask if mask.dim() == 2 else mask[:, None]
        att = att.masked_fill(~m, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ w["projw"].T + w["projb"]
        h = F.layer_norm(x, (C,), w["ln2w"], w["ln2b"], 1e-5)
        h = F.gelu(h @ w["fcw"].T + w["fcb"])
        x = x + h @ w["fcpw"].T + w["fcpb"]
    x = F.layer_norm(x, (C,), P["lnfw"], P["lnfb"], 1e-5)
    return x @ P["lmw"].T


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def main(out):
    gen = torch.Generator().manual_seed(1234)
    B, T = 3, 7
    inputs = torch.randint(0, CFG["vocab_in"], (B, T), generator=gen)
    targets = torch.randint(0, CFG["vocab_out"], (B, T), generator=gen)
    targets[0, 2] = -1
    targets[2, 6] = -1
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    per_sample = torch.rand(B, T, T, generator=gen) < 0.6
    per_sample |= torch.eye(T, dtype=torch.bool)  # every query sees at least itself
    params = make_params(CFG, gen)
    names = [n for n, _ in params]
    P = dict(params)
    cfg_tensor = torch.tensor([CFG[k] for k in ("vocab_in", "vocab_out", "max_seq", "layers", "heads", "width")],
                              dtype=torch.int32)
    for case, mask, qk in (("causal", causal, False), ("per_sample", per_sample, False), ("qknorm", causal, True)):
        for t in P.values():
            t.grad = None
        logits, loss = forward(CFG, P, inputs, targets, mask, qk)
        loss.backward()
        tensorfile.save(os.path.join(out, f"gpt_{case}.tsr"), {
            "config": cfg_tensor, "inputs": inputs.int(), "targets": targets.int(),
            "mask": mask.to(torch.int32), "params": flat([P[n] for n in names]).detach(),
            "logits": logits.detach(), "loss": loss.detach().reshape(1),
            "grads": flat([P[n].grad for n in names]),
        })

    # 10 AdamW steps on the causal batch: decay only on matrices, as train/gpt.c flags them.
    decay = [P[n] for n in names if n.split(".")[-1] in MATRICES]
    no_decay = [P[n] for n in names if n.split(".")[-1] not in MATRICES]
    start = flat([P[n] for n in names]).detach().clone()
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    for _ in range(10):
        opt.zero_grad()
        _, loss = forward(CFG, P, inputs, targets, causal)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    tensorfile.save(os.path.join(out, "gpt_adamw.tsr"), {
        "start": start, "losses": torch.tensor(losses, dtype=torch.float32),
        "final": flat([P[n] for n in names]).detach(),
    })


if __name__ == "__main__":
    main(sys.argv[1])
