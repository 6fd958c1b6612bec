#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs, then a configured and built tree.
#   scripts/setup.sh [BUILD_DIR] [extra cmake args...]
# STATESTORE_TARGETS="t1 t2" builds only those targets (scripts/demo.sh builds just the CLI).
# Idempotent: installs only missing packages, reuses the build directory and ccache.
set -euo pipefail
cd "$(dirname "$0")/.."

# Never an unversioned libboost-*-dev: on bookworm those are 1.74 and remove the 1.81 set.
packages=(g++ cmake ninja-build ccache pkg-config
          libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev
          libcli11-dev libsqlite3-dev sqlite3 libpq-dev libpugixml-dev libssl-dev util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian package(s) (a minute or two on a fresh machine): ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build=${1:-build}; shift || true
if [ ! -f "$build/build.ninja" ]; then
  echo "setup: configuring $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTATESTORE_WERROR=ON "$@" >/dev/null
fi
targets=()
for t in ${STATESTORE_TARGETS:-}; do targets+=(--target "$t"); done
echo "setup: building ${STATESTORE_TARGETS:-everything} in $build on $(nproc) core(s) (ccache makes rebuilds fast; a first build of everything takes 10-20 minutes on 2 cores)"
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
