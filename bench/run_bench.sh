#!/usr/bin/env bash
# run_bench: the ingest benchmark behind BENCH.md (`make bench` runs it).
#
# Measures images/s of three ways to do the same job on the same warm files:
#   tessera   build/tessera ingest SRC -o STORE (fresh store each run)
#   PIL       bench/pil_peer.py: Python + Pillow + py-lmdb, the way users do it today
#   ceiling   bench/decode_ceiling: bare TurboJPEG decoding at the same DCT scale,
#             no resize, no store; what no ingest can beat
# on an ImageNet-like corpus (bench/make_corpus.py) at 64 and 256 px, and on
# Fashion-MNIST exported as 70,000 small JPEGs at 28 px gray, with 1 and 2 workers.
# Each measurement is taken REPEATS times (runs of the three tools interleaved, so
# load from other processes spreads over all three) and the median is reported.
#
# tessera and PIL are timed on the wall clock from process start to exit (planning,
# worker start-up, the final commit and sync included), the same yardstick for both;
# the rate on tessera's own summary line is shown beside it. The ceiling's time is
# its own: first fork to last exit. For every run the CPU time (user + system, all
# processes) is kept too, and how many cores were idle just before it: the machine
# may be shared, and a 2-worker number means little if another job holds a core.
#
# Environment: BENCH_N (corpus size, default 5000), BENCH_REPEATS (default 3),
# BENCH_IDLE_WAIT (seconds to wait for idle cores before each repeat, default 120).
# Output: a markdown table on stdout and in bench/out/results.md; every run in
# bench/out/runs.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3 # the python3 on PATH may lack Pillow, numpy and lmdb
OUT=bench/out
N=${BENCH_N:-5000}
REPEATS=${BENCH_REPEATS:-3}
TESSERA=build/tessera
CEILING=$OUT/decode_ceiling
CORPUS=$OUT/corpus
FMNIST_IDX=/usr/share/datasets/fashion-mnist
FMNIST_JPEG=$OUT/fmnist-jpeg
export TESSERA_QUIET=1

[ -x "$TESSERA" ] || { echo "run_bench: $TESSERA is missing; run 'make all' first" >&2; exit 1; }
mkdir -p "$OUT"

# ------------------------------------------------------------------ inputs

$PY bench/make_corpus.py --n "$N" --out "$CORPUS"
cc -O2 -march=native bench/decode_ceiling.c -o "$CEILING" -lturbojpeg

if [ ! -f "$FMNIST_JPEG/.complete" ]; then
    echo "fashion-mnist: exporting the IDX sets as JPEGs into $FMNIST_JPEG"
    rm -rf "$FMNIST_JPEG" "$OUT"/fm-*-idx.lmdb
    for set in train:train t10k:test; do
        idx=${set%%:*} dir=${set##*:}
        "$TESSERA" ingest "$FMNIST_IDX/$idx-images-idx3-ubyte.gz" -o "$OUT/fm-$dir-idx.lmdb" --size 28 --channels 1 >/dev/null
        "$TESSERA" export "$OUT/fm-$dir-idx.lmdb" --dir "$FMNIST_JPEG/$dir" --format jpg >/dev/null
    done
    touch "$FMNIST_JPEG/.complete"
fi
FMNIST_FILES=$(find "$FMNIST_JPEG" -name '*.jpg' | wc -l)

echo "warming the page cache"
find "$CORPUS" "$FMNIST_JPEG" -name '*.jpg' -print0 | xargs -0 cat >/dev/null

# ------------------------------------------------------------------ runs

RUNS=$OUT/runs.tsv
printf 'case\tworkers\ttool\trepeat\timages\tseconds\timages_per_s\tself_reported_images_per_s\tcpu_seconds\tidle_cores_before\n' >"$RUNS"

# Before each repeat, wait_for_idle (bench/idle.sh) waits up to BENCH_IDLE_WAIT seconds
# (default 120) for the other users of the machine to leave nearly all cores idle.
IDLE_WAIT=${BENCH_IDLE_WAIT:-120}
# shellcheck source=bench/idle.sh
source bench/idle.sh

# timed CMD...: runs CMD; sets RUN_OUT (its stdout), RUN_WALL (seconds, start to exit)
# and RUN_CPU (user + system seconds of CMD and every child it waited for).
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    RUN_OUT=$(/usr/bin/time -f '%U %S' -o "$OUT/cpu.txt" "$@")
    t1=$(date +%s.%N)
    RUN_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    RUN_CPU=$(awk '{ printf "%.2f", $1 + $2 }' "$OUT/cpu.txt")
}

