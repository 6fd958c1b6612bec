#!/usr/bin/env bash
# Runs a command against the Azurite started by tests/servers/azurite.sh (CTest uses it for the
# conformance suite, because connection strings contain ';', which CTest's ENVIRONMENT splits).
#   with_azurite.sh AZURITE_DIR http|https CMD [ARGS...]
# Exports MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING for that listener (https also
# STATESTORE_AZURE_CA_FILE = the test CA), STATESTORE_CONFORMANCE_BACKEND=cloud and
# STATESTORE_CONFORMANCE_URI=azure://<container>/ci, then execs CMD.
set -euo pipefail
dir=${1:?azurite dir}; mode=${2:?http|https}; shift 2
. "$dir/env"
unset AZURE_STORAGE_CONNECTION_STRING MELTANO_STATE_BACKEND_AZURE_STORAGE_ACCOUNT_URL STATESTORE_AZURE_CA_FILE
case $mode in
  http) export MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=$AZURITE_CONNECTION_STRING ;;
  https) export MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING=$AZURITE_TLS_CONNECTION_STRING
         export STATESTORE_AZURE_CA_FILE=$AZURITE_CA_FILE ;;
  *) echo "with_azurite.sh: mode must be http or https" >&2; exit 2 ;;
esac
export STATESTORE_CONFORMANCE_BACKEND=cloud STATESTORE_CONFORMANCE_URI="azure://$AZURITE_CONTAINER/ci"
exec "$@"
