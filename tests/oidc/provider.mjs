// A real OpenID Provider (panva/oidc-provider, pinned in package.json) on loopback, for
// realmgate's remote-key tests.
//
//   node provider.mjs PORT [ACCESS_TOKEN_TTL_SECONDS]
//
// PORT 0 lets the OS choose. When listening it prints one JSON line on stdout:
//   {"issuer": "http://127.0.0.1:PORT", "kid": "<current signing kid>"}
//
// Tokens: the client_credentials grant (client "realmgate-test", secret below, HTTP Basic)
// returns an access token in JWT format signed RS256 (RFC 9068 profile) for the resource
// server "urn:realmgate:test-api". No browser interaction is involved.
//
// Keys: generated here at start. POST /__test/rotate (test-only) makes a new signing key
// and publishes it first, keeping the previous key in the JWK Set as real providers do
// during a rotation, so tokens signed before it still verify until they expire. It answers
// {"kid": "<new kid>", "previous": "<old kid>"}. The provider object is rebuilt with the new
// key set behind the same listener, so the issuer URL and port stay the same.
//
// GET /__test/requests (test-only) lists "METHOD path" of every other request served, so a
// test can count the provider's own view of discovery and JWKS fetches.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const CLIENT_ID = 'realmgate-test';
const CLIENT_SECRET = 'realmgate-loopback-test-secret-not-used-elsewhere';
const RESOURCE = 'urn:realmgate:test-api';

const port = Number(process.argv[2] ?? 0);
const accessTokenTTL = Number(process.argv[3] ?? 300);

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function build(issuer, keys) {
  const provider = new Provider(issuer, {
    jwks: { keys },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: ['api'],
    ttl: { ClientCredentials: accessTokenTTL },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: RESOURCE,
          accessTokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  return provider.callback();
}

let keys = [newSigningKey()];
let handler = null;
let issuer = null;

const served = [];

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__test/requests') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(served));
    return;
  }
  if (req.method === 'POST' && req.url === '/__test/rotate') {
    const fresh = newSigningKey();
    const previous = keys[0];
    keys = [fresh, previous];
    handler = build(issuer, keys);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: fresh.kid, previous: previous.kid }));
    return;
  }
  served.push(`${req.method} ${req.url}`);
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  handler = build(issuer, keys);
  process.stdout.write(`${JSON.stringify({ issuer, kid: keys[0].kid })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
