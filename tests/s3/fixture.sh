#!/usr/bin/env bash
# CTest fixture for the S3 tests: a one-node Ceph RGW (tests/servers/rgw.sh) on 127.0.0.1 with
# HTTP and HTTPS (certificate from a throw-away CA made here) on free ports, two users and the
# buckets the tests use.
#   tests/s3/fixture.sh start DIR    ->  DIR/env (shell assignments: S3_ENDPOINT, S3_TLS_ENDPOINT,
#                                        S3_CA_FILE, S3_KEY, S3_SECRET), DIR/ca/ca.pem
#   tests/s3/fixture.sh stop DIR
# Users: AKTEST/SKTEST (rgw.sh's), and AKSLASH whose secret contains '/' and '+', so that a
# URI with the secret percent-encoded (%2F) is proven against a server that checks signatures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
servers="$here/../servers"
cmd=${1:?usage: fixture.sh start|stop DIR}
dir=${2:?usage: fixture.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case $cmd in
start)
  # A previous run that died without its cleanup: stop what it recorded, by PID.
  [ -f "$dir/rgw/pids" ] && "$servers/rgw.sh" stop "$dir/rgw" || true
  rm -f "$dir/env" # never a previous run's endpoints
  "$servers/make-test-ca.sh" "$dir/ca" >/dev/null
  RGW_ACCESS_KEY=AKTEST RGW_SECRET_KEY=SKTEST "$servers/rgw.sh" start "$dir/rgw" --tls "$dir/ca/server.pem" "$dir/ca/server.key"
  # shellcheck disable=SC1091
  . "$dir/rgw/env"
  timeout 60 radosgw-admin -c "$dir/rgw/ceph.conf" -n client.rgw user create --uid=slash \
    --display-name=Slash --access-key=AKSLASH --secret='sk/with+slash' >/dev/null
  empty_sha=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  for bucket in statestore-ci statestore-cli; do
    status=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' -X PUT \
      --aws-sigv4 "aws:amz:us-east-1:s3" --user AKTEST:SKTEST \
      -H "x-amz-content-sha256: $empty_sha" "$RGW_ENDPOINT/$bucket")
    [ "$status" = 200 ] || { echo "fixture: creating bucket $bucket -> HTTP $status" >&2; exit 1; }
  done
  # The slash user owns a bucket of its own.
  status=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user 'AKSLASH:sk/with+slash' \
    -H "x-amz-content-sha256: $empty_sha" "$RGW_ENDPOINT/statestore-slash")
  [ "$status" = 200 ] || { echo "fixture: creating bucket statestore-slash -> HTTP $status" >&2; exit 1; }
  {
    printf 'S3_ENDPOINT=%q\n' "$RGW_ENDPOINT"
    printf 'S3_TLS_ENDPOINT=%q\n' "$RGW_TLS_ENDPOINT"
    printf 'S3_CA_FILE=%q\n' "$dir/ca/ca.pem"
    echo "S3_KEY=AKTEST"
    echo "S3_SECRET=SKTEST"
  } >"$dir/env"
  echo "fixture: S3 ready at $RGW_ENDPOINT and $RGW_TLS_ENDPOINT (buckets statestore-ci, statestore-cli; statestore-slash of AKSLASH)"
  ;;
stop)
  rm -f "$dir/env"
  "$servers/rgw.sh" stop "$dir/rgw"
  ;;
*)
  echo "usage: fixture.sh start|stop DIR" >&2
  exit 2
  ;;
esac
