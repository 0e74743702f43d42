#!/usr/bin/env bash
# run_tokenize_bench: how fast the VQ-VAE tokenizer turns images into tokens and back.
#
#   bash bench/run_tokenize_bench.sh [CKPT]        (after `make all`)
#
# CKPT is a `model = vqvae` checkpoint (e.g. runs/vq-fmnist/ckpt_00003000.bin). Without
# one, a tokenizer is trained for 20 steps with configs/vq-fmnist.ini into
# bench/out/vq-bench: speed depends on the architecture, not on how well it is trained.
#
# 1. The pool, on Fashion-MNIST's 10,000 test images (28×28 grey), with 1 and 2 workers:
#      pixel store → tokens   build/tessera tokenize --tokenizer CKPT PIXELS -o TOKENS
#      JPEG folder → tokens   the same images as JPEG files, decoded by the workers
#      tokens → pixel store   build/tessera detokenize --tokenizer CKPT TOKENS -o PIXELS
#    Each into a fresh store, timed on the wall clock from process start to exit (as
#    bench/run_bench.sh times ingest); tessera's own summary rate and CPU split
#    (coordinator / workers) are kept beside it, and the user + system CPU of the whole
#    process tree. The six cases take turns, REPEATS rounds, and the median is reported.
# 2. bench/tokenize_bench.c, once per round: the encoder alone on one thread at batch 1
#    (as a pool worker calls it) and batch 64, its GFLOP/s, and the single-thread sgemm
#    rate (1024³ and the encoder's own GEMM shapes) measured in the same process. After
#    the rounds, one run with --breakdown (time per layer kind and per node).
#
# Before every run the script waits (up to TK_IDLE_WAIT s) for all cores to be idle and
# records how many were: a 2-worker result means little when another job holds a core.
# A full run takes roughly 7–9 minutes on an idle 2-core machine (about 2 per round, plus
# the breakdown and, without CKPT, the 20 training steps); TK_IMAGES=200 TK_REPEATS=1
# TK_ENC_IMAGES=40 TK_ENC_REPS=2 is a one-minute smoke run.
#
# Environment: TK_REPEATS (3), TK_IMAGES (0 = all 10,000; N < 10,000 exports the first N
# test images for a quick smoke run), TK_ENC_IMAGES (1000) and TK_ENC_REPS (5) for
# tokenize_bench, TK_IDLE_WAIT (300 s).
# Output: the tables on stdout and in bench/out/tokenize_results.md; every pool run in
# bench/out/tokenize_runs.tsv, every tokenize_bench RESULT line in
# bench/out/tokenize_encoder_runs.txt, all program output in bench/out/tokenize_log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
OUT=bench/out
TESSERA=build/tessera
REPEATS=${TK_REPEATS:-3}
IMAGES=${TK_IMAGES:-0}
ENC_IMAGES=${TK_ENC_IMAGES:-1000}
ENC_REPS=${TK_ENC_REPS:-5}
IDLE_WAIT=${TK_IDLE_WAIT:-300}
FMNIST_IDX=/usr/share/datasets/fashion-mnist
export TESSERA_QUIET=1

[ -x "$TESSERA" ] || { echo "run_tokenize_bench: $TESSERA is missing; run 'make all' first" >&2; exit 1; }
mkdir -p "$OUT"
LOG=$OUT/tokenize_log.txt
: >"$LOG"

# ------------------------------------------------------------------ the encoder benchmark

