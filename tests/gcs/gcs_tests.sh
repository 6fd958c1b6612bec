#!/usr/bin/env bash
# gs:// end to end against the servers of tests/servers/gcs.sh (started by the CTest fixture):
# OAuth token exchange and refresh against the local token endpoint, every credential source,
# clear failures without key material, and byte-for-byte interop with @google-cloud/storage.
# Usage: gcs_tests.sh /path/to/statestore SERVER_DIR
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(readlink -f "${1:?path to the statestore binary}")
SRV=$(readlink -f "${2:?server directory of tests/servers/gcs.sh start}")
WORK=$(mktemp -d /tmp/statestore-gcs-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$HERE/../cli/lib.sh"
# shellcheck disable=SC1091
source "$SRV/env"

# Only what each case sets may reach statestore.
unset GOOGLE_APPLICATION_CREDENTIALS STORAGE_EMULATOR_HOST CLOUD_STORAGE_EMULATOR_ENDPOINT \
      CLOUDSDK_CONFIG SSL_CERT_FILE STATESTORE_GCS_CA_FILE STATESTORE_GCS_ENDPOINT \
      MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS \
      MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH \
      MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_JSON
export HOME=$WORK/home
mkdir -p "$HOME"
S=$BIN
ID=dev:tap-gcs-to-target-jsonl
RUN=r$$-$RANDOM
lcurl() { curl --noproxy '*' -s "$@"; }
stat_of() { lcurl "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]))' "$2"; }
# Key material that must never be printed: a line from the middle of each PEM key.
key_line() { node -e 'const k=JSON.parse(require("fs").readFileSync(process.argv[1])).private_key.split("\n"); console.log(k[5])' "$1"; }
SA_KEY_LINE=$(key_line "$GCS_SA_FILE")
WRONG_KEY_LINE=$(key_line "$GCS_SA_WRONG_KEY_FILE")
no_secrets() { # NAME TEXT
  hasnt "$1: no key line" "$2" "$SA_KEY_LINE"
  hasnt "$1: no wrong-key line" "$2" "$WRONG_KEY_LINE"
  hasnt "$1: no PEM armour" "$2" "PRIVATE KEY"
  hasnt "$1: no token" "$2" "t1."
}

# --- service account: token exchange at the file's token_uri; the proxy REQUIRES a valid bearer
#     token for buckets named auth-*, so a success proves the token was obtained and sent -------
export STATESTORE_GCS_ENDPOINT=$GCS_PROXY
export MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH=$GCS_SA_FILE
U=gs://auth-ci/$RUN
issued0=$(stat_of "$GCS_TOKEN_STATS" issued)
run "service account: set" 0 $S --uri "$U" state set --force $ID '{"singer_state": {"a": 1}}'
run "service account: get" 0 $S --uri "$U" state get $ID
equals "service account: round trip" "$out" '{"singer_state":{"a":1}}'
issued1=$(stat_of "$GCS_TOKEN_STATS" issued)
[ $((issued1 - issued0)) -ge 2 ] && ok "a token was issued per process ($issued0 -> $issued1)" \
  || fail "token endpoint issued $issued0 -> $issued1"

# Refresh inside one process: a fresh lock (written by hand) makes `merge` wait ~4 s for it to go
# stale, polling all along, while tokens live 2 s (stale after 1.5 s). One process, so the
# endpoint must issue at least 2 tokens (first + refresh).
lockts=$(date +%s.%N | cut -c1-15)
lcurl -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary "$lockts" \
  "$GCS_EMULATOR/upload/storage/v1/b/auth-ci/o?uploadType=media&name=$RUN%2F$ID%2Flock"
issued0=$(stat_of "$GCS_TOKEN_STATS" issued)
unauth0=$(stat_of "$GCS_PROXY_STATS" unauthorized)
run "merge waits out a fresh lock (one long process)" 0 env MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS=4 \
  MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS=0.1 $S --uri "$U" state merge $ID '{"singer_state": {"b": 2}}'
issued1=$(stat_of "$GCS_TOKEN_STATS" issued)
unauth1=$(stat_of "$GCS_PROXY_STATS" unauthorized)
[ $((issued1 - issued0)) -ge 2 ] && ok "the token was refreshed inside one process ($((issued1 - issued0)) issued)" \
  || fail "no refresh inside one process: $issued0 -> $issued1"
# Not asserted: on a loaded machine a request may legitimately reach the proxy after its token's
# last 0.5 s ran out; the store then gets 401, drops the token and retries once (the merge above
# still had to succeed).
echo "info - requests the proxy refused for an expired token during the merge: $((unauth1 - unauth0))"
run "get after the long merge" 0 $S --uri "$U" state get $ID
equals "merge result" "$out" '{"singer_state":{"a":1,"b":2}}'

# --- the same account as inline JSON; both set is Meltano's error ------------------------------
run "inline json credentials" 0 env -u MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH \
  MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_JSON="$(cat "$GCS_SA_FILE")" $S --uri "$U" state get $ID
equals "inline json reads the state" "$out" '{"singer_state":{"a":1,"b":2}}'
run "json and path both set" 1 env MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_JSON="$(cat "$GCS_SA_FILE")" \
  $S --uri "$U" state get $ID
has "both set: Meltano's message" "$err" "Provide only one of"
no_secrets "both set" "$out$err"
run "deprecated application_credentials works as a path" 0 env -u MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH \
  MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS="$GCS_SA_FILE" $S --uri "$U" state get $ID
has "deprecated setting warns" "$err" "deprecated"

# --- a key the token endpoint rejects; a malformed file ----------------------------------------
run "rejected key exits 1" 1 env MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH="$GCS_SA_WRONG_KEY_FILE" \
  $S --uri "$U" state get $ID
has "rejected key: the endpoint's reason" "$err" "invalid_grant: Invalid JWT Signature."
has "rejected key: names the account" "$err" "statestore-test@demo-test.iam.gserviceaccount.com"
no_secrets "rejected key" "$out$err"
head -c 900 "$GCS_SA_FILE" >"$WORK/truncated.json"
run "malformed file exits 1" 1 env MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH="$WORK/truncated.json" \
  $S --uri "$U" state get $ID
has "malformed file: names the file" "$err" "$WORK/truncated.json"
has "malformed file: says why" "$err" "not valid JSON"
no_secrets "malformed file" "$out$err"
node -e 'const f=JSON.parse(require("fs").readFileSync(process.argv[1]));f.private_key=f.private_key.replace(/[A-Za-z]/g,"A");console.log(JSON.stringify(f))' \
  "$GCS_SA_FILE" >"$WORK/garbled-key.json"
run "garbled key exits 1" 1 env MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH="$WORK/garbled-key.json" \
  $S --uri "$U" state get $ID
has "garbled key: says why" "$err" "not a PEM private key"
no_secrets "garbled key" "$out$err"
unset MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH

# --- authorized_user via GOOGLE_APPLICATION_CREDENTIALS, then as the gcloud ADC file -----------
run "authorized_user via GOOGLE_APPLICATION_CREDENTIALS" 0 env GOOGLE_APPLICATION_CREDENTIALS="$GCS_AU_FILE" \
  $S --uri "$U" state get $ID
equals "authorized_user reads the state" "$out" '{"singer_state":{"a":1,"b":2}}'
run "no credentials at all exits 1" 1 $S --uri "$U" state get $ID
has "no credentials: says what to set" "$err" "no Google Cloud credentials found"
mkdir -p "$HOME/.config/gcloud"
cp "$GCS_AU_FILE" "$HOME/.config/gcloud/application_default_credentials.json"
run "gcloud ADC file" 0 $S --uri "$U" state get $ID
equals "ADC reads the state" "$out" '{"singer_state":{"a":1,"b":2}}'
rm -rf "$HOME/.config"
unset STATESTORE_GCS_ENDPOINT

# --- emulator mode sends no credentials: the auth-* bucket refuses it ---------------------------
run "emulator mode on a bucket that wants a token exits 1" 1 env STORAGE_EMULATOR_HOST="$GCS_PROXY" \
  $S --uri "$U" state get $ID
has "refused: auth error" "$err" "401"

# --- interop with @google-cloud/storage (emulator mode, through the precondition proxy) --------
export STORAGE_EMULATOR_HOST=$GCS_PROXY NODE_MODULES=$GCS_NODE_MODULES
G=gs://interop/$RUN
DOC='{"singer_state": {"bookmarks": {"orders": {"updated_at": "2024-11-25T11:53:42Z"}}, "ünïcode": "é", "n": 1.5e300}}'
run "statestore writes" 0 $S --uri "$G" state set --force $ID "$DOC"
run "the same state on a file backend (reference bytes)" 0 $S --uri "file://$WORK/ref" state set --force $ID "$DOC"
if node "$HERE/interop.js" download interop "$RUN/$ID/state.json" "$WORK/sdk.json"; then
  same_file "@google-cloud/storage reads byte for byte what statestore wrote" "$WORK/ref/$ID/state.json" "$WORK/sdk.json"
else fail "@google-cloud/storage could not download"; fi
printf '%s' '{"completed": {"singer_state": {"from": "sdk", "list": [1, 2, {"x": null}]}}, "partial": {"singer_state": {"p": true}}}' >"$WORK/sdk-up.json"
if node "$HERE/interop.js" upload interop "$RUN/dev:sdk-to-x/state.json" "$WORK/sdk-up.json"; then
  ok "@google-cloud/storage uploads"
else fail "@google-cloud/storage could not upload"; fi
run "statestore reads what the SDK wrote" 0 $S --uri "$G" state get dev:sdk-to-x
equals "state seen by statestore" "$out" '{"singer_state":{"from":"sdk","list":[1,2,{"x":null}],"p":true}}'
run "statestore lists the SDK's state" 0 $S --uri "$G" state list
equals "list" "$out" "dev:sdk-to-x
$ID"
run "statestore exports both" 0 $S --uri "$G" state export
has "export carries the SDK's raw document" "$out" '"dev:sdk-to-x":{"completed":{"singer_state":{"from":"sdk","list":[1,2,{"x":null}]}},"partial":{"singer_state":{"p":true}}}'

finish
