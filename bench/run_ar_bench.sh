#!/usr/bin/env bash
# run_ar_bench: the AR model's speed (issue 6), at configs/fmnist-rar.ini's shape: 7×7 = 49
# codes, K = 512, 10 classes + null, 6 layers, 4 heads, width 128, target-aware.
#
#   bash bench/run_ar_bench.sh                    (or `make bench-ar`)
#   AR_BENCH_QUICK=1 bash bench/run_ar_bench.sh   (a smoke run of about a minute)
#
# 1. Training tokens/s (tokens = examples × N), RAR at r = 1 (every sample permuted), against
#    the same model in PyTorch (bench/torch_ar.py, causal attention written out with an
#    explicit mask: Debian's PyTorch 1.13 has no fused CPU attention):
#      tessera1  build/bench/ar_bench train, 1 process, 64 examples per step (one rank's
#                share of the config's batch 128), OpenBLAS 1 thread
#      torch1    64 examples, torch.set_num_threads(1), OMP and OpenBLAS at 1
#    and on the whole machine, at the config's global batch 128:
#      tessera2  mpirun -np 2: 64 per rank, as `mpirun -np 2 tessera train` runs it
#      torch2    torch, OMP and OpenBLAS at 2 threads
#      torch2b   torch's own kernels at 1 thread, OpenBLAS at 2 (the faster setting in
#                bench/run_train_bench.sh)
#    The tools take turns, REPEATS rounds; each run reports the median of its timed steps,
#    the table the median of the runs.
# 2. Sampling images/s (build/bench/ar_bench sample) at 7×7 and 14×14 codes (same K, width,
#    layers), guidance off and on (cfg 2: two rows per image), with the key/value cache and
#    without it (no_cache = 1: the whole prefix rerun every step). Before measuring, the
#    FLOP model's prediction of the cache's speed-up is printed (ar_bench predict); the
#    report sets the measured speed-up beside it.
#
# Before every run the script waits (up to AR_IDLE_WAIT s) for running `tessera train`
# jobs to end and records how many cores were idle just before it.
# Full run on an idle 2-core machine: roughly 2 minutes of training runs and 6 of sampling,
# most of it the uncached 14×14 cases (19,306 token positions per image and row; with
# guidance their activations for the last prefix take about 3 GB).
#
# Environment (quick-mode defaults in brackets): AR_REPEATS 3 [1] training rounds,
# AR_STEPS 10 [2] timed steps per run, AR_WARMUP 3 [1], AR_TWO_CORES 1 (0: skip the 2-rank
# and 2-thread cases), AR_TRAIN 1, AR_SAMPLE 1 (0 skips that part), AR_SAMPLE_IMAGES 100 [4],
# AR_SAMPLE_REPEATS 3 [1] timed calls per sampling case, AR_SLOW_IMAGES (= AR_SAMPLE_IMAGES)
# [2] and AR_SLOW_REPEATS 1 [1] for the uncached 14×14 cases (about 100 s and 200 s per
# call at 100 images), AR_IDLE_WAIT 600 [0] s.
# Output: the tables on stdout and in bench/out/ar_bench.md; every run in
# bench/out/ar_train_runs.tsv and bench/out/ar_sample_runs.tsv, all program output in
# bench/out/ar_log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3 # the python3 on PATH may lack torch
OUT=bench/out
BIN=build/bench/ar_bench
if [ "${AR_BENCH_QUICK:-0}" = 1 ]; then
    q_repeats=1 q_steps=2 q_warmup=1 q_images=4 q_sample_repeats=1 q_slow_images=2 q_idle=0 q_wimages=1
else
    q_repeats=3 q_steps=10 q_warmup=3 q_images=100 q_sample_repeats=3 q_slow_images="" q_idle=600 q_wimages=4
fi
REPEATS=${AR_REPEATS:-$q_repeats}
STEPS=${AR_STEPS:-$q_steps}
WARMUP=${AR_WARMUP:-$q_warmup}
TWO_CORES=${AR_TWO_CORES:-1}
DO_TRAIN=${AR_TRAIN:-1}
DO_SAMPLE=${AR_SAMPLE:-1}
IMAGES=${AR_SAMPLE_IMAGES:-$q_images}
SAMPLE_REPEATS=${AR_SAMPLE_REPEATS:-$q_sample_repeats}
SLOW_IMAGES=${AR_SLOW_IMAGES:-${q_slow_images:-$IMAGES}}
SLOW_REPEATS=${AR_SLOW_REPEATS:-1}
IDLE_WAIT=${AR_IDLE_WAIT:-$q_idle}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

mkdir -p "$OUT"
make --no-print-directory all "$BIN" >/dev/null
LOG=$OUT/ar_log.txt
: >"$LOG"

# shellcheck source=bench/idle.sh
source bench/idle.sh

