"""Tensor fixture files: the contract between the PyTorch reference scripts (writers)
and the C tests (readers, tests/unit/tensorfile.h). Format, little-endian:

    "TSRF"  u32 version (1)  u32 count
    count × { u32 name_len, name (UTF-8), u32 dtype (0 f32, 1 f64, 2 i32, 3 i64),
              u32 ndim, u64 dims[ndim], data (row-major) }
"""
import struct

import numpy as np

DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.int32): 2, np.dtype(np.int64): 3}
BY_CODE = {v: k for k, v in DTYPES.items()}


def save(path, tensors):
    """tensors: dict name → numpy array or torch tensor (detached to numpy, contiguous)."""
    with open(path, "wb") as f:
        f.write(b"TSRF" + struct.pack("<II", 1, len(tensors)))
        for name, t in tensors.items():
            a = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
            a = np.ascontiguousarray(a)
            if a.dtype not in DTYPES:
                raise TypeError(f"{name}: dtype {a.dtype} is not one of {list(DTYPES)}")
            raw = name.encode()
            f.write(struct.pack("<I", len(raw)) + raw + struct.pack("<II", DTYPES[a.dtype], a.ndim))
            f.write(struct.pack(f"<{a.ndim}Q", *a.shape))
            f.write(a.astype(a.dtype.newbyteorder("<")).tobytes())


def load(path):
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"TSRF":
        raise ValueError(f"{path}: not a tensor file")
    version, count = struct.unpack_from("<II", data, 4)
    at = 12
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, at)
        name = data[at + 4:at + 4 + n].decode()
        at += 4 + n
        code, ndim = struct.unpack_from("<II", data, at)
        at += 8
        dims = struct.unpack_from(f"<{ndim}Q", data, at)
        at += 8 * ndim
        dt = BY_CODE[code]
        size = int(np.prod(dims)) if ndim else 1
        out[name] = np.frombuffer(data, dtype=dt, count=size, offset=at).reshape(dims)
        at += size * dt.itemsize
    return out
