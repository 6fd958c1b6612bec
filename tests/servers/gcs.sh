#!/usr/bin/env bash
# Google Cloud Storage for tests, all on 127.0.0.1, each on a free port picked at start (never the
# emulator's default 9199; docs/gcs.md tells how the emulator is run):
#   GCS_EMULATOR    the firebase-tools storage emulator (GCS JSON API), started from
#                   tests/gcs/emulator.js without Java; it ignores ifGenerationMatch and
#                   Authorization;
#   GCS_PROXY       TEST SUPPORT: tests/gcs/precondition-proxy.js in front of it, which enforces
#                   ifGenerationMatch (and bearer tokens) as real GCS does. Tests go through it;
#   GCS_TOKEN_URI   TEST SUPPORT: tests/gcs/token-endpoint.js, an OAuth token endpoint that
#                   verifies RS256 JWT assertions with the test service account's public key and
#                   issues 2-second tokens.
#
#   tests/servers/gcs.sh install       npm packages into ${STATESTORE_CACHE:-~/.cache/statestore}/gcs
#                                      (firebase-tools, @google-cloud/storage; idempotent, fast no-op)
#   tests/servers/gcs.sh start DIR     start the three servers; DIR/pids, DIR/env, test credentials
#   tests/servers/gcs.sh stop DIR      stop what `start DIR` started (by PID), remove DIR
#
# DIR/env (shell assignments): GCS_EMULATOR, GCS_PROXY, GCS_TOKEN_URI, GCS_TOKEN_STATS,
# GCS_PROXY_STATS, GCS_EMULATOR_PORT, GCS_PROXY_PORT, GCS_TOKEN_PORT, GCS_SA_FILE (a service account whose token_uri is the local endpoint),
# GCS_SA_WRONG_KEY_FILE (same account, a key the endpoint rejects), GCS_AU_FILE (authorized_user),
# GCS_NODE_MODULES. Keys are generated afresh by every `start` (openssl), never committed.
set -euo pipefail

EMU_PORT="" PROXY_PORT="" TOKEN_PORT=""
FIREBASE_TOOLS=firebase-tools@15.34.2
GCS_SDK=@google-cloud/storage@7.22.0
MARKER=.gcs-test-dir

self=$(readlink -f "${BASH_SOURCE[0]}")
here=$(dirname "$self")
scripts=$(readlink -f "$here/../gcs")
cache=${STATESTORE_CACHE:-$HOME/.cache/statestore}/gcs

SERVER_NAME=gcs.sh
# shellcheck source=lib.sh
source "$here/lib.sh"

installed_version() { # PACKAGE -> version in the cache, or empty
  node -e "try{console.log(require('$cache/node_modules/$1/package.json').version)}catch{}" 2>/dev/null
}

cmd_install() {
  if [ "$(installed_version firebase-tools)" = "${FIREBASE_TOOLS##*@}" ] &&
     [ "$(installed_version @google-cloud/storage)" = "${GCS_SDK##*@}" ]; then
    log "install: $FIREBASE_TOOLS and $GCS_SDK already in $cache"
    return 0
  fi
  command -v npm >/dev/null || die "install: npm not found"
  mkdir -p "$cache"
  [ -f "$cache/package.json" ] || echo '{"name":"statestore-gcs-test-deps","private":true}' >"$cache/package.json"
  # --ignore-scripts: the storage emulator needs none of the native modules' build steps (re2
  # alone takes minutes to compile).
  log "install: npm i $FIREBASE_TOOLS $GCS_SDK into $cache"
  (cd "$cache" && timeout 900 npm i --ignore-scripts --no-audit --no-fund --loglevel=error \
      "$FIREBASE_TOOLS" "$GCS_SDK" >&2)
  [ "$(installed_version firebase-tools)" = "${FIREBASE_TOOLS##*@}" ] || die "install: firebase-tools missing after npm i"
  log "install: done"
}

