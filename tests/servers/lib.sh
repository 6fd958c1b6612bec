# Shared by the test-server scripts (rgw.sh, azurite.sh, gcs.sh): sourced, never run.
#
# The sourcing script sets SERVER_NAME (its name in messages), MARKER (the file that says
# "this directory was made by me") and self (its own path) before sourcing, and defines
#   is_ours PID DIR   whether PID is a process it started for DIR (each server recognises its
#                     own processes differently; all of them guard against PID reuse)
#   stop_servers DIR  stops what DIR/pids records, in the order that server needs
# Only processes recorded in DIR/pids and recognised by is_ours are ever signalled.
#
# Ports: no server binds a fixed port (the machine may run its own Azurite, Ceph or emulator, or
# a second clone's tests at the same time). `start` picks free ones (free_ports), records them in
# DIR/env with the endpoints, and counts a server as ready only once the process it launched
# holds its port (listens). A port can still be taken by someone else between the pick and the
# bind: then that attempt fails with PORT_RACE and start_with_retries tries again with new ports.

log() { echo "$SERVER_NAME: $*" >&2; }
die() { log "error: $*"; exit 1; }

# curl only ever talks to 127.0.0.1 here: never through a proxy, whatever the environment says.
lcurl() { curl --noproxy '*' "$@"; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

ports_py=$(dirname "${BASH_SOURCE[0]}")/ports.py
# free_ports N: N distinct ports nobody listens on now (see ports.py for where they come from).
free_ports() { python3 "$ports_py" free "$1"; }
# listens PID PORT: process PID holds a listening socket on PORT (so it, not some other server
# that took the port first, is what answers there).
listens() { python3 "$ports_py" listens "$1" "$2"; }

PORT_RACE=75
# port_race DIR LOG... PORT...: whether a failed attempt failed because one of its ports was
# taken: a log says so, or something that is none of DIR's recorded processes listens on one.
# Arguments that are numbers are ports; the others are log files.
port_race() {
  local dir=$1 a name pid mine
  shift
  for a in "$@"; do
    if [[ "$a" =~ ^[0-9]+$ ]]; then
      port_open "$a" || continue
      mine=0
      if [ -f "$dir/pids" ]; then
        while read -r name pid; do
          [[ "$pid" =~ ^[0-9]+$ ]] && listens "$pid" "$a" && { mine=1; break; }
        done <"$dir/pids"
      fi
      [ "$mine" -eq 1 ] || return 0
    elif [ -f "$a" ] && grep -qiE 'EADDRINUSE|address already in use' "$a"; then
      return 0
    fi
  done
  return 1
}

# start_with_retries CMD ARGS...: runs `bash $self CMD ARGS` (one start attempt, which exits
# PORT_RACE when it lost a port to another process) up to three times.
start_with_retries() {
  local i rc
  for i in 1 2 3; do
    rc=0
    bash "$self" "$@" || rc=$?
    [ "$rc" -eq "$PORT_RACE" ] || return "$rc"
    log "start: another process took a port between the pick and the bind (attempt $i of 3)"
  done
  die "start: lost the race for free ports three times"
}

# started PID DIR: waits (at most 10 s) until the process just launched in the background as PID
# is recognised by is_ours. Between fork and exec it is still a copy of the launching shell, and
# on a loaded machine that lasted long enough for a check right after launch to call it gone.
# Fails if it exits first.
started() {
  local i st
  for ((i = 0; i < 100; i++)); do
    is_ours "$1" "$2" && return 0
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] || return 1
    sleep 0.1
  done
  return 1
}

# stop_pid NAME PID DIR GRACE_SECONDS: SIGTERM, wait (bounded), then SIGKILL, wait (bounded).
# Returns 1 only if the process survived both.
stop_pid() {
  local name=$1 pid=$2 dir=$3 grace=$4 i
  is_ours "$pid" "$dir" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    is_ours "$pid" "$dir" || return 0
    sleep 0.1
  done
  log "stop: $name (pid $pid) still alive after ${grace}s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    is_ours "$pid" "$dir" || return 0
    sleep 0.1
  done
  log "stop: $name (pid $pid) survived SIGKILL"
  return 1
}

# stop_recorded DIR GRACE_SECONDS [NAME]: stops the processes recorded in DIR/pids (only those
# recorded as NAME, if given). Returns 1 if any of them survived.
stop_recorded() {
  local dir=$1 grace=$2 only=${3:-} name pid rc=0
  [ -f "$dir/pids" ] || return 0
  while read -r name pid; do
    [ -z "$only" ] || [ "$name" = "$only" ] || continue
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    stop_pid "$name" "$pid" "$dir" "$grace" || rc=1
  done <"$dir/pids"
  return $rc
}

# claim_dir DIR: checks that `start DIR` may use DIR: it is absent, empty, or made by this script
# with none of its recorded processes still running (a previous server must be stopped, never
# silently replaced). Wiping DIR is the caller's job.
claim_dir() {
  local dir=$1 name pid
  if [ -e "$dir" ]; then
    [ -d "$dir" ] || die "start: $dir exists and is not a directory"
    if [ -n "$(ls -A "$dir")" ]; then
      [ -f "$dir/$MARKER" ] || die "start: $dir is not empty and was not made by $SERVER_NAME; refusing to wipe it"
      if [ -f "$dir/pids" ]; then
        while read -r name pid; do
          [[ "$pid" =~ ^[0-9]+$ ]] || continue
          is_ours "$pid" "$dir" && die "start: $name (pid $pid) from an earlier start is still running; run: ${self:-$SERVER_NAME} stop $dir"
        done <"$dir/pids"
      fi
    fi
  fi
  return 0
}

# print_log_tails FILE...: the last lines of each non-empty FILE, on stderr.
print_log_tails() {
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "----- tail of $f -----" >&2
    tail -n 25 "$f" >&2
  done
}

# cmd_stop DIR: the `stop DIR` command: stops what `start DIR` started, then removes DIR (kept,
# with an error, if a process would not exit).
cmd_stop() {
  local dir=${1:?usage: $SERVER_NAME stop DIR} d
  d=$(readlink -m "$dir")
  [ -e "$d" ] || { log "stop: $d does not exist; nothing to stop"; return 0; }
  [ -f "$d/$MARKER" ] || die "stop: $d was not made by $SERVER_NAME start; not touching it"
  stop_servers "$d" || die "stop: some processes did not exit; $d kept"
  rm -rf "$d"
}
