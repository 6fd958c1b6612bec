#!/usr/bin/env bash
# Real PostgreSQL servers for tests: Debian's postgresql-15 (/usr/lib/postgresql/15/bin), each
# with a private data directory under DIR, on 127.0.0.1 only, run as an unprivileged user (the
# `postgres` system user the package creates, when we are root; else ourselves).
#
#   tests/servers/postgres.sh install        apt-get the server and libpq-dev if missing
#   tests/servers/postgres.sh start DIR [--max-connections N]
#        two servers on free ports (picked at start, retried if another process takes one
#        between the pick and the bind):
#          plain   trust authentication; roles `postgres` (superuser) and `statestore`
#                  (owner of database `statestore`)
#          secure  TLS with a certificate from a test CA made in DIR/ca, and password
#                  authentication (scram-sha-256): role `ss_tls` (database `statestore_tls`)
#                  only over TLS, role `ss_pw` (database `statestore`) with or without;
#                  random passwords made at start
#        DIR/env then holds, for tests to source: PG_BIN, PG_PORT, PG_URI, PG_SUPER_URI,
#        PG_SECURE_PORT, PG_TLS_URI (sslmode=verify-full), PG_PASSWORD_URI, PG_TLS_USER,
#        PG_PASSWORD_USER, PG_TLS_PASSWORD, PG_PASSWORD, PG_CA_FILE
#   tests/servers/postgres.sh restart DIR    pg_ctl restart -m fast of the plain server
#   tests/servers/postgres.sh stop DIR       stop both (by PID), remove DIR
#
# Nothing is left running after `stop`; only processes recorded in DIR/pids whose executable
# is the postgres binary and whose command line names DIR are ever signalled.
set -euo pipefail

PG_VERSION=15
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
MARKER=.postgres-test-dir

self=$(readlink -f "${BASH_SOURCE[0]}")
here=$(dirname "$self")

SERVER_NAME=postgres.sh
# shellcheck source=lib.sh
source "$here/lib.sh"

# The user the servers run as: never root (postgres refuses to).
if [ "$(id -u)" -eq 0 ]; then
  RUN_AS=postgres
  as_server() { runuser -u "$RUN_AS" -- "$@"; }
else
  RUN_AS=$(id -un)
  as_server() { "$@"; }
fi

cmd_install() {
  local p missing=()
  for p in postgresql-$PG_VERSION postgresql-client-$PG_VERSION libpq-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "install: apt-get install ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  [ -x "$PG_BIN/postgres" ] || die "install: $PG_BIN/postgres is missing"
  log "install: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') present"
}

