#!/usr/bin/env bash
# Runs every benchmark and prints the figures (markdown tables). Nothing is asserted.
#   bench/run.sh [BUILD_DIR]     (builds with scripts/setup.sh first)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
"$root/scripts/setup.sh" "$(basename "$build")" >/dev/null
echo "## lock waiters"; "$build/bench/bench_lock_waiters" 10000 5 1; echo
echo "## file backend: locked set vs the disk's floor"; "$build/bench/bench_file_set" 2000 16; echo
echo "## systemdb"; "$build/bench/bench_systemdb_set" 2000 10000
