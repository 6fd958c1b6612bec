#!/usr/bin/env bash
# A real S3 server for tests: a one-node Ceph cluster (ceph-mon + one memstore ceph-osd + radosgw)
# on 127.0.0.1, no systemd, no cephx. Ceph RGW checks SigV4 signatures and enforces
# `If-None-Match: *`, which the lighter emulators do not (checked by tests/s3).
#
#   tests/servers/rgw.sh install                      install radosgw ceph-mon ceph-osd (idempotent)
#   tests/servers/rgw.sh start DIR [--tls CERT KEY]   start a cluster in DIR; HTTP (and HTTPS with
#                                                     --tls) on free ports of 127.0.0.1
#   tests/servers/rgw.sh stop DIR                     stop what `start DIR` started, remove DIR
#   tests/servers/rgw.sh selftest                     install, start, S3 round trip, stop (< 3 min)
#
# Credentials: RGW_ACCESS_KEY / RGW_SECRET_KEY (test-only defaults AKTEST / SKTEST); region
# us-east-1, path-style addressing. After `start`, DIR/env holds shell assignments of RGW_ENDPOINT,
# RGW_TLS_ENDPOINT (with --tls), RGW_HTTP_PORT, RGW_HTTPS_PORT, RGW_MON_PORT, RGW_ACCESS_KEY and
# RGW_SECRET_KEY for a test to source.
# No fixed port: the monitor (v1 only, no msgr2 on 3300) and radosgw's listeners take free ports
# picked at start, never Ceph's defaults (6789, 7480); the OSD takes the first free ones of
# Ceph's 6800+ range itself. Clusters in different DIRs run side by side, and beside a real Ceph.
set -euo pipefail

HTTP_PORT="" HTTPS_PORT="" MON_PORT=""
PACKAGES=(radosgw ceph-mon ceph-osd)
# A marker that says "this directory was made by rgw.sh": `start` only wipes, and `stop` only
# removes, a directory carrying it, so a wrong argument cannot delete someone's files.
MARKER=.rgw-test-dir

self=$(readlink -f "${BASH_SOURCE[0]}")
here=$(dirname "$self")

SERVER_NAME=rgw.sh
# shellcheck source=lib.sh
source "$here/lib.sh"

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
has_candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

cmd_install() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    log "install: ${PACKAGES[*]} already installed"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Wait (bounded) for another apt/dpkg to finish instead of failing at once on its lock.
  local aptopt=(-o DPkg::Lock::Timeout=120 -o Acquire::Retries=2)

  # apt-get update only when the package lists do not know a package (fresh machine, or the
  # lists were cleaned): it is slow and touches the network.
  local updated=0
  for p in "${missing[@]}"; do
    if ! has_candidate "$p"; then
      log "install: no candidate for $p in the package lists; running apt-get update"
      timeout 300 $sudo apt-get "${aptopt[@]}" update -qq
      updated=1
      break
    fi
  done

  # Dry run first and refuse a plan that would install an unversioned libboost-*-dev (on bookworm
  # those are 1.74 and replace the project's 1.81 development set) or remove any package.
  local plan
  plan=$($sudo apt-get "${aptopt[@]}" install -s -y --no-install-recommends "${missing[@]}")
  if grep -E '^Inst libboost[a-z-]*-dev ' <<<"$plan"; then
    die "install: the plan above would install an unversioned libboost-*-dev; refusing"
  fi
  if grep -E '^Remv ' <<<"$plan"; then
    die "install: the plan above would remove packages; refusing"
  fi

  log "install: installing ${missing[*]}"
  if ! timeout 900 $sudo apt-get "${aptopt[@]}" install -y -qq --no-install-recommends "${missing[@]}"; then
    # Stale lists point at files the mirror no longer has (404): refresh once and retry.
    [ "$updated" -eq 1 ] && die "install: apt-get install failed"
    log "install: apt-get install failed; running apt-get update and retrying once"
    timeout 300 $sudo apt-get "${aptopt[@]}" update -qq
    timeout 900 $sudo apt-get "${aptopt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
  fi
  for p in "${PACKAGES[@]}"; do is_installed "$p" || die "install: $p is still not installed"; done
  log "install: done"
}