# get KEY LINE: the value of KEY=... in a RESULT line
get() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }

# ------------------------------------------------------------------ training

TRAIN_TSV=$OUT/ar_train_runs.tsv
printf 'time\ttool\tbatch\tidle_before\tstep_s\ttok_s\tgflops\tprep_s\tfwd_s\tbwd_s\topt_s\tattention\ttorch\n' >"$TRAIN_TSV"

train_run() {
    local tool=$1 line idle
    local args=(--steps "$STEPS" --warmup "$WARMUP")
    wait_while_training
    idle=$(idle_cores)
    case $tool in
    tessera1) line=$(OPENBLAS_NUM_THREADS=1 "$BIN" train --batch 64 "${args[@]}" | tee -a "$LOG" | grep '^RESULT') ;;
    tessera2) line=$(OPENBLAS_NUM_THREADS=1 mpirun -np 2 --bind-to none "$BIN" train --batch 128 "${args[@]}" | tee -a "$LOG" | grep '^RESULT') ;;
    torch1) line=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $PY bench/torch_ar.py --threads 1 --batch 64 "${args[@]}" | tee -a "$LOG" | grep '^RESULT') ;;
    torch2) line=$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 $PY bench/torch_ar.py --threads 2 --batch 128 "${args[@]}" | tee -a "$LOG" | grep '^RESULT') ;;
    torch2b) line=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=1 $PY bench/torch_ar.py --threads 1 --batch 128 "${args[@]}" | tee -a "$LOG" | grep '^RESULT') ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%H:%M:%S)" "$tool" "$(get batch "$line")" \
        "$idle" "$(get step_s "$line")" "$(get tok_s "$line")" "$(get gflops "$line")" "$(get prep_s "$line")" \
        "$(get fwd_s "$line")" "$(get bwd_s "$line")" "$(get opt_s "$line")" "$(get attention "$line")" \
        "$(get torch "$line")" >>"$TRAIN_TSV"
    printf '  %-8s batch %3s: step %s s, %8s tokens/s (idle cores before %s)\n' "$tool" "$(get batch "$line")" \
        "$(get step_s "$line")" "$(get tok_s "$line")" "$idle"
}

if [ "$DO_TRAIN" = 1 ]; then
    tools="tessera1 torch1"
    [ "$TWO_CORES" = 1 ] && tools="$tools tessera2 torch2 torch2b"
    echo "training: $REPEATS round(s) of: $tools ($WARMUP warm-up + $STEPS timed steps each)"
    for r in $(seq 1 "$REPEATS"); do
        for tool in $tools; do train_run "$tool"; done
    done
fi

# ------------------------------------------------------------------ sampling

SAMPLE_TSV=$OUT/ar_sample_runs.tsv
PREDICT=$OUT/ar_predict.txt
printf 'time\tgrid\tN\timages\tcfg\tcache\trepeats\tidle_before\ts\timg_s\tgflops\tsys_s\n' >"$SAMPLE_TSV"

sample_run() {
    local grid=$1 cfg=$2 cache=$3 images=$4 repeats=$5 line idle
    local args=(--grid "$grid" --cfg "$cfg" --images "$images" --repeats "$repeats" --warmup-images "$q_wimages")
    [ "$cache" = 0 ] && args+=(--no-cache)
    wait_while_training
    idle=$(idle_cores)
    line=$(OPENBLAS_NUM_THREADS=1 "$BIN" sample "${args[@]}" | tee -a "$LOG" | grep '^RESULT')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%H:%M:%S)" "$grid" "$(get N "$line")" \
        "$images" "$cfg" "$cache" "$repeats" "$idle" "$(get s "$line")" "$(get img_s "$line")" "$(get gflops "$line")" \
        "$(get sys_s "$line")" >>"$SAMPLE_TSV"
    printf '  %2sx%-2s cfg %s %-8s %4s images: %8s s per call = %9s images/s (idle cores before %s)\n' "$grid" "$grid" \
        "$cfg" "$([ "$cache" = 1 ] && echo cache || echo no-cache)" "$images" "$(get s "$line")" "$(get img_s "$line")" "$idle"
}

if [ "$DO_SAMPLE" = 1 ]; then
    echo
    echo "sampling: what the FLOP model predicts for the KV cache's speed-up, before measuring it"
    { "$BIN" predict --grid 7; "$BIN" predict --grid 14; } | tee "$PREDICT"
    echo
    echo "sampling: $IMAGES images per call ($SLOW_IMAGES for uncached 14x14), median of $SAMPLE_REPEATS call(s) ($SLOW_REPEATS for uncached 14x14)"
    for grid in 7 14; do
        for cfg in 1 2; do
            sample_run "$grid" "$cfg" 1 "$IMAGES" "$SAMPLE_REPEATS"
            if [ "$grid" = 14 ]; then
                sample_run "$grid" "$cfg" 0 "$SLOW_IMAGES" "$SLOW_REPEATS"
            else
                sample_run "$grid" "$cfg" 0 "$IMAGES" "$SAMPLE_REPEATS"
            fi
        done
    done
