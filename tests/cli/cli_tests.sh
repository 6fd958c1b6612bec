#!/usr/bin/env bash
# End-to-end tests of the `statestore` command line: Meltano's flags, exit codes, messages,
# and that bad input loses nothing. Usage: cli_tests.sh /path/to/statestore
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:?path to the statestore binary}
BIN=$(readlink -f "$BIN")
WORK=$(mktemp -d /tmp/statestore-cli-XXXXXX)
chmod 755 "$WORK"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/lib.sh"

S=$BIN
ID=dev:tap-github-to-target-jsonl

# --- usage -----------------------------------------------------------------------------
run "help" 0 $S --help
run "state help" 0 $S state --help
run "unknown subcommand is a usage error" 2 $S state frobnicate
run "get without id is a usage error" 2 $S state get
run "bad --format is a usage error" 2 $S state get x --format yaml

# --- the main flow on the embedded default (systemdb in .meltano/meltano.db) ------------
run "list on an empty project" 0 $S state list
has "empty list says so" "$err" "No state IDs found."
run "set --force" 0 $S state set --force $ID '{"singer_state": {"bookmark-1": 0}}'
has "set logs Meltano's message" "$err" "State for $ID was successfully set at "
[ -f .meltano/meltano.db ] && ok "default system db created in .meltano/" || fail "no .meltano/meltano.db"
run "get" 0 $S state get $ID
equals "get prints compact effective state" "$out" '{"singer_state":{"bookmark-1":0}}'
run "merge" 0 $S state merge $ID '{"singer_state": {"x": 1}}'
run "get after merge" 0 $S state get $ID
equals "merge result (spec 12 vector)" "$out" '{"singer_state":{"bookmark-1":0,"x":1}}'
equals "systemdb columns are json.dumps text" \
  "$(sqlite3 .meltano/meltano.db "select completed_state || '|' || partial_state from state where state_id='$ID'")" \
  '{"singer_state": {"bookmark-1": 0}}|{"singer_state": {"x": 1}}'
run "get --format pretty" 0 $S state get $ID --format PRETTY
equals "pretty is json.dumps(indent=2)" "$out" '{
  "singer_state": {
    "bookmark-1": 0,
    "x": 1
  }
}'
run "merge --from-state-id" 0 $S state merge dev:other-to-target-x --from-state-id $ID
run "copy" 0 $S state copy --force $ID dev:copy-to-target-x
run "list" 0 $S state list
equals "list is sorted, one id per line" "$out" "dev:copy-to-target-x
dev:other-to-target-x
$ID"
run "list --pattern" 0 $S state list --pattern '*copy*'
equals "pattern filters" "$out" "dev:copy-to-target-x"
run "export" 0 $S state export
equals "export is compact and raw" "$out" '{"dev:copy-to-target-x":{"completed":{"singer_state":{"bookmark-1":0,"x":1}},"partial":{}},"dev:other-to-target-x":{"completed":{},"partial":{"singer_state":{"bookmark-1":0,"x":1}}},"dev:tap-github-to-target-jsonl":{"completed":{"singer_state":{"bookmark-1":0}},"partial":{"singer_state":{"x":1}}}}'
echo "$out" > export.json
FILEURI="file://$WORK/files"
run "import into a file backend" 0 $S --uri "$FILEURI" state import export.json
has "import logs the count" "$err" "Successfully imported 3 state(s)."
run "list on the file backend" 0 $S state list --uri "$FILEURI"
equals "same ids on the file backend" "$out" "dev:copy-to-target-x
dev:other-to-target-x
$ID"
equals "file layout and bytes are Meltano's" "$(cat "$WORK/files/$ID/state.json")" \
  '{"completed": {"singer_state": {"bookmark-1": 0}}, "partial": {"singer_state": {"x": 1}}}'
run "export from file backend" 0 $S state export --uri "$FILEURI"
equals "file export equals systemdb export" "$out" "$(cat export.json)"
run "import from stdin" 0 bash -c "$S state import --uri file://$WORK/files2 - < export.json"
run "move" 0 $S state move --force dev:copy-to-target-x dev:moved-to-target-x
run "get moved-away id" 0 $S state get dev:copy-to-target-x
equals "moved-away id is empty" "$out" "{}"
run "clear one" 0 $S state clear --force dev:moved-to-target-x
run "clear --all" 0 $S --uri "$FILEURI" state clear --all --force
has "clear --all logs the count" "$err" "3 state(s) were successfully cleared"
[ -z "$(ls "$WORK/files")" ] && ok "cleared ids leave no directories" || fail "left: $(ls "$WORK/files")"

