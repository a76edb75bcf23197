/**
 * `private_key_jwt` clients registered with a `jwksUri`, over the token endpoint: the server refuses to fetch from
 * loopback or private addresses (SSRF), cuts a dripping or oversized key server off at its deadline and size cap,
 * follows no redirect, picks up a key rotation, and makes one fetch for many simultaneous token requests. Every
 * failure is 401 invalid_client saying why, without naming an address.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type KeyLike, SignJWT } from 'jose';
import { expectOAuthError, type OAuthFixture, oauthPost, setupOAuth } from './oauth-fixtures';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const keys: Record<string, { privateKey: KeyLike; jwk: JWK }> = {};

/** A key server on 127.0.0.1 whose answer a test sets; it counts requests and reports closed connections. */
interface KeyServer {
  url: string;
  requests: number;
  handler: http.RequestListener;
  /** Resolves when the next connection closes. */
  connectionClosed(): Promise<void>;
}
const servers: http.Server[] = [];
async function keyServer(handler: http.RequestListener): Promise<KeyServer> {
  const closed: Array<() => void> = [];
  const state: KeyServer = { url: '', requests: 0, handler, connectionClosed: () => new Promise((resolve) => closed.push(resolve)) };
  const server = http.createServer((req, res) => {
    state.requests += 1;
    state.handler(req, res);
  });
  server.on('connection', (socket) => socket.once('close', () => closed.splice(0).forEach((notify) => notify())));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return state;
}
const serveKeys = (...kids: string[]): http.RequestListener => (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=3600' });
  res.end(JSON.stringify({ keys: kids.map((kid) => keys[kid]?.jwk) }));
};

async function keyPair(kid: string): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  keys[kid] = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const putClient = (fx: OAuthFixture, id: string, jwksUri: string) =>
  fx.repo.update('ClientApplication', id, {
    resourceType: 'ClientApplication',
    id,
    name: id,
    status: 'active',
    grantType: ['client_credentials'],
    scope: 'system/*.read',
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwksUri,
  });

/** A client_credentials request authenticated by an assertion signed with `kid`. */
async function tokenRequest(fx: OAuthFixture, client: string, kid: string) {
  const assertion = await new SignJWT({ jti: randomBytes(12).toString('base64url') })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(client)
    .setSubject(client)
    .setAudience(`${fx.issuer}/api/v1/oauth/token`)
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(keys[kid]?.privateKey as KeyLike);
  return oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
}

async function expectRefused(fx: OAuthFixture, client: string, kid: string, description: string): Promise<void> {
  const res = await tokenRequest(fx, client, kid);
  expectOAuthError(res, 401, 'invalid_client');
  expect((res.body as { error_description: string }).error_description).toBe(description);
}

beforeAll(async () => {
  await Promise.all(['k1', 'k2', 'k3'].map(keyPair));
});
afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('with the default configuration (https to public addresses only)', () => {
  let fx: OAuthFixture;
  let server: KeyServer;
  beforeAll(async () => {
    fx = await setupOAuth();
    server = await keyServer(serveKeys('k1'));
  });
  afterAll(async () => {
    await fx.t.close();
  });

  it('refuses a jwksUri on http://127.0.0.1 and never connects to it', async () => {
    await putClient(fx, 'ssrf-http', server.url);
    await expectRefused(fx, 'ssrf-http', 'k1', "The client's jwksUri must use https");
    expect(server.requests).toBe(0);
  });

  it('refuses https to loopback, link-local and private addresses, by literal or by name', async () => {
    const port = new URL(server.url).port;
    const cases: Array<[string, string]> = [
      [`https://127.0.0.1:${port}/jwks.json`, 'points to an address that is not allowed'],
      [`https://[::ffff:127.0.0.1]:${port}/jwks.json`, 'points to an address that is not allowed'],
      [`https://localhost:${port}/jwks.json`, 'resolves to an address that is not allowed'],
      ['https://169.254.169.254/latest/meta-data/', 'points to an address that is not allowed'],
      ['https://192.168.0.1/jwks.json', 'points to an address that is not allowed'],
    ];
    for (const [i, [uri, why]] of cases.entries()) {
      await putClient(fx, `ssrf-${i}`, uri);
      await expectRefused(fx, `ssrf-${i}`, 'k1', `The client's jwksUri ${why}`);
    }
    expect(server.requests).toBe(0);
  });
});

