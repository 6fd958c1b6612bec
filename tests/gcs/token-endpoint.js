// Test support: a local OAuth 2.0 token endpoint standing in for https://oauth2.googleapis.com/token
// (no real one can run here). It does what Google's does with the two grants statestore sends:
//  - urn:ietf:params:oauth:grant-type:jwt-bearer: verifies the assertion's RS256 signature with the
//    test service account's PUBLIC key, and its claims (iss, aud = this endpoint, scope, iat/exp);
//  - refresh_token: checks client_id, client_secret and refresh_token against the test values;
// and answers {"access_token","expires_in","token_type"} with SHORT-lived tokens (TOKEN_TTL
// seconds, default 2) so that clients must refresh during a test, or a Google-shaped
// {"error":"invalid_grant","error_description":...} with status 400.
// GET /stats answers {"issued":N,"rejected":N,"requests":N} for the tests.
//
// usage: node token-endpoint.js PORT
// env: TOKEN_SECRET (shared with precondition-proxy.js), SA_PUBLIC_KEY (PEM file), SA_EMAIL,
//      AU_CLIENT_ID, AU_CLIENT_SECRET, AU_REFRESH_TOKEN, TOKEN_TTL
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const tokens = require('./tokens');

const port = +process.argv[2];
if (!(port > 0)) {
  console.error('usage: token-endpoint.js PORT (tests/servers/gcs.sh picks a free PORT)');
  process.exit(2);
}
const secret = process.env.TOKEN_SECRET;
const ttl = +(process.env.TOKEN_TTL || 2);
const publicKey = crypto.createPublicKey(fs.readFileSync(process.env.SA_PUBLIC_KEY));
const audience = `http://127.0.0.1:${port}/token`;
const stats = { issued: 0, rejected: 0, requests: 0 };

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// Returns null when the assertion is acceptable, else the error_description.
function checkAssertion(assertion) {
  const parts = String(assertion || '').split('.');
  if (parts.length !== 3) return 'Invalid JWT: not three segments.';
  let header, claims;
  try { header = b64json(parts[0]); claims = b64json(parts[1]); } catch { return 'Invalid JWT: bad encoding.'; }
  if (header.alg !== 'RS256' || header.typ !== 'JWT') return 'Invalid JWT: unsupported header.';
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey,
    Buffer.from(parts[2], 'base64url'));
  if (!ok) return 'Invalid JWT Signature.';
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== process.env.SA_EMAIL) return 'Invalid JWT: unknown issuer.';
  if (claims.aud !== audience) return 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe (aud).';
  if (!String(claims.scope || '').split(' ').includes('https://www.googleapis.com/auth/devstorage.read_write'))
    return 'Invalid JWT: scope.';
  if (!(Math.abs(claims.iat - now) < 300 && claims.exp - claims.iat === 3600))
    return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.';
  return null;
}

function checkRefresh(form) {
  if (form.get('client_id') !== process.env.AU_CLIENT_ID ||
      form.get('client_secret') !== process.env.AU_CLIENT_SECRET) return 'The OAuth client was not found.';
  if (form.get('refresh_token') !== process.env.AU_REFRESH_TOKEN) return 'Bad Request';
  return null;
}

function reply(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/stats') return reply(res, 200, stats);
    if (req.method !== 'POST' || req.url !== '/token') return reply(res, 404, { error: 'not_found' });
    stats.requests++;
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const grant = form.get('grant_type');
    let why;
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') why = checkAssertion(form.get('assertion'));
    else if (grant === 'refresh_token') why = checkRefresh(form);
    else why = 'unsupported grant_type';
    if (why) {
      stats.rejected++;
      return reply(res, 400, { error: grant === 'refresh_token' ? 'invalid_grant' : 'invalid_grant', error_description: why });
    }
    stats.issued++;
    reply(res, 200, { access_token: tokens.issue(secret, ttl), expires_in: ttl, token_type: 'Bearer' });
  });
}).listen(port, '127.0.0.1', () => console.log(`token endpoint listening on ${audience}`));
process.on('SIGTERM', () => process.exit(0));