# --- environment and precedence ---------------------------------------------------------
run "env selects the backend" 0 env MELTANO_STATE_BACKEND_URI="file://$WORK/envfiles" $S state set --force a '{"singer_state": {}}'
[ -f "$WORK/envfiles/a/state.json" ] && ok "MELTANO_STATE_BACKEND_URI honoured" || fail "env uri ignored"
run "--uri beats env" 0 env MELTANO_STATE_BACKEND_URI="file://$WORK/envfiles" $S state list --uri "file://$WORK/other"
equals "--uri beats env (empty other dir)" "$out" ""
run "bad lock timeout env" 1 env MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS=soon $S state list
has "names the variable" "$err" "MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS"
run "database uri env" 0 env MELTANO_DATABASE_URI="sqlite:///$WORK/other.db" $S state set --force b '{"singer_state": {}}'
[ -f "$WORK/other.db" ] && ok "MELTANO_DATABASE_URI honoured" || fail "database uri ignored"

# --- prompts ----------------------------------------------------------------------------
cp .meltano/meltano.db before.db
run "set without --force and no answer aborts" 1 $S state set $ID '{"singer_state": {"y": 9}}'
has "abort message" "$err" "Aborted!"
run "declined copy aborts" 1 bash -c "echo n | $S state copy $ID dev:z-to-target-z"
run "get after abort" 0 $S state get $ID
equals "aborted set changed nothing" "$out" '{"singer_state":{"bookmark-1":0,"x":1}}'
run "answer y proceeds" 0 bash -c "echo y | $S state set $ID '{\"singer_state\": {\"y\": 9}}'"
run "clear needs id or --all" 2 $S state clear --force
run "clear with both is a usage error" 2 $S state clear --force $ID --all
has "clear usage message" "$err" "A state ID or the --all flag must be provided, but not both"

# --- bad input: clear message, exit 1, nothing changed ----------------------------------
mkdir -p "$WORK/f" && F="file://$WORK/f"
$S --uri "$F" state set --force $ID '{"singer_state": {"keep": 1}}' 2>/dev/null
cp "$WORK/f/$ID/state.json" kept.json
run "invalid JSON" 1 $S --uri "$F" state set --force $ID '{"singer_state": '
has "invalid JSON message" "$err" "Invalid JSON provided"
same_file "invalid JSON changed nothing" kept.json "$WORK/f/$ID/state.json"
run "missing singer_state" 1 $S --uri "$F" state set --force $ID '{"bookmarks": {}}'
has "validation message" "$err" "singer_state not found in top level of provided state"
has "validation hint" "$err" "--no-validate"
same_file "failed validation changed nothing" kept.json "$WORK/f/$ID/state.json"
run "non-object document" 1 $S --uri "$F" state set --force --no-validate $ID '[1, 2]'
has "non-object message" "$err" "must be a JSON object"
run "NaN token" 1 $S --uri "$F" state set --force $ID '{"singer_state": {"v": NaN}}'
has "NaN message" "$err" "NaN"
run "Infinity token in a file" 1 bash -c "echo '{\"singer_state\": {\"v\": -Infinity}}' > inf.json; $S --uri $F state merge $ID --input-file inf.json"
has "Infinity message" "$err" "Infinity"
same_file "NaN/Infinity changed nothing" kept.json "$WORK/f/$ID/state.json"
run "merge of object into scalar" 1 $S --uri "$F" state merge $ID '{"singer_state": {"keep": {"deep": 1}}}'
has "merge clash message names the key" "$err" "keep"
same_file "merge clash changed nothing" kept.json "$WORK/f/$ID/state.json"
[ ! -e "$WORK/f/$ID/lock" ] && ok "failed merge released its lock" || fail "lock left behind"
run "STATE and --input-file together" 1 $S --uri "$F" state set --force $ID '{}' --input-file kept.json
has "exclusivity message" "$err" "Must provide exactly one of: --input-file,STATE"
run "missing input file is a usage error" 2 $S --uri "$F" state set --force $ID --input-file nope.json
run "empty input file" 1 bash -c ": > empty.json; $S --uri $F state set --force $ID --input-file empty.json"
same_file "empty input changed nothing" kept.json "$WORK/f/$ID/state.json"