describe('in the loopback test mode', () => {
  let fx: OAuthFixture;
  beforeAll(async () => {
    fx = await setupOAuth({ ALLOW_HTTP_JWKS_URI: 'loopback', JWKS_TIMEOUT_MS: '300', JWKS_CACHE_MIN_SECONDS: '0' });
  });
  afterAll(async () => {
    await fx.t.close();
  });

  it('cuts a key server that drips its body at the deadline, and answers the next request at once', async () => {
    const server = await keyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const drip = setInterval(() => res.write(' '), 20);
      res.once('close', () => clearInterval(drip));
    });
    await putClient(fx, 'drip', server.url);
    const closed = server.connectionClosed();
    const started = Date.now();
    await expectRefused(fx, 'drip', 'k1', "The client's jwksUri did not answer within 300 ms");
    expect(Date.now() - started).toBeLessThan(5000);
    await closed;
    // The failure is remembered: the next request does not wait for the server again.
    await expectRefused(fx, 'drip', 'k1', "The client's jwksUri did not answer within 300 ms");
    expect(server.requests).toBe(1);
  });

  it('cuts a huge body at the size cap', async () => {
    let written = 0;
    const total = 300 * 1024 * 1024;
    const server = await keyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":["');
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = (): void => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    });
    await putClient(fx, 'huge', server.url);
    const closed = server.connectionClosed();
    await expectRefused(fx, 'huge', 'k1', "The client's jwksUri answered more than 65536 bytes");
    await closed;
    expect(written).toBeLessThan(total / 10);
  });

  it('follows no redirect, to a private address or to another key server', async () => {
    const target = await keyServer(serveKeys('k1'));
    for (const [i, location] of ['http://169.254.169.254/latest/meta-data/iam/', 'http://10.0.0.1/jwks.json', target.url].entries()) {
      const redirector = await keyServer((_req, res) => res.writeHead(302, { location }).end());
      await putClient(fx, `redirect-${i}`, redirector.url);
      await expectRefused(fx, `redirect-${i}`, 'k1', "The client's jwksUri answered with a redirect (redirects are not followed)");
      expect(redirector.requests).toBe(1);
    }
    expect(target.requests).toBe(0);
  });

  it('picks up a rotated key and refuses the old one once the set is refreshed', async () => {
    const server = await keyServer(serveKeys('k1'));
    await putClient(fx, 'rotating', server.url);
    expect((await tokenRequest(fx, 'rotating', 'k1')).status).toBe(200);
    expect((await tokenRequest(fx, 'rotating', 'k1')).status).toBe(200);
    expect(server.requests).toBe(1);
    server.handler = serveKeys('k2');
    expect((await tokenRequest(fx, 'rotating', 'k2')).status).toBe(200);
    expect(server.requests).toBe(2);
    await expectRefused(fx, 'rotating', 'k1', 'The client assertion could not be verified');
    expect((await tokenRequest(fx, 'rotating', 'k2')).status).toBe(200);
  });

});

describe('a slow key server under many simultaneous token requests', () => {
  // The deadline is far above the server's delay, so that only the sharing of one fetch is tested, on a loaded
  // machine too (the 300 ms deadline above would cut the fetch when the event loop is slow).
  let fx: OAuthFixture;
  beforeAll(async () => {
    fx = await setupOAuth({ ALLOW_HTTP_JWKS_URI: 'loopback', JWKS_TIMEOUT_MS: '30000', JWKS_CACHE_MIN_SECONDS: '0' });
  });
  afterAll(async () => {
    await fx.t.close();
  });

  it('makes one fetch for many simultaneous token requests', async () => {
    const server = await keyServer((req, res) => void setTimeout(() => serveKeys('k3')(req, res), 200));
    await putClient(fx, 'busy', server.url);
    const responses = await Promise.all(Array.from({ length: 20 }, () => tokenRequest(fx, 'busy', 'k3')));
    expect(responses.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 200));
    expect(server.requests).toBe(1);
  });
});