# tokenizer.o reads the training config schema (TRAIN_SHARED_KEYS, train/train_cmd.o),
# which reaches every stage, so the whole library make built is linked, with the
# Makefile's libraries: everything but build/tessera.o (its main).
OBJS=$(ls build/core/*.o build/store/*.o build/ingest/*.o build/nn/*.o build/tokenize/*.o build/train/*.o build/eval/*.o)
# shellcheck disable=SC2086,SC2046
cc -O3 -march=native -std=gnu11 -Wall -Wextra -Werror -I. bench/tokenize_bench.c $OBJS -o "$OUT/tokenize_bench" \
    -llmdb -lzmq -lturbojpeg -lpng -larchive -lz -lopenblas $(mpicc --showme:compile) $(mpicc --showme:link) -lm

# ------------------------------------------------------------------ inputs

# The Fashion-MNIST test set as a pixel store: make demo's, or run_bench.sh's, or made here.
if [ -f demo-out/fmnist-test.lmdb/data.mdb ]; then
    PIXELS=demo-out/fmnist-test.lmdb
elif [ -f "$OUT/fm-test-idx.lmdb/data.mdb" ]; then
    PIXELS=$OUT/fm-test-idx.lmdb
else
    PIXELS=$OUT/fm-test-28.lmdb
    if [ ! -f "$PIXELS/data.mdb" ]; then
        echo "ingesting the Fashion-MNIST test set into $PIXELS"
        "$TESSERA" ingest "$FMNIST_IDX/t10k-images-idx3-ubyte.gz" -o "$PIXELS" --size 28 --channels 1 >>"$LOG"
    fi
fi
# The same images as JPEG files in class folders: run_bench.sh's export, or one made here.
count_jpegs() { find "$1" -name '*.jpg' 2>/dev/null | wc -l; }
JPEGS=$OUT/fmnist-jpeg/test
if [ "$(count_jpegs "$JPEGS")" -ne 10000 ]; then
    JPEGS=$OUT/tk-fmnist-jpeg-test
    if [ "$(count_jpegs "$JPEGS")" -ne 10000 ]; then
        echo "exporting $PIXELS as JPEGs into $JPEGS"
        rm -rf "$JPEGS"
        "$TESSERA" export "$PIXELS" --dir "$JPEGS" --format jpg >>"$LOG"
    fi
fi
# A smoke run on the first TK_IMAGES images: both sources cut down to them.
if [ "$IMAGES" -gt 0 ] && [ "$IMAGES" -lt 10000 ]; then
    SUB=$OUT/tk-subset-$IMAGES
    if [ ! -f "$SUB/.complete" ]; then
        rm -rf "$SUB"
        "$TESSERA" export "$PIXELS" --dir "$SUB/jpeg" --format jpg --limit "$IMAGES" >>"$LOG"
        "$TESSERA" ingest "$SUB/jpeg" -o "$SUB/pixels.lmdb" --size 28 --channels 1 >>"$LOG"
        touch "$SUB/.complete"
    fi
    PIXELS=$SUB/pixels.lmdb
    JPEGS=$SUB/jpeg
fi
EXPECTED=$(count_jpegs "$JPEGS")
STORE_COUNT=$("$TESSERA" info "$PIXELS" | sed -n 's/^count: //p')
[ "$STORE_COUNT" = "$EXPECTED" ] || { echo "run_tokenize_bench: $PIXELS holds $STORE_COUNT images, $JPEGS $EXPECTED" >&2; exit 1; }

# The tokenizer.
CKPT=${1:-}
if [ -z "$CKPT" ]; then
    CKPT=$OUT/vq-bench/ckpt_00000020.bin
    if [ ! -f "$CKPT" ] || [ configs/vq-fmnist.ini -nt "$CKPT" ]; then
        echo "training a 20-step tokenizer with configs/vq-fmnist.ini into $OUT/vq-bench (its weights do not matter here)"
        rm -rf "$OUT/vq-bench"
        # On the store being benchmarked, so that nothing else need exist; no validation.
        OPENBLAS_NUM_THREADS=1 "$TESSERA" train configs/vq-fmnist.ini steps=20 run_dir="$OUT/vq-bench" \
            store="$PIXELS" val_store= recon_samples=0 >>"$LOG" 2>&1 ||
            { tail -5 "$LOG" >&2; exit 1; }
    fi
fi
[ -f "$CKPT" ] || { echo "run_tokenize_bench: no checkpoint $CKPT" >&2; exit 1; }

echo "warming the page cache"
find "$JPEGS" -name '*.jpg' -print0 | xargs -0 cat >/dev/null
cat "$PIXELS/data.mdb" "$CKPT" >/dev/null

# The token store detokenize reads: made once, untimed.
TOKENS_IN=$OUT/tk-tokens-in.lmdb
rm -rf "$TOKENS_IN"
"$TESSERA" tokenize --tokenizer "$CKPT" "$PIXELS" -o "$TOKENS_IN" >>"$LOG"

# ------------------------------------------------------------------ runs

RUNS=$OUT/tokenize_runs.tsv
ENC_RUNS=$OUT/tokenize_encoder_runs.txt
printf 'time\tcase\tworkers\trepeat\timages\tseconds\timages_per_s\tself_reported_images_per_s\tcpu_seconds\tcoordinator_cpu_s\tworkers_cpu_s\tidle_cores_before\n' >"$RUNS"
: >"$ENC_RUNS"

# shellcheck source=bench/idle.sh
source bench/idle.sh

# timed CMD...: RUN_OUT (stdout), RUN_WALL (s, start to exit), RUN_CPU (user + system of
# CMD and every child it waited for: the coordinator and its local workers).
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    RUN_OUT=$(/usr/bin/time -f '%U %S' -o "$OUT/tk-cpu.txt" "$@")
    t1=$(date +%s.%N)
    echo "$RUN_OUT" >>"$LOG"
    RUN_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    RUN_CPU=$(awk '{ printf "%.2f", $1 + $2 }' "$OUT/tk-cpu.txt")
}

# pool_run CASE WORKERS REPEAT VERB SRC OUT_STORE: one tokenize or detokenize run.
pool_run() {
    local case=$1 workers=$2 r=$3 verb=$4 src=$5 dst=$6 n self coord work
    wait_for_idle
    rm -rf "$dst"
    timed "$TESSERA" "$verb" --tokenizer "$CKPT" "$src" -o "$dst" --workers "$workers"
    n=$(sed -n "s/^$verb: \([0-9]*\) stored.*/\1/p" <<<"$RUN_OUT")
    if [ "$n" != "$EXPECTED" ]; then # a run that did not store every image is not a result
        echo "run_tokenize_bench: $verb stored ${n:-no} images, expected $EXPECTED:" >&2
        echo "$RUN_OUT" >&2
        exit 1
    fi
    self=$(sed -n "s/^$verb: .*(\([0-9]*\) images\/s).*/\1/p" <<<"$RUN_OUT")
    coord=$(sed -n 's/^cpu: coordinator \([0-9.]*\) s, .*/\1/p' <<<"$RUN_OUT")
    work=$(sed -n 's/^cpu: .*local workers \([0-9.]*\) s.*/\1/p' <<<"$RUN_OUT")
    local rate
    rate=$(awk -v n="$n" -v s="$RUN_WALL" 'BEGIN { printf "%.1f", n / s }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%H:%M:%S)" "$case" "$workers" "$r" "$n" \
        "$RUN_WALL" "$rate" "$self" "$RUN_CPU" "$coord" "$work" "$IDLE" >>"$RUNS"
    printf '  %-8s workers=%s run %s: %6s images in %7.3f s = %8s images/s (cpu %s s, idle cores before %s)\n' \
        "$case" "$workers" "$r" "$n" "$RUN_WALL" "$rate" "$RUN_CPU" "$IDLE"
    rm -rf "$dst"
}

for r in $(seq 1 "$REPEATS"); do
    echo "round $r of $REPEATS"
    for w in 1 2; do pool_run store "$w" "$r" tokenize "$PIXELS" "$OUT/tk-tokens.lmdb"; done
    for w in 1 2; do pool_run jpeg "$w" "$r" tokenize "$JPEGS" "$OUT/tk-tokens.lmdb"; done
    for w in 1 2; do pool_run detok "$w" "$r" detokenize "$TOKENS_IN" "$OUT/tk-pixels.lmdb"; done
    wait_for_idle
    line=$("$OUT/tokenize_bench" "$CKPT" --store "$PIXELS" --images "$ENC_IMAGES" --reps "$ENC_REPS" |
        tee -a "$LOG" | grep '^RESULT')
    echo "$(date -u +%H:%M:%S) idle_before=$IDLE $line" >>"$ENC_RUNS"
    echo "  encoder  $(tr ' ' '\n' <<<"$line" | grep -E '^(b1_img_s|bn_img_s|b1_gflops|peak1024)=' | tr '\n' ' ')(idle cores before $IDLE)"
done
echo "encoder breakdown"
wait_for_idle
"$OUT/tokenize_bench" "$CKPT" --store "$PIXELS" --images "$ENC_IMAGES" --reps "$ENC_REPS" --breakdown --no-peak \
    >"$OUT/tokenize_breakdown.txt"
BREAKDOWN_IDLE=$IDLE

# ------------------------------------------------------------------ report

$PY - "$RUNS" "$ENC_RUNS" "$OUT/tokenize_breakdown.txt" "$OUT/tokenize_results.md" "$CKPT" "$PIXELS" "$JPEGS" \
    "$REPEATS" "$BREAKDOWN_IDLE" <<'EOF'
"""Medians of the runs as markdown tables."""
import csv, os, statistics, subprocess, sys, time

runs_path, enc_path, breakdown_path, results_path, ckpt, pixels, jpegs, repeats, bd_idle = sys.argv[1:10]
rows = list(csv.DictReader(open(runs_path), delimiter="\t"))
enc = []
for line in open(enc_path):
    kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
    enc.append(kv)

def pick(case, w):
    return [r for r in rows if r["case"] == case and r["workers"] == w]

def med(values):
    values = [float(v) for v in values if v not in ("", None)]
    return statistics.median(values) if values else float("nan")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
dirty = subprocess.run(["git", "status", "--porcelain", "--", "tessera.c", "core", "store", "ingest", "nn", "tokenize",
                        "train", "Makefile"], capture_output=True, text=True).stdout.split("\n")
dirty = sorted({l[3:] for l in dirty if l.strip()})
if dirty:  # the binary measured is built from the working tree, not from the commit
    commit += " plus uncommitted changes to " + ", ".join(dirty)
header = ""
for line in open(breakdown_path):
    if line.startswith("tokenizer ") or line.startswith("FLOPs per image"):
        header += "- " + line.strip() + "\n"

names = {"store": "pixel store → tokens", "jpeg": "JPEG folder → tokens", "detok": "token store → pixels (detokenize)"}
lines = [
    "# Tokenize benchmark results",
    "",
    "%s; %d cores (`nproc`), %s; commit %s; median of %s rounds; load average at the end %s." % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), cpu, commit, repeats,
        open("/proc/loadavg").read().split()[0]),
    "",
    "- tokenizer checkpoint: `%s`" % ckpt,
    "- pixel store: `%s`; JPEG folder: `%s`" % (pixels, jpegs),
    header.rstrip("\n"),
    "",
    "## The pool (`tessera tokenize` / `detokenize`, fresh store each run)",
    "",
    "Wall clock from process start to exit. CPU: user + system of the coordinator and its workers, per image; "
    "\"cores busy\" is that CPU time over the wall time.",
    "",
    "| case | workers | images | median s | images/s | speed-up 2 vs 1 | summary line img/s | CPU ms/image "
    "| cores busy | coordinator CPU s | workers CPU s | runs (s) | idle cores before |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
]
speedups = {}
for case in ("store", "jpeg", "detok"):
    for w in ("1", "2"):
        rs = pick(case, w)
        if not rs:
            continue
        s = med(r["seconds"] for r in rs)
        n = int(rs[0]["images"])
        up = ""
        if w == "2" and pick(case, "1"):
            speedups[case] = med(r["seconds"] for r in pick(case, "1")) / s
            up = "%.2f×" % speedups[case]
        lines.append("| %s | %s | %d | %.3f | %.0f | %s | %.0f | %.3f | %.2f | %.2f | %.2f | %s | %s |" % (
            names[case], w, n, s, n / s, up, med(r["self_reported_images_per_s"] for r in rs),
            1000 * med(float(r["cpu_seconds"]) / n for r in rs),
            med(float(r["cpu_seconds"]) / float(r["seconds"]) for r in rs), med(r["coordinator_cpu_s"] for r in rs),
            med(r["workers_cpu_s"] for r in rs), ", ".join(r["seconds"] for r in rs),
            ", ".join(r["idle_cores_before"] for r in rs)))