mkdir -p "$WORK/f/dev:corrupt-to-x"
printf '{"completed": {"singer_state": ' > "$WORK/f/dev:corrupt-to-x/state.json"
cp "$WORK/f/dev:corrupt-to-x/state.json" corrupt.json
run "get of a corrupt state.json" 1 $S --uri "$F" state get dev:corrupt-to-x
has "corrupt message names the id" "$err" "dev:corrupt-to-x"
has "corrupt message says corrupt" "$err" "corrupt"
run "merge onto a corrupt state.json" 1 $S --uri "$F" state merge dev:corrupt-to-x '{"singer_state": {}}'
same_file "corrupt state.json left as it was" corrupt.json "$WORK/f/dev:corrupt-to-x/state.json"

printf 'garbage' > "$WORK/f/$ID/lock"
run "garbage lock file" 1 $S --uri "$F" state set --force $ID '{"singer_state": {"new": 1}}'
has "garbage lock message" "$err" "not a timestamp"
has "garbage lock message names the lock" "$err" "$ID/lock"
same_file "garbage lock changed nothing" kept.json "$WORK/f/$ID/state.json"
rm -f "$WORK/f/$ID/lock"

run "lock held elsewhere and max wait" 1 bash -c "date +%s.%N | head -c 17 > '$WORK/f/$ID/lock'; $S --uri $F --lock-max-wait-seconds 0.3 --lock-retry-seconds 0.05 state set --force $ID '{\"singer_state\": {}}'"
has "lock timeout names the id" "$err" "timed out"
has "lock timeout names the id (2)" "$err" "$ID"
rm -f "$WORK/f/$ID/lock"
run "a stale lock is taken over" 0 bash -c "echo -n 1732535622.12 > '$WORK/f/$ID/lock'; $S --uri $F state merge $ID '{\"singer_state\": {\"after_stale\": 1}}'"
has "takeover is reported" "$err" "took over the expired lock"
cp "$WORK/f/$ID/state.json" kept.json

# Read-only state directory. Root ignores permissions, so drop to nobody when root.
chmod -R a+rX "$WORK/f"; chmod 555 "$WORK/f/$ID"
AS=""; RO_BIN=$S
if [ "$(id -u)" -eq 0 ]; then
  # The build tree may sit in a directory nobody cannot enter: run a copy from $WORK.
  cp "$BIN" "$WORK/statestore-ro" && chmod 755 "$WORK/statestore-ro" && RO_BIN="$WORK/statestore-ro"
  if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$RO_BIN" 2>/dev/null; then
    AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
  fi
fi
if [ "$(id -u)" -ne 0 ] || [ -n "$AS" ]; then
  run "read-only state directory" 1 $AS $RO_BIN --uri "$F" state set --force $ID '{"singer_state": {"new": 1}}'
  has "read-only message says why" "$err" "ermission denied"
  same_file "read-only dir: state unchanged" kept.json "$WORK/f/$ID/state.json"
else
  fail "read-only directory test: cannot drop privileges to test permissions"
fi
chmod 755 "$WORK/f/$ID"

printf 'this is not a database, just text that is long enough to look like a header....' > notdb.db
cp notdb.db notdb.orig
run "system db that is not SQLite" 1 $S --database-uri "sqlite:///$WORK/notdb.db" state get x
has "names the file" "$err" "notdb.db"
has "says it is not SQLite" "$err" "not a SQLite database"
same_file "non-SQLite file untouched" notdb.orig notdb.db

# --- URIs ---------------------------------------------------------------------------------
run "unknown scheme" 1 $S --uri 'foo://bar' state list
has "unknown scheme lists the available ones" "$err" "No state backend found for scheme 'foo'"
has "available list" "$err" "systemdb, file"
run "relative file URI" 1 $S --uri 'file://relative/dir' state list
has "relative file URI explained" "$err" "file:///absolute/directory"
run "bad state id" 1 $S state get 'a/b'
has "bad id message" "$err" "invalid"
run "unsupported system db" 1 $S --database-uri 'mysql://u@h/db' state list
has "unsupported system db explained" "$err" "SQLite"
has "PostgreSQL named as the other choice" "$err" "PostgreSQL"

# --- import edge cases --------------------------------------------------------------------
run "import invalid JSON" 1 bash -c "echo '{nope' | $S --uri $F state import"
has "import invalid JSON message" "$err" "Invalid JSON"
run "import non-object" 2 bash -c "echo '[1]' | $S --uri $F state import -"
has "import non-object message" "$err" "expected a JSON object, got array"
run "import entry that is not a document" 1 bash -c "echo '{\"ok\": {\"completed\": {}}, \"bad\": [1]}' | $S --uri file://$WORK/imp state import"
has "import entry message names the id" "$err" "state bad in the import"
[ ! -e "$WORK/imp/ok" ] && ok "a bad entry imports nothing" || fail "partial import happened"

finish
