#!/usr/bin/env bash
# Makes a throw-away certificate authority and a server certificate signed by it, for TLS tests
# against servers on loopback (rgw.sh start --tls, and any other test server).
#   tests/servers/make-test-ca.sh OUTDIR
# Writes into OUTDIR (created if missing; files there are overwritten):
#   ca.pem      the CA certificate: what a client trusts (curl --cacert, AWS_CA_BUNDLE, ...)
#   ca.key      the CA private key (kept only so a test can sign more certificates)
#   server.pem  the server certificate (SAN: DNS:localhost, IP:127.0.0.1, and DNS:s3.localhost /
#               DNS:*.s3.localhost so RGW's virtual-hosted style can be tested over TLS too)
#   server.key  its private key (unencrypted: the server has to read it unattended)
# Every certificate is valid for 30 days and made fresh on each call, so nothing long-lived or
# shared ever becomes a trusted root: the CA lives only inside OUTDIR.
set -euo pipefail

out=${1:?usage: make-test-ca.sh OUTDIR}
mkdir -p "$out"
# Keys must not be world-readable even though they are test-only.
umask 077

# openssl reads its config through OPENSSL_CONF when set; use only what this script passes, so a
# machine-wide config cannot add or change extensions.
export OPENSSL_CONF=/dev/null
days=30

# --- CA: self-signed, basicConstraints CA:TRUE (critical), may sign certificates only. ---
openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -keyout "$out/ca.key" -out "$out/ca.pem" \
  -subj "/O=statestore tests/CN=statestore test CA $(date -u +%Y%m%dT%H%M%SZ)" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null

# --- Server certificate: a CSR signed by the CA, SANs for loopback names. ---
openssl req -new -newkey rsa:2048 -nodes -sha256 \
  -keyout "$out/server.key" -out "$out/server.csr" \
  -subj "/O=statestore tests/CN=localhost" 2>/dev/null

cat > "$out/server.ext" <<'EXT'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,DNS:s3.localhost,DNS:*.s3.localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EXT

openssl x509 -req -sha256 -days "$days" -in "$out/server.csr" \
  -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial -CAserial "$out/ca.srl" \
  -extfile "$out/server.ext" -out "$out/server.pem" 2>/dev/null
rm -f "$out/server.csr" "$out/server.ext"

# The certificates themselves are public; make them readable by a server running as another user.
chmod 644 "$out/ca.pem" "$out/server.pem"

# Fail here, not later inside a server, if the chain does not verify (e.g. a broken openssl).
openssl verify -CAfile "$out/ca.pem" "$out/server.pem" >/dev/null
echo "test CA: $out/ca.pem  server: $out/server.pem $out/server.key"
