#!/usr/bin/env bash
# Proof that the test servers need no fixed port: with every default port of theirs taken (as on
# a machine that already runs Azurite, a storage emulator or Ceph), each CTest fixture (S3 on
# Ceph RGW with TLS, Azurite, the GCS emulator with its proxy and token endpoint) starts into a
# temporary directory, records other ports in DIR/env, serves statestore there, and stops.
#   taken_ports_test.sh STATESTORE_BINARY
set -uo pipefail
bin=$(readlink -f "${1:?statestore binary}")
here=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/statestore-ports-XXXXXX)
source "$here/../cli/lib.sh"

# The ports the scripts used to take, and the servers' own defaults: Azurite blob/queue/table and
# its HTTPS pair, the firebase storage emulator and the old proxy/token ports, RGW's HTTP and the
# old HTTPS, Ceph's monitor (v1 and v2), s3rver's default and the next one.
DEFAULTS=(10000 10001 10002 10003 9199 9200 9201 7480 7443 6789 3300 4568 4569)
is_default() { local d; for d in "${DEFAULTS[@]}"; do [ "$1" = "$d" ] && return 0; done; return 1; }
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
listens() { python3 "$here/ports.py" listens "$1" "$2"; }

holder=""
started=()
cleanup() {
  local s
  for s in "${started[@]}"; do
    case $s in
      s3) bash "$here/../s3/fixture.sh" stop "$WORK/s3" >/dev/null 2>&1 ;;
      *) bash "$here/$s.sh" stop "$WORK/$s" >/dev/null 2>&1 ;;
    esac
  done
  [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- occupy the defaults: our own listeners where free; the rest are someone else's already ---
python3 "$here/ports.py" hold "${DEFAULTS[@]}" >"$WORK/hold.out" &
holder=$!
for _ in $(seq 1 100); do [ "$(wc -l <"$WORK/hold.out")" -ge 2 ] && break; sleep 0.05; done
read -r -a held <<<"$(sed -n 's/^held *//p' "$WORK/hold.out")"
read -r -a taken <<<"$(sed -n 's/^taken *//p' "$WORK/hold.out")"
equals "every default port is tried" "$(( ${#held[@]} + ${#taken[@]} ))" "${#DEFAULTS[@]}"
# Not ours: in use by another process (perhaps one of the very servers this is about), which may
# let go of it at any time, so only the held ones are checked again at the end.
[ ${#taken[@]} -eq 0 ] || echo "# already in use by other processes: ${taken[*]}"
ok "listening on the free defaults ourselves: ${held[*]:-none}"

# --- start every fixture at once, each into its own directory -----------------------------
t0=$(date +%s)
bash "$here/../s3/fixture.sh" start "$WORK/s3" >"$WORK/s3.log" 2>&1 & s3_pid=$!
bash "$here/azurite.sh" start "$WORK/azurite" >"$WORK/azurite.log" 2>&1 & az_pid=$!
bash "$here/gcs.sh" start "$WORK/gcs" >"$WORK/gcs.log" 2>&1 & gcs_pid=$!
started=(s3 azurite gcs)
for s in s3 azurite gcs; do
  pid_var=${s/azurite/az}_pid
  if wait "${!pid_var}"; then ok "$s: started"; else fail "$s: start failed: $(tail -n 30 "$WORK/$s.log")"; fi
done
echo "# started in $(( $(date +%s) - t0 )) s"

# --- each recorded port: not a default, and held by a process the server script started ----
check_ports() { # NAME DIR PIDS_FILE VAR...
  local name=$1 dir=$2 pids=$3 var port pid mine
  shift 3
  for var in "$@"; do
    port=$(set -a; . "$dir/env" 2>/dev/null; echo "${!var:-}")
    if ! [[ "$port" =~ ^[0-9]+$ ]]; then fail "$name: $var not recorded in $dir/env"; continue; fi
    is_default "$port" && fail "$name: $var=$port is a default port" || ok "$name: $var=$port is not a default"
    mine=0
    while read -r _ pid; do listens "$pid" "$port" && mine=1; done <"$pids"
    [ "$mine" -eq 1 ] && ok "$name: :$port is held by a process it started" ||
      fail "$name: :$port is not held by any process in $pids"
  done
}
check_ports s3 "$WORK/s3/rgw" "$WORK/s3/rgw/pids" RGW_HTTP_PORT RGW_HTTPS_PORT RGW_MON_PORT
check_ports azurite "$WORK/azurite" "$WORK/azurite/pids" AZURITE_HTTP_PORT AZURITE_HTTPS_PORT
check_ports gcs "$WORK/gcs" "$WORK/gcs/pids" GCS_EMULATOR_PORT GCS_PROXY_PORT GCS_TOKEN_PORT

# --- statestore works with exactly what DIR/env says ---------------------------------------
unset AWS_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
      AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 STATESTORE_S3_CA_FILE \
      MELTANO_STATE_BACKEND_S3_ENDPOINT_URL AZURE_STORAGE_CONNECTION_STRING \
      MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL \
      STATESTORE_AZURE_CA_FILE GOOGLE_APPLICATION_CREDENTIALS STORAGE_EMULATOR_HOST \
      CLOUD_STORAGE_EMULATOR_ENDPOINT STATESTORE_GCS_ENDPOINT \
      MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent HOME=$WORK
id=dev:ports-$RANDOM
doc='{"singer_state": {"ports": 1}}'
want='{"singer_state":{"ports":1}}'

. "$WORK/s3/env"
U=s3://AKTEST:SKTEST@statestore-ci/ports
run "s3 over http: set" 0 env STATESTORE_S3_PROBE_PRECONDITIONS=0 \
  MELTANO_STATE_BACKEND_S3_ENDPOINT_URL="$S3_ENDPOINT" "$bin" --uri "$U" state set --force "$id" "$doc"
run "s3 over https (test CA): get" 0 env STATESTORE_S3_PROBE_PRECONDITIONS=0 \
  MELTANO_STATE_BACKEND_S3_ENDPOINT_URL="$S3_TLS_ENDPOINT" STATESTORE_S3_CA_FILE="$S3_CA_FILE" \
  "$bin" --uri "$U" state get "$id"
equals "s3: read back" "$out" "$want"

. "$WORK/azurite/env"
U=azure://$AZURITE_CONTAINER/ports
# Two Azurite processes (HTTP, HTTPS), each with its own in-memory store: a round trip on each.
for conn in AZURITE_CONNECTION_STRING AZURITE_TLS_CONNECTION_STRING; do
  for cmd in set get; do
    args=(state get "$id"); [ "$cmd" = set ] && args=(state set --force "$id" "$doc")
    run "azure via $conn: $cmd" 0 env STATESTORE_AZURE_CA_FILE="$AZURITE_CA_FILE" \
      MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING="${!conn}" "$bin" --uri "$U" "${args[@]}"
  done
  equals "azure via $conn: read back" "$out" "$want"
done

. "$WORK/gcs/env"
# auth-* buckets: the proxy wants a token from the endpoint that the key file names (token_uri).
U=gs://auth-ci/ports
run "gcs straight to the emulator: set" 0 env STORAGE_EMULATOR_HOST="$GCS_EMULATOR" \
  "$bin" --uri "$U" state set --force "$id" "$doc"
run "gcs through the proxy with a token from the token endpoint: get" 0 env \
  STATESTORE_GCS_ENDPOINT="$GCS_PROXY" MELTANO_STATE_BACKEND_GCS_APPLICATION_CREDENTIALS_PATH="$GCS_SA_FILE" \
  "$bin" --uri "$U" state get "$id"
equals "gcs: read back" "$out" "$want"

# --- the defaults stayed ours all along: the servers really went elsewhere -----------------
for p in "${held[@]}"; do
  listens "$holder" "$p" || fail "127.0.0.1:$p: no longer held by this test's listener"
done
ok "the held defaults (${held[*]:-none}) stayed with this test's listener"

# --- stop: processes gone, directories removed ----------------------------------------------
for s in s3 azurite gcs; do
  case $s in
    s3) pids=$(awk '{print $2}' "$WORK/s3/rgw/pids"); bash "$here/../s3/fixture.sh" stop "$WORK/s3" >"$WORK/stop.log" 2>&1 ;;
    *) pids=$(awk '{print $2}' "$WORK/$s/pids"); bash "$here/$s.sh" stop "$WORK/$s" >"$WORK/stop.log" 2>&1 ;;
  esac
  rc=$?
  alive=""
  for pid in $pids; do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
    [ -z "$state" ] || [ "$state" = Z ] || alive="$alive $pid"
  done
  [ "$rc" -eq 0 ] && [ -z "$alive" ] && ok "$s: stopped (pids $(echo $pids))" ||
    fail "$s: stop exit $rc, still alive:${alive:- none}: $(cat "$WORK/stop.log")"
done
started=()
finish
