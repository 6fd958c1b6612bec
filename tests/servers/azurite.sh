#!/usr/bin/env bash
# A real Azure Blob server for tests: Azurite (npm azurite@3.37.0), in memory, on 127.0.0.1.
# Azurite checks SharedKey signatures and enforces If-None-Match / If-Match (checked by
# tests/azure and the conformance suite).
#
#   tests/servers/azurite.sh install     npm-install azurite and @azure/storage-blob into
#                                        ${STATESTORE_CACHE:-$HOME/.cache/statestore}/{azurite,azure-sdk}
#                                        (outside the clone; a fast no-op once present)
#   tests/servers/azurite.sh start DIR   make a test CA in DIR/ca, start Azurite over HTTP and over
#                                        HTTPS on free ports of 127.0.0.1 (certificate signed by that
#                                        CA; Azure AD bearer tokens accepted there with --oauth
#                                        basic), create the container "statestore-ci" on both
#   tests/servers/azurite.sh stop DIR    stop what `start DIR` started (by PID), remove DIR
#
# Account: Azurite's well-known devstoreaccount1 (its key is public and opens only the emulator).
# After `start`, DIR/env holds AZURITE_CONNECTION_STRING, AZURITE_TLS_CONNECTION_STRING,
# AZURITE_BLOB_ENDPOINT, AZURITE_TLS_BLOB_ENDPOINT (http(s)://127.0.0.1:PORT/devstoreaccount1),
# AZURITE_HTTP_PORT, AZURITE_HTTPS_PORT, AZURITE_CA_FILE, AZURITE_CONTAINER and
# AZURE_SDK_NODE_PATH for a test to source. Never Azurite's default ports (10000, 10003): any
# number of instances can run at once, beside someone else's Azurite.
set -euo pipefail

AZURITE_VERSION=3.37.0
SDK_VERSION=12.32.0 # the newest @azure/storage-blob that runs on Node 20
CONTAINER=statestore-ci
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
MARKER=.azurite-test-dir

cache=${STATESTORE_CACHE:-$HOME/.cache/statestore}
az_dir=$cache/azurite
sdk_dir=$cache/azure-sdk
self=$(readlink -f "${BASH_SOURCE[0]}")
here=$(dirname "$self")
root=$(cd "$here/../.." && pwd)

SERVER_NAME=azurite.sh
# shellcheck source=lib.sh
source "$here/lib.sh"

installed_version() { # DIR PACKAGE
  node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
    "$1/node_modules/$2/package.json" 2>/dev/null || true
}

npm_install() { # DIR SPEC
  mkdir -p "$1"
  [ -f "$1/package.json" ] || echo '{"name":"statestore-test-cache","private":true}' >"$1/package.json"
  log "install: npm install $2 into $1"
  (cd "$1" && timeout 900 npm install --no-audit --no-fund --loglevel=error "$2") ||
    die "install: npm install $2 failed"
}

cmd_install() {
  command -v node >/dev/null || die "install: node is not installed"
  [ "$(installed_version "$az_dir" azurite)" = "$AZURITE_VERSION" ] ||
    npm_install "$az_dir" "azurite@$AZURITE_VERSION"
  [ "$(installed_version "$sdk_dir" @azure/storage-blob)" = "$SDK_VERSION" ] ||
    npm_install "$sdk_dir" "@azure/storage-blob@$SDK_VERSION"
  [ -x "$az_dir/node_modules/.bin/azurite-blob" ] || die "install: azurite-blob is missing"
  log "install: azurite $AZURITE_VERSION and @azure/storage-blob $SDK_VERSION present in $cache"
}

