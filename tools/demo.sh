#!/usr/bin/env bash
# `make demo`: the main job on the embedded default (configs/demo.ini), Fashion-MNIST.
#   1. Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist) become a JPEG folder tree,
#      once: OUT/fashion-mnist-jpeg/{train,test}/<class>/<n>.jpg, so the demo runs the real
#      JPEG path rather than copying raw pixels.
#   2. `tessera ingest` decodes each split through the ZeroMQ worker pool into a pixel store:
#      OUT/fmnist-train.lmdb (60,000 records) and OUT/fmnist-test.lmdb (10,000 records).
#   3. `tessera export` draws a grid of the train store: OUT/fmnist-train.png.
#   4. `tessera train` (MPI, one rank per core) trains the VQ-VAE tokenizer of
#      configs/vq-fmnist.ini on a short schedule ([tokenizer] steps), validating on the test
#      split: OUT/vq-fmnist/{metrics.jsonl,reconstructions.png,ckpt_*.bin}.
#   5. `tessera tokenize` turns both splits into token stores (7×7 codes of 512):
#      OUT/fmnist-train.tokens, OUT/fmnist-test.tokens.
#   6. The feature network of `tessera eval` (configs/evalnet-fmnist.ini, model = evalnet)
#      trains once: its run directory is named by the config's checksum, so it is reused
#      until the config changes. OUT/evalnet-<cksum>/{ckpt_*.bin,predictions.png}.
#   7. Evaluation of what exists: the tokenizer's test reconstructions (detokenized) against
#      the test split — PSNR/SSIM, FD, precision/recall, CAS, each with its floor — and a
#      linear probe of its encoder features.
#   8. `tessera train` trains the RAR generator ([generator]: configs/fmnist-rar.ini on a short
#      schedule) on the train tokens; `tessera sample` draws [generator] samples images with
#      classifier-free guidance (all ranks), decoded by the tokenizer, and a grid; they are
#      scored against the test split (FD, precision/recall, CAS, with floors).
#   9. `tessera eval report` writes report.md for the tokenizer's, the feature network's and
#      the generator's runs.
# Re-running is cheap: the JPEG tree is kept, ingest and tokenize resume, and training
# resumes from its last checkpoint (finds the schedule done).
set -euo pipefail
cd "$(dirname "$0")/.."
T=build/tessera
ini() { awk -F' *= *' -v sec="[${2:-ingest}]" -v key="$1" '/^\[/{s=$0} s==sec && $1==key {print $2}' configs/demo.ini; }
SIZE=$(ini size) CHANNELS=$(ini channels) RESIZE=$(ini resize) CROP=$(ini crop) OUT=$(ini out)
FM=/usr/share/datasets/fashion-mnist
NAMES="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
mkdir -p "$OUT"

for split in train test; do
  idx=$FM/$([ $split = train ] && echo train || echo t10k)-images-idx3-ubyte.gz
  tree=$OUT/fashion-mnist-jpeg/$split
  if [ ! -f "$tree/.complete" ]; then
    echo "== exporting Fashion-MNIST $split to JPEGs in $tree"
    rm -rf "$OUT/idx-$split.lmdb" "$tree"
    $T ingest "$idx" -o "$OUT/idx-$split.lmdb" --size 28 --channels 1 --label-names "$NAMES"
    $T export "$OUT/idx-$split.lmdb" --dir "$tree" --format jpg --quality 95
    rm -rf "$OUT/idx-$split.lmdb"
    touch "$tree/.complete"
  fi
  echo "== ingesting $tree"
  $T ingest "$tree" -o "$OUT/fmnist-$split.lmdb" --size "$SIZE" --channels "$CHANNELS" --resize "$RESIZE" --crop "$CROP"
done

echo "== grid"
$T export "$OUT/fmnist-train.lmdb" --grid "$OUT/fmnist-train.png" --n 100

VQ_CONFIG=$(ini config tokenizer) VQ_STEPS=$(ini steps tokenizer) VQ_RUN=$(ini run_dir tokenizer)
VQ_USAGE_DECAY=$(ini usage_decay tokenizer)
RANKS=$(( $(nproc) >= 2 ? 2 : 1 ))  # the global batch (64) splits evenly
echo "== training the VQ tokenizer ($VQ_CONFIG, $VQ_STEPS steps, $RANKS ranks)"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 \
  mpirun -np "$RANKS" --oversubscribe --bind-to none $T train "$VQ_CONFIG" steps="$VQ_STEPS" run_dir="$VQ_RUN" \
  store="$OUT/fmnist-train.lmdb" val_store="$OUT/fmnist-test.lmdb" val_every="$VQ_STEPS" ckpt_every=100 log_every=50 \
  usage_decay="$VQ_USAGE_DECAY"
CKPT=$(ls "$VQ_RUN"/ckpt_*.bin | tail -1)
for split in train test; do
  echo "== tokenizing $split with $CKPT"
  $T tokenize --tokenizer "$CKPT" "$OUT/fmnist-$split.lmdb" -o "$OUT/fmnist-$split.tokens"