lines += ["", "Target 2 workers ≥ 1.8× one: " + "; ".join(
    "%s %.2f× (%s)" % (names[c], v, "met" if v >= 1.8 else "missed") for c, v in speedups.items()) + "."]

if enc:
    b = enc[0].get("batch", "64")
    def e(key):
        return med(r.get(key) for r in enc)
    b1, bn, peak = e("b1_gflops"), e("bn_gflops"), e("peak1024")
    lines += [
        "",
        "## The encoder alone, one thread (`bench/tokenize_bench.c`, %s images from the pixel store)" % enc[0]["images"],
        "",
        "GFLOP/s count the encoder's convolutions and the quantizer's distance GEMM (%.2f MFLOP per image). "
        "The GEMM ceiling is the rate the encoder would reach if it spent time only in its GEMMs, each at the "
        "rate sgemm reaches at that shape alone." % e("mflop_per_image"),
        "",
        "| batch | images/s | ms/image | GFLOP/s | sgemm 1024³ GFLOP/s | fraction of sgemm peak | GEMM ceiling GFLOP/s "
        "| fraction of GEMM ceiling | runs (images/s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, img, gf, ceil in (("1", "b1_img_s", b1, "ceiling_b1"), (b, "bn_img_s", bn, "ceiling_bn")):
        lines.append("| %s | %.0f | %.3f | %.2f | %.1f | %.1f%% | %.1f | %.1f%% | %s |" % (
            label, e(img), 1000 / e(img), gf, peak, 100 * gf / peak, e(ceil), 100 * gf / e(ceil),
            ", ".join(r[img] for r in enc)))
    lines += ["", "Idle cores before each encoder run: %s." % ", ".join(r.get("idle_before", "?") for r in enc)]
    one_worker = pick("store", "1")
    if one_worker:
        pool = int(one_worker[0]["images"]) / med(r["seconds"] for r in one_worker)
        lines.append("The pool with 1 worker from the pixel store reaches %.0f%% of the encoder's batch-1 rate." % (
            100 * pool / e("b1_img_s")))

lines += ["", "## Where the encoder's time goes (`tokenize_bench --breakdown`, %s idle cores before)" % bd_idle,
          "", "```"]
keep = False
for line in open(breakdown_path):
    if line.startswith("breakdown"):
        keep = True
    if line.startswith("RESULT"):
        keep = False
    if keep:
        lines.append(line.rstrip("\n"))
lines.append("```")
text = "\n".join(lines) + "\n"
open(results_path, "w").write(text)
print()
print(text)
EOF
echo "results: $OUT/tokenize_results.md, pool runs: $RUNS, encoder runs: $ENC_RUNS"