fi

# ------------------------------------------------------------------ report

$PY - "$TRAIN_TSV" "$SAMPLE_TSV" "$PREDICT" "$OUT/ar_bench.md" "$DO_TRAIN" "$DO_SAMPLE" "${AR_BENCH_QUICK:-0}" \
    "$REPEATS" "$STEPS" "$WARMUP" <<'EOF'
"""Medians of the runs as a markdown fragment."""
import csv, os, re, statistics, subprocess, sys, time

train_tsv, sample_tsv, predict_txt, md, do_train, do_sample, quick, repeats, steps, warmup = sys.argv[1:11]
train = list(csv.DictReader(open(train_tsv), delimiter="\t"))
sample = list(csv.DictReader(open(sample_tsv), delimiter="\t"))

def med(rows, col):
    v = [float(r[col]) for r in rows if r[col]]
    return statistics.median(v) if v else float("nan")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "?"
dirty = subprocess.run(["git", "status", "--porcelain", "--", "nn", "train", "bench/ar_bench.c", "bench/torch_ar.py"],
                       capture_output=True, text=True).stdout.split("\n")
dirty = sorted({l[3:] for l in dirty if l.strip()})
if dirty:
    commit += " plus uncommitted changes to " + ", ".join(dirty)
out = ["## AR model benchmark (issue 6)", "",
       "%s; %d cores (`nproc`), %s; commit %s.%s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
                                                   cpu, commit, " **Quick smoke run: the numbers mean nothing.**"
                                                   if quick == "1" else ""),
       "Model: configs/fmnist-rar.ini: 7×7 = 49 codes, K = 512, 10 classes + null, 6 layers, 4 heads, width 128, "
       "target-aware, GELU (erf), fp32; 1,335,168 parameters."]