# A PID is ours while it runs the postgres binary with DIR in its command line.
is_ours() { # PID DIR
  [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$PG_BIN/postgres" ] &&
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2/" &&
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# A fast shutdown through pg_ctl first (it checkpoints and waits for the children), then the
# recorded PIDs (SIGTERM = smart shutdown, then SIGKILL) for whatever is left.
stop_servers() {
  local d=$1 name
  for name in plain secure; do
    [ -f "$d/$name/data/postmaster.pid" ] &&
      as_server "$PG_BIN/pg_ctl" stop -D "$d/$name/data" -m fast -w -t 30 >/dev/null 2>&1 || true
  done
  stop_recorded "$d" 10
}


random_password() { head -c 18 /dev/urandom | base64 | tr -d '/+=' ; }

# write_conf NAME PORT EXTRA: DIR/NAME/data/postgresql.conf as initdb wrote it plus ours,
# written in place (the file stays the server user's).
write_conf() {
  local name=$1 port=$2 extra=$3
  {
    cat "$D/postgresql.conf.initdb"
    cat <<EOF

# --- tests/servers/postgres.sh ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = $MAX_CONNECTIONS
logging_collector = off
log_line_prefix = '%m [%p] %u@%d '
$extra
EOF
  } >"$D/$name/data/postgresql.conf"
}

# launch NAME: starts the server of DIR/NAME and records its postmaster PID. Returns 75 when
# its port was taken between the pick and the bind.
launch() {
  local name=$1 data=$D/$1/data log=$D/$1.log pid i
  if ! as_server "$PG_BIN/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null 2>&1; then
    if grep -qiE 'could not bind|address already in use' "$log" 2>/dev/null; then
      return "$PORT_RACE"
    fi
    print_log_tails "$log"
    die "start: the $name server did not start (see $log)"
  fi
  pid=$(head -1 "$data/postmaster.pid")
  echo "$name $pid" >>"$D/pids"
  # The process we started holds the port (not some other server that had it first).
  listens "$pid" "$(sed -n 4p "$data/postmaster.pid")" || return "$PORT_RACE"
  for ((i = 0; i < 100; i++)); do
    is_ours "$pid" "$D" && return 0
    sleep 0.1
  done
  die "start: the $name server (pid $pid) is not running"
}

PORT_RACE=${PORT_RACE:-75}

D=""
start_ok=0
start_cleanup() {
  [ "$start_ok" -eq 1 ] && return 0
  [ -n "$D" ] || exit 1
  log "start: failed; stopping what was started"
  print_log_tails "$D"/*.log
  stop_servers "$D" || true
  exit 1
}

psql_super() { # PORT SQL...
  local port=$1
  shift
  PGPASSWORD= PGSERVICEFILE=/nonexistent "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@" >/dev/null
}

cmd_start() {
  local dir=${1:?usage: postgres.sh start DIR [--max-connections N]}
  shift
  MAX_CONNECTIONS=100
  while [ $# -gt 0 ]; do
    case $1 in
      --max-connections) MAX_CONNECTIONS=${2:?}; shift 2 ;;
      *) die "start: unknown option $1" ;;
    esac
  done
  [ -x "$PG_BIN/postgres" ] || die "start: PostgreSQL is not installed; run: $self install"
  D=$(readlink -m "$dir")
  claim_dir "$D"
  rm -rf "$D"
  mkdir -p "$D"
  touch "$D/$MARKER" "$D/pids"
  trap start_cleanup EXIT
  trap 'exit 1' INT TERM HUP

  # The server user must reach DIR; everything it writes lives in DIR/plain and DIR/secure.
  local p=$D
  while [ "$p" != / ]; do
    as_server test -x "$p" || die "start: $RUN_AS cannot enter $p (its parents must be searchable)"
    p=$(dirname "$p")
  done
  bash "$here/make-test-ca.sh" "$D/ca" >/dev/null
  local tls_password pw_password
  tls_password=$(random_password)
  pw_password=$(random_password)

  # One initdb; the secure server starts from a copy of the fresh cluster.
  mkdir -p "$D/plain" "$D/secure"
  chown "$RUN_AS" "$D/plain" "$D/secure"
  as_server "$PG_BIN/initdb" -D "$D/plain/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    >"$D/initdb.log" 2>&1 || { print_log_tails "$D/initdb.log"; die "start: initdb failed"; }
  as_server cp -a "$D/plain/data" "$D/secure/data"
  cp "$D/plain/data/postgresql.conf" "$D/postgresql.conf.initdb"
  # The server's log files live in DIR, written by the server user.
  touch "$D/plain.log" "$D/secure.log"
  chown "$RUN_AS" "$D/plain.log" "$D/secure.log"
  install -o "$RUN_AS" -m 600 "$D/ca/server.key" "$D/secure/server.key"
  install -o "$RUN_AS" -m 644 "$D/ca/server.pem" "$D/secure/server.pem"
  as_server tee "$D/secure/data/pg_hba.conf" >/dev/null <<EOF
# tests/servers/postgres.sh: TLS-only and password-only users, trust only for the superuser
hostssl   all  ss_tls    127.0.0.1/32  scram-sha-256
hostnossl all  ss_tls    127.0.0.1/32  reject
host      all  ss_pw     127.0.0.1/32  scram-sha-256
host      all  postgres  127.0.0.1/32  trust
EOF

  local attempt port secure_port rc
  for attempt in 1 2 3; do
    # Two free ports (lib.sh's free_ports: below the ephemeral range); another process can
    # still take one before the server binds it: launch() notices and we pick again.
    local picked
    picked=$(free_ports 2) || die "start: no free ports"
    port=$(sed -n 1p <<<"$picked")
    secure_port=$(sed -n 2p <<<"$picked")
    write_conf plain "$port" ""
    write_conf secure "$secure_port" "ssl = on
ssl_cert_file = '$D/secure/server.pem'
ssl_key_file = '$D/secure/server.key'
password_encryption = 'scram-sha-256'"
    rc=0
    launch plain || rc=$?
    [ "$rc" -eq 0 ] && { launch secure || rc=$?; }
    [ "$rc" -eq 0 ] && break
    [ "$rc" -eq "$PORT_RACE" ] || die "start: the servers did not start"
    log "start: a port was taken between the pick and the bind (attempt $attempt of 3)"
    stop_servers "$D"
    : >"$D/pids"
  done
  [ "$rc" -eq 0 ] || die "start: lost the race for free ports three times"

  psql_super "$port" -c "CREATE ROLE statestore LOGIN" -c "CREATE DATABASE statestore OWNER statestore"
  psql_super "$secure_port" \
    -c "CREATE ROLE ss_tls LOGIN PASSWORD '$tls_password'" \
    -c "CREATE ROLE ss_pw LOGIN PASSWORD '$pw_password'" \
    -c "CREATE DATABASE statestore OWNER ss_pw" \
    -c "CREATE DATABASE statestore_tls OWNER ss_tls"

  (
    umask 077
    {
      printf 'PG_BIN=%q\n' "$PG_BIN"
      printf 'PG_PORT=%q\n' "$port"
      printf 'PG_URI=%q\n' "postgresql://statestore@127.0.0.1:$port/statestore"
      printf 'PG_SUPER_URI=%q\n' "postgresql://postgres@127.0.0.1:$port/postgres"
      printf 'PG_SECURE_PORT=%q\n' "$secure_port"
      printf 'PG_TLS_USER=ss_tls\n'
      printf 'PG_TLS_PASSWORD=%q\n' "$tls_password"
      printf 'PG_PASSWORD_USER=ss_pw\n'
      printf 'PG_PASSWORD=%q\n' "$pw_password"
      printf 'PG_TLS_URI=%q\n' "postgresql://ss_tls:$tls_password@localhost:$secure_port/statestore_tls?sslmode=verify-full&sslrootcert=$D/ca/ca.pem"
      printf 'PG_PASSWORD_URI=%q\n' "postgresql://ss_pw:$pw_password@127.0.0.1:$secure_port/statestore?sslmode=disable"
      printf 'PG_CA_FILE=%q\n' "$D/ca/ca.pem"
    } >"$D/env"
  )
  start_ok=1
  trap - EXIT INT TERM HUP
  echo "PostgreSQL $PG_VERSION ready: plain 127.0.0.1:$port, TLS + scram 127.0.0.1:$secure_port (running as $RUN_AS)"
}

cmd_restart() {
  local dir=${1:?usage: postgres.sh restart DIR}
  local d pid
  d=$(readlink -m "$dir")
  [ -f "$d/$MARKER" ] || die "restart: $d was not made by $SERVER_NAME start"
  as_server "$PG_BIN/pg_ctl" restart -D "$d/plain/data" -m fast -w -t 60 -l "$d/plain.log" >/dev/null
  pid=$(head -1 "$d/plain/data/postmaster.pid")
  # The new postmaster replaces the old one in DIR/pids.
  awk -v p="$pid" '$1 == "plain" {print "plain", p; next} {print}' "$d/pids" >"$d/pids.new"
  mv "$d/pids.new" "$d/pids"
}

case ${1:-} in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  restart) shift; cmd_restart "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 install | start DIR [--max-connections N] | restart DIR | stop DIR" >&2; exit 2 ;;
esac
