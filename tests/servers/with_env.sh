#!/usr/bin/env bash
# Runs a test against servers started earlier (tests/servers/*.sh start DIR, tests/s3/fixture.sh),
# with their endpoints read when the test runs, not when CTest is configured: the servers pick
# free ports at start.
#   with_env.sh DIR... -- CMD [ARGS...]
# Exports every assignment of each DIR/env, then replaces @NAME@ in the value of any environment
# variable by the value of NAME from those files, so that CTest's ENVIRONMENT can say
# "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL=@S3_ENDPOINT@" (a placeholder also keeps the ';' of an
# Azure connection string out of ENVIRONMENT, which splits on it). Then execs CMD.
set -euo pipefail
names=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  [ -f "$1/env" ] || { echo "with_env.sh: $1/env is missing (did its server start?)" >&2; exit 2; }
  # The names each file assigns (NAME=... lines, as the start scripts write them).
  while IFS= read -r line; do
    [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)= ]] && names+=("${BASH_REMATCH[1]}")
  done <"$1/env"
  set -a
  # shellcheck disable=SC1091
  . "$1/env"
  set +a
  shift
done
[ "${1:-}" = -- ] && [ $# -ge 2 ] || { echo "usage: with_env.sh DIR... -- CMD [ARGS...]" >&2; exit 2; }
shift

# Placeholders: only in variables that hold one, and only names the files defined.
while IFS= read -r -d '' var; do
  value=${!var}
  for n in "${names[@]}"; do
    value=${value//@$n@/${!n}}
  done
  if [[ "$value" =~ @[A-Z][A-Z0-9_]*_[A-Z0-9_]+@ ]]; then
    echo "with_env.sh: $var refers to ${BASH_REMATCH[0]}, which no env file given defines" >&2
    exit 2
  fi
  export "$var=$value"
done < <(env -0 | sed -z -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*@[A-Za-z_][A-Za-z0-9_]*@.*/\1/p')
exec "$@"
