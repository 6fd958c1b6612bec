#!/usr/bin/env bash
# End-to-end tests of the azure:// backend against Azurite (started by tests/servers/azurite.sh):
# interop with the official SDK (@azure/storage-blob) in both directions, byte for byte; a wrong
# account key; a missing container; TLS with the test CA and with an unknown CA; the
# AZURE_STORAGE_CONNECTION_STRING fallback with UseDevelopmentStorage=true; a SAS in
# storage_account_url; Azure AD client credentials through a local fake token endpoint.
#   azure_cli_tests.sh STATESTORE_BINARY AZURITE_DIR
set -uo pipefail
bin=${1:?statestore binary}
srv=${2:?azurite server dir}
here=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
token_pid=""
relay_pid=""
cleanup() {
  [ -n "$token_pid" ] && kill "$token_pid" 2>/dev/null
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
. "$here/../cli/lib.sh"
. "$srv/env"
unset AZURE_STORAGE_CONNECTION_STRING MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING \
      MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL STATESTORE_AZURE_CA_FILE SSL_CERT_DIR \
      AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_AUTHORITY_HOST
# The machine's own CA bundle variables point elsewhere; each test sets what it needs.
unset SSL_CERT_FILE NODE_EXTRA_CA_CERTS
export NODE_PATH=$AZURE_SDK_NODE_PATH
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
c=$AZURITE_CONTAINER
p="cli-$$-$RANDOM"
sdk() { AZ_CONN=$AZURITE_CONNECTION_STRING node "$here/sdk.js" "$@"; }
az() { MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=$AZURITE_CONNECTION_STRING "$bin" --uri "azure://$c/$p" "$@"; }

# --- statestore writes, the SDK reads the same bytes Meltano's file layout would hold ---
doc='{"singer_state": {"bookmarks": {"orders": {"updated_at": "2024-11-25T11:53:42Z", "name": "ünïcode"}}}}'
run "set dev:tap-to-target" 0 az state set --force dev:tap-to-target "$doc"
"$bin" --uri "file://$WORK/file" state set --force dev:tap-to-target "$doc" >/dev/null 2>&1
sdk get "$c" "$p/dev:tap-to-target/state.json" >"$WORK/sdk.bytes"
if cmp -s "$WORK/sdk.bytes" "$WORK/file/dev:tap-to-target/state.json"; then
  ok "SDK reads byte-for-byte what statestore wrote (same bytes as the file backend)"
else fail "SDK bytes differ: $(head -c 200 "$WORK/sdk.bytes")"; fi
equals "Content-Type is application/json" "$(sdk content-type "$c" "$p/dev:tap-to-target/state.json")" "application/json"
run "no lock left behind" 1 sdk get "$c" "$p/dev:tap-to-target/lock"

# --- the SDK writes a Meltano document, statestore reads it ---
printf '%s' '{"completed": {"singer_state": {"from": "sdk"}}, "partial": {}}' >"$WORK/in.json"
sdk put "$c" "$p/sdk-written/state.json" "$WORK/in.json"
run "get what the SDK wrote" 0 az state get sdk-written
equals "statestore reads the SDK's state" "$out" '{"singer_state":{"from":"sdk"}}'
run "list shows both ids" 0 az state list
has "list has dev:tap-to-target" "$out" "dev:tap-to-target"
has "list has sdk-written" "$out" "sdk-written"

# --- wrong account key: exit 1, authentication error naming account and container, no key ---
bad_key='AAAAvdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
bad_conn=${AZURITE_CONNECTION_STRING/$key/$bad_key}
out=$(MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=$bad_conn "$bin" --uri "azure://$c/$p" state get dev:tap-to-target 2>"$WORK/err"); code=$?
err=$(cat "$WORK/err")
equals "wrong key exits 1" "$code" 1
has "wrong key: authentication error" "$err" "refused authentication"
has "wrong key: names the account" "$err" "devstoreaccount1"
has "wrong key: names the container" "$err" "'$c'"
hasnt "wrong key: key not in stderr" "$err" "$bad_key"
hasnt "wrong key: key not in stderr (prefix)" "$err" "${bad_key:0:20}"
hasnt "wrong key: key not in stdout" "$out" "${bad_key:0:20}"
hasnt "wrong key: no signature in stderr" "$err" "SharedKey"

# --- missing container: a configuration error, not "no state" ---
out=$(MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=$AZURITE_CONNECTION_STRING "$bin" --uri "azure://no-such-container-$$/x" state get a 2>"$WORK/err"); code=$?
err=$(cat "$WORK/err")
equals "missing container exits 1" "$code" 1
has "missing container is named" "$err" "container 'no-such-container-$$'"
has "missing container: does not exist" "$err" "does not exist"

# --- nothing configured: Meltano's message ---
run "no credentials" 1 "$bin" --uri "azure://$c/$p" state list
has "Meltano's message" "$err" "Azure state backend requires a connection string or an account URL to use host credentials"

# --- AZURE_STORAGE_CONNECTION_STRING fallback, UseDevelopmentStorage=true ---
# UseDevelopmentStorage=true means http://127.0.0.1:10000 (as in every Azure SDK), a port this
# machine may give to something else and that our Azurite does not take. So this case runs in a
# network namespace of its own (unshare), whose 127.0.0.1:10000 is a relay (test support) that
# reaches our Azurite through a Unix socket: a socket file works across network namespaces.
relay=$here/../s3/tcp_relay.py
in_netns() { # CMD...: CMD in a fresh network namespace where 127.0.0.1:10000 leads to our Azurite
  unshare -rn bash -c '
    python3 "$1" lo-up || exit 97
    python3 "$2" 10000 "unix:$3" & relay=$!
    for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/10000) 2>/dev/null && break; sleep 0.05; done
    shift 3; "$@"; rc=$?
    kill "$relay"; exit $rc' _ "$here/../servers/ports.py" "$relay" "$WORK/azurite.sock" "$@"
}
if unshare -rn true 2>/dev/null; then
  python3 "$relay" "unix:$WORK/azurite.sock" 127.0.0.1 "$AZURITE_HTTP_PORT" &
  relay_pid=$!
  for _ in $(seq 1 100); do [ -S "$WORK/azurite.sock" ] && break; sleep 0.05; done
  run "UseDevelopmentStorage via AZURE_STORAGE_CONNECTION_STRING" 0 in_netns \
    env AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true "$bin" --uri "azure://$c/$p" state get sdk-written
  equals "fallback reads the state" "$out" '{"singer_state":{"from":"sdk"}}'
  kill "$relay_pid" 2>/dev/null; wait "$relay_pid" 2>/dev/null; relay_pid=""
