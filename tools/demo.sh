#!/usr/bin/env bash
# `make demo`: the main job on the embedded default (configs/demo.ini), Fashion-MNIST.
#   1. Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist) become a JPEG folder tree,
#      once: OUT/fashion-mnist-jpeg/{train,test}/<class>/<n>.jpg, so the demo runs the real
#      JPEG path rather than copying raw pixels.
#   2. `tessera ingest` decodes each split through the ZeroMQ worker pool into a pixel store:
#      OUT/fmnist-train.lmdb (60,000 records) and OUT/fmnist-test.lmdb (10,000 records).
#   3. `tessera export` draws a grid of the train store: OUT/fmnist-train.png.
# Re-running is cheap: the JPEG tree is kept and ingest resumes (finds everything done).
set -euo pipefail
cd "$(dirname "$0")/.."
T=build/tessera
ini() { awk -F' *= *' -v key="$1" '/^\[/{s=$0} s=="[ingest]" && $1==key {print $2}' configs/demo.ini; }
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
echo
$T info "$OUT/fmnist-train.lmdb"
echo
echo "demo done: $OUT/fmnist-train.lmdb ($($T info "$OUT/fmnist-train.lmdb" | awk '/^records:/{print $2}') records)," \
     "$OUT/fmnist-test.lmdb ($($T info "$OUT/fmnist-test.lmdb" | awk '/^records:/{print $2}') records), $OUT/fmnist-train.png"
