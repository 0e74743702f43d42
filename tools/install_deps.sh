#!/usr/bin/env bash
# Installs the Debian packages Tessera builds, tests and demos with, if any are missing.
# Called by `make test`, `make demo` and `make bench`; does nothing when all are present.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config clang libclang-rt-14-dev
  libzmq3-dev liblmdb-dev libturbojpeg0-dev libjpeg-turbo-progs libopenblas-dev
  libopenmpi-dev openmpi-bin libpng-dev zlib1g-dev libarchive-dev libcmocka-dev
  dataset-fashion-mnist
  mate-backgrounds plasma-workspace-wallpapers ukui-wallpapers
  python3 python3-lmdb python3-numpy python3-pil python3-pytest python3-torch procps
  python3-scipy python3-sklearn gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
