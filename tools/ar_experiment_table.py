#!/usr/bin/env python3
"""The raster vs RAR table of docs/RESULTS.md from tools/ar_experiment.sh's JSON files:
    tools/ar_experiment_table.py NAME=OUT_DIR [NAME=OUT_DIR ...]
prints the guidance sweep (FD, seed 1) and, without guidance and at each model's best guided scale,
FD, KID, precision, recall and CAS as mean ± sample std over the three seeds, with floors."""
import glob
import json
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def cell(row, scale=1.0, digits=3):
    vals = [v * scale for v in row["per_store"]]
    mean = statistics.mean(vals)
    if len(vals) > 1:
        return f"{mean:.{digits}f} ± {statistics.stdev(vals):.{digits}f}"
    return f"{mean:.{digits}f}"


def rows_of(out, cfg):
    got = {}
    for metric in ("fd", "kid", "prdc", "cas"):
        path = os.path.join(out, f"cfg{cfg}-{metric}.json")
        if os.path.exists(path):
            for row in load(path)["rows"]:
                got[row["name"]] = row
    return got


def main(args):
    runs = [a.split("=", 1) for a in args]
    print("Guidance sweep (10,000 samples, seed 1; FD against the 10,000 test images):\n")
    scales = sorted({os.path.basename(p)[len("sweep-cfg"):-len(".json")]
                     for _, out in runs for p in glob.glob(os.path.join(out, "sweep-cfg*.json"))}, key=float)
    print("| model | " + " | ".join(f"g = {s}" for s in scales) + " |")
    print("|---|" + "---:|" * len(scales))
    for name, out in runs:
        fds = []
        for s in scales:
            p = os.path.join(out, f"sweep-cfg{s}.json")
            fds.append(f"{load(p)['rows'][0]['value']:.3f}" if os.path.exists(p) else "")
        print(f"| {name} | " + " | ".join(fds) + " |")

    print("\nThree seeds × 10,000 samples (mean ± sample std); floor = 10,000 training images:\n")
    columns = [("FD (evalnet features)", "FD", 1, 3), ("KID (evalnet features)", "KID", 1, 3),
               ("precision", "precision", 1, 3), ("recall", "recall", 1, 3), ("CAS", "CAS", 1, 3)]
    print("| model | guidance | " + " | ".join(c[1] for c in columns) + " |")
    print("|---|---|" + "---:|" * len(columns))
    floors = {}
    for name, out in runs:
        best = open(os.path.join(out, "best_cfg")).read().strip()
        guided = open(os.path.join(out, "best_guided_cfg")).read().strip()
        for cfg in sorted({"1", guided}, key=float):
            got = rows_of(out, cfg)
            cells = []
            for key, _, scale, digits in columns:
                row = next((r for k, r in got.items() if k.startswith(key)), None)
                cells.append(cell(row, scale, digits) if row else "")
                if row and row.get("floor") is not None:
                    floors[key] = row["floor"] * scale
            print(f"| {name} | {cfg}{' (best)' if cfg == best else ''} | " + " | ".join(cells) + " |")
    print("| floor (training images) | | " + " | ".join(
        f"{floors[k]:.{d}f}" if k in floors else "" for k, _, _, d in columns) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
