#!/usr/bin/env bash
# Training benchmark (BENCH.md, "Training benchmark"): tessera's GPT training step at 1 and
# 2 MPI ranks against the same model in PyTorch on 1 thread and on the whole machine (two
# settings: torch and OpenBLAS both at 2 threads, and torch's own kernels at 1 thread with
# OpenBLAS at 2, which is faster here), 2 ranks again with the gradient sum overlapping
# backward (grad_bucket_mb = 4), then a sweep over sequence length and width. Run after
# `make all`:
#
#   bash bench/run_train_bench.sh
#
# Environment: TB_REPEATS (default 3) runs per main case, TB_STEPS (10) timed steps per
# run, TB_WARMUP (3), TB_SWEEP (1; 0 skips the sweep), TB_SWEEP_REPEATS (3),
# TB_SWEEP_TORCH (1; 0 = tessera only in the sweep), TB_IDLE_WAIT (600 s to wait for a
# running `tessera train` to finish), TB_BLAS ("env detect": the OpenBLAS kernel settings
# the main cases run under, each for both tools alike: "env" as the environment sets
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, "detect" with both unset so OpenBLAS picks the
# kernel for this CPU; the sweep and breakdown use the first). Every run goes to
# bench/out/train_runs.tsv, the tables to bench/out/train_results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
OUT=bench/out
mkdir -p "$OUT"
REPEATS=${TB_REPEATS:-3}
STEPS=${TB_STEPS:-10}
WARMUP=${TB_WARMUP:-3}
SWEEP=${TB_SWEEP:-1}
SWEEP_REPEATS=${TB_SWEEP_REPEATS:-3}
SWEEP_TORCH=${TB_SWEEP_TORCH:-1}
IDLE_WAIT=${TB_IDLE_WAIT:-600}
BLAS_MODES=${TB_BLAS:-env detect}
for m in $BLAS_MODES; do
    case $m in env | detect) ;; *) echo "TB_BLAS: unknown setting '$m' (env, detect)" >&2; exit 2 ;; esac
done
FIRST_MODE=${BLAS_MODES%% *} # the sweep's and the breakdown's
MODE=$FIRST_MODE
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

[ -x build/tessera ] || { echo "run 'make all' first" >&2; exit 1; }
# The benchmark links the library objects make built (png/grid need libpng: left out).
OBJS="build/nn/*.o build/train/gpt.o build/train/dist.o build/train/grad_sync.o $(ls build/core/*.o | grep -v -e png_write -e grid)"
# shellcheck disable=SC2086
cc -O3 -march=native -I. bench/train_bench.c $OBJS -o "$OUT/train_bench" -lopenblas \
    $(mpicc --showme:compile) $(mpicc --showme:link) -lm

# shellcheck source=bench/idle.sh
source bench/idle.sh

TSV=$OUT/train_runs.tsv
HEADER='time\ttool\tseq\tbatch\twidth\tidle_before\tstep_s\ttok_s\tgflops\tpeak1024\tfwd_s\tbwd_s\tar_s\topt_s\tblas_mode\tblas_core\n'
# A TSV from before the blas columns is set aside, not mixed with the new rows.
if [ -f "$TSV" ] && ! head -1 "$TSV" | grep -q blas_mode; then mv "$TSV" "$TSV.old"; fi
# shellcheck disable=SC2059
[ -f "$TSV" ] || printf "$HEADER" >"$TSV"

# blas MODE COMMAND...: runs the command under that OpenBLAS kernel setting (see TB_BLAS).
blas() {
    local mode=$1
    shift
    if [ "$mode" = detect ]; then env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; else "$@"; fi
}

