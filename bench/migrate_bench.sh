#!/usr/bin/env bash
# Benchmark of `statestore migrate` against the ceiling (bare writes), Meltano's one-process-
# per-id loop and rclone; writes results.json, results.md and throughput.png. See
# bench/migrate_bench.py --help for the options; the usual runs:
#
#   bench/migrate_bench.sh --out /var/tmp/mig-bench           # full: N=1k,10k (+100k local)
#   bench/migrate_bench.sh --quick --out /tmp/mig-smoke       # smoke: local pairs, seconds
#   bench/migrate_bench.sh --statestore B/statestore --ceiling B/bench/bench_migrate_ceiling
#
# Cloud pairs start their server (tests/servers/rgw.sh for S3) and are skipped with a message
# when the server or the store is not available.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v gnuplot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "migrate_bench.sh: installing gnuplot-nox for the plot" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null
  else
    echo "migrate_bench.sh: gnuplot is missing (apt-get install gnuplot-nox); no plot" >&2
  fi
fi
exec python3 "$here/migrate_bench.py" "$@"
