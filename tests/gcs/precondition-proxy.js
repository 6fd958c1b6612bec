// TEST SUPPORT ONLY: a precondition-enforcing proxy in front of the firebase-tools storage
// emulator. Real Google Cloud Storage enforces ifGenerationMatch; the emulator ignores it (and
// Authorization), so without this proxy the lock race and compare-and-swap tests could not fail.
// It is NOT a GCS implementation: it adds exactly the checks the emulator lacks.
//
// What it does, for mutating requests on one object (media/multipart uploads with ?name=, and
// DELETE /storage/v1/b/B/o/NAME):
//   1. serialises them per (bucket, object name), so check-then-forward is atomic per object;
//   2. reads the object's current generation from the emulator (metadata GET);
//   3. enforces ifGenerationMatch: 0 = the object must not exist; N = its generation must be N;
//      otherwise answers 412 with a GCS-shaped JSON error (reason conditionNotMet), or 404 for a
//      DELETE of a missing object, without forwarding;
//   4. makes generations strictly increasing per object: the emulator uses Date.now() as the
//      generation, so two writes in the same millisecond would get the same one and a stale
//      generation would match. Before forwarding, the proxy waits (1 ms steps, bounded) until
//      Date.now() is past both the current generation and the last one it saw for that object;
//      the emulator (same clock, later instant) then assigns a larger one;
//   5. forwards the request and relays the answer.
// Everything else (reads, lists, resumable uploads) is relayed untouched.
//
// Tokens: a request with "Authorization: Bearer T" must carry a valid, unexpired token issued by
// token-endpoint.js (checked with TOKEN_SECRET), else 401 (as GCS does). For buckets whose name
// starts with "auth-" a token is REQUIRED, so tests can prove that statestore sends one. Requests
// without Authorization to other buckets pass (emulator mode has no credentials).
// GET /__stats answers {"bearer_ok":N,"unauthorized":N,"precondition_failed":N}.
//
// usage: node precondition-proxy.js LISTEN_PORT UPSTREAM_PORT   (both on 127.0.0.1)
'use strict';
const http = require('http');
const tokens = require('./tokens');

const listenPort = +process.argv[2];
const upstreamPort = +process.argv[3];
if (!(listenPort > 0 && upstreamPort > 0)) {
  console.error('usage: precondition-proxy.js LISTEN_PORT UPSTREAM_PORT (tests/servers/gcs.sh picks them)');
  process.exit(2);
}
const secret = process.env.TOKEN_SECRET || '';
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const stats = { bearer_ok: 0, unauthorized: 0, precondition_failed: 0 };

const queues = new Map();     // object key -> tail promise of its serialised mutations
const lastGeneration = new Map(); // object key -> highest generation seen from the emulator

function serialise(key, task) {
  const prev = queues.get(key) || Promise.resolve();
  const run = prev.then(task, task);
  const tail = run.catch(() => {});
  queues.set(key, tail);
  tail.then(() => { if (queues.get(key) === tail) queues.delete(key); });
  return run;
}

function upstream(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: upstreamPort, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function gcsError(res, code, reason, message) {
  const body = JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } });
  res.writeHead(code, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function relay(res, answer) {
  const headers = { ...answer.headers };
  delete headers['transfer-encoding'];
  delete headers.connection;
  delete headers['keep-alive'];
  headers['content-length'] = answer.body.length;
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

// The (bucket, name) a request mutates, or null when it is not a single-object mutation.
function mutationTarget(method, url) {
  let m;
  if (method === 'POST' && (m = url.pathname.match(/^\/upload\/storage\/v1\/b\/([^/]+)\/o$/))) {
    const name = url.searchParams.get('name');
    return name === null ? null : { bucket: decodeURIComponent(m[1]), name };
  }
  if (method === 'DELETE' && (m = url.pathname.match(/^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/)))
    return { bucket: decodeURIComponent(m[1]), name: decodeURIComponent(m[2]) };
  return null;
}

// The request's headers for the upstream: the body was buffered, so it goes with a
// Content-Length (a client's chunked framing must not be forwarded alongside it).
function forwardHeaders(req, body) {
  const headers = { ...req.headers };
  delete headers.connection;
  delete headers['transfer-encoding'];
  delete headers['keep-alive'];
  if (body.length > 0 || req.headers['content-length'] !== undefined) headers['content-length'] = body.length;
  return headers;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function mutate(req, res, url, target, body) {
  const key = `${target.bucket}\0${target.name}`;
  const metaPath = `/storage/v1/b/${encodeURIComponent(target.bucket)}/o/${encodeURIComponent(target.name)}`;
  const meta = await upstream('GET', metaPath, {}, undefined);
  const exists = meta.status === 200;
  const current = exists ? JSON.parse(meta.body.toString('utf8')).generation : null;
  const match = url.searchParams.get('ifGenerationMatch');
  if (match !== null) {
    const holds = match === '0' ? !exists : exists && String(current) === match;
    if (!holds) {
      if (req.method === 'DELETE' && !exists)
        return gcsError(res, 404, 'notFound', `No such object: ${target.bucket}/${target.name}`);
      stats.precondition_failed++;
      return gcsError(res, 412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
    }
  }
  // Strictly increasing generations (see 4. above). Bounded: at most ~2 s of clock lag.
  const floor = Math.max(Number(current || 0), lastGeneration.get(key) || 0);
  for (let i = 0; Date.now() <= floor && i < 2000; i++) await sleep(1);
  if (Date.now() <= floor) return gcsError(res, 503, 'backendError', 'proxy: clock did not advance past the generation');
  url.searchParams.delete('ifGenerationMatch');
  const answer = await upstream(req.method, url.pathname + url.search, forwardHeaders(req, body), body);
  if (req.method === 'POST' && answer.status === 200) {
    try {
      const g = Number(JSON.parse(answer.body.toString('utf8')).generation);
      if (g > (lastGeneration.get(key) || 0)) lastGeneration.set(key, g);
    } catch { /* relayed as is */ }
  }
  relay(res, answer);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/__stats') {
      const body = JSON.stringify(stats);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(body);
    }
    const auth = req.headers.authorization;
    const bucketMatch = url.pathname.match(/\/b\/([^/]+)/);
    const needsToken = bucketMatch && decodeURIComponent(bucketMatch[1]).startsWith('auth-');
    if (auth !== undefined || needsToken) {
      const m = /^Bearer (.+)$/.exec(auth || '');
      const verdict = m ? tokens.check(secret, m[1]) : 'missing';
      if (verdict !== 'ok') {
        stats.unauthorized++;
        return gcsError(res, 401, 'authError', `Invalid Credentials (${verdict} token)`);
      }
      stats.bearer_ok++;
    }
    const body = Buffer.concat(chunks);
    const target = mutationTarget(req.method, url);
    const work = target
      ? serialise(`${target.bucket}\0${target.name}`, () => mutate(req, res, url, target, body))
      : upstream(req.method, url.pathname + url.search, forwardHeaders(req, body), body)
          .then((a) => relay(res, a));
    work.catch((e) => {
      console.error('proxy error:', e && e.message);
      if (!res.headersSent) gcsError(res, 502, 'backendError', 'proxy: upstream failed');
      else res.destroy();
    });
  });
}).listen(listenPort, '127.0.0.1', () => console.log(`precondition proxy on http://127.0.0.1:${listenPort} -> ${upstreamPort}`));
process.on('SIGTERM', () => process.exit(0));
