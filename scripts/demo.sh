#!/usr/bin/env bash
# The main job on the embedded default, start to finish:
#   1. install what is missing and build the command line (only the CLI: tests are not built);
#   2. set, merge, get and list states in a SQLite system database (Meltano's systemdb,
#      .meltano/meltano.db under a demo project directory), copy them to a file backend;
#   3. generate 10,000 states in the system database and `statestore migrate` them to a file
#      backend, concurrently, locked and verified, with the progress bar, and print ids/s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${DEMO_STATES:-10000}

echo "demo: step 1/3: packages and a build of the statestore command line"
STATESTORE_TARGETS=statestore_cli "$root/scripts/setup.sh" build
ss="$root/build/statestore"

project=${DEMO_PROJECT:-$root/build/demo-project}
rm -rf "$project" && mkdir -p "$project" && cd "$project"
unset MELTANO_STATE_BACKEND_URI MELTANO_DATABASE_URI MELTANO_SYS_DIR_ROOT
step() { printf '\n$ %s\n' "$*"; "$@"; }

echo
echo "demo: step 2/3: systemdb (SQLite at $project/.meltano/meltano.db), then a file backend"
step "$ss" state set --force dev:tap-github-to-target-jsonl \
  '{"singer_state": {"bookmarks": {"issues": {"since": "2024-01-01T00:00:00Z"}}}}'
step "$ss" state set --force dev:tap-postgres-to-target-snowflake \
  '{"singer_state": {"bookmarks": {"public-orders": {"replication_key_value": 1041}}}}'
step "$ss" state merge dev:tap-postgres-to-target-snowflake \
  '{"singer_state": {"bookmarks": {"public-customers": {"replication_key_value": 77}}}}'
step "$ss" state set --force prod:tap-stripe-to-target-bigquery:nightly \
  '{"singer_state": {"bookmarks": {"charges": {"created": 1732535622}}}}'
step "$ss" state get dev:tap-postgres-to-target-snowflake
step "$ss" state get dev:tap-postgres-to-target-snowflake --format pretty
step "$ss" state list
step "$ss" state list --pattern 'dev:*'

"$ss" state export > export.json
step "$ss" --uri "file://$project/state" state import export.json
step "$ss" --uri "file://$project/state" state list
step cat "$project/state/dev:tap-postgres-to-target-snowflake/state.json"
echo
diff <("$ss" state export) <("$ss" --uri "file://$project/state" state export) \
  && echo "demo: the file backend holds exactly what systemdb holds"

echo
echo "demo: step 3/3: $count states in systemdb, migrated to a file backend"
# One import file with $count states (awk: no Python needed), then one transaction.
seq 1 "$count" | awk 'BEGIN { printf "{" }
  { if (NR > 1) printf ",";
    printf "\"prod:tap-shop%05d-to-target-warehouse\":{\"completed\":{\"singer_state\":{\"bookmarks\":{\"orders\":{\"replication_key\":\"updated_at\",\"replication_key_value\":\"2024-11-%02dT00:00:00Z\"}}}},\"partial\":{}}", $1, ($1 % 28) + 1 }
  END { print "}" }' > bulk.json
step "$ss" state import bulk.json
step "$ss" migrate --from systemdb --to "file://$project/migrated" --concurrency 64 --report migrate-report.json
echo
echo "demo: $(ls "$project/migrated" | wc -l) state directories in $project/migrated; per-id report in $project/migrate-report.json"
