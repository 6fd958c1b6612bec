#!/usr/bin/env bash
# The command line on systemdb-on-PostgreSQL (run through with_pg.sh): every verb, patterns,
# export/import, `migrate` both ways with the other backends, interop with psql byte for byte
# (rows statestore writes as psql reads them, rows written as Meltano writes them read back),
# connection options (TLS, passwords) and failures, and no password in any output.
# Usage: with_pg.sh DIR -- postgres_cli_tests.sh /path/to/statestore
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(readlink -f "${1:?path to the statestore binary}")
WORK=$(mktemp -d /tmp/statestore-pgcli-XXXXXX)
SCHEMAS=()
PSQL="$PG_BIN/psql"
cleanup() {
  local s
  for s in "${SCHEMAS[@]}"; do "$PSQL" -X -q "$PG_URI" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
source "$HERE/../cli/lib.sh"
export MELTANO_DATABASE_RETRY_TIMEOUT=0.1

# new_schema NAME: a schema of its own; prints the database URI that selects it.
new_schema() {
  local s="ss_cli_$1_$$"
  "$PSQL" -X -q "$PG_URI" -c "CREATE SCHEMA $s" >/dev/null
  SCHEMAS+=("$s")
  echo "$PG_URI?options=-csearch_path%3D$s"
}
sql() { "$PSQL" -X -q -A -t "$1" -c "$2"; } # URI SQL: unaligned, tuples only

S=$BIN
ID=dev:tap-github-to-target-jsonl
U=$(new_schema main)
D=(--database-uri "$U")

# --- every verb ------------------------------------------------------------------------
run "list on an empty database" 0 $S "${D[@]}" state list
has "nothing listed" "$err" "No state IDs found"
run "set --force" 0 $S "${D[@]}" state set --force $ID '{"singer_state": {"bookmark-1": 0}}'
equals "Meltano's schema was created at head" "$(sql "$U" "SELECT version_num FROM alembic_version")" "c0efb3c314eb"
equals "psql reads json.dumps bytes, updated_at NULL on insert" \
  "$(sql "$U" "SELECT completed_state || '|' || partial_state || '|' || (updated_at IS NULL) FROM state")" \
  '{"singer_state": {"bookmark-1": 0}}|{}|true'
run "merge" 0 $S "${D[@]}" state merge $ID '{"singer_state": {"x": 1, "name": "été 🎉"}}'
equals "psql reads the merge: ASCII-escaped as json.dumps, updated_at set" \
  "$(sql "$U" "SELECT partial_state || '|' || (updated_at IS NOT NULL) FROM state WHERE state_id = '$ID'")" \
  '{"singer_state": {"x": 1, "name": "\u00e9t\u00e9 \ud83c\udf89"}}|true'
run "get" 0 $S "${D[@]}" state get $ID
equals "get merges partial onto completed" "$out" '{"singer_state":{"bookmark-1":0,"x":1,"name":"\u00e9t\u00e9 \ud83c\udf89"}}'
run "get --format pretty" 0 $S "${D[@]}" state get $ID --format pretty
has "pretty output" "$out" '  "singer_state": {'
run "merge --from-state-id" 0 $S "${D[@]}" state merge dev:other-to-target-x --from-state-id $ID
run "copy" 0 $S "${D[@]}" state copy --force $ID dev:copy-to-target-x
for id in 'a_b' 'axb' 'a%b' 'DEV:upper'; do
  $S "${D[@]}" state set --force "$id" '{"singer_state": {}}' 2>/dev/null
done
run "list" 0 $S "${D[@]}" state list
equals "list is sorted" "$out" "DEV:upper
a%b
a_b
axb
dev:copy-to-target-x
dev:other-to-target-x
$ID"
run "list --pattern with a literal _" 0 $S "${D[@]}" state list --pattern 'a_b'
equals "'_' is not a wildcard" "$out" "a_b"
run "list --pattern with a literal %" 0 $S "${D[@]}" state list --pattern 'a%*'
equals "'%' is not a wildcard" "$out" "a%b"
run "list --pattern ?" 0 $S "${D[@]}" state list --pattern 'a?b'
equals "'?' is one character" "$out" "a%b
a_b
axb"
run "list --pattern is case-sensitive" 0 $S "${D[@]}" state list --pattern 'dev:*'
equals "only lower-case dev:" "$out" "dev:copy-to-target-x
dev:other-to-target-x
$ID"
run "export" 0 $S "${D[@]}" state export
echo "$out" > export.json
U2=$(new_schema import)
run "import into another schema" 0 $S --database-uri "$U2" state import export.json
run "export of the import" 0 $S --database-uri "$U2" state export
equals "import/export round trip" "$out" "$(cat export.json)"
run "import from stdin into a file backend" 0 bash -c "$S state import --uri file://$WORK/files - < export.json"
run "file export equals the PostgreSQL export" 0 $S --uri "file://$WORK/files" state export
equals "same bytes" "$out" "$(cat export.json)"
run "move" 0 $S "${D[@]}" state move --force dev:copy-to-target-x dev:moved-to-target-x
run "get moved-away id" 0 $S "${D[@]}" state get dev:copy-to-target-x
equals "moved-away id is empty" "$out" "{}"
run "clear one" 0 $S "${D[@]}" state clear --force dev:moved-to-target-x
equals "its row is gone" "$(sql "$U" "SELECT count(*) FROM state WHERE state_id = 'dev:moved-to-target-x'")" "0"
run "clear --all" 0 $S --database-uri "$U2" state clear --all --force
has "clear --all logs the count" "$err" "7 state(s) were successfully cleared"
equals "other tables untouched by clear --all" "$(sql "$U2" "SELECT count(*) FROM alembic_version")" "1"

# --- rows written as Meltano writes them -------------------------------------------------
sql "$U" "INSERT INTO state (state_id, partial_state, completed_state) VALUES ('dev:meltano', '{}', '{\"singer_state\":{\"a\":1}}')"
run "get a row Meltano wrote (compact JSON)" 0 $S "${D[@]}" state get dev:meltano
equals "read as Meltano reads it" "$out" '{"singer_state":{"a":1}}'
run "merge onto it" 0 $S "${D[@]}" state merge dev:meltano '{"singer_state": {"b": 2}}'
equals "psql sees the merge as json.dumps text" \
  "$(sql "$U" "SELECT completed_state || '|' || partial_state || '|' || (updated_at IS NOT NULL) FROM state WHERE state_id = 'dev:meltano'")" \
  '{"singer_state": {"a": 1}}|{"singer_state": {"b": 2}}|true'
sql "$U" "INSERT INTO state (state_id, partial_state, completed_state) VALUES ('dev:broken', '{}', '{\"singer_state\": ')"
run "a row that is not JSON" 1 $S "${D[@]}" state get dev:broken
has "names the id and the column" "$err" "state dev:broken in PostgreSQL database"
has "names the column" "$err" "completed_state is not valid JSON"
run "merge onto it fails" 1 $S "${D[@]}" state merge dev:broken '{"singer_state": {}}'
equals "and leaves it as it was" "$(sql "$U" "SELECT completed_state FROM state WHERE state_id = 'dev:broken'")" '{"singer_state": '
sql "$U" "DELETE FROM state WHERE state_id = 'dev:broken'"

# --- URIs, the environment, connection options --------------------------------------------
run "MELTANO_DATABASE_URI with postgresql+psycopg://" 0 env MELTANO_DATABASE_URI="${U/postgresql:/postgresql+psycopg:}" $S state get $ID
equals "same state through the psycopg spelling" "$out" '{"singer_state":{"bookmark-1":0,"x":1,"name":"\u00e9t\u00e9 \ud83c\udf89"}}'
run "postgres:// works too" 0 $S --database-uri "${U/postgresql:/postgres:}" state list --pattern "$ID"
run "TLS (verify-full) and scram" 0 $S --database-uri "$PG_TLS_URI" state set --force tls '{"singer_state": {"t": 1}}'
run "read back over TLS" 0 $S --database-uri "$PG_TLS_URI" state get tls
equals "TLS round trip" "$out" '{"singer_state":{"t":1}}'
hasnt "no password in messages" "$err$out" "$PG_TLS_PASSWORD"
WRONG=${PG_PASSWORD_URI/$PG_PASSWORD/Not-The-Passw0rd}
run "wrong password" 1 $S --database-uri "$WRONG" state list
has "says so" "$err" 'password authentication failed for user "ss_pw"'
hasnt "never prints the wrong password" "$err" "Not-The-Passw0rd"
run "password from PGPASSWORD" 0 env PGPASSWORD="$PG_PASSWORD" $S --database-uri "postgresql://ss_pw@127.0.0.1:$PG_SECURE_PORT/statestore" state list
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run "unreachable server" 1 env MELTANO_DATABASE_MAX_RETRIES=1 $S --database-uri "postgresql://u:Hidden-Pass1@127.0.0.1:$port/db" state get x
has "says why" "$err" "Connection refused"
has "after the retries" "$err" "2 attempts"
hasnt "without the password" "$err" "Hidden-Pass1"
run "unsupported driver" 1 $S --database-uri "postgresql+asyncpg://u@h/db" state list
has "names the driver" "$err" "'asyncpg' is not supported"
run "bad libpq option" 1 $S --database-uri "$U&sslmode=sometimes" state list
has "libpq's verdict" "$err" 'invalid sslmode value: "sometimes"'

# --- migrate ---------------------------------------------------------------------------
M=$(new_schema migrate)
run "migrate postgres -> file" 0 $S migrate --from systemdb --from-database-uri "$U" --to "file://$WORK/mig" --report r1.json
has "summary" "$err" "Migrating states from systemdb (postgresql://statestore@"
run "migrate file -> postgres" 0 $S migrate --from "file://$WORK/mig" --to systemdb --to-database-uri "$M" --report r2.json
equals "every state copied" "$(python3 -c 'import json,sys; r=json.load(open("r2.json")); print(r["copied"], r["failed"])')" "7 0"
run "export of the copy" 0 $S --database-uri "$M" state export
copy_export=$out
run "export of the original" 0 $S "${D[@]}" state export --pattern 'dev:t*'
has "copied bytes equal the original's" "$copy_export" "$(echo "$out" | head -c 200 | tail -c 100)"
run "migrate again: identical, nothing written" 0 $S migrate --from "file://$WORK/mig" --to systemdb --to-database-uri "$M" --if-exists skip-identical --report r3.json
equals "all identical" "$(python3 -c 'import json; r=json.load(open("r3.json")); print(r["identical_skipped"], r["copied"])')" "7 0"
run "migrate sqlite -> postgres" 0 bash -c "$S --database-uri sqlite:///$WORK/s.db state import export.json && $S migrate --from systemdb --from-database-uri sqlite:///$WORK/s.db --to systemdb --to-database-uri '$(new_schema fromsqlite)'"
run "migrate postgres -> postgres, dry run" 0 $S migrate --dry-run --from systemdb --from-database-uri "$U" --to systemdb --to-database-uri "$(new_schema dry)"
has "plans copies" "$out" "copy	$ID"
run "the same database on both sides is refused" 2 $S migrate --from systemdb --from-database-uri "$U" --to systemdb --to-database-uri "$U"
has "says which" "$err" "name the same backend"
run "a password URI in migrate's messages" 0 $S migrate --dry-run --from systemdb --from-database-uri "$PG_PASSWORD_URI" --to "file://$WORK/pw"
has "names the user" "$err" "postgresql://ss_pw@127.0.0.1"
hasnt "not the password" "$err$out" "$PG_PASSWORD"

finish