done

EV_CONFIG=$(ini config evalnet)
EV_RUN=$OUT/evalnet-$(cksum "$EV_CONFIG" | cut -d' ' -f1)
echo "== training the feature network ($EV_CONFIG, once: $EV_RUN)"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 \
  mpirun -np "$RANKS" --oversubscribe --bind-to none $T train "$EV_CONFIG" run_dir="$EV_RUN" \
  store="$OUT/fmnist-train.lmdb" val_store="$OUT/fmnist-test.lmdb"
EVALNET=$(ls "$EV_RUN"/ckpt_*.bin | tail -1)

echo "== evaluating the tokenizer's test reconstructions with $EVALNET"
$T detokenize --tokenizer "$CKPT" "$OUT/fmnist-test.tokens" -o "$OUT/fmnist-test-recon.lmdb"
mkdir -p "$VQ_RUN/eval"
$T eval recon "$OUT/fmnist-test.lmdb" "$OUT/fmnist-test-recon.lmdb" --json "$VQ_RUN/eval/1-recon.json"
for metric in fd prdc cas; do
  $T eval $metric "$OUT/fmnist-test.lmdb" "$OUT/fmnist-test-recon.lmdb" --net "$EVALNET" \
    --floor "$OUT/fmnist-train.lmdb" --json "$VQ_RUN/eval/2-$metric.json"
done
$T eval probe "$OUT/fmnist-train.lmdb" "$OUT/fmnist-test.lmdb" --net "$CKPT" --n-train 20000 \
  --json "$VQ_RUN/eval/3-probe.json"

AR_CONFIG=$(ini config generator) AR_RUN=$(ini run_dir generator) AR_STEPS=$(ini steps generator)
AR_SAMPLES=$(ini samples generator) AR_CFG=$(ini cfg generator)
echo "== training the RAR generator ($AR_CONFIG, $AR_STEPS steps, $RANKS ranks)"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 \
  mpirun -np "$RANKS" --oversubscribe --bind-to none $T train "$AR_CONFIG" steps="$AR_STEPS" run_dir="$AR_RUN" \
  store="$OUT/fmnist-train.tokens" anneal_unit="$(ini anneal_unit generator)" \
  anneal_start="$(ini anneal_start generator)" anneal_end="$(ini anneal_end generator)" ckpt_every=200 log_every=25
AR_CKPT=$(ls "$AR_RUN"/ckpt_*.bin | tail -1)
echo "== sampling $AR_SAMPLES images from $AR_CKPT (guidance $AR_CFG)"
rm -rf "$OUT/rar-samples.lmdb"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 \
  mpirun -np "$RANKS" --oversubscribe --bind-to none $T sample --ckpt "$AR_CKPT" --n "$AR_SAMPLES" \
  -o "$OUT/rar-samples.lmdb" --cfg "$AR_CFG" --grid "$AR_RUN/samples-cfg$AR_CFG.png"
mkdir -p "$AR_RUN/eval"
for metric in fd prdc cas; do
  $T eval $metric "$OUT/fmnist-test.lmdb" "$OUT/rar-samples.lmdb" --net "$EVALNET" \
    --floor "$OUT/fmnist-train.lmdb" --json "$AR_RUN/eval/1-$metric.json"
done

$T eval report "$VQ_RUN"
$T eval report "$EV_RUN"
$T eval report "$AR_RUN"

echo
$T info "$OUT/fmnist-test.tokens"
echo
echo "demo done: $OUT/fmnist-train.lmdb ($($T info "$OUT/fmnist-train.lmdb" | awk '/^records:/{print $2}') records)," \
     "$OUT/fmnist-test.lmdb ($($T info "$OUT/fmnist-test.lmdb" | awk '/^records:/{print $2}') records), $OUT/fmnist-train.png;"
echo "  tokenizer $CKPT (last validation: $(tail -1 "$VQ_RUN/metrics.jsonl" | /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin); print("PSNR %.2f dB, SSIM %.3f, %.0f%% of codes used" % (m["val_psnr"], m["val_ssim"], 100*m["val_codebook_usage"]))')), $VQ_RUN/reconstructions.png;"
echo "  token stores $OUT/fmnist-train.tokens, $OUT/fmnist-test.tokens"
echo "  feature network $EVALNET (test accuracy $(tail -1 "$EV_RUN/metrics.jsonl" | /usr/bin/python3 -c 'import json,sys; print("%.2f%%" % (100*json.load(sys.stdin)["val_accuracy"]))'))"
echo "  generator $AR_CKPT: $AR_SAMPLES samples in $OUT/rar-samples.lmdb, grid $AR_RUN/samples-cfg$AR_CFG.png"
echo "  reports: $VQ_RUN/report.md, $EV_RUN/report.md, $AR_RUN/report.md"
