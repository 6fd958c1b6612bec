// Test support: self-contained access tokens shared by token-endpoint.js (which issues them) and
// precondition-proxy.js (which checks them), so the two can run as separate processes. A token is
// "t1.<base64url(JSON {exp, n})>.<base64url(HMAC-SHA256(secret, payload))>"; the secret comes
// from the environment (TOKEN_SECRET), chosen at random by tests/servers/gcs.sh start.
'use strict';
const crypto = require('crypto');

function mac(secret, payload) {
  return crypto.createHmac('sha256', secret).update(payload).digest('base64url');
}

let counter = 0;
function issue(secret, ttlSeconds) {
  const payload = Buffer.from(JSON.stringify({ exp: Date.now() + ttlSeconds * 1000, n: ++counter }))
    .toString('base64url');
  return `t1.${payload}.${mac(secret, payload)}`;
}

// 'ok', 'expired' or 'invalid'.
function check(secret, token) {
  const parts = String(token).split('.');
  if (parts.length !== 3 || parts[0] !== 't1') return 'invalid';
  const want = Buffer.from(mac(secret, parts[1]));
  const got = Buffer.from(parts[2]);
  if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) return 'invalid';
  let claims;
  try { claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString()); } catch { return 'invalid'; }
  return Date.now() < claims.exp ? 'ok' : 'expired';
}

module.exports = { issue, check };
