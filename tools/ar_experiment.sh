#!/usr/bin/env bash
# The evaluation of one model of the raster vs RAR experiment (docs/RESULTS.md):
#   tools/ar_experiment.sh CKPT OUT_DIR [SCALE ...]
# 1. For each guidance scale (default 1 1.25 1.5 2 3 4, constant schedule): 10,000 samples
#    (seed 1, classes in turn) and their FD against the 10,000 test images.
# 2. Without guidance (1) and at the guided scale (> 1) of lowest FD: two more seeds, then
#    FD, KID, precision/recall/density/coverage and CAS over the three seeds (mean ± sample
#    std). OUT_DIR/best_cfg is the scale of lowest FD overall (1 when guidance only hurts).
# Everything lands in OUT_DIR: the sample stores, grids, and one JSON per evaluation
# (docs/EVAL.md). Needs `make demo`'s stores and feature network.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=$1 OUT=$2
shift 2
SCALES=${*:-1 1.25 1.5 2 3 4}
T=build/tessera
DEMO=demo-out
REAL=$DEMO/fmnist-test.lmdb FLOOR=$DEMO/fmnist-train.lmdb
EVALNET=$(ls "$DEMO"/evalnet-*/ckpt_*.bin | tail -1)
RANKS=$(( $(nproc) >= 2 ? 2 : 1 ))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$OUT"

draw() { # scale seed
  local store=$OUT/cfg$1-seed$2.lmdb
  [ -d "$store" ] && return 0
  mpirun -np "$RANKS" --oversubscribe --bind-to none $T sample --ckpt "$CKPT" --n 10000 -o "$store" \
    --cfg "$1" --seed "$2" --grid "$OUT/cfg$1-seed$2.png" 2>&1 | grep -v '^sample:' || true
  [ -d "$store" ]
}

better() { /usr/bin/python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' "$1" "$2"; }
best= best_fd= guided= guided_fd=
for s in $SCALES; do
  draw "$s" 1
  $T eval fd "$REAL" "$OUT/cfg$s-seed1.lmdb" --net "$EVALNET" --no-floor --json "$OUT/sweep-cfg$s.json" > /dev/null
  fd=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"][0]["value"])' "$OUT/sweep-cfg$s.json")
  echo "cfg $s: FD $fd"
  if [ -z "$best" ] || better "$fd" "$best_fd"; then best=$s best_fd=$fd; fi
  if [ "$s" != 1 ] && { [ -z "$guided" ] || better "$fd" "$guided_fd"; }; then guided=$s guided_fd=$fd; fi
done
echo "best guidance scale: $best (FD $best_fd with seed 1); best guided: $guided (FD $guided_fd)"
echo "$best" > "$OUT/best_cfg"
echo "$guided" > "$OUT/best_guided_cfg"

for s in 1 $guided; do
  draw "$s" 2
  draw "$s" 3
  fakes=("$OUT/cfg$s-seed1.lmdb" "$OUT/cfg$s-seed2.lmdb" "$OUT/cfg$s-seed3.lmdb")
  for metric in fd kid prdc cas; do
    $T eval $metric "$REAL" "${fakes[@]}" --net "$EVALNET" --floor "$FLOOR" --json "$OUT/cfg$s-$metric.json"
  done
done
