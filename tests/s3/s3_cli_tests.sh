#!/usr/bin/env bash
# `statestore state` on S3 end to end, against the RGW of tests/s3/fixture.sh:
#   - Meltano's layout and URI forms (prefix with/without '/', bucket root, credentials in the
#     URI with a percent-encoded '/' in the secret, proven against a server that checks
#     signatures);
#   - interop with an independent client (the AWS CLI): byte-for-byte both ways;
#   - wrong secret, missing bucket, unknown CA: exit 1, a clear message, no secret printed;
#   - the server going away mid-run (a TCP relay in front of RGW that this script kills: fault
#     injection, as RGW itself is shared with other tests): a clear error after bounded
#     retries, and the stored state unchanged.
# Usage: s3_cli_tests.sh STATESTORE_BIN FIXTURE_DIR
set -uo pipefail
S=${1:?statestore binary}
FIX=${2:?fixture dir}
WORK=$(mktemp -d)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/lib.sh"
relay_pid=""
cleanup() {
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Only what this script sets: the machine's CA and AWS variables must not leak in.
unset AWS_CA_BUNDLE SSL_CERT_FILE AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
      AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_REGION AWS_DEFAULT_REGION \
      MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY \
      MELTANO_STATE_BACKEND_S3_ENDPOINT_URL STATESTORE_S3_CA_FILE
export AWS_SHARED_CREDENTIALS_FILE=$WORK/no-credentials AWS_CONFIG_FILE=$WORK/no-config
# Endpoints as the fixture recorded them (RGW listens on free ports picked at its start).
# shellcheck disable=SC1091
. "$FIX/env"
EP=$S3_ENDPOINT
TLS_EP=$S3_TLS_ENDPOINT
CA=$S3_CA_FILE
EP_PORT=${EP##*:}
export MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=$EP STATESTORE_S3_PROBE_PRECONDITIONS=0
export MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS=0.05
RUN=run$RANDOM$RANDOM
B=statestore-cli

# The AWS CLI as the independent client (pip's awscli or Debian's).
AWS=$(command -v aws || true)
[ -z "$AWS" ] && [ -x /root/.pyenv/shims/aws ] && AWS=/root/.pyenv/shims/aws
awsc() {
  env AWS_ACCESS_KEY_ID=AKTEST AWS_SECRET_ACCESS_KEY=SKTEST AWS_DEFAULT_REGION=us-east-1 \
    "$AWS" --endpoint-url "$EP" "$@"
}

# --- layout and URI forms ------------------------------------------------------------------
U="s3://AKTEST:SKTEST@$B/$RUN/state"
run "set via URI credentials" 0 "$S" --uri "$U" state set --force dev:tap-a-to-target-b \
  '{"singer_state": {"bookmark-1": 0}}'
run "merge" 0 "$S" --uri "$U" state merge dev:tap-a-to-target-b '{"singer_state": {"x": 1}}'
run "get" 0 "$S" --uri "$U" state get dev:tap-a-to-target-b
equals "effective state" "$out" '{"singer_state":{"bookmark-1":0,"x":1}}'
run "trailing slash is the same prefix" 0 "$S" --uri "$U/" state get dev:tap-a-to-target-b
equals "same state via s3://b/p/" "$out" '{"singer_state":{"bookmark-1":0,"x":1}}'
run "double slashes too" 0 "$S" --uri "s3://AKTEST:SKTEST@$B//$RUN/state//" state list
equals "list via s3://b//p//" "$out" "dev:tap-a-to-target-b"
if [ -n "$AWS" ]; then
  run "aws cli lists the keys" 0 awsc s3api list-objects-v2 --bucket "$B" --prefix "$RUN/" \
    --query 'Contents[].Key' --output text
  equals "Meltano's key layout" "$out" "$RUN/state/dev:tap-a-to-target-b/state.json"
  run "aws cli reads the object" 0 awsc s3 cp "s3://$B/$RUN/state/dev:tap-a-to-target-b/state.json" "$WORK/got.json"
  printf '%s' '{"completed": {"singer_state": {"bookmark-1": 0}}, "partial": {"singer_state": {"x": 1}}}' >"$WORK/want.json"
  same_file "bytes read by the AWS CLI are Meltano's document" "$WORK/got.json" "$WORK/want.json"
  run "content type is application/json" 0 awsc s3api head-object --bucket "$B" \
    --key "$RUN/state/dev:tap-a-to-target-b/state.json" --query ContentType --output text
  equals "ContentType" "$out" "application/json"

  # The reverse: a document written by the AWS CLI (as Meltano would store it) reads back.
  printf '%s' '{"completed": {"singer_state": {"from": "aws"}}, "partial": {}}' >"$WORK/foreign.json"
  run "aws cli writes a state" 0 awsc s3 cp "$WORK/foreign.json" \
    "s3://$B/$RUN/state/prod:written-by-aws/state.json" --content-type application/json
  run "statestore reads it" 0 "$S" --uri "$U" state get prod:written-by-aws
  equals "state written by the AWS CLI" "$out" '{"singer_state":{"from":"aws"}}'
  run "export includes it byte-exact" 0 "$S" --uri "$U" state list
  equals "both ids listed" "$out" $'dev:tap-a-to-target-b\nprod:written-by-aws'
else
  fail "no AWS CLI found for the interop checks"
fi

# Bucket root: states at the top level of the bucket (a bucket of its own for the slash user).
run "bucket root, secret with '/' and '+' percent-encoded" 0 "$S" \
  --uri "s3://AKSLASH:sk%2Fwith%2Bslash@statestore-slash" state set --force "root-$RUN" \
  '{"singer_state": {"r": 1}}'
run "bucket root get" 0 "$S" --uri "s3://AKSLASH:sk%2Fwith%2Bslash@statestore-slash/" state get "root-$RUN"
equals "bucket root state" "$out" '{"singer_state":{"r":1}}'
if [ -n "$AWS" ]; then
  run "root key layout" 0 env AWS_ACCESS_KEY_ID=AKSLASH AWS_SECRET_ACCESS_KEY='sk/with+slash' \
    AWS_DEFAULT_REGION=us-east-1 "$AWS" --endpoint-url "$EP" s3api head-object \
    --bucket statestore-slash --key "root-$RUN/state.json" --query ContentLength --output text
fi
run "raw '/' in a URI secret is refused with a hint" 1 "$S" \
  --uri "s3://AKSLASH:sk/with+slash@statestore-slash" state list
has "hint to percent-encode" "$err" "%2F"
hasnt "secret not echoed" "$err$out" "with+slash"

# Settings and environment names.
run "credentials from MELTANO_STATE_BACKEND_S3_* settings" 0 env \
  MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID=AKTEST MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY=SKTEST \
  "$S" --uri "s3://$B/$RUN/state" state get dev:tap-a-to-target-b
run "credentials from AWS_ACCESS_KEY_ID" 0 env AWS_ACCESS_KEY_ID=AKTEST AWS_SECRET_ACCESS_KEY=SKTEST \
  "$S" --uri "s3://$B/$RUN/state" state get dev:tap-a-to-target-b
printf '[ci]\naws_access_key_id = AKTEST\naws_secret_access_key = SKTEST\n' >"$WORK/credentials"
run "credentials from a profile" 0 env AWS_PROFILE=ci AWS_SHARED_CREDENTIALS_FILE="$WORK/credentials" \
  "$S" --uri "s3://$B/$RUN/state" state get dev:tap-a-to-target-b
run "endpoint from AWS_ENDPOINT_URL_S3" 0 env -u MELTANO_STATE_BACKEND_S3_ENDPOINT_URL \
  AWS_ENDPOINT_URL_S3=$EP "$S" --uri "$U" state get dev:tap-a-to-target-b
run "only a key id is Meltano's error" 1 env MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID=AKTEST \
  "$S" --uri "s3://$B/$RUN/state" state list
has "message" "$err" "AWS access key ID configured, but not AWS secret access key."
run "no credentials at all" 1 "$S" --uri "s3://$B/$RUN/state" state list
has "no-credentials message" "$err" "no AWS credentials"

# What RGW does not enforce is said once per process (the probe), unless turned off.
run "probe runs before the first conditional request" 0 env -u STATESTORE_S3_PROBE_PRECONDITIONS \
  "$S" --uri "$U" state set --force dev:probe '{"singer_state": {}}'
has "RGW's ignored If-Match on DELETE is reported" "$err" "ignores If-Match on DeleteObject"
hasnt "PUT preconditions are enforced by RGW" "$err" "on PutObject"
equals "said once" "$(grep -c "ignores If-Match" <<<"$err")" "1"

# s3rver (npm) ignores If-None-Match and If-Match altogether: statestore still works there, but
# says that its locks cannot be atomic on that server.
S3RVER=${STATESTORE_CACHE:-$HOME/.cache/statestore}/s3rver/node_modules/.bin/s3rver
if [ -x "$S3RVER" ]; then
  s3rver_port=$(python3 "$here/../servers/ports.py" free 1)
  mkdir -p "$WORK/s3rver"
  NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$WORK/s3rver" -a 127.0.0.1 -p "$s3rver_port" \
    --silent --configure-bucket lax >/dev/null 2>&1 &
  s3rver_pid=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$s3rver_port") 2>/dev/null && break
    sleep 0.1
  done
  run "s3rver: set works" 0 env -u STATESTORE_S3_PROBE_PRECONDITIONS \
    MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=http://127.0.0.1:$s3rver_port \
    "$S" --uri "s3://S3RVER:S3RVER@lax/p" state set --force dev:lax '{"singer_state": {"a": 1}}'
  has "s3rver: unenforced PUT preconditions are reported" "$err" \
    "ignores If-None-Match and If-Match on PutObject: locks and compare-and-swap writes are NOT atomic"
  has "s3rver: and DELETE's" "$err" "ignores If-Match on DeleteObject"
  kill "$s3rver_pid" 2>/dev/null; wait "$s3rver_pid" 2>/dev/null
else
  fail "s3rver is not installed ($S3RVER); scripts/test.sh installs it"
fi

# --- failures: clear, no secret, nothing lost --------------------------------------------
run "wrong secret" 1 "$S" --uri "s3://AKTEST:Wrong-Secret-42@$B/$RUN/state" state get dev:tap-a-to-target-b
has "names the error" "$err" "SignatureDoesNotMatch"
has "names the endpoint" "$err" "${EP#http://}"
has "names the bucket" "$err" "$B"
hasnt "secret nowhere" "$err$out" "Wrong-Secret-42"
run "wrong secret on set" 1 "$S" --uri "s3://AKTEST:Wrong-Secret-42@$B/$RUN/state" state set --force \
  dev:tap-a-to-target-b '{"singer_state": {"clobbered": true}}'
hasnt "secret nowhere (set)" "$err$out" "Wrong-Secret-42"
run "missing bucket" 1 "$S" --uri "s3://AKTEST:SKTEST@no-such-bucket-$RUN/p" state get x
has "missing bucket message" "$err" "no-such-bucket-$RUN\" does not exist"
run "unknown CA is refused" 1 env MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=$TLS_EP \
  "$S" --uri "$U" state get dev:tap-a-to-target-b
has "certificate error names the host" "$err" "127.0.0.1"
has "certificate error says why" "$err" "certificate"
run "trusted CA via STATESTORE_S3_CA_FILE" 0 env MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=$TLS_EP \
  STATESTORE_S3_CA_FILE="$CA" "$S" --uri "$U" state get dev:tap-a-to-target-b
run "trusted CA via AWS_CA_BUNDLE" 0 env MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=$TLS_EP \
  AWS_CA_BUNDLE="$CA" "$S" --uri "$U" state get dev:tap-a-to-target-b

# --- the server goes away ---------------------------------------------------------------
# A relay on a free port forwards to RGW; killing it is, for the client, the server stopping.
relay_port=$(python3 "$here/../servers/ports.py" free 1)
python3 "$here/tcp_relay.py" "$relay_port" 127.0.0.1 "$EP_PORT" &
relay_pid=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$relay_port") 2>/dev/null && break
  sleep 0.1
done
RELAY=http://127.0.0.1:$relay_port
run "set through the relay" 0 env MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=$RELAY "$S" --uri "$U" state set --force \
  dev:relay '{"singer_state": {"before": 1}}'
awsc s3 cp "s3://$B/$RUN/state/dev:relay/state.json" "$WORK/before.json" >/dev/null 2>&1
kill "$relay_pid"; wait "$relay_pid" 2>/dev/null; relay_pid=""
start=$(date +%s)
run "server stopped: set fails" 1 env MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=$RELAY "$S" --uri "$U" state set --force \
  dev:relay '{"singer_state": {"after": 1}}'
elapsed=$(( $(date +%s) - start ))
has "connection failure is named" "$err" "connect"
has "attempts are reported" "$err" "attempts"
if [ "$elapsed" -lt 60 ]; then ok "gave up after bounded retries (${elapsed}s)"; else fail "took ${elapsed}s"; fi
awsc s3 cp "s3://$B/$RUN/state/dev:relay/state.json" "$WORK/after.json" >/dev/null 2>&1
same_file "stored state unchanged" "$WORK/before.json" "$WORK/after.json"
run "and readable as before" 0 "$S" --uri "$U" state get dev:relay
equals "state after the outage" "$out" '{"singer_state":{"before":1}}'

# Mid-run: a migration of 200 states through a relay that dies part-way.
mkdir -p "$WORK/src"
for i in $(seq 1 200); do
  mkdir -p "$WORK/src/id-$i"
  printf '{"completed": {"singer_state": {"n": %d}}, "partial": {}}' "$i" >"$WORK/src/id-$i/state.json"
done
python3 "$here/tcp_relay.py" "$relay_port" 127.0.0.1 "$EP_PORT" &
relay_pid=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$relay_port") 2>/dev/null && break
  sleep 0.1
done
( sleep 0.7; kill "$relay_pid" 2>/dev/null ) &
killer=$!
MIG="s3://AKTEST:SKTEST@$B/$RUN/mig"
env MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=$RELAY "$S" migrate --from "file://$WORK/src" --to "$MIG" \
  --concurrency 16 --report "$WORK/report.json" >"$WORK/mig.out" 2>"$WORK/mig.err"
code=$?
wait "$killer" 2>/dev/null; wait "$relay_pid" 2>/dev/null; relay_pid=""
if [ "$code" -eq 1 ]; then ok "migration through a dying server exits 1"; else
  fail "migration exit $code: $(tail -3 "$WORK/mig.err")"; fi
# Every state that reached S3 is whole and exact; a re-run completes the job.
run "re-run completes" 0 "$S" migrate --from "file://$WORK/src" --to "$MIG" --concurrency 16
run "all 200 listed" 0 "$S" --uri "$MIG" state list
equals "count" "$(printf '%s\n' "$out" | grep -c .)" "200"
run "a sample reads back exactly" 0 "$S" --uri "$MIG" state get id-123
equals "id-123" "$out" '{"singer_state":{"n":123}}'

finish
