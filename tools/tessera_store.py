"""Read Tessera stores from Python (py-lmdb + numpy). Format: docs/FORMAT.md.

    from tessera_store import Store
    s = Store("fmnist-train.lmdb")
    s.meta["label_names"]      # list of class names
    len(s)                     # number of records
    s[0]["image"], s[0]["label"]   # uint8 array (H, W, C), int (-1 = unlabelled)

    t = Store("fmnist-test.tokens")    # a token store (tessera tokenize)
    t[0]["tokens"]             # uint16 array (h, w): the code grid

Records are read zero-copy inside one read transaction; `image` arrays are copies
so they stay valid after the store is closed.
"""

import struct

import lmdb
import numpy as np

RECORD_HEADER = struct.Struct("<BBBBiHHI")  # version, dtype, channels, flags, label, h, w, payload bytes
RECORD_VERSION = 1
DTYPES = {1: np.uint8, 2: np.uint16, 3: np.float16}
FLAG_VARIABLE = 1


class StoreError(Exception):
    pass


def decode_record(raw):
    """Parses one record value into a dict (see docs/FORMAT.md, "Records")."""
    if len(raw) < RECORD_HEADER.size:
        raise StoreError(f"record of {len(raw)} bytes is shorter than its header")
    version, dtype, channels, flags, label, h, w, n = RECORD_HEADER.unpack_from(raw)
    if version != RECORD_VERSION:
        raise StoreError(f"record version {version}, expected {RECORD_VERSION}")
    if dtype not in DTYPES:
        raise StoreError(f"record has unknown dtype {dtype}")
    if len(raw) - RECORD_HEADER.size != n:
        raise StoreError(f"record payload is {len(raw) - RECORD_HEADER.size} bytes, header says {n}")
    data = np.frombuffer(raw, dtype=DTYPES[dtype], offset=RECORD_HEADER.size).copy()
    out = {"label": label, "height": h, "width": w, "channels": channels}
    # uint8: pixels; uint16: token codes; float16: feature vectors (semantic tokens)
    name = {1: "image", 2: "tokens", 3: "features"}[dtype]
    if flags & FLAG_VARIABLE:
        out[name] = data  # a variable-length sequence (dynamic codes)
    else:
        if data.size != h * w * channels:
            raise StoreError(f"record payload holds {data.size} values, {h}x{w}x{channels} needs {h * w * channels}")
        arr = data.reshape(h, w, channels)
        out[name] = arr[:, :, 0] if dtype == 2 and channels == 1 else arr
    return out


class Store:
    """A read-only view of a Tessera store folder."""

    def __init__(self, path):
        self.path = path
        try:
            self.env = lmdb.open(path, readonly=True, lock=False, max_dbs=8, subdir=True)
        except lmdb.Error as e:
            raise StoreError(f"{path}: cannot open store ({e})") from None
        try:
            self._meta_db = self.env.open_db(b"meta", create=False)
            self._records = self.env.open_db(b"records", create=False)
            self._sources = self.env.open_db(b"sources", create=False)
            self._rejects = self.env.open_db(b"rejects", create=False)
        except lmdb.Error:
            raise StoreError(f"{path}: is not a Tessera store") from None
        with self.env.begin() as txn:
            raw = {k.decode(): v.decode() for k, v in txn.cursor(db=self._meta_db)}
            self._count = txn.stat(self._records)["entries"]
            self.rejects = {k.decode(): v.decode() for k, v in txn.cursor(db=self._rejects)}
        self.meta = dict(raw)
        names = raw.get("label_names", "")
        self.meta["label_names"] = names.split("\n") if names else []
        for key in ("size", "height", "width", "channels", "count", "num_labels"):
            if key in self.meta:
                self.meta[key] = int(self.meta[key])

    def __len__(self):
        return self._count

    def __getitem__(self, index):
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"record {index} out of range 0..{self._count - 1}")
        with self.env.begin() as txn:
            raw = txn.get(struct.pack(">Q", index), db=self._records)
        if raw is None:
            raise StoreError(f"{self.path}: record {index} is missing")
        return decode_record(raw)

    def __iter__(self):
        with self.env.begin() as txn:
            for key, raw in txn.cursor(db=self._records):
                yield decode_record(raw)

    def index_of(self, source_id):
        """The record index a source id was stored under, or None."""
        key = source_key(source_id)
        with self.env.begin() as txn:
            v = txn.get(key, db=self._sources)
        return None if v is None else struct.unpack(">Q", v)[0]

    def close(self):
        self.env.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


SOURCE_KEY_MAX = 500


def source_key(source_id):
    """The key a source id is stored under (ids longer than 500 bytes are hashed)."""
    raw = source_id.encode()
    if len(raw) <= SOURCE_KEY_MAX:
        return raw
    h = 14695981039346656037
    for b in raw:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    keep = SOURCE_KEY_MAX - 17
    return raw[:keep] + b"#%016x" % h
