#!/usr/bin/env bash
# FD of an AR run's samples at each of its checkpoints, to see whether training has
# flattened (docs/RESULTS.md):  tools/ar_fd_by_step.sh RUN_DIR OUT_DIR [N] [SCALE]
# N samples (default 5000, seed 1) with guidance SCALE (default 1) per checkpoint, FD
# against the 10,000 test images in the demo's feature network; prints "step FD" lines.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=$1 OUT=$2 N=${3:-5000} SCALE=${4:-1}
T=build/tessera
EVALNET=$(ls demo-out/evalnet-*/ckpt_*.bin | tail -1)
RANKS=$(( $(nproc) >= 2 ? 2 : 1 ))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$OUT"
for ckpt in "$RUN"/ckpt_*.bin; do
  step=$(basename "$ckpt" .bin | sed 's/ckpt_0*//')
  store=$OUT/step$step-cfg$SCALE.lmdb
  [ -d "$store" ] || mpirun -np "$RANKS" --oversubscribe --bind-to none $T sample --ckpt "$ckpt" --n "$N" -o "$store" \
    --cfg "$SCALE" 2>&1 | grep -v '^sample:' > /dev/null
  $T eval fd demo-out/fmnist-test.lmdb "$store" --net "$EVALNET" --no-floor --json "$OUT/step$step-cfg$SCALE-fd.json" > /dev/null
  echo "$step $(/usr/bin/python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["rows"][0]["value"])' "$OUT/step$step-cfg$SCALE-fd.json")"
done