if do_train == "1" and train:
    tools = [("tessera1", "tessera, 1 process"), ("torch1", "PyTorch, 1 thread"), ("tessera2", "tessera, 2 ranks (mpirun)"),
             ("torch2", "PyTorch, 2 threads (torch + OpenBLAS)"), ("torch2b", "PyTorch, 1 thread + OpenBLAS 2")]
    rows = {t: [r for r in train if r["tool"] == t] for t, _ in tools}
    step = {t: med(rows[t], "step_s") for t, _ in tools}
    tok = {t: med(rows[t], "tok_s") for t, _ in tools}
    best2 = max((tok[t] for t in ("torch2", "torch2b") if rows[t]), default=float("nan"))
    att = next((r["attention"] for r in train if r["attention"]), "?")
    tv = next((r["torch"] for r in train if r["torch"]), "?")
    out += ["", "### Training (RAR, r = 1: every sample in a fresh random order)", "",
            "One step = orders + sequences (Fisher–Yates, ar_sequence), forward, zero_grad, backward, [gradient "
            "allreduce], clip 1.0, AdamW (lr 1e-3, β 0.9/0.96, wd 0.03). Random codes and classes, label dropout 0.1. "
            "%s warm-up + %s timed steps per run, median; the table gives the median of %s run(s). Tokens/s = "
            "examples × 49 / step. PyTorch %s, attention %s (q·kᵀ, masked_fill with a causal mask, softmax, ·v)." % (
                warmup, steps, repeats, tv, "written out" if att == "explicit" else att),
            "",
            "| case | examples/step | step (s) | tokens/s | GFLOP/s | ÷ PyTorch 1 thread | ÷ PyTorch best on 2 cores "
            "| runs (tokens/s) | idle cores before |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for t, name in tools:
        if not rows[t]:
            continue
        r2 = "%.2f×" % (tok[t] / best2) if best2 == best2 else ""
        out.append("| %s | %s | %.4f | %.0f | %.1f | %.2f× | %s | %s | %s |" % (
            name, rows[t][0]["batch"], step[t], tok[t], med(rows[t], "gflops"), tok[t] / tok["torch1"], r2,
            ", ".join("%.0f" % float(r["tok_s"]) for r in rows[t]), ", ".join(r["idle_before"] for r in rows[t])))
    out.append("")
    for t in ("tessera1", "tessera2"):
        if rows[t]:
            out.append("- %s parts (median s): orders + sequences %.4f, forward %.4f, zero_grad + backward %.4f, "
                       "[allreduce] + clip + AdamW %.4f." % (t, med(rows[t], "prep_s"), med(rows[t], "fwd_s"),
                                                             med(rows[t], "bwd_s"), med(rows[t], "opt_s")))
    if rows["tessera2"]:
        out.append("- tessera 2 ranks vs 1 process (tokens/s): %.2f×." % (tok["tessera2"] / tok["tessera1"]))
    out.append("- GFLOP/s counts B·T·(6·N_mat + 12·L·T·C) per step (attention over the full T×T), as "
               "bench/train_bench.c.")

if do_sample == "1" and sample:
    pred, sysfrac = {}, []
    for line in open(predict_txt):
        if line.startswith("PREDICT"):
            kv = dict(f.split("=") for f in line.split()[1:])
            pred[kv["N"]] = kv
    out += ["", "### Sampling: the key/value cache", "",
            "`ar_sample_codes`, raster order, random weights, temperature 1, all codes; guidance cfg 2 runs two rows "
            "(class, null) per image. Uncached = `no_cache = 1`: each step reruns the whole prefix (and computes its "
            "logits at every slot).", "",
            "Prediction (forward FLOPs; per token 2·12·C²·L = 2.36 MFLOP in the blocks + 2·C·K = 0.13 MFLOP lm head, "
            "attention 4·C·L = 3072 FLOP per key read). The uncached sampler pushes N(N+1)/2 token positions through "
            "the linear layers and the head, the cached one N: a ratio of (N+1)/2. Attention costs Σ T(T+1)/2 ≈ N³/6 "
            "key reads uncached against N(N+1)/2 cached, a ratio of (N+2)/3, so it pulls the prediction down:", "",
            "| codes N | linear + head ratio (N+1)/2 | FLOP-weighted (exact causal attention) | as nn/attention.c "
            "computes it (32-row blocks) | GFLOP per row, cached / uncached |", "|---:|---:|---:|---:|---|"]
    for N in sorted(pred, key=int):
        p = pred[N]
        out.append("| %s | %.1f | %.1f× | %.1f× | %.4f / %.2f |" % (N, float(p["lin_ratio"]), float(p["flop_ratio"]),
                                                                  float(p["flop_ratio_blocked"]),
                                                                  float(p["cached_gflop"]), float(p["uncached_gflop"])))
    out += ["", "| codes | guidance | images/call | cached images/s | GFLOP/s | uncached images/s | GFLOP/s "
            "| measured speed-up | predicted (FLOPs) | measured ÷ predicted |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for grid in ("7", "14"):
        for cfg in ("1", "2"):
            c = [r for r in sample if r["grid"] == grid and r["cfg"] == cfg and r["cache"] == "1"]
            u = [r for r in sample if r["grid"] == grid and r["cfg"] == cfg and r["cache"] == "0"]
            if not c or not u:
                continue
            N = c[0]["N"]
            speed = med(c, "img_s") / med(u, "img_s")
            p = float(pred[N]["flop_ratio"]) if N in pred else float("nan")
            out.append("| %s×%s = %s | %s | %s / %s | %.1f | %.1f | %.2f | %.1f | %.1f× | %.1f× | %.2f |" % (
                grid, grid, N, "off" if cfg == "1" else "cfg 2", c[0]["images"], u[0]["images"], med(c, "img_s"),
                med(c, "gflops"), med(u, "img_s"), med(u, "gflops"), speed, p, speed / p))
    out += ["", "- Median of the calls per case (every call in ar_sample_runs.tsv). GFLOP/s are the FLOP model's "
            "forward FLOPs (uncached attention as computed) over the measured time.",
            "- Measured ÷ predicted below 1 means the cached sampler does fewer FLOPs per second than the uncached "
            "one: its matrix products have one row per sequence instead of one per prefix slot, its attention is "
            "matrix-vector products over every cached key and value (memory-bound at long sequences), and the per-step work outside the model (drawing a code over K logits per "
            "row) is the same for both. Above 1, the uncached sampler loses time outside its FLOPs: it reallocates "
            "the activations for every new prefix length (gpt_forward), and the fresh pages fault in as system time."]
    for grid in ("7", "14"):
        for cfg in ("1", "2"):
            for cache in ("1", "0"):
                r = [x for x in sample if x["grid"] == grid and x["cfg"] == cfg and x["cache"] == cache]
                if r and r[0].get("sys_s"):
                    sysfrac.append("%s×%s %s %s %.0f%%" % (grid, grid, "off" if cfg == "1" else "cfg 2",
                                                           "cached" if cache == "1" else "uncached",
                                                           100 * med(r, "sys_s") / med(r, "s")))
    if sysfrac:
        out.append("- System CPU time as a share of the wall time per call: " + ", ".join(sysfrac) + ".")
text = "\n".join(out) + "\n"
open(md, "w").write(text)
print()
print(text)
EOF
echo "report: $OUT/ar_bench.md; runs: $TRAIN_TSV, $SAMPLE_TSV; output: $LOG"
