"""ref_conv: PyTorch reference outputs and gradients for nn/conv2d, nn/conv_transpose2d,
nn/groupnorm and nn/pool, read by tests/unit/test_nn_conv.c.

    /usr/bin/python3 tests/ref/ref_conv.py OUTDIR    writes OUTDIR/conv_<case>.tsr

Every case draws seeded float32 inputs and weights, takes loss = sum(out * R) for a fixed
random R (so dout = R) and saves the inputs, weights, R, the output and every gradient,
plus an int32 "dims" row that tells the C test the geometry:
    conv2d, conv_transpose2d   [B, C_in, H, W, C_out, KH, KW, stride, pad, out_pad]
    groupnorm                  [B, C, H, W, G]        (also the saved mean and rstd)
    avgpool, upsample          [B, C, H, W, k]
The "net" case chains conv → groupnorm → SiLU → avgpool → conv → groupnorm → SiLU →
conv_transpose → SiLU → upsample → conv end to end (layout in test_nn_conv.c).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tensorfile import save  # noqa: E402

torch.set_num_threads(1)


def leaf(t):
    return t.detach().clone().float().requires_grad_(True)


def grads_of(out, seed):
    """Backpropagates loss = sum(out * R) and returns R."""
    g = torch.Generator().manual_seed(seed + 1000)
    R = torch.randn(out.shape, generator=g)
    (out * R).sum().backward()
    return R


def conv_case(name, B, IC, H, W, OC, KH, KW, stride, pad, out_pad=0, transpose=False, bias=True, seed=0):
    torch.manual_seed(seed)
    if transpose:
        m = torch.nn.ConvTranspose2d(IC, OC, (KH, KW), stride, pad, output_padding=out_pad, bias=bias)
    else:
        m = torch.nn.Conv2d(IC, OC, (KH, KW), stride, pad, bias=bias)
    x = leaf(torch.randn(B, IC, H, W))
    w = leaf(m.weight)
    b = leaf(m.bias) if bias else None
    if transpose:
        out = F.conv_transpose2d(x, w, b, stride, pad, output_padding=out_pad)
    else:
        out = F.conv2d(x, w, b, stride, pad)
    R = grads_of(out, seed)
    t = {"dims": np.array([B, IC, H, W, OC, KH, KW, stride, pad, out_pad], np.int32),
         "x": x, "weight": w, "R": R, "out": out, "dx": x.grad, "dweight": w.grad}
    if bias:
        t["bias"], t["dbias"] = b, b.grad
    return name, t


def groupnorm_case(name, B, C, H, W, G, seed):
    torch.manual_seed(seed)
    x = leaf(torch.randn(B, C, H, W) * 2 + 0.5)
    w = leaf(1 + 0.3 * torch.randn(C))
    b = leaf(0.3 * torch.randn(C))
    out = F.group_norm(x, G, w, b, 1e-5)
    _, mean, rstd = torch.ops.aten.native_group_norm(x.detach(), w.detach(), b.detach(), B, C, H * W, G, 1e-5)
    R = grads_of(out, seed)
    return name, {"dims": np.array([B, C, H, W, G], np.int32), "x": x, "weight": w, "bias": b, "R": R,
                  "out": out, "mean": mean.reshape(B, G), "rstd": rstd.reshape(B, G),
                  "dx": x.grad, "dweight": w.grad, "dbias": b.grad}


def resample_case(name, B, C, H, W, k, up, seed):
    torch.manual_seed(seed)
    x = leaf(torch.randn(B, C, H, W))
    out = F.interpolate(x, scale_factor=k, mode="nearest") if up else F.avg_pool2d(x, k)
    R = grads_of(out, seed)
    return name, {"dims": np.array([B, C, H, W, k], np.int32), "x": x, "R": R, "out": out, "dx": x.grad}


NET_PARAMS = [  # name, shape; the order test_nn_conv.c lays them out in
    ("c1.weight", (6, 3, 3, 3)), ("c1.bias", (6,)), ("gn1.weight", (6,)), ("gn1.bias", (6,)),
    ("c2.weight", (8, 6, 3, 3)), ("c2.bias", (8,)), ("gn2.weight", (8,)), ("gn2.bias", (8,)),
    ("t3.weight", (8, 4, 4, 4)), ("t3.bias", (4,)), ("c4.weight", (3, 4, 3, 3)), ("c4.bias", (3,)),
]


def net_case(seed=7):
    torch.manual_seed(seed)
    p = {}
    for name, shape in NET_PARAMS:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        if name.startswith("gn") and name.endswith("weight"):
            p[name] = leaf(1 + 0.3 * torch.randn(shape))
        elif name.startswith("gn"):
            p[name] = leaf(0.3 * torch.randn(shape))
        else:
            p[name] = leaf(torch.randn(shape) / np.sqrt(fan_in))
    x = leaf(torch.randn(2, 3, 8, 10))
    h = F.conv2d(x, p["c1.weight"], p["c1.bias"], 1, 1)                  # (2,6,8,10)
    h = F.silu(F.group_norm(h, 2, p["gn1.weight"], p["gn1.bias"], 1e-5))
    h = F.avg_pool2d(h, 2)                                               # (2,6,4,5)
    h = F.conv2d(h, p["c2.weight"], p["c2.bias"], 1, 1)                  # (2,8,4,5)
    h = F.silu(F.group_norm(h, 4, p["gn2.weight"], p["gn2.bias"], 1e-5))
    h = F.silu(F.conv_transpose2d(h, p["t3.weight"], p["t3.bias"], 2, 1))  # (2,4,8,10)
    h = F.interpolate(h, scale_factor=2, mode="nearest")                 # (2,4,16,20)
    out = F.conv2d(h, p["c4.weight"], p["c4.bias"], 1, 1)                # (2,3,16,20)
    R = grads_of(out, seed)
    t = {"x": x, "R": R, "out": out, "dx": x.grad}
    for name, _ in NET_PARAMS:
        t[name] = p[name]
        t["d" + name] = p[name].grad
    return "net", t


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    cases = [
        # B, IC, H, W, OC, KH, KW, stride, pad
        conv_case("conv2d_k3s1p0", 2, 3, 7, 9, 5, 3, 3, 1, 0, seed=1),
        conv_case("conv2d_k3s1p1", 2, 3, 7, 9, 5, 3, 3, 1, 1, seed=2),
        conv_case("conv2d_k3s2p0", 2, 3, 7, 9, 5, 3, 3, 2, 0, seed=3),
        conv_case("conv2d_k3s2p1", 2, 3, 7, 9, 5, 3, 3, 2, 1, seed=4),
        conv_case("conv2d_k2x3s2p1", 2, 3, 7, 9, 5, 2, 3, 2, 1, seed=5),
        conv_case("conv2d_k1s1p0", 2, 3, 7, 9, 5, 1, 1, 1, 0, seed=6),
        conv_case("conv2d_k3s1p1_nobias", 2, 3, 7, 9, 5, 3, 3, 1, 1, bias=False, seed=7),
        conv_case("convt_k4s2p1", 2, 3, 7, 9, 5, 4, 4, 2, 1, transpose=True, seed=8),
        conv_case("convt_k3s1p0", 2, 3, 7, 9, 5, 3, 3, 1, 0, transpose=True, seed=9),
        conv_case("convt_k3s2p1", 2, 3, 7, 9, 5, 3, 3, 2, 1, transpose=True, seed=10),
        conv_case("convt_k3s2p1o1", 2, 3, 7, 9, 5, 3, 3, 2, 1, out_pad=1, transpose=True, seed=11),
        conv_case("convt_k2x3s2p0", 2, 3, 7, 9, 5, 2, 3, 2, 0, transpose=True, seed=12),
        groupnorm_case("groupnorm_g2", 2, 6, 7, 9, 2, seed=13),
        groupnorm_case("groupnorm_g3", 2, 6, 7, 9, 3, seed=14),
        groupnorm_case("groupnorm_g6", 2, 6, 5, 3, 6, seed=15),
        resample_case("avgpool_k2", 2, 3, 7, 9, 2, up=False, seed=16),
        resample_case("avgpool_k3", 2, 3, 7, 9, 3, up=False, seed=17),
        resample_case("upsample_k2", 2, 3, 7, 9, 2, up=True, seed=18),
        net_case(),
    ]
    for name, tensors in cases:
        save(os.path.join(outdir, f"conv_{name}.tsr"), tensors)


if __name__ == "__main__":
    main()
