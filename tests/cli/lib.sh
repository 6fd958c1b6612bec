# Shared by the command-line test scripts (sourced; they set WORK first).
# Each check prints "ok - ..." or "FAIL - ..."; finish() prints the "N passed, N failed" line
# and returns non-zero if anything failed.

# The tests choose their backend explicitly; the caller's environment must not leak in.
unset MELTANO_STATE_BACKEND_URI MELTANO_DATABASE_URI MELTANO_SYS_DIR_ROOT \
      MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS \
      STATESTORE_LOCK_MAX_WAIT_SECONDS

passed=0; failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }

# run NAME EXPECTED_EXIT CMD...: runs CMD, keeps stdout in $out and stderr in $err.
run() {
  local name=$1 want=$2; shift 2
  out=$("$@" 2>"$WORK/.err" </dev/null); code=$?
  err=$(cat "$WORK/.err")
  if [ "$code" -eq "$want" ]; then ok "$name (exit $code)"; else
    fail "$name: exit $code, wanted $want; stderr: $err"; fi
}
has()       { case "$2" in *"$3"*) ok "$1";; *) fail "$1: missing [$3] in [$2]";; esac; }
hasnt()     { case "$2" in *"$3"*) fail "$1: unexpected [$3] in [$2]";; *) ok "$1";; esac; }
equals()    { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: got [$2] wanted [$3]"; fi; }
same_file() { if cmp -s "$2" "$3"; then ok "$1"; else fail "$1: $2 changed"; fi; }

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