# record CASE WORKERS TOOL REPEAT PATTERN SECONDS SELF_RATE: counts the images in
# RUN_OUT (PATTERN captures the count) and appends one line to runs.tsv
record() {
    local n rate
    n=$(sed -n "s/$5/\1/p" <<<"$RUN_OUT")
    if [ "$n" != "$EXPECTED" ]; then # a run that did not process every file is not a result
        echo "run_bench: $3 processed ${n:-no} images, expected $EXPECTED:" >&2
        echo "$RUN_OUT" >&2
        exit 1
    fi
    rate=$(awk -v n="$n" -v s="$6" 'BEGIN { printf "%.1f", n / s }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$n" "$6" "$rate" "$7" "$RUN_CPU" "$IDLE" >>"$RUNS"
    printf '  %-7s %-8s workers=%s run %s: %6s images in %7.3f s = %8s images/s (cpu %s s, idle cores before %s)\n' \
        "$1" "$3" "$2" "$4" "$n" "$6" "$rate" "$RUN_CPU" "$IDLE"
}

# measure CASE SIZE CHANNELS WORKERS EXPECTED SRC...: REPEATS rounds of the three tools
measure() {
    local case=$1 size=$2 channels=$3 workers=$4
    EXPECTED=$5
    shift 5
    local store=$OUT/store-tessera.lmdb peer=$OUT/store-pil.lmdb
    for r in $(seq 1 "$REPEATS"); do
        wait_for_idle
        rm -rf "$store" "$peer"
        timed "$TESSERA" ingest "$@" -o "$store" --size "$size" --channels "$channels" --workers "$workers"
        record "$case" "$workers" tessera "$r" '^ingest: \([0-9]*\) stored.*' "$RUN_WALL" \
            "$(sed -n 's/^ingest: .*(\([0-9]*\) images\/s).*/\1/p' <<<"$RUN_OUT")"
        rm -rf "$store"

        timed $PY bench/pil_peer.py "$@" -o "$peer" --size "$size" --channels "$channels" --workers "$workers"
        record "$case" "$workers" PIL "$r" '^pil_peer: \([0-9]*\) stored.*' "$RUN_WALL" \
            "$(sed -n 's/.*(\([0-9]*\) images\/s).*/\1/p' <<<"$RUN_OUT")"
        rm -rf "$peer"

        timed "$CEILING" --size "$size" --channels "$channels" --workers "$workers" "$@"
        record "$case" "$workers" ceiling "$r" '^ceiling: \([0-9]*\) decoded.*' \
            "$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' <<<"$RUN_OUT")" ""
    done
}

for size in 64 256; do
    for workers in 1 2; do
        measure "${size} px" "$size" 3 "$workers" "$N" "$CORPUS"
    done
done
for workers in 1 2; do
    measure "FMNIST" 28 1 "$workers" "$FMNIST_FILES" "$FMNIST_JPEG/train" "$FMNIST_JPEG/test"
done

# ------------------------------------------------------------------ report

$PY - "$RUNS" "$OUT/results.md" "$N" "$FMNIST_FILES" "$REPEATS" <<'EOF'
"""Medians of runs.tsv as a markdown table."""
import csv, os, statistics, subprocess, sys, time

runs_path, results_path, n, fmnist_files, repeats = sys.argv[1:6]
rows = list(csv.DictReader(open(runs_path), delimiter="\t"))

def median(case, workers, tool, column="images_per_s"):
    v = [float(r[column]) for r in rows if r["case"] == case and r["workers"] == workers and r["tool"] == tool and r[column]]
    return statistics.median(v) if v else float("nan")

def cpu_per_image(case, workers, tool):
    v = [float(r["cpu_seconds"]) / float(r["images"]) for r in rows
         if r["case"] == case and r["workers"] == workers and r["tool"] == tool]
    return statistics.median(v) if v else float("nan")

def runs_of(case, workers, tool):
    return ", ".join("%.0f" % float(r["images_per_s"]) for r in rows
                     if r["case"] == case and r["workers"] == workers and r["tool"] == tool)

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
dirty = subprocess.run(["git", "status", "--porcelain", "--", "tessera.c", "core", "store", "ingest", "Makefile"],
                       capture_output=True, text=True).stdout.split("\n")
dirty = sorted({l[3:] for l in dirty if l.strip()})
if dirty:  # the binary measured is built from the working tree, not from the commit
    commit += " plus uncommitted changes to " + ", ".join(dirty)
names = {"64 px": "corpus %s JPEGs → 64×64 RGB" % n, "256 px": "corpus %s JPEGs → 256×256 RGB" % n,
         "FMNIST": "Fashion-MNIST %s JPEGs → 28×28 gray" % fmnist_files}
lines = [
    "# Ingest benchmark results",
    "",
    "%s; %d cores (`nproc`), %s; commit %s; median of %s runs; load average at the end %s." % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), cpu, commit, repeats,
        open("/proc/loadavg").read().split()[0]),
    "tessera and PIL: wall clock, process start to exit. Ceiling: bare TurboJPEG decode at the same DCT scale.",
    "The last column is the rate on tessera's own summary line, for comparison.",
    "",
    "| case | workers | tessera img/s | PIL img/s | ratio tessera/PIL | ceiling img/s | tessera/ceiling "
    "| tessera 2 vs 1 workers | tessera summary line img/s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for case in ("64 px", "256 px", "FMNIST"):
    for w in ("1", "2"):
        t, p, c = median(case, w, "tessera"), median(case, w, "PIL"), median(case, w, "ceiling")
        scaling = "%.2f×" % (t / median(case, "1", "tessera")) if w == "2" else ""
        lines.append("| %s | %s | %.0f | %.0f | %.2f× | %.0f | %.0f%% | %s | %.0f |" % (
            names[case], w, t, p, t / p, c, 100 * t / c, scaling,
            median(case, w, "tessera", "self_reported_images_per_s")))