# A PID is ours only while it is a node process running one of our scripts with this DIR's marker
# argument in its environment-independent command line (guards against PID reuse).
is_ours() {
  local pid=$1 dir=$2 cmd
  [ -r "/proc/$pid/cmdline" ] || return 1
  { cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline"); } 2>/dev/null || return 1
  [[ "$cmd" == *"$scripts/"* && "$cmd" == *"--dir=$dir"* ]]
}

stop_servers() { stop_recorded "$1" 5; }

D=""
start_ok=0
start_cleanup() {
  [ "$start_ok" -eq 1 ] && return 0
  [ -n "$D" ] || exit 1
  local rc=1
  port_race "$D" "$D"/log/* $EMU_PORT $PROXY_PORT $TOKEN_PORT && rc=$PORT_RACE
  [ "$rc" -eq "$PORT_RACE" ] || { log "start: failed; log tails follow"; print_log_tails "$D"/log/*; }
  stop_servers "$D" || true
  exit "$rc"
}

launch() { # NAME SCRIPT ARGS...: node SCRIPT ARGS --dir=DIR in its own session, PID recorded
  local name=$1 script=$2 pid
  shift 2
  setsid node "$scripts/$script" "$@" "--dir=$D" </dev/null >>"$D/log/$name.out" 2>&1 &
  pid=$!
  echo "$name $pid" >>"$D/pids"
  started "$pid" "$D" || die "start: $name exited at once (see $D/log/$name.out)"
}

wait_http() { # SECONDS NAME PORT URL WHAT: URL answers 200, served by the process launched as NAME
  local i pid
  pid=$(awk -v n="$2" '$1 == n {print $2}' "$D/pids")
  for ((i = 0; i < $1 * 4; i++)); do
    is_ours "$pid" "$D" || die "start: $5 exited (see $D/log/$2.out)"
    [ "$(lcurl -s -o /dev/null -m 2 -w '%{http_code}' "$4" || true)" = 200 ] && listens "$pid" "$3" && return 0
    sleep 0.25
  done
  die "start: timed out after $1 s waiting for $5"
}

write_service_account() { # FILE KEYFILE
  node -e '
    const fs = require("fs");
    fs.writeFileSync(process.argv[1], JSON.stringify({
      type: "service_account", project_id: "demo-test", private_key_id: "test-key-1",
      private_key: fs.readFileSync(process.argv[2], "utf8"),
      client_email: "statestore-test@demo-test.iam.gserviceaccount.com", client_id: "1",
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: process.argv[3] }, null, 2));' "$1" "$2" "http://127.0.0.1:$TOKEN_PORT/token"
  chmod 600 "$1"
}

cmd_start() {
  local dir=${1:?usage: gcs.sh start DIR}
  [ -f "$cache/node_modules/firebase-tools/package.json" ] || die "start: not installed; run: $self install"
  start_with_retries _start_attempt "$(readlink -m "$dir")"
}

cmd_start_attempt() {
  D=$1
  claim_dir "$D"
  rm -rf "$D"
  mkdir -p "$D/log" "$D/tmp"
  touch "$D/$MARKER"
  trap start_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  { read -r EMU_PORT; read -r PROXY_PORT; read -r TOKEN_PORT; } < <(free_ports 3)

  # Test credentials: a fresh RSA key for the service account, and another one the token
  # endpoint does not know.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/sa-key.pem" 2>/dev/null
  openssl pkey -in "$D/sa-key.pem" -pubout -out "$D/sa-pub.pem"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/wrong-key.pem" 2>/dev/null
  write_service_account "$D/sa.json" "$D/sa-key.pem"
  write_service_account "$D/sa-wrong-key.json" "$D/wrong-key.pem"
  local au_secret au_refresh secret
  au_secret=$(openssl rand -hex 12); au_refresh=$(openssl rand -hex 16); secret=$(openssl rand -hex 16)
  printf '{"type":"authorized_user","client_id":"statestore-test.apps.googleusercontent.com","client_secret":"%s","refresh_token":"%s","token_uri":"http://127.0.0.1:%s/token"}\n' \
    "$au_secret" "$au_refresh" "$TOKEN_PORT" >"$D/authorized-user.json"
  chmod 600 "$D/authorized-user.json"

  # Its own TMPDIR: the emulator deletes $TMPDIR/firebase/storage when it stops.
  TMPDIR="$D/tmp" NODE_MODULES="$cache/node_modules" launch emulator emulator.js $EMU_PORT 127.0.0.1
  TOKEN_SECRET=$secret launch proxy precondition-proxy.js $PROXY_PORT $EMU_PORT
  TOKEN_SECRET=$secret SA_PUBLIC_KEY="$D/sa-pub.pem" \
    SA_EMAIL=statestore-test@demo-test.iam.gserviceaccount.com \
    AU_CLIENT_ID=statestore-test.apps.googleusercontent.com AU_CLIENT_SECRET=$au_secret \
    AU_REFRESH_TOKEN=$au_refresh TOKEN_TTL=${GCS_TOKEN_TTL:-2} \
    launch token token-endpoint.js $TOKEN_PORT
  wait_http 60 emulator "$EMU_PORT" "http://127.0.0.1:$EMU_PORT/b" "the emulator"
  wait_http 20 proxy "$PROXY_PORT" "http://127.0.0.1:$PROXY_PORT/__stats" "the precondition proxy"
  wait_http 20 token "$TOKEN_PORT" "http://127.0.0.1:$TOKEN_PORT/stats" "the token endpoint"
  cat >"$D/env" <<ENV
GCS_EMULATOR=http://127.0.0.1:$EMU_PORT
GCS_PROXY=http://127.0.0.1:$PROXY_PORT
GCS_PROXY_STATS=http://127.0.0.1:$PROXY_PORT/__stats
GCS_TOKEN_URI=http://127.0.0.1:$TOKEN_PORT/token
GCS_TOKEN_STATS=http://127.0.0.1:$TOKEN_PORT/stats
GCS_EMULATOR_PORT=$EMU_PORT
GCS_PROXY_PORT=$PROXY_PORT
GCS_TOKEN_PORT=$TOKEN_PORT
GCS_SA_FILE=$D/sa.json
GCS_SA_WRONG_KEY_FILE=$D/sa-wrong-key.json
GCS_AU_FILE=$D/authorized-user.json
GCS_NODE_MODULES=$cache/node_modules
ENV
  start_ok=1
  trap - EXIT INT TERM HUP
  log "start: emulator :$EMU_PORT, precondition proxy :$PROXY_PORT, token endpoint :$TOKEN_PORT"
  echo "GCS ready: emulator http://127.0.0.1:$EMU_PORT, proxy http://127.0.0.1:$PROXY_PORT, token endpoint http://127.0.0.1:$TOKEN_PORT/token"
}

case ${1:-} in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  _start_attempt) shift; cmd_start_attempt "$@" ;; # internal: one try with freshly picked ports
  stop) shift; cmd_stop "$@" ;;
  *) die "usage: gcs.sh install | start DIR | stop DIR" ;;
esac
