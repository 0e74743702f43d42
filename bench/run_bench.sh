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
# tessera's own summary rate (pool time only) is shown beside it. The ceiling's time
# is its own: first fork to last exit.
#
# Environment: BENCH_N (corpus size, default 5000), BENCH_REPEATS (default 3).
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
printf 'case\tworkers\ttool\trepeat\timages\tseconds\timages_per_s\tself_reported_images_per_s\tidle_cores_before\n' >"$RUNS"

now() { date +%s.%N; }

# How many cores sat idle over one second: other people's work on a shared machine
# shows up here, and a 2-worker result means little when it is below 2.
idle_cores() {
    local a b
    a=($(head -1 /proc/stat))
    sleep 1
    b=($(head -1 /proc/stat))
    awk -v i0="$((a[4] + a[5]))" -v i1="$((b[4] + b[5]))" -v t0="$(IFS=+; echo "$((${a[*]:1}))")" -v t1="$(IFS=+; echo "$((${b[*]:1}))")" \
        -v cores="$(nproc)" 'BEGIN { printf "%.2f", cores * (i1 - i0) / (t1 - t0) }'
}

# record CASE WORKERS TOOL REPEAT IMAGES SECONDS SELF_RATE (IDLE: idle cores before the repeat)
record() {
    local rate
    rate=$(awk -v n="$5" -v s="$6" 'BEGIN { printf "%.1f", n / s }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$rate" "$7" "$IDLE" >>"$RUNS"
    printf '  %-10s %-8s workers=%s run %s: %6s images in %7.3f s = %8s images/s\n' "$1" "$3" "$2" "$4" "$5" "$6" "$rate"
}

# expect_count TOOL WANT GOT: a run that did not process every file is not a result
expect_count() {
    if [ "$3" != "$2" ]; then
        echo "run_bench: $1 processed $3 images, expected $2" >&2
        exit 1
    fi
}

# measure CASE SIZE CHANNELS WORKERS EXPECTED SRC...
measure() {
    local case=$1 size=$2 channels=$3 workers=$4 expected=$5
    shift 5
    local store=$OUT/store-tessera.lmdb peer=$OUT/store-pil.lmdb t0 t1 out n
    for r in $(seq 1 "$REPEATS"); do
        IDLE=$(idle_cores)
        rm -rf "$store"
        t0=$(now)
        out=$("$TESSERA" ingest "$@" -o "$store" --size "$size" --channels "$channels" --workers "$workers")
        t1=$(now)
        n=$(sed -n 's/^ingest: \([0-9]*\) stored.*/\1/p' <<<"$out")
        expect_count tessera "$expected" "$n"
        record "$case" "$workers" tessera "$r" "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
            "$(sed -n 's/^ingest: .*(\([0-9]*\) images\/s).*/\1/p' <<<"$out")"
        rm -rf "$store"

        t0=$(now)
        out=$($PY bench/pil_peer.py "$@" -o "$peer" --size "$size" --channels "$channels" --workers "$workers")
        t1=$(now)
        n=$(sed -n 's/^pil_peer: \([0-9]*\) stored.*/\1/p' <<<"$out")
        expect_count PIL "$expected" "$n"
        record "$case" "$workers" PIL "$r" "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
            "$(sed -n 's/.*(\([0-9]*\) images\/s).*/\1/p' <<<"$out")"
        rm -rf "$peer"

        out=$("$CEILING" --size "$size" --channels "$channels" --workers "$workers" "$@")
        n=$(sed -n 's/^ceiling: \([0-9]*\) decoded.*/\1/p' <<<"$out")
        expect_count ceiling "$expected" "$n"
        record "$case" "$workers" ceiling "$r" "$n" "$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' <<<"$out")" ""
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
import csv, os, platform, statistics, subprocess, sys, time

runs_path, results_path, n, fmnist_files, repeats = sys.argv[1:6]
rows = list(csv.DictReader(open(runs_path), delimiter="\t"))

def median(case, workers, tool, column="images_per_s"):
    v = [float(r[column]) for r in rows if r["case"] == case and r["workers"] == workers and r["tool"] == tool and r[column]]
    return statistics.median(v) if v else float("nan")

def runs_of(case, workers, tool):
    return ", ".join("%.0f" % float(r["images_per_s"]) for r in rows
                     if r["case"] == case and r["workers"] == workers and r["tool"] == tool)

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
names = {"64 px": "corpus %s JPEGs → 64×64 RGB" % n, "256 px": "corpus %s JPEGs → 256×256 RGB" % n,
         "FMNIST": "Fashion-MNIST %s JPEGs → 28×28 gray" % fmnist_files}
lines = [
    "# Ingest benchmark results",
    "",
    "%s; %d cores (`nproc`), %s; commit %s; median of %s runs; load average at the end %s." % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), cpu, commit or "?", repeats,
        open("/proc/loadavg").read().split()[0]),
    "tessera and PIL: wall clock, process start to exit. Ceiling: bare TurboJPEG decode at the same DCT scale.",
    "",
    "| case | workers | tessera img/s | PIL img/s | ratio tessera/PIL | ceiling img/s | tessera/ceiling "
    "| tessera 2 vs 1 workers | tessera self-reported img/s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for case in ("64 px", "256 px", "FMNIST"):
    for w in ("1", "2"):
        t, p, c = median(case, w, "tessera"), median(case, w, "PIL"), median(case, w, "ceiling")
        scaling = "%.2f×" % (t / median(case, "1", "tessera")) if w == "2" else ""
        lines.append("| %s | %s | %.0f | %.0f | %.2f× | %.0f | %.0f%% | %s | %.0f |" % (
            names[case], w, t, p, t / p, c, 100 * t / c, scaling,
            median(case, w, "tessera", "self_reported_images_per_s")))
lines += ["", "All runs (images/s, in run order), and how many of the %d cores were idle in the second before"
          " each repeat (other users' work on a shared machine):" % os.cpu_count(), "",
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