# run TOOL SEQ BATCH WIDTH [extra args...]: one run, appended to the TSV; prints step_s
run() {
    local tool=$1 seq=$2 batch=$3 width=$4 line idle
    shift 4
    wait_while_training
    idle=$(idle_cores)
    local args=(--seq "$seq" --batch "$batch" --width "$width" --steps "$STEPS" --warmup "$WARMUP" "$@")
    case $tool in
    tessera1) line=$(blas "$MODE" "$OUT/train_bench" "${args[@]}" | tee -a "$OUT/train_log.txt" | grep '^RESULT') ;;
    tessera2) line=$(blas "$MODE" mpirun -np 2 --bind-to none "$OUT/train_bench" "${args[@]}" | tee -a "$OUT/train_log.txt" | grep '^RESULT') ;;
    tessera2o) line=$(blas "$MODE" mpirun -np 2 --bind-to none "$OUT/train_bench" "${args[@]}" --grad-bucket-mb 4 | tee -a "$OUT/train_log.txt" | grep '^RESULT') ;;
    torch1) line=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 blas "$MODE" $PY bench/torch_gpt.py --threads 1 "${args[@]}" | tee -a "$OUT/train_log.txt" | grep '^RESULT') ;;
    torch2b) line=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=1 blas "$MODE" $PY bench/torch_gpt.py --threads 1 "${args[@]}" | tee -a "$OUT/train_log.txt" | grep '^RESULT') ;;
    torch2) line=$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 blas "$MODE" $PY bench/torch_gpt.py --threads 2 "${args[@]}" | tee -a "$OUT/train_log.txt" | grep '^RESULT') ;;
    esac
    get() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%H:%M:%S)" "$tool" "$seq" \
        "$batch" "$width" "$idle" "$(get step_s)" "$(get tok_s)" "$(get gflops)" "$(get peak1024)" "$(get fwd_s)" \
        "$(get bwd_s)" "$(get ar_s)" "$(get opt_s)" "$MODE" "$(get blas_core)" >>"$TSV"
    echo "$(date -u +%H:%M:%S) $tool [$MODE: $(get blas_core)] seq=$seq batch=$batch width=$width idle=$idle" \
        "step_s=$(get step_s)" >&2
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# col TOOL SEQ BATCH WIDTH COLUMN: median of that column over this invocation's runs
# under the kernel setting $MODE; allruns: their step times
START=$(date -u +%H:%M:%S)
col() {
    awk -F'\t' -v t="$1" -v s="$2" -v b="$3" -v w="$4" -v c="$5" -v since="$START" -v m="$MODE" \
        'NR > 1 && $1 >= since && $2 == t && $3 == s && $4 == b && $5 == w && $15 == m {print $c}' "$TSV" | median
}
allruns() {
    awk -F'\t' -v t="$1" -v s="$2" -v b="$3" -v w="$4" -v since="$START" -v m="$MODE" \
        'NR > 1 && $1 >= since && $2 == t && $3 == s && $4 == b && $5 == w && $15 == m {printf "%s%s", sep, $7; sep=", "}' "$TSV"
}
core_of() { awk -F'\t' -v since="$START" -v m="$MODE" 'NR > 1 && $1 >= since && $15 == m {print $16}' "$TSV" | sort -u | paste -sd/; }

: >"$OUT/train_log.txt"
# Main cases: the tools take turns, REPEATS rounds, under each kernel setting.
for MODE in $BLAS_MODES; do
    for r in $(seq 1 "$REPEATS"); do
        for tool in tessera1 tessera2 tessera2o torch1 torch2 torch2b; do run "$tool" 64 32 256; done
    done
done
MODE=$FIRST_MODE
# One run with the per-part breakdown (1 rank).
wait_while_training
blas "$MODE" "$OUT/train_bench" --no-peak --breakdown --steps "$STEPS" --warmup "$WARMUP" >"$OUT/train_breakdown.txt"

