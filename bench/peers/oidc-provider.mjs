/**
 * Benchmark peer: panva's `oidc-provider` in a minimal configuration for the `peer-token` scenario. One confidential
 * client (`client_credentials`, `client_secret_basic`) gets RS256-signed JWT access tokens for one resource server.
 * Everything else is the library's default (in-memory adapter; JWT access tokens are not stored).
 *
 * - `POST {TOKEN_PATH}` → the token endpoint (the same path as the server's, so the harness sends the same request)
 * - `GET /healthz` → 200
 *
 * Plain JavaScript: the package is ESM only and ships no type declarations. Run as a child process by bench/run.ts
 * (`PORT`, `BENCH_CLIENT_ID`, `BENCH_CLIENT_SECRET` and `BENCH_TOKEN_PATH` from the environment). oidc-provider 9
 * prints an "unsupported runtime" warning on Node 20 and runs.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT ?? 3002);
const clientId = process.env.BENCH_CLIENT_ID ?? 'bench';
const clientSecret = process.env.BENCH_CLIENT_SECRET ?? 'bench-client-secret-0123456789';
const tokenPath = process.env.BENCH_TOKEN_PATH ?? '/token';
const issuer = `http://127.0.0.1:${port}`;
const resource = `${issuer}/fhir`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  routes: { token: tokenPath },
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'system/*.read',
        audience: resource,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1');

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
