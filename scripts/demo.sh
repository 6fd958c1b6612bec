#!/usr/bin/env bash
# The main job on the embedded default: a SQLite system database (Meltano's systemdb,
# .meltano/meltano.db under a demo project directory): set, merge, get and list a few
# states, then copy them all to a file backend and list them there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" build >/dev/null
ss="$root/build/statestore"

project=${DEMO_PROJECT:-$root/build/demo-project}
rm -rf "$project" && mkdir -p "$project" && cd "$project"
unset MELTANO_STATE_BACKEND_URI MELTANO_DATABASE_URI MELTANO_SYS_DIR_ROOT
step() { printf '\n$ %s\n' "$*"; "$@"; }

echo "== systemdb (SQLite at $project/.meltano/meltano.db) =="
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

echo
echo "== copy everything to a file backend (file://$project/state) =="
"$ss" state export > export.json
step "$ss" --uri "file://$project/state" state import export.json
step "$ss" --uri "file://$project/state" state list
step cat "$project/state/dev:tap-postgres-to-target-snowflake/state.json"
echo
diff <("$ss" state export) <("$ss" --uri "file://$project/state" state export) \
  && echo "demo: file backend holds exactly what systemdb holds"
