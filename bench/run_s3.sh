#!/usr/bin/env bash
# S3 benchmarks: client CPU per request (no server in the picture), then locked writes vs bare
# PUTs against a one-node Ceph RGW started here and stopped afterwards.
#   bench/run_s3.sh [BUILD_DIR=build] [WRITES_PER_POINT=1000] [CONCURRENCIES=1,8,64,256]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
writes=${2:-1000}
concurrencies=${3:-1,8,64,256}
"$build/bench/bench_s3_client_cpu" 3000 1
"$build/bench/bench_s3_client_cpu" 3000 16
fixture=$(mktemp -d)
trap '"$root/tests/s3/fixture.sh" stop "$fixture/s3" >/dev/null 2>&1 || true; rm -rf "$fixture"' EXIT
"$root/tests/s3/fixture.sh" start "$fixture/s3" >/dev/null
# shellcheck disable=SC1091
. "$fixture/s3/env" # S3_ENDPOINT: RGW on a free port picked at its start
echo
env -u AWS_CA_BUNDLE -u AWS_PROFILE AWS_ACCESS_KEY_ID=AKTEST AWS_SECRET_ACCESS_KEY=SKTEST \
  AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent \
  "$build/bench/bench_s3_throughput" "$S3_ENDPOINT" statestore-ci "$writes" "$concurrencies"
