#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this):
#   1. build with -Werror and run every test (unit, conformance per backend, CLI);
#   2. build the examples against an installed copy (find_package) and run one;
#   3. build again with ASan+UBSan and run every test once more.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export BOOST_TEST_COLOR_OUTPUT=no
jobs=$(nproc)

# Test servers the CTest fixtures start: installed once here so the ctest runs download nothing.
tests/servers/rgw.sh install
# s3rver: an S3 emulator that enforces no preconditions (the warning statestore gives there).
s3rver_dir=${STATESTORE_CACHE:-$HOME/.cache/statestore}/s3rver
[ -x "$s3rver_dir/node_modules/.bin/s3rver" ] ||
  npm install --prefix "$s3rver_dir" --no-audit --no-fund s3rver@3.7.1 >/dev/null
# The AWS CLI is the independent S3 client of the interop test (pip's, if the image has it).
if ! command -v aws >/dev/null && [ ! -x /root/.pyenv/shims/aws ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends awscli >/dev/null
fi
tests/servers/gcs.sh install
# Debian's PostgreSQL 15 server for the systemdb-on-PostgreSQL suites (postgres_server fixture).
tests/servers/postgres.sh install
# Azurite and @azure/storage-blob (npm, cached outside the clone).
tests/servers/azurite.sh install
# bench_migrate_smoke draws the migration benchmark's plot with Debian's gnuplot.
command -v gnuplot >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null ||
  echo "warning: gnuplot-nox could not be installed; bench_migrate_smoke will fail" >&2

scripts/setup.sh build
(cd build && ctest --output-on-failure -j "$jobs")

# Installed package: headers, library, CMake config and the `statestore` executable.
prefix="$root/build/install-test"
rm -rf "$prefix" build/consumer
cmake --install build --prefix "$prefix" >/dev/null
test -x "$prefix/bin/statestore"
cmake -S examples/consumer -B build/consumer -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build build/consumer >/dev/null
consumer_dir=$(mktemp -d)
consumer_output=$(build/consumer/consumer "file://$consumer_dir")
rm -rf "$consumer_dir"
echo "$consumer_output"
grep -q '"orders"' <<<"$consumer_output"
echo "install: find_package(statestore) consumer built and ran"

scripts/setup.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DSTATESTORE_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DSTATESTORE_BUILD_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs")
