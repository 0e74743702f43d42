#!/usr/bin/env bash
# Runs the named libFuzzer targets (all of them by default) for FUZZ_SECONDS (default 600 via `make fuzz`), seeded with
# the test fixtures. New crashes land in tests/out/fuzz/<target>/ as crash-* files.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
fixtures=${TESSERA_FIXTURES:-tests/out/fixtures}
[ -d "$fixtures" ] || /usr/bin/python3 tests/fixtures/make_fixtures.py "$fixtures"
status=0
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(cd build-fuzz && ls fuzz_*))
for name in "${targets[@]}"; do
  bin=build-fuzz/$name
  corpus=tests/out/fuzz/$name/corpus
  mkdir -p "$corpus"
  if [ "$name" = fuzz_decode ]; then
    # fuzz_decode reads its options from the first byte: seed with each JPEG behind a few.
    i=0
    for f in $(find "$fixtures" -maxdepth 1 -name '*.jpg' -size -200k | sort); do
      for knob in 00 05 0e 1b 27 3c; do printf "\\x$knob" | cat - "$f" > "$corpus/seed-$i-$knob"; done
      i=$((i + 1))
    done
  fi
  if [ "$name" = fuzz_checkpoint ]; then
    # A small well-formed VQ-VAE checkpoint without its CRC trailer (the target appends it).
    /usr/bin/python3 - "$corpus/seed-vqvae" <<'PY'
import struct, sys
config = ("downsample = 4\nchannels = 8,8,8\ngroups = 4\ncodebook_size = 32\ncode_dim = 8\n"
          "codebook = ema  # default\nrecon_loss = l2\n").encode()
n_params = 16
head = b"TSRCKPT\0" + struct.pack("<II", 1, 256) + b"vqvae".ljust(32, b"\0")
head += struct.pack("<QQQ4QQII", 7, 0, 7, 1, 2, 3, 4, n_params, 4, 12)
head += struct.pack("<12Q", 28, 28, 1, 4, 0, 1, 4, 32, 8, 0, 0, 0) + struct.pack("<IQ", 0, len(config))
open(sys.argv[1], "wb").write(head.ljust(256, b"\0") + config + bytes(4 * n_params))
PY
  fi
  echo "fuzzing $name for ${seconds}s"
  (cd tests/out/fuzz/$name && "../../../../$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 corpus) \
    > tests/out/fuzz/$name/log.txt 2>&1 || { status=1; echo "$name FAILED: see tests/out/fuzz/$name/log.txt"; tail -30 tests/out/fuzz/$name/log.txt; }
  grep -E "stat::number_of_executed_units|Done" tests/out/fuzz/$name/log.txt | tail -1 || true
done
exit $status