# A PID is ours only while it runs with DIR as its working directory (set at launch), which
# guards against PID reuse after a crash or a reboot.
is_ours() { # PID DIR
  [ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$2" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

stop_servers() { stop_recorded "$1" 10; }

D=""
start_ok=0
start_cleanup() {
  [ "$start_ok" -eq 1 ] && return 0
  [ -n "$D" ] || exit 1
  local rc=1
  port_race "$D" "$D"/*.log "$HTTP_PORT" "$HTTPS_PORT" && rc=$PORT_RACE
  [ "$rc" -eq "$PORT_RACE" ] || { log "start: failed; log tails follow, then stopping what was started"; print_log_tails "$D"/*.log; }
  stop_servers "$D" || true
  exit "$rc"
}

launch() { # NAME PORT [extra azurite args...]
  local name=$1 port=$2 pid
  shift 2
  # setsid: its own session, so only `stop` (by PID) ends it. cwd = DIR marks it as ours.
  (cd "$D" && exec setsid "$az_dir/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
     --blobPort "$port" --inMemoryPersistence --silent --disableTelemetry --skipApiVersionCheck \
     --loose "$@" </dev/null >>"$D/$name.log" 2>&1) &
  pid=$!
  echo "$name $pid" >>"$D/pids"
  started "$pid" "$D" || die "start: $name exited at once (see $D/$name.log)"
}

wait_ready() { # NAME PORT URL [curl args]
  local name=$1 port=$2 url=$3 i code pid
  shift 3
  pid=$(awk -v n="$name" '$1 == n {print $2}' "$D/pids")
  for ((i = 0; i < 240; i++)); do
    is_ours "$pid" "$D" || die "start: $name exited (see $D/$name.log)"
    # Unauthenticated: 403 once it is up (000 before); and from our process, not another one.
    code=$(lcurl -s -o /dev/null -m 3 -w '%{http_code}' "$@" "$url" || true)
    [ "$code" = 403 ] && listens "$pid" "$port" && return 0
    sleep 0.25
  done
  die "start: $name not ready after 60 s"
}

cmd_start() {
  local dir=${1:?usage: azurite.sh start DIR}
  [ -x "$az_dir/node_modules/.bin/azurite-blob" ] || die "start: azurite is not installed; run: $self install"
  start_with_retries _start_attempt "$(readlink -m "$dir")"
}

HTTP_PORT="" HTTPS_PORT=""
cmd_start_attempt() {
  D=$1
  claim_dir "$D"
  rm -rf "$D"
  mkdir -p "$D"
  touch "$D/$MARKER" "$D/pids"
  trap start_cleanup EXIT
  trap 'exit 1' INT TERM HUP

  bash "$here/make-test-ca.sh" "$D/ca" >/dev/null
  { read -r HTTP_PORT; read -r HTTPS_PORT; } < <(free_ports 2)
  launch http "$HTTP_PORT"
  launch https "$HTTPS_PORT" --cert "$D/ca/server.pem" --key "$D/ca/server.key" --oauth basic
  wait_ready http "$HTTP_PORT" "http://127.0.0.1:$HTTP_PORT/$ACCOUNT?comp=list"
  wait_ready https "$HTTPS_PORT" "https://127.0.0.1:$HTTPS_PORT/$ACCOUNT?comp=list" --cacert "$D/ca/ca.pem"

  local ep="http://127.0.0.1:$HTTP_PORT/$ACCOUNT" tep="https://127.0.0.1:$HTTPS_PORT/$ACCOUNT"
  local conn="DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=$ep;"
  local tconn="DefaultEndpointsProtocol=https;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=$tep;"
  AZ_CONN=$conn NODE_PATH="$sdk_dir/node_modules" node "$root/tests/azure/sdk.js" create-container "$CONTAINER" ||
    die "start: could not create container $CONTAINER over http"
  AZ_CONN=$tconn NODE_EXTRA_CA_CERTS="$D/ca/ca.pem" NODE_PATH="$sdk_dir/node_modules" \
    node "$root/tests/azure/sdk.js" create-container "$CONTAINER" ||
    die "start: could not create container $CONTAINER over https"
  {
    printf 'AZURITE_CONNECTION_STRING=%q\n' "$conn"
    printf 'AZURITE_TLS_CONNECTION_STRING=%q\n' "$tconn"
    printf 'AZURITE_BLOB_ENDPOINT=%q\n' "$ep"
    printf 'AZURITE_TLS_BLOB_ENDPOINT=%q\n' "$tep"
    printf 'AZURITE_HTTP_PORT=%q\n' "$HTTP_PORT"
    printf 'AZURITE_HTTPS_PORT=%q\n' "$HTTPS_PORT"
    printf 'AZURITE_CA_FILE=%q\n' "$D/ca/ca.pem"
    printf 'AZURITE_CONTAINER=%q\n' "$CONTAINER"
    printf 'AZURE_SDK_NODE_PATH=%q\n' "$sdk_dir/node_modules"
  } >"$D/env"
  start_ok=1
  trap - EXIT INT TERM HUP
  echo "Azurite ready http://127.0.0.1:$HTTP_PORT https://127.0.0.1:$HTTPS_PORT container $CONTAINER"
}

case ${1:-} in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  _start_attempt) shift; cmd_start_attempt "$@" ;; # internal: one try with freshly picked ports
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
