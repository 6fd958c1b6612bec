#!/usr/bin/env bash
# Runs a test against the PostgreSQL servers of `tests/servers/postgres.sh start DIR`, whose
# ports are picked when they start (so they are read here, at run time, from DIR/env):
#   with_pg.sh DIR -- CMD [ARGS...]
# Exports DIR/env's assignments (PG_URI, PG_TLS_URI, ...), and the same as the
# STATESTORE_TEST_PG_* variables the C++ tests read. libpq's own environment (PGHOST,
# PGPASSWORD, PGSSLMODE, ~/.pgpass, service files...) is cleared so that the machine's settings
# cannot change what a test connects to; a test that proves libpq honours them sets them itself.
set -euo pipefail
dir=${1:?usage: with_pg.sh DIR -- CMD [ARGS...]}
shift
[ "${1:-}" = -- ] && [ $# -ge 2 ] || { echo "usage: with_pg.sh DIR -- CMD [ARGS...]" >&2; exit 2; }
shift
[ -f "$dir/env" ] || { echo "with_pg.sh: $dir/env is missing (did postgres_server_start run?)" >&2; exit 2; }
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a
for v in PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE PGSERVICE \
  PGSERVICEFILE PGOPTIONS PGAPPNAME PGSSLMODE PGSSLROOTCERT PGSSLCERT PGSSLKEY PGREQUIRESSL \
  PGCONNECT_TIMEOUT PGCLIENTENCODING PGTARGETSESSIONATTRS PGSYSCONFDIR PGTZ PGDATESTYLE; do
  unset "$v"
done
export PGPASSFILE=/nonexistent PGSERVICEFILE=/nonexistent
export STATESTORE_TEST_PG_DIR=$dir
export STATESTORE_TEST_PG_URI=$PG_URI STATESTORE_TEST_PG_SUPER_URI=$PG_SUPER_URI
export STATESTORE_TEST_PG_TLS_URI=$PG_TLS_URI STATESTORE_TEST_PG_PASSWORD_URI=$PG_PASSWORD_URI
exec "$@"