lines += ["", "CPU time per image (ms; user + system of every process of the tool, median): less disturbed than"
          " images/s by other work on the machine, and it shows the overhead beyond decoding.", "",
          "| case | workers | tessera | PIL | ceiling |", "|---|---:|---:|---:|---:|"]
for case in ("64 px", "256 px", "FMNIST"):
    for w in ("1", "2"):
        ms = ["%.3f" % (1000 * cpu_per_image(case, w, tool)) for tool in ("tessera", "PIL", "ceiling")]
        lines.append("| %s | %s | %s |" % (names[case], w, " | ".join(ms)))
lines += ["", "All runs (images/s, in run order), and how many of the %d cores were idle in the second before"
          " each repeat, after waiting up to BENCH_IDLE_WAIT s for them (other users' work on a shared machine):"
          % os.cpu_count(), "",
          "| case | workers | tessera | PIL | ceiling | idle cores before |", "|---|---:|---|---|---|---|"]
for case in ("64 px", "256 px", "FMNIST"):
    for w in ("1", "2"):
        idle = ", ".join(r["idle_cores_before"] for r in rows
                         if r["case"] == case and r["workers"] == w and r["tool"] == "tessera")
        lines.append("| %s | %s | %s | %s | %s | %s |" % (case, w, runs_of(case, w, "tessera"), runs_of(case, w, "PIL"),
                                                         runs_of(case, w, "ceiling"), idle))
text = "\n".join(lines) + "\n"
open(results_path, "w").write(text)
print()
print(text)
EOF
echo "results: $OUT/results.md, every run: $RUNS"
