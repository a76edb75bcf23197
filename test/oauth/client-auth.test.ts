/**
 * Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523 §3, SMART Backend Services):
 * client_secret_basic, client_secret_post, private_key_jwt with inline jwks or a jwksUri fetched over HTTP, and
 * none. Every failed authentication is 401 invalid_client; only a malformed request (two methods at once) is 400.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, type KeyLike, SignJWT } from 'jose';
import request from 'supertest';
import { ADMIN, expectOAuthError, OAUTH, type OAuthFixture, oauthPost, setupOAuth } from './oauth-fixtures';

let fx: OAuthFixture;
let aud: string;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const keys: Record<string, { privateKey: KeyLike; jwk: JWK }> = {};
const jwksServer = http.createServer();
let jwksUri = '';
let jwksRequests = 0;

async function keyPair(alg: string, kid: string): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { modulusLength: 2048 });
  keys[kid] = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const putClient = (id: string, fields: Record<string, unknown>) =>
  fx.repo.update('ClientApplication', id, { resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], scope: 'system/*.*', ...fields });

beforeAll(async () => {
  // The key servers of these tests listen on 127.0.0.1 over http: allowed only in the loopback test mode.
  fx = await setupOAuth({ ALLOW_HTTP_JWKS_URI: 'loopback', JWKS_TIMEOUT_MS: '1000' });
  aud = `${fx.issuer}/api/v1/oauth/token`;
  await Promise.all([keyPair('RS256', 'rs256'), keyPair('RS384', 'rs384'), keyPair('ES256', 'es256'), keyPair('ES384', 'es384'), keyPair('ES256', 'remote')]);
  const inline = ['rs256', 'rs384', 'es256', 'es384'].map((kid) => keys[kid]?.jwk);
  await putClient('backend', { tokenEndpointAuthMethod: 'private_key_jwt', jwks: JSON.stringify({ keys: inline }) });
  jwksServer.on('request', (_req, res) => {
    jwksRequests += 1;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: [keys.remote?.jwk] }));
  });
  jwksServer.listen(0, '127.0.0.1');
  await new Promise((resolve) => jwksServer.once('listening', resolve));
  jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  await putClient('remote-backend', { tokenEndpointAuthMethod: 'private_key_jwt', jwksUri });
  await putClient('post-client', { tokenEndpointAuthMethod: 'client_secret_post', secret: 'post-client-secret-0123' });
});
afterAll(async () => {
  await new Promise((resolve) => jwksServer.close(resolve));
  await fx.t.close();
});

interface AssertionOptions {
  /** The key to sign with; null signs with es256 and leaves `kid` out of the header. */
  kid?: string | null;
  jku?: string;
  alg?: string;
  iss?: string;
  sub?: string;
  aud?: string;
  exp?: number;
  jti?: string | null;
}

async function assertion(options: AssertionOptions = {}, client = 'backend'): Promise<string> {
  const kid = options.kid === null ? undefined : (options.kid ?? 'es256');
  const key = keys[kid ?? 'es256'] ?? keys.es256;
  const claims: Record<string, unknown> = { iss: options.iss ?? client, sub: options.sub ?? client, aud: options.aud ?? aud };
  if (options.jti !== null) claims.jti = options.jti ?? randomBytes(12).toString('base64url');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? String(key?.jwk.alg), ...(kid !== undefined ? { kid } : {}), ...(options.jku !== undefined ? { jku: options.jku } : {}) })
    .setIssuedAt()
    .setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 120)
    .sign(key?.privateKey as KeyLike);
}
const withAssertion = (jwt: string, extra: Record<string, string> = {}) =>
  oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: jwt, ...extra });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('client secrets', () => {
  it('accepts client_secret_basic and client_secret_post', async () => {
    expect((await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN)).status).toBe(200);
    const post = await oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_id: 'post-client', client_secret: 'post-client-secret-0123' });
    expect(post.status).toBe(200);
  });

  it('answers 401 invalid_client with a Basic challenge to a wrong secret, an unknown client, or no authentication', async () => {
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'wrong secret']), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['nobody', 'x']), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_id: 'post-client', client_secret: 'nope' }), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_id: 'admin-cli' }), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }), 401, 'invalid_client');
    const garbled = await request(fx.t.app).post(`${OAUTH}/token`).set('Authorization', 'Basic %%%').type('form').send({ grant_type: 'client_credentials' });
    expectOAuthError(garbled, 401, 'invalid_client');
  });

  it('refuses a secret to a private_key_jwt client and an inactive client with the right secret', async () => {
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['backend', 'guess']), 401, 'invalid_client');
    await putClient('sleepy', { status: 'inactive', secret: 'sleepy-secret-0123456' });
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['sleepy', 'sleepy-secret-0123456']), 401, 'invalid_client');
  });

  it('answers invalid_request to two authentication methods at once', async () => {
    const res = await oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_id: 'admin-cli', client_secret: ADMIN[1] }, ADMIN);
    expectOAuthError(res, 400, 'invalid_request');
  });
});