if [ "$SWEEP" = 1 ]; then
    # Tokens per step held at 2048: batch 32/8/2 at sequence 64/256/1024.
    for r in $(seq 1 "$SWEEP_REPEATS"); do
        for sb in "256 8" "1024 2"; do
            run tessera1 ${sb% *} ${sb#* } 256 --no-peak
            if [ "$SWEEP_TORCH" = 1 ]; then run torch1 ${sb% *} ${sb#* } 256 --no-peak; fi
        done
        for w in 128 512; do
            run tessera1 64 32 "$w" --no-peak
            if [ "$SWEEP_TORCH" = 1 ]; then run torch1 64 32 "$w" --no-peak; fi
        done
    done
fi

{
    for MODE in $BLAS_MODES; do
        echo
        echo "OpenBLAS kernel setting '$MODE' (kernel: $(core_of)):"
        echo
        echo "| case | step s (median) | tokens/s | GFLOP/s | PyTorch 1 thread / this | PyTorch best on 2 cores / this | runs (s) |"
        echo "|---|---:|---:|---:|---:|---:|---|"
        p1=$(col torch1 64 32 256 7)
        p2=$( (col torch2 64 32 256 7; col torch2b 64 32 256 7) | grep . | sort -g | head -1)
        for tool in tessera1 tessera2 tessera2o torch1 torch2 torch2b; do
            s=$(col $tool 64 32 256 7)
            [ -z "$s" ] && continue
            echo "| $tool | $s | $(col $tool 64 32 256 8) | $(col $tool 64 32 256 9) | $(awk -v a="$p1" -v b="$s" 'BEGIN{printf "%.2f×", a/b}') | $(awk -v a="$p2" -v b="$s" 'BEGIN{printf "%.2f×", a/b}') | $(allruns $tool 64 32 256) |"
        done
        t1=$(col tessera1 64 32 256 7)
        t2=$(col tessera2 64 32 256 7)
        echo
        echo "tessera 2 ranks vs 1 rank: $(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.2f×", a/b}')"
        echo "sgemm 1024^3 single thread (tessera's OpenBLAS, median of runs): $(col tessera1 64 32 256 10) GFLOP/s;" \
            "with both ranks running it at once: $(col tessera2 64 32 256 10) GFLOP/s per core;" \
            "torch.matmul 1 thread: $(col torch1 64 32 256 10), 2 threads: $(col torch2 64 32 256 10)"
        echo "tessera2o = 2 ranks with the gradient sum overlapping backward in 4 MB buckets (grad_bucket_mb = 4)"
        echo "torch2 = torch.set_num_threads(2) with OMP/OpenBLAS at 2; torch2b = torch at 1 thread, OpenBLAS at 2"
        echo "tessera 1 rank parts (median s): forward $(col tessera1 64 32 256 11), backward $(col tessera1 64 32 256 12)," \
            "clip+adamw $(col tessera1 64 32 256 14); 2 ranks: forward $(col tessera2 64 32 256 11), backward" \
            "$(col tessera2 64 32 256 12), allreduce $(col tessera2 64 32 256 13), clip+adamw $(col tessera2 64 32 256 14);" \
            "overlapped: backward $(col tessera2o 64 32 256 12), rest of the sum $(col tessera2o 64 32 256 13)"
    done
    MODE=$FIRST_MODE
    if [ "$SWEEP" = 1 ]; then
        echo
        echo "sweep under the kernel setting '$MODE' ($(core_of)):"
        echo
        echo "| sweep | tessera 1 rank step s | GFLOP/s | PyTorch 1 thread step s | GFLOP/s | tessera/PyTorch |"
        echo "|---|---:|---:|---:|---:|---:|"
        for c in "64 32 128" "64 32 256" "64 32 512" "256 8 256" "1024 2 256"; do
            set -- $c
            s=$(col tessera1 "$1" "$2" "$3" 7)
            p=$(col torch1 "$1" "$2" "$3" 7)
            ratio=$([ -n "$p" ] && [ -n "$s" ] && awk -v a="$p" -v b="$s" 'BEGIN{printf "%.2f×", a/b}' || echo "")
            echo "| seq $1, batch $2, width $3 | $s | $(col tessera1 "$1" "$2" "$3" 9) | $p | $(col torch1 "$1" "$2" "$3" 9) | $ratio |"
        done
    fi
    echo
    echo "breakdown (1 rank):"
    sed -n '/^breakdown/,/^RESULT/p' "$OUT/train_breakdown.txt" | grep -v '^RESULT'
} | tee "$OUT/train_results.md"