# ---------------------------------------------------------------------------------------------
# process bookkeeping (shared by start's failure path and stop)
# ---------------------------------------------------------------------------------------------
# A PID is "ours" only while the process at that PID is a ceph daemon started with this
# directory's ceph.conf. That guards against PID reuse (a stale DIR/pids after a reboot or a
# crash must never make us signal an unrelated process). A zombie has an empty cmdline, so it
# counts as gone, which is what we want.
is_ours() {
  local pid=$1 dir=$2 cmd
  [ -r "/proc/$pid/cmdline" ] || return 1
  # The process may vanish between the test above and the read: that is "gone", not an error.
  { cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline"); } 2>/dev/null || return 1
  [[ "$cmd" == *"$dir/ceph.conf"* ]]
}

# stop_servers DIR: radosgw first, as it is a client of the cluster; the OSD before the mon
# because an OSD asks the mon to mark it down on shutdown and hangs if the mon is already gone
# (seen while writing the recipe).
stop_servers() {
  local rc=0
  stop_recorded "$1" 15 rgw || rc=1
  stop_recorded "$1" 20 osd || rc=1
  stop_recorded "$1" 10 mon || rc=1
  return $rc
}

# ---------------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------------
C=""            # the cluster directory (absolute), set by cmd_start_attempt
start_ok=0

# On any failure (or interruption) of `start`: show why, and leave no daemon running. DIR itself
# is kept so its logs can be read; `stop DIR` removes it.
start_cleanup() {
  local rc=1
  [ "$start_ok" -eq 1 ] && return 0
  [ -n "$C" ] || exit 1
  [ -d "$C/log" ] && port_race "$C" "$C"/log/* $MON_PORT $HTTP_PORT ${cert:+$HTTPS_PORT} && rc=$PORT_RACE
  if [ "$rc" -ne "$PORT_RACE" ]; then
    log "start: failed; logs follow, then stopping what was started"
    [ -d "$C/log" ] && print_log_tails "$C"/log/*
  fi
  stop_servers "$C" || true
  exit "$rc"
}

# launch ROLE CMD...: run a ceph daemon in the foreground (-f) as a background job of this script
# so that its PID is known exactly ($!) and recorded at once, rather than read later from a pid
# file the daemon writes after forking. setsid puts it in its own session, as the recipe's
# daemonized daemons are, so only `stop` (by PID) ends it, not a signal to the caller's group.
launch() {
  local role=$1 pid
  shift
  setsid "$@" -f </dev/null >>"$C/log/$role.out" 2>&1 &
  pid=$!
  echo "$role $pid" >>"$C/pids"
  started "$pid" "$C" || die "start: $role exited at once (see $C/log/$role.out)"
  sleep 0.2
  is_ours "$pid" "$C" || die "start: $role exited at once (see $C/log/$role.out)"
}

# ceph_cmd ARGS...: `ceph ARGS` against this cluster; its output on stdout, errors in the setup
# log. Up to three tries: on a loaded machine the first command to a new monitor was once refused
# with EPERM "wrong fsid" (a command that left the client before it had the monitor map); the
# commands used here (osd new with a fixed uuid, osd crush add) can be repeated safely.
ceph_cmd() {
  local i out
  for i in 1 2 3; do
    out=$(timeout 60 ceph -c "$C/ceph.conf" "$@" 2>>"$C/log/setup.out") && { printf '%s\n' "$out"; return 0; }
    log "start: 'ceph $*' failed (try $i of 3)"
    sleep 1
  done
  return 1
}

# wait_until SECONDS WHAT CMD...: poll CMD every 0.25 s, at most SECONDS.
wait_until() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 4; i++)); do
    "$@" && return 0
    sleep 0.25
  done
  die "start: timed out after ${secs}s waiting for $what"
}

all_alive() {
  local name pid
  while read -r name pid; do
    is_ours "$pid" "$C" || { log "start: $name (pid $pid) has exited"; return 1; }
  done <"$C/pids"
}

http_status() { lcurl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }

pid_of() { awk -v n="$1" '$1 == n {print $2}' "$C/pids"; }

# Anonymous GET / answers 200 (an empty bucket list) once radosgw has its pools; and radosgw, not
# another server that took the port, is the one listening.
rgw_http_ready() {
  all_alive || die "start: a daemon died before radosgw was ready"
  [ "$(http_status "http://127.0.0.1:$HTTP_PORT/")" = 200 ] && listens "$(pid_of rgw)" "$HTTP_PORT"
}
# Readiness of the TLS listener only (any TLS answer will do, so -k): whether the certificate
# verifies is the tests' business, not start's.
rgw_https_ready() {
  [ "$(http_status -k "https://127.0.0.1:$HTTPS_PORT/")" = 200 ] && listens "$(pid_of rgw)" "$HTTPS_PORT"
}
# A SigV4-signed ListBuckets with the new user's keys answers 200: the user is usable.
rgw_user_ready() {
  [ "$(http_status --aws-sigv4 "aws:amz:us-east-1:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        "http://127.0.0.1:$HTTP_PORT/")" = 200 ]
}
mon_ready() {
  is_ours "$(pid_of mon)" "$C" || die "start: ceph-mon exited (see $C/log/mon.out)"
  listens "$(pid_of mon)" "$MON_PORT"
}

cert="" key=""
cmd_start() {
  local dir=${1:?usage: rgw.sh start DIR [--tls CERT KEY]}
  shift
  local cert="" key=""
  if [ $# -gt 0 ]; then
    if [ "$1" != "--tls" ] || [ $# -ne 3 ]; then die "usage: rgw.sh start DIR [--tls CERT KEY]"; fi
    cert=$(readlink -f "$2"); key=$(readlink -f "$3")
    if [ ! -r "$cert" ] || [ ! -r "$key" ]; then die "start: cannot read $2 / $3"; fi
  fi
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
    command -v "$b" >/dev/null || die "start: $b not found; run: $self install"
  done
  # Ceph wants absolute paths in its config (the daemons may change directory).
  start_with_retries _start_attempt "$(readlink -m "$dir")" ${cert:+"$cert" "$key"}
}

cmd_start_attempt() {
  C=$1 cert=${2:-} key=${3:-}
  claim_dir "$C"

  export RGW_ACCESS_KEY=${RGW_ACCESS_KEY:-AKTEST}
  export RGW_SECRET_KEY=${RGW_SECRET_KEY:-SKTEST}

  rm -rf "$C"
  mkdir -p "$C"/{run,log,mon,osd,rgw}
  touch "$C/$MARKER" "$C/pids"
  trap start_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  { read -r MON_PORT; read -r HTTP_PORT; read -r HTTPS_PORT; } < <(free_ports 3)

  # ---- configuration: the recipe's, verbatim apart from the paths ----
  local fsid fe
  fsid=$(cat /proc/sys/kernel/random/uuid)
  fe="beast endpoint=127.0.0.1:$HTTP_PORT"
  [ -n "$cert" ] && fe="$fe ssl_endpoint=127.0.0.1:$HTTPS_PORT ssl_certificate=$cert ssl_private_key=$key"
  # Why the less obvious settings are there:
  #  - auth none: no cephx keys to distribute; the S3 layer still checks SigV4.
  #  - pool size 1, pg_num 8, no autoscale, mon_max_pg_per_osd 1000: rgw's auto-created pools
  #    must fit on a single OSD.
  #  - osd_crush_update_on_start/osd_class_update_on_start false: with them the OSD exited with
  #    "wrong fsid"; the OSD is added to the CRUSH map by hand below instead.
  #  - memstore with a 1 GiB cap: all object data in RAM, nothing slow on disk.
  #  - every path under DIR; ms_bind_msgr2 false + v1 mon address: one port, 127.0.0.1 only.
  cat >"$C/ceph.conf" <<CONF
[global]
fsid = $fsid
mon_host = v1:127.0.0.1:$MON_PORT
public_network = 127.0.0.0/8
ms_bind_msgr2 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_crush_update_on_start = false
osd_class_update_on_start = false
osd_objectstore = memstore
memstore_device_bytes = 1073741824
run_dir = $C/run
log_file = $C/log/\$name.log
admin_socket = $C/run/\$name.asok
pid_file = $C/run/\$name.pid
keyring = $C/keyring
mon_data = $C/mon/\$name
osd_data = $C/osd/\$name
# The recipe's 256 makes RGW answer 500 for keys over ~200 bytes (the RADOS name is the bucket
# marker plus the key); memstore has no file-name limit, and S3 allows 1,024-byte keys.
osd_max_object_name_len = 2048
osd_max_object_namespace_len = 64
[client.rgw]
rgw_frontends = $fe
rgw_data = $C/rgw/\$name
rgw_dns_name = s3.localhost
CONF
  local CF=(-c "$C/ceph.conf") setup="$C/log/setup.out"

  # ---- mon ----
  ceph-authtool --create-keyring "$C/keyring" --gen-key -n mon. --cap mon 'allow *' >>"$setup" 2>&1
  monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$C/monmap" >>"$setup" 2>&1
  timeout 60 ceph-mon "${CF[@]}" --mkfs -i a --monmap "$C/monmap" --keyring "$C/keyring" >>"$setup" 2>&1
  launch mon ceph-mon "${CF[@]}" -i a
  wait_until 30 "ceph-mon on 127.0.0.1:$MON_PORT" mon_ready

  # ---- osd (memstore) ----
  local ou id
  ou=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph_cmd osd new "$ou")
  [[ "$id" =~ ^[0-9]+$ ]] || die "start: 'ceph osd new' gave '$id'"
  mkdir -p "$C/osd/osd.$id"
  timeout 60 ceph-osd "${CF[@]}" -i "$id" --mkfs --osd-uuid "$ou" >>"$setup" 2>&1
  ceph_cmd osd crush add "osd.$id" 1 root=default >/dev/null
  launch osd ceph-osd "${CF[@]}" -i "$id"

  # ---- radosgw ----
  launch rgw radosgw "${CF[@]}" -n client.rgw
  # radosgw answers only once the OSD is up and its pools exist; ~10 s here.
  wait_until 60 "radosgw on http://127.0.0.1:$HTTP_PORT" rgw_http_ready
  [ -n "$cert" ] && wait_until 20 "radosgw on https://127.0.0.1:$HTTPS_PORT" rgw_https_ready

  # ---- S3 user ----
  timeout 60 radosgw-admin "${CF[@]}" -n client.rgw user create --uid=tester --display-name=Tester \
    --access-key="$RGW_ACCESS_KEY" --secret="$RGW_SECRET_KEY" >>"$setup" 2>&1
  wait_until 30 "the S3 user to be accepted" rgw_user_ready

  {
    printf 'RGW_ENDPOINT=%q\n' "http://127.0.0.1:$HTTP_PORT"
    [ -n "$cert" ] && printf 'RGW_TLS_ENDPOINT=%q\nRGW_HTTPS_PORT=%q\n' "https://127.0.0.1:$HTTPS_PORT" "$HTTPS_PORT"
    printf 'RGW_HTTP_PORT=%q\nRGW_MON_PORT=%q\n' "$HTTP_PORT" "$MON_PORT"
    printf 'RGW_ACCESS_KEY=%q\nRGW_SECRET_KEY=%q\n' "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY"
  } >"$C/env"
  chmod 600 "$C/env"

  start_ok=1
  trap - EXIT INT TERM HUP
  echo "RGW ready http://127.0.0.1:$HTTP_PORT"
  [ -n "$cert" ] && echo "RGW ready https://127.0.0.1:$HTTPS_PORT"
  return 0
}

# ---------------------------------------------------------------------------------------------
# stop
# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# selftest
# ---------------------------------------------------------------------------------------------
st_pass=0
st_fail=0
st_ok() { echo "ok   $*"; st_pass=$((st_pass + 1)); }
st_bad() { echo "FAIL $*"; st_fail=$((st_fail + 1)); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# s3 METHOD URL OUTFILE [curl args...]: SigV4-signed request (as emulator-recipes/s3c.sh). curl 7.88
# does not put x-amz-content-sha256 in by itself and RGW requires it, so it is computed here from
# $BODY (unset = no body). Prints the HTTP status; 000 if curl could not connect.
s3() {
  local m=$1 u=$2 out=$3 h
  shift 3
  if [ -n "${BODY+x}" ]; then
    h=$(printf '%s' "$BODY" | sha256sum | cut -d' ' -f1)
    set -- --data-binary "$BODY" "$@"
  else
    h=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  fi
  lcurl -s -m 10 -o "$out" -w '%{http_code}' -X "$m" --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "${AK:-$RGW_ACCESS_KEY}:${SK:-$RGW_SECRET_KEY}" -H "x-amz-content-sha256: $h" "$@" "$u" || true
}

cmd_selftest() {
  # The install runs first and outside the time limit (apt's time depends on the mirror; it is a
  # no-op once installed). Everything after it runs under `timeout`: on expiry the body gets
  # SIGTERM, and its EXIT trap stops the cluster and removes the temp dir.
  local t0 rc=0
  t0=$(now)
  if bash "$self" install >/tmp/rgw-selftest-install.$$.log 2>&1; then
    echo "ok   install: ${PACKAGES[*]} present ($(since "$t0") s)"
  else
    echo "FAIL install ($(since "$t0") s)"; cat /tmp/rgw-selftest-install.$$.log
    rm -f /tmp/rgw-selftest-install.$$.log
    echo "selftest: 0 passed, 1 failed"
    return 1
  fi
  rm -f /tmp/rgw-selftest-install.$$.log
  ST_PASS_BASE=1 timeout -k 30 170 bash "$self" _selftest_body || rc=$?
  [ "$rc" -eq 124 ] && echo "FAIL selftest: out of time (170 s after install)"
  return "$rc"
}

cmd_selftest_body() {
  local t0 st rc
  # Globals, not locals: the EXIT trap that cleans up runs after this function has returned.
  tmp=$(mktemp -d /tmp/rgw-selftest.XXXXXX)
  cdir="$tmp/cluster"
  local ca="$tmp/ca" body="$tmp/body"
  export RGW_ACCESS_KEY=${RGW_ACCESS_KEY:-AKTEST} RGW_SECRET_KEY=${RGW_SECRET_KEY:-SKTEST}
  st_pass=${ST_PASS_BASE:-0}
  started=0
  # shellcheck disable=SC2317  # called by the trap
  selftest_cleanup() {
    if [ "$started" -eq 1 ] && [ -d "$cdir" ]; then bash "$self" stop "$cdir" >/dev/null 2>&1 || true; fi
    rm -rf "$tmp"
  }
  trap selftest_cleanup EXIT
  trap 'echo "FAIL selftest: interrupted"; exit 1' INT TERM HUP

  if bash "$here/make-test-ca.sh" "$ca" >/dev/null 2>&1; then
    st_ok "make-test-ca: CA + server cert (SAN localhost, 127.0.0.1)"
  else
    st_bad "make-test-ca"; exit 1
  fi

  t0=$(now)
  started=1
  if bash "$self" start "$cdir" --tls "$ca/server.pem" "$ca/server.key" >"$tmp/start.out" 2>"$tmp/start.err" \
     && . "$cdir/env" && HTTP_PORT=$RGW_HTTP_PORT HTTPS_PORT=$RGW_HTTPS_PORT MON_PORT=$RGW_MON_PORT \
     && grep -qx "RGW ready http://127.0.0.1:$HTTP_PORT" "$tmp/start.out"; then
    st_ok "start: $(head -n1 "$tmp/start.out") + https :$HTTPS_PORT, mon :$MON_PORT, pids $(awk '{printf "%s=%s ", $1, $2}' "$cdir/pids")($(since "$t0") s)"
  else
    st_bad "start ($(since "$t0") s)"; cat "$tmp/start.out" "$tmp/start.err"; exit 1
  fi

  local ep="http://127.0.0.1:$HTTP_PORT" bkt="selftest-bkt" key="state/dev/state.json"
  local doc='{"completed":{"singer_state":{"n":1}},"partial":{}}'

  st=$(s3 PUT "$ep/$bkt" "$body")
  if [ "$st" = 200 ]; then st_ok "create bucket $bkt -> $st"
  else st_bad "create bucket -> $st (want 200): $(cat "$body")"; fi

  st=$(BODY=$doc s3 PUT "$ep/$bkt/$key" "$body" -H 'Content-Type: application/json')
  if [ "$st" = 200 ]; then st_ok "PUT $key -> $st"
  else st_bad "PUT $key -> $st (want 200): $(cat "$body")"; fi

  st=$(s3 GET "$ep/$bkt/$key" "$body")
  if [ "$st" = 200 ] && [ "$(cat "$body")" = "$doc" ]; then st_ok "GET $key -> $st, body matches"
  else st_bad "GET $key -> $st (want 200 + same body): $(cat "$body")"; fi

  st=$(BODY='{"lock":1}' s3 PUT "$ep/$bkt/state/dev/lock" "$body" -H 'If-None-Match: *')
  if [ "$st" = 200 ]; then st_ok "PUT If-None-Match:* new key -> $st"
  else st_bad "PUT If-None-Match:* new key -> $st (want 200): $(cat "$body")"; fi

  st=$(BODY='{"lock":2}' s3 PUT "$ep/$bkt/state/dev/lock" "$body" -H 'If-None-Match: *')
  if [ "$st" = 412 ]; then st_ok "PUT If-None-Match:* existing key -> $st"
  else st_bad "PUT If-None-Match:* existing key -> $st (want 412): $(cat "$body")"; fi

  st=$(s3 GET "$ep/$bkt/state/dev/lock" "$body")
  if [ "$st" = 200 ] && [ "$(cat "$body")" = '{"lock":1}' ]; then st_ok "GET lock -> $st, first writer's body kept"
  else st_bad "GET lock -> $st (want 200 + first body): $(cat "$body")"; fi

  st=$(SK=wrong-secret s3 GET "$ep/$bkt/$key" "$body")
  if [ "$st" = 403 ] && grep -q SignatureDoesNotMatch "$body"; then st_ok "GET with a wrong secret -> $st SignatureDoesNotMatch"
  else st_bad "GET with a wrong secret -> $st (want 403 SignatureDoesNotMatch)"; fi

  # HTTPS, verified against the test CA only. The machine exports CA-bundle variables that point
  # at another bundle; they are unset (inside the command substitution's subshell only) so that
  # nothing but --cacert decides what is trusted.
  local tls="https://127.0.0.1:$HTTPS_PORT"
  st=$(unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR; s3 GET "$tls/$bkt/$key" "$body" --cacert "$ca/ca.pem")
  if [ "$st" = 200 ] && [ "$(cat "$body")" = "$doc" ]; then st_ok "HTTPS GET $tls (verified with the test CA) -> $st, body matches"
  else st_bad "HTTPS GET $tls with --cacert -> $st (want 200 + same body)"; fi

  # Host-name verification against the DNS SANs. Path-style requests must use s3.localhost (RGW's
  # rgw_dns_name) or an IP: RGW takes any other Host, `localhost` included, as a bucket name
  # (404 NoSuchBucket, BucketName=localhost). So for `localhost` only the TLS handshake is checked.
  st=$(unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR
       s3 GET "https://s3.localhost:$HTTPS_PORT/$bkt/$key" "$body" --cacert "$ca/ca.pem" \
         --resolve "s3.localhost:$HTTPS_PORT:127.0.0.1")
  if [ "$st" = 200 ]; then st_ok "HTTPS GET https://s3.localhost:$HTTPS_PORT (DNS SAN, path-style) -> $st"
  else st_bad "HTTPS GET via s3.localhost -> $st (want 200)"; fi
  rc=0
  (unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR
   lcurl -s -m 10 -o /dev/null --cacert "$ca/ca.pem" --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
     "https://localhost:$HTTPS_PORT/") || rc=$?
  if [ "$rc" = 0 ]; then st_ok "HTTPS https://localhost:$HTTPS_PORT certificate verifies (DNS SAN localhost)"
  else st_bad "HTTPS https://localhost:$HTTPS_PORT -> curl exit $rc (want 0)"; fi

  # And the negative: the system trust store does not know the test CA, so the handshake fails
  # (curl exit 60 = peer certificate cannot be authenticated): verification really happens.
  rc=0
  (unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR; lcurl -s -m 10 -o /dev/null "$tls/") || rc=$?
  if [ "$rc" = 60 ]; then st_ok "HTTPS GET without the test CA -> refused (curl exit 60)"
  else st_bad "HTTPS GET without the test CA -> curl exit $rc (want 60)"; fi

  t0=$(now)
  local pids p
  pids=$(awk '{print $2}' "$cdir/pids" | tr '\n' ' ')
  if bash "$self" stop "$cdir" >"$tmp/stop.out" 2>&1; then
    local alive=""
    # A zombie (exited, not yet reaped by init) counts as gone: read the state, not just /proc/PID.
    for p in $pids; do
      if [ -r "/proc/$p/stat" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then alive="$alive $p"; fi
    done
    if [ -z "$alive" ] && [ ! -e "$cdir" ] && ! port_open "$HTTP_PORT" && ! port_open "$MON_PORT"; then
      st_ok "stop: pids ${pids}gone, ports free, dir removed ($(since "$t0") s)"
    else
      st_bad "stop: still alive:${alive:- none}; dir exists: $([ -e "$cdir" ] && echo yes || echo no)"
    fi
    started=0
  else
    st_bad "stop ($(since "$t0") s)"; cat "$tmp/stop.out"
  fi

  echo "selftest: $st_pass passed, $st_fail failed"
  [ "$st_fail" -eq 0 ]
}

case ${1:-} in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  _start_attempt) shift; cmd_start_attempt "$@" ;; # internal: one try with freshly picked ports
  stop) shift; cmd_stop "$@" ;;
  selftest) shift; cmd_selftest "$@" ;;
  _selftest_body) shift; cmd_selftest_body "$@" ;;  # internal: selftest after install, under timeout
  *) echo "usage: $0 install | start DIR [--tls CERT KEY] | stop DIR | selftest" >&2; exit 2 ;;
esac