else
  fail "UseDevelopmentStorage=true: needs a network namespace (unshare -rn) to own 127.0.0.1:10000"
fi

# --- malformed connection string: clear error, no key ---
run "malformed connection string" 1 env MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING="AccountName=devstoreaccount1;AccountKey=${key:0:30}*" \
  "$bin" --uri "azure://$c/$p" state list
has "malformed: says what" "$err" "AccountKey is not valid base64"
hasnt "malformed: no key" "$err" "${key:0:20}"

# --- SAS token in storage_account_url ---
sas=$(sdk sas "$c")
run "SAS in storage_account_url" 0 env MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL="$AZURITE_BLOB_ENDPOINT?$sas" \
  "$bin" --uri "azure://$c/$p" state set --force via-sas '{"singer_state": {"sas": 1}}'
run "SAS read back" 0 az state get via-sas
equals "SAS write landed" "$out" '{"singer_state":{"sas":1}}'
sig=$(sed -n 's/.*sig=\([^&]*\).*/\1/p' <<<"$sas")
run "SAS: bad signature refused" 1 env MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL="$AZURITE_BLOB_ENDPOINT?${sas/sig=$sig/sig=AAAA$sig}" \
  "$bin" --uri "azure://$c/$p" state get via-sas
has "SAS: auth error" "$err" "refused authentication"
hasnt "SAS: token not printed" "$err" "$sig"

# --- HTTPS: the test CA via STATESTORE_AZURE_CA_FILE; an unknown CA is refused ---
tls() { MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=$AZURITE_TLS_CONNECTION_STRING "$bin" --uri "azure://$c/$p" "$@"; }
run "https with the test CA" 0 env STATESTORE_AZURE_CA_FILE="$AZURITE_CA_FILE" \
  MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING="$AZURITE_TLS_CONNECTION_STRING" "$bin" --uri "azure://$c/$p" state set --force tls '{"singer_state": {"tls": 1}}'
run "https CA via SSL_CERT_FILE" 0 env SSL_CERT_FILE="$AZURITE_CA_FILE" \
  MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING="$AZURITE_TLS_CONNECTION_STRING" "$bin" --uri "azure://$c/$p" state get tls
equals "https read back" "$out" '{"singer_state":{"tls":1}}'
run "https with an unknown CA is refused" 1 tls state get tls
has "unknown CA: names the host" "$err" "127.0.0.1"
has "unknown CA: says certificate" "$err" "certificate"

# --- Azure AD client credentials via a local fake token endpoint (HTTPS Azurite, --oauth basic) ---
node "$here/fake-token-endpoint.js" "$WORK/token-port" tenant-1 client-1 s3cr3t-client &
token_pid=$!
for _ in $(seq 1 100); do [ -s "$WORK/token-port" ] && break; sleep 0.05; done
authority="http://127.0.0.1:$(cat "$WORK/token-port")"
aad() { env STATESTORE_AZURE_CA_FILE="$AZURITE_CA_FILE" AZURE_AUTHORITY_HOST="$authority" AZURE_TENANT_ID=tenant-1 \
  AZURE_CLIENT_ID=client-1 MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL="$AZURITE_TLS_BLOB_ENDPOINT" \
  "$@"; }
run "Azure AD token: set" 0 aad AZURE_CLIENT_SECRET=s3cr3t-client "$bin" --uri "azure://$c/$p" state set --force aad '{"singer_state": {"aad": 1}}'
run "Azure AD token: get" 0 aad AZURE_CLIENT_SECRET=s3cr3t-client "$bin" --uri "azure://$c/$p" state get aad
equals "Azure AD read back" "$out" '{"singer_state":{"aad":1}}'
run "Azure AD: wrong client secret" 1 aad AZURE_CLIENT_SECRET=wrong-secret "$bin" --uri "azure://$c/$p" state get aad
has "Azure AD: names the client" "$err" "client 'client-1' in tenant 'tenant-1'"
hasnt "Azure AD: secret not printed" "$err" "wrong-secret"

finish