describe('private_key_jwt', () => {
  it.each(['rs256', 'rs384', 'es256', 'es384'])('accepts an assertion signed with the registered %s key', async (kid) => {
    const res = await withAssertion(await assertion({ kid }));
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('system/*.*');
  });

  it('accepts the issuer identifier as audience (RFC 7523 §3)', async () => {
    expect((await withAssertion(await assertion({ aud: fx.issuer }))).status).toBe(200);
  });

  it('fetches the keys of a jwksUri client over HTTP and caches them', async () => {
    const before = jwksRequests;
    expect((await withAssertion(await assertion({ kid: 'remote' }, 'remote-backend'))).status).toBe(200);
    expect((await withAssertion(await assertion({ kid: 'remote' }, 'remote-backend'))).status).toBe(200);
    expect(jwksRequests - before).toBe(1);
  });

  it('refuses a replayed jti', async () => {
    const jwt = await assertion();
    expect((await withAssertion(jwt)).status).toBe(200);
    expectOAuthError(await withAssertion(jwt), 401, 'invalid_client');
  });

  it.each<[string, () => Promise<string>]>([
    ['a wrong audience', () => assertion({ aud: 'https://elsewhere.example/token' })],
    ['the FHIR base as audience', () => assertion({ aud: 'https://fhir.example.test/w/default/default/api/v1/fhir/r4' })],
    ['the introspection endpoint as audience', () => assertion({ aud: 'https://fhir.example.test/w/default/default/api/v1/oauth/introspect' })],
    ['an expired assertion', () => assertion({ exp: Math.floor(Date.now() / 1000) - 120 })],
    ['an expiry more than 5 minutes ahead', () => assertion({ exp: Math.floor(Date.now() / 1000) + 3600 })],
    ['an unknown kid', () => assertion({ kid: 'remote' })],
    ['iss different from sub', () => assertion({ sub: 'admin-cli' })],
    ['an unknown client', () => assertion({}, 'nobody')],
    ['a client that authenticates with a secret', () => assertion({}, 'admin-cli')],
    ['no jti', () => assertion({ jti: null })],
    ['a tampered signature', async () => `${(await assertion()).slice(0, -6)}AAAAAA`],
    ['a tampered payload', async () => {
      const [h, , sig] = (await assertion()).split('.');
      return `${h}.${b64({ iss: 'backend', sub: 'backend', aud, jti: 'x', exp: Math.floor(Date.now() / 1000) + 60, scope: 'more' })}.${sig}`;
    }],
    ['alg none', async () => `${b64({ alg: 'none', kid: 'es256' })}.${b64({ iss: 'backend', sub: 'backend', aud, jti: 'n', exp: Math.floor(Date.now() / 1000) + 60 })}.`],
    ['an HMAC signature', () =>
      new SignJWT({ jti: 'h' }).setProtectedHeader({ alg: 'HS256', kid: 'es256' }).setIssuer('backend').setSubject('backend').setAudience(aud)
        .setExpirationTime('1m').sign(new TextEncoder().encode('a shared secret that is long enough!'))],
    ['not a JWT', async () => 'not-a-jwt'],
  ])('answers 401 invalid_client to %s', async (_name, make) => {
    expectOAuthError(await withAssertion(await make()), 401, 'invalid_client');
  });

  it('answers invalid_client to a wrong or missing client_assertion_type, a type without assertion, and a client_id naming another client', async () => {
    expectOAuthError(await withAssertion(await assertion(), { client_assertion_type: 'urn:example:other' }), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_assertion: await assertion() }), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_id: 'backend' }), 401, 'invalid_client');
    expectOAuthError(await withAssertion(await assertion(), { client_id: 'admin-cli' }), 401, 'invalid_client');
  });

  it('answers invalid_request to an assertion together with Basic credentials or a client_secret', async () => {
    const basic = await request(fx.t.app).post(`${OAUTH}/token`).auth(...ADMIN).type('form')
      .send({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion() });
    expectOAuthError(basic, 400, 'invalid_request');
    const typeOnly = await request(fx.t.app).post(`${OAUTH}/token`).auth(...ADMIN).type('form').send({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE });
    expectOAuthError(typeOnly, 400, 'invalid_request');
    expectOAuthError(await withAssertion(await assertion(), { client_secret: 'post-client-secret-0123' }), 400, 'invalid_request');
  });

  it('answers invalid_client to an assertion whose header names no kid (SMART Backend Services: kid is required)', async () => {
    const jwt = await assertion({ kid: null });
    expect(JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString())).toEqual({ alg: 'ES256' });
    expectOAuthError(await withAssertion(jwt), 401, 'invalid_client');
  });

  it('answers invalid_client when the jwksUri does not answer in time', async () => {
    const silent = http.createServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    await putClient('slow-keys', { tokenEndpointAuthMethod: 'private_key_jwt', jwksUri: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/jwks` });
    const started = Date.now();
    expectOAuthError(await withAssertion(await assertion({ kid: 'remote' }, 'slow-keys')), 401, 'invalid_client');
    expect(Date.now() - started).toBeLessThan(10_000);
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });
});

describe('private_key_jwt: the jku header', () => {
  // A server the attacker controls, serving the attacker's key: it must never be asked for anything.
  const attacker = http.createServer();
  const attackerRequests: string[] = [];
  let attackerJku = '';
  beforeAll(async () => {
    await keyPair('ES256', 'attacker');
    attacker.on('request', (req, res) => {
      attackerRequests.push(String(req.url));
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [{ ...keys.attacker?.jwk, kid: 'remote' }] }));
    });
    attacker.listen(0, '127.0.0.1');
    await new Promise((resolve) => attacker.once('listening', resolve));
    attackerJku = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => attacker.close(resolve));
  });

  /** An assertion signed with the attacker's key under a kid the victim client registered. */
  const attackerAssertion = async (client: string, jku: string): Promise<string> =>
    new SignJWT({ iss: client, sub: client, aud, jti: randomBytes(12).toString('base64url') })
      .setProtectedHeader({ alg: 'ES256', kid: 'remote', jku })
      .setIssuedAt()
      .setExpirationTime('2m')
      .sign(keys.attacker?.privateKey as KeyLike);

  it('answers invalid_client to a jku other than the registered jwksUri and fetches nothing from either', async () => {
    const registeredBefore = jwksRequests;
    for (const client of ['remote-backend', 'backend']) {
      expectOAuthError(await withAssertion(await attackerAssertion(client, attackerJku)), 401, 'invalid_client');
    }
    for (const near of [`${jwksUri}?`, `${jwksUri}/`, jwksUri.replace('127.0.0.1', 'localhost'), jwksUri.toUpperCase()]) {
      expectOAuthError(await withAssertion(await attackerAssertion('remote-backend', near)), 401, 'invalid_client');
    }
    expectOAuthError(await withAssertion(await assertion({ kid: 'remote', jku: attackerJku }, 'remote-backend')), 401, 'invalid_client');
    expectOAuthError(await withAssertion(await assertion({ jku: attackerJku })), 401, 'invalid_client');
    expect(attackerRequests).toEqual([]);
    expect(jwksRequests).toBe(registeredBefore);
  });

  it('accepts a jku that is exactly the registered jwksUri', async () => {
    const res = await withAssertion(await assertion({ kid: 'remote', jku: jwksUri }, 'remote-backend'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300, scope: 'system/*.*' });
    expect(attackerRequests).toEqual([]);
  });
});

describe('public clients', () => {
  it('authenticate with client_id alone, and a confidential client cannot pretend to be public', async () => {
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'authorization_code', client_id: 'public-app', code: 'x', redirect_uri: 'https://app.example/callback', code_verifier: 'x'.repeat(43) }), 400, 'invalid_grant');
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'authorization_code', client_id: 'web-app', code: 'x', redirect_uri: 'https://app.example/callback', code_verifier: 'x'.repeat(43) }), 401, 'invalid_client');
  });
});
