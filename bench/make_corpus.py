#!/usr/bin/python3
"""make_corpus: an ImageNet-like JPEG corpus for the ingest benchmark.

ImageNet training JPEGs are mostly 300-640 px on the long side (median about
500x375), baseline, 4:2:0, quality in the high 70s to mid 90s. No such set can be
downloaded here, so this script cuts one out of the large photographs the Debian
wallpaper packages ship: each output image is a random crop of a random photo,
resized with Lanczos to a width of 300-640 px and an aspect ratio between 3:4 and
4:3, and re-encoded by PIL at a quality drawn uniformly from 75-95, with 4:2:0
chroma subsampling for 90% of the files and 4:4:4 for the rest. Grayscale photos
stay grayscale, as a few percent of ImageNet do.

Everything is drawn from one seeded generator before any work starts, so the same
seed, photos and PIL version give byte-identical files. Output is a flat folder
OUT/00000.jpg ... ; when OUT already holds exactly N .jpg files nothing is done.

usage: /usr/bin/python3 bench/make_corpus.py [--n 5000] [--out bench/out/corpus] [--seed 1] [--jobs 2]
"""
import argparse
import glob
import hashlib
import math
import multiprocessing
import os
import random
import sys
import time

from PIL import Image

PHOTO_ROOTS = ["/usr/share/wallpapers", "/usr/share/backgrounds"]
MIN_SOURCE_SIDE = 480  # smaller files are preview thumbnails, not photos
SHARE_444 = 0.10       # fraction of colour files encoded without chroma subsampling


def find_photos():
    """Distinct large JPEG photos, in a fixed order. Many wallpaper paths are
    symlinks or copies of one file, so files are deduplicated by content."""
    paths = []
    for root in PHOTO_ROOTS:
        for dirpath, _, names in os.walk(root, followlinks=True):
            paths += [os.path.join(dirpath, n) for n in names if n.lower().endswith((".jpg", ".jpeg"))]
    seen, photos = set(), []
    for p in sorted(paths):
        with open(p, "rb") as f:
            digest = hashlib.sha1(f.read()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        with Image.open(p) as im:
            if min(im.size) >= MIN_SOURCE_SIDE:
                photos.append((p, im.size))
    return len(paths), photos


def plan(n, photos, seed):
    """One entry per output file: (index, photo, out size, crop box, quality, subsampling)."""
    rng = random.Random(seed)
    jobs = []
    for i in range(n):
        p = rng.randrange(len(photos))
        sw, sh = photos[p][1]
        width = rng.randint(300, 640)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))  # width / height
        height = max(1, round(width / aspect))
        # The crop has the output's aspect; between a quarter of the largest such
        # crop (but no smaller than the output) and all of it.
        max_w = min(sw, sh * aspect)
        crop_w = rng.uniform(min(max(width, 0.25 * max_w), max_w), max_w)
        crop_h = crop_w / aspect
        x0 = rng.uniform(0, sw - crop_w)
        y0 = rng.uniform(0, sh - crop_h)
        quality = rng.randint(75, 95)
        subsampling = 0 if rng.random() < SHARE_444 else 2  # PIL: 0 = 4:4:4, 2 = 4:2:0
        jobs.append((i, p, (width, height), (x0, y0, x0 + crop_w, y0 + crop_h), quality, subsampling))
    return jobs


def make_from_photo(args):
    """Cuts every output planned from one photo (each photo is decoded once)."""
    path, jobs, out = args
    with Image.open(path) as im:
        im = im.convert("L") if im.mode == "L" else im.convert("RGB")
    for i, _, size, box, quality, subsampling in jobs:
        crop = im.resize(size, Image.LANCZOS, box=box, reducing_gap=3.0)
        final = os.path.join(out, "%05d.jpg" % i)
        tmp = final + ".tmp"
        crop.save(tmp, "JPEG", quality=quality, subsampling=subsampling)
        os.replace(tmp, final)
    return len(jobs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--out", default="bench/out/corpus")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    have = glob.glob(os.path.join(a.out, "*.jpg"))
    if len(have) == a.n:
        print("corpus: %s already holds %d JPEGs" % (a.out, a.n))
        return 0
    for p in have:  # a corpus of another size: start over, so no stale file is left
        os.remove(p)

    t0 = time.time()
    n_paths, photos = find_photos()
    if not photos:
        sys.exit("make_corpus: no JPEG photos under %s (install the *-backgrounds / *-wallpapers packages)"
                 % " ".join(PHOTO_ROOTS))
    print("corpus: %d JPEG paths, %d distinct photos with short side >= %d px"
          % (n_paths, len(photos), MIN_SOURCE_SIDE))
    by_photo = {}
    for job in plan(a.n, photos, a.seed):
        by_photo.setdefault(job[1], []).append(job)
    work = [(photos[p][0], jobs, a.out) for p, jobs in sorted(by_photo.items())]
    with multiprocessing.Pool(a.jobs) as pool:
        done = sum(pool.imap_unordered(make_from_photo, work))
    size = sum(os.path.getsize(os.path.join(a.out, "%05d.jpg" % i)) for i in range(a.n))
    print("corpus: wrote %d JPEGs (%.1f MB, mean %.0f KB) to %s in %.1f s"
          % (done, size / 1e6, size / 1e3 / a.n, a.out, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
