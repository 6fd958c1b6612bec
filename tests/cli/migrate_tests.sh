#!/usr/bin/env bash
# End-to-end tests of `statestore migrate` (exit codes, summary, progress, --report, dry run,
# SIGINT) and of examples/bulk_migrate.
# Usage: migrate_tests.sh /path/to/statestore [/path/to/bulk_migrate]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:?path to the statestore binary}
BIN=$(readlink -f "$BIN")
EXAMPLE=${2:-}
[ -n "$EXAMPLE" ] && EXAMPLE=$(readlink -f "$EXAMPLE")
WORK=$(mktemp -d /tmp/statestore-migrate-cli-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/lib.sh"

S=$BIN
A="sqlite:///$WORK/a.db"
B="sqlite:///$WORK/b.db"
F="file://$WORK/files"

# --- usage ------------------------------------------------------------------------------
run "migrate --help" 0 $S migrate --help
has "help lists --if-exists" "$out" "--if-exists"
run "missing --to is a usage error" 2 $S migrate --from systemdb
run "bad --if-exists is a usage error" 2 $S migrate --from systemdb --to "$F" --if-exists maybe
run "zero concurrency is a usage error" 2 $S migrate --from systemdb --to "$F" --concurrency 0
run "same backend twice is a usage error" 2 $S migrate --from "$F" --to "$F/"
has "same backend message" "$err" "same backend"
run "unsupported destination" 1 $S --database-uri "$A" migrate --from systemdb --to nosuch://bucket/x
has "unsupported destination message" "$err" "No state backend found for scheme 'nosuch'"

# --- seed 300 states (awkward ids included) in a.db -------------------------------------
{
  printf '{'
  printf '"with space": {"completed": {"singer_state": {"a": 1}}, "partial": {}}, '
  printf '"100%%_x": {"completed": {}, "partial": {"singer_state": {"b": 2}}}, '
  printf '".hidden": {"completed": {"singer_state": {"c": "\\u00e9"}}, "partial": {"singer_state": {"d": 1}}}, '
  printf '"ünï:cödé": {"completed": {"singer_state": {"e": 1.5}}, "partial": {}}'
  for i in $(seq 1 296); do
    printf ', "dev:tap-%d-to-target": {"completed": {"singer_state": {"n": %d}}, "partial": {}}' "$i" "$i"
  done
  printf '}'
} > seed.json
run "seed the source" 0 $S --database-uri "$A" state import seed.json

# --- systemdb -> file ---------------------------------------------------------------------
run "migrate systemdb -> file" 0 $S --database-uri "$A" migrate --from systemdb --to "$F" \
  --report "$WORK/r1.json" --progress-seconds 0.001
has "summary line" "$err" "Summary: 300 id(s): copied 300 (overwritten 0), skipped 0, identical 0, failed 0, verified 300 in "
has "summary rate" "$err" "ids/s)"
has "plain progress lines when not a terminal" "$err" "progress: "
hasnt "no terminal control codes when not a terminal" "$err" $'\r'
R=$(cat "$WORK/r1.json")
has "report total" "$R" '"total":300,'
has "report copied" "$R" '"copied":300,'
has "report failed" "$R" '"failed":0,'
has "report verified" "$R" '"verified":300,'
has "report no failures" "$R" '"failures":[]'
has "report says the whole source was listed" "$R" '"listing_complete":true'
equals "file bytes are the source document" "$(cat "$WORK/files/with space/state.json")" \
  '{"completed": {"singer_state": {"a": 1}}, "partial": {}}'
equals "unicode id readable at the destination" "$($S --uri "$F" state get 'ünï:cödé')" \
  '{"singer_state":{"e":1.5}}'

run "re-run uploads nothing" 0 $S --database-uri "$A" migrate --from systemdb --to "$F" \
  --if-exists skip-identical
has "re-run summary" "$err" "copied 0 (overwritten 0), skipped 0, identical 300, failed 0"

# --- file -> systemdb, per-side database URIs ---------------------------------------------
run "migrate file -> systemdb (--to-database-uri)" 0 $S migrate --from "$F" --to systemdb \
  --to-database-uri "$B" --concurrency 4
has "file -> systemdb summary" "$err" "copied 300"
equals "systemdb columns are json.dumps text" \
  "$(sqlite3 "$WORK/b.db" "select completed_state || '|' || partial_state from state where state_id='.hidden'")" \
  '{"singer_state": {"c": "\u00e9"}}|{"singer_state": {"d": 1}}'
run "systemdb -> systemdb (--from/--to-database-uri)" 0 $S migrate --from systemdb \
  --from-database-uri "$B" --to systemdb --to-database-uri "sqlite:///$WORK/c.db" --pattern 'dev:*'
has "pattern selects" "$err" "Summary: 296 id(s): copied 296"

# --- dry run --------------------------------------------------------------------------------
run "dry run" 0 $S --database-uri "$A" migrate --from systemdb --to "file://$WORK/never" --dry-run \
  --report "$WORK/dry.json"
[ ! -e "$WORK/never" ] && ok "dry run creates nothing" || fail "dry run wrote $WORK/never"
equals "dry run plan on stdout" "$(printf '%s\n' "$out" | grep -c $'^copy\t')" "300"
has "dry run summary" "$err" "Dry run (nothing written): 300 id(s): would copy 300"
has "dry run report has the plan" "$(cat "$WORK/dry.json")" '"action":"copy"'
run "dry run of a completed migration" 0 $S --database-uri "$A" migrate --from systemdb --to "$F" --dry-run
has "identical ids are planned as skips" "$out" $'skip (identical)\twith space'

# --- a corrupt source document ----------------------------------------------------------------
mkdir -p "$WORK/files/dev:broken" && printf '{"completed": ' > "$WORK/files/dev:broken/state.json"
run "corrupt source fails (exit 1)" 1 $S migrate --from "$F" --to systemdb --to-database-uri \
  "sqlite:///$WORK/d.db" --report "$WORK/r2.json" --no-verify
has "the failed id is named" "$err" "failed: dev:broken: "
has "failure summary" "$err" "copied 300 (overwritten 0), skipped 0, identical 0, failed 1, verified off"
R=$(cat "$WORK/r2.json")
has "report counts the failure" "$R" '"failed":1,'
has "report lists the failed id" "$R" '"failures":[{"id":"dev:broken","error":"state dev:broken at '
rm -rf "$WORK/files/dev:broken"

# --- --no-lock ----------------------------------------------------------------------------------
run "--no-lock" 0 $S --database-uri "$A" migrate --from systemdb --to "file://$WORK/nolock" --no-lock
has "--no-lock warns" "$err" "--no-lock"
[ -z "$(find "$WORK/nolock" -name lock)" ] && ok "no lock files" || fail "lock files left"

# --- SIGINT: stops new work, reports, exit 1; a re-run completes ---------------------------------
{
  printf '{"x0": {"completed": {"singer_state": {}}, "partial": {}}'
  for i in $(seq 1 3000); do printf ', "x%d": {"completed": {"singer_state": {"n": %d}}, "partial": {}}' "$i" "$i"; done
  printf '}'
} > big.json
run "seed 3001 states" 0 $S --database-uri "sqlite:///$WORK/big.db" state import big.json
$S --database-uri "sqlite:///$WORK/big.db" migrate --from systemdb --to "file://$WORK/big" \
  --concurrency 1 --report "$WORK/int.json" 2>"$WORK/int.err" &
pid=$!
for _ in $(seq 1 200); do [ -d "$WORK/big" ] && [ "$(ls "$WORK/big" | wc -l)" -ge 20 ] && break; sleep 0.05; done
kill -INT $pid
wait $pid; code=$?
err=$(cat "$WORK/int.err")
equals "interrupted run exits 1" "$code" "1"
has "interrupt acknowledged" "$err" "Interrupted: finishing the ids in flight"
has "cancel reported" "$err" "were not started"
has "report says cancelled" "$(cat "$WORK/int.json")" '"cancelled":true'
run "re-run completes" 0 $S --database-uri "sqlite:///$WORK/big.db" migrate --from systemdb \
  --to "file://$WORK/big" --if-exists skip-identical
has "re-run copies the rest" "$err" "Summary: 3001 id(s): copied "
equals "all states present" "$(ls "$WORK/big" | wc -l)" "3001"

# --- examples/bulk_migrate ---------------------------------------------------------------
if [ -n "$EXAMPLE" ]; then
  run "bulk_migrate example" 0 env MELTANO_DATABASE_URI="$A" "$EXAMPLE" systemdb "file://$WORK/example"
  has "example prints the report" "$out" "total 300, copied 300, identical 0, skipped 0, failed 0, verified 300"
  run "bulk_migrate example again" 0 env MELTANO_DATABASE_URI="$A" "$EXAMPLE" systemdb "file://$WORK/example" 'dev:*'
  has "example resumes" "$out" "total 296, copied 0, identical 296"
fi

finish
