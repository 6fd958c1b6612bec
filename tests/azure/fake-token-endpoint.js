// A stand-in for the Azure AD (Entra ID) token endpoint, which no server here offers: answers
// POST /<tenant>/oauth2/v2.0/token for the client-credentials grant with an unsigned JWT that
// Azurite's `--oauth basic` mode accepts (it checks issuer, audience and lifetime, not the
// signature). Test fake only; never use it for anything else.
//   node fake-token-endpoint.js PORTFILE TENANT CLIENT_ID CLIENT_SECRET
// Listens on 127.0.0.1 (random port, written to PORTFILE). GET /count -> tokens issued.
'use strict';
const http = require('http');
const fs = require('fs');
const [portFile, tenant, clientId, clientSecret] = process.argv.slice(2);
let issued = 0;
const b64url = (s) => Buffer.from(s).toString('base64url');

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/count') {
      res.end(String(issued));
      return;
    }
    const form = new URLSearchParams(body);
    const json = (status, obj) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (req.method !== 'POST' || req.url !== `/${tenant}/oauth2/v2.0/token`) return json(404, { error: 'not_found' });
    if (form.get('grant_type') !== 'client_credentials' || form.get('scope') !== 'https://storage.azure.com/.default')
      return json(400, { error: 'invalid_request' });
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret)
      return json(401, { error: 'invalid_client' });
    const now = Math.floor(Date.now() / 1000);
    const payload = {
      aud: 'https://storage.azure.com', iss: `https://sts.windows.net/${tenant}/`,
      iat: now - 10, nbf: now - 10, exp: now + 3600, appid: clientId, oid: clientId, tid: tenant,
    };
    issued += 1;
    json(200, {
      token_type: 'Bearer', expires_in: 3600,
      access_token: `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.${b64url('fake')}`,
    });
  });
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
process.on('SIGTERM', () => process.exit(0));
