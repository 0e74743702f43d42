#!/usr/bin/python3
"""pil_peer: the ingest job done the way users do it today, the peer `tessera ingest`
is measured against: Python + Pillow + py-lmdb.

For every JPEG: Image.open, im.draft(mode, (S, S)) so that libjpeg also decodes at a
reduced DCT scale (Pillow picks the smallest of 1/8..1 keeping both sides >= S, as
tessera does), convert to RGB (or L for --channels 1), take the centred square and
resize it to S x S with Image.BOX (an area filter, like tessera's default), tobytes.
W worker processes do that (multiprocessing Pool.imap, ordered, with a chunksize);
the parent is the only LMDB writer: key = 8-byte big-endian index, value = the raw
pixels, committed every --commit-every records. Like tessera's store, the
environment is opened without a sync per commit and synced once at the end.

usage: /usr/bin/python3 bench/pil_peer.py SRC... -o OUT.lmdb --size S [--channels 3] [--workers W]
SRC is a JPEG file or a folder (walked recursively, in name order).
"""
import argparse
import multiprocessing
import os
import shutil
import struct
import sys
import time

import lmdb
from PIL import Image

SIZE = 64
MODE = "RGB"


def set_options(size, mode):
    global SIZE, MODE
    SIZE, MODE = size, mode


def load(path):
    """One JPEG to SIZE x SIZE pixels in MODE, as bytes."""
    with Image.open(path) as im:
        im.draft(MODE, (SIZE, SIZE))
        im = im.convert(MODE)
    w, h = im.size
    side = min(w, h)
    x0, y0 = (w - side) / 2, (h - side) / 2  # the same centred square as tessera's
    return im.resize((SIZE, SIZE), Image.BOX, box=(x0, y0, x0 + side, y0 + side)).tobytes()


def list_jpegs(sources):
    paths = []
    for src in sources:
        if os.path.isdir(src):
            for dirpath, dirnames, names in os.walk(src):
                dirnames.sort()
                paths += [os.path.join(dirpath, n) for n in sorted(names) if n.lower().endswith((".jpg", ".jpeg"))]
        else:
            paths.append(src)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--channels", type=int, choices=(1, 3), default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--chunksize", type=int, default=64)
    ap.add_argument("--commit-every", type=int, default=1000)
    a = ap.parse_args()

    t0 = time.time()
    mode = "L" if a.channels == 1 else "RGB"
    paths = list_jpegs(a.sources)
    record_bytes = a.size * a.size * a.channels
    if os.path.exists(a.output):
        shutil.rmtree(a.output)
    env = lmdb.open(a.output, map_size=max(1 << 30, 2 * len(paths) * record_bytes), sync=False, metasync=False)
    stored = 0
    with multiprocessing.Pool(a.workers, initializer=set_options, initargs=(a.size, mode)) as pool:
        txn = env.begin(write=True)
        for i, pixels in enumerate(pool.imap(load, paths, chunksize=a.chunksize)):
            txn.put(struct.pack(">Q", i), pixels)
            stored += 1
            if stored % a.commit_every == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
    env.sync(True)
    env.close()
    seconds = time.time() - t0
    print("pil_peer: %d stored in %.2f s (%.0f images/s)" % (stored, seconds, stored / seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
