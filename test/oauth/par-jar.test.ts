/**
 * Pushed authorization requests (RFC 9126) and signed request objects (RFC 9101) over a real listener: the happy
 * paths driven by openid-client 6 (PAR for a public and a confidential client, a request object signed with the
 * client's key, pushed and sent by value) through the login and consent forms to tokens; the refusals hand-built:
 * a reused, expired, foreign or external request_uri, a plain request from a client that must push, pushes that
 * /authorize would refuse, and request objects that are unsigned, HMAC-signed, signed by another key, for another
 * audience or expired.
 */
import { webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, base64url } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { Browser, pkce, putClient, putUser, submitConsent, submitLogin } from './authorize-helpers';

let t: TestApp;
const server = http.createServer();
let base = '';
let issuer = '';
const REDIRECT = 'http://127.0.0.1:9/callback';
const SECRET = 'par-confidential-secret-value';
const oauthPath = '/w/default/default/api/v1/oauth';
const fhirBase = (): string => `${issuer}/api/v1/fhir/r4`;
let signingKey: webcrypto.CryptoKey;
let otherKey: webcrypto.CryptoKey;

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await buildTestApp({ PUBLIC_URL: base });
  server.on('request', t.app);
  issuer = `${base}/w/default/default`;
  const scope = 'openid profile fhirUser offline_access patient/Observation.rs';
  await putClient(t, 'par-public', { redirectUri: [REDIRECT], scope });
  await putClient(t, 'par-required', { redirectUri: [REDIRECT], scope, requirePushedAuthorizationRequests: true });
  await putClient(t, 'par-secret', { redirectUri: [REDIRECT], scope, tokenEndpointAuthMethod: 'client_secret_basic', secret: SECRET });
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  signingKey = pair.privateKey;
  otherKey = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])).privateKey;
  const jwk = { ...(await webcrypto.subtle.exportKey('jwk', pair.publicKey)), kid: 'jar-key', alg: 'ES256', use: 'sig' };
  await putClient(t, 'jar-app', { redirectUri: [REDIRECT], scope, tokenEndpointAuthMethod: 'private_key_jwt', jwks: JSON.stringify({ keys: [jwk] }) });
  await putUser(t, 'grace');
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

const insecure = { execute: [oidc.allowInsecureRequests] };
const grace = { email: 'grace@example.org', password: 'password of grace' };

/** Runs the browser part of a flow from an authorization URL to the callback URL. */
async function signIn(url: URL): Promise<URL> {
  const browser = new Browser(t.app);
  const start = await browser.get(`${url.pathname}${url.search}`);
  expect(start.status).toBe(303);
  const consent = await submitLogin(browser, start, grace);
  // Consent given earlier for the same scopes: the code comes back at once.
  const callback = String(consent.headers.location).startsWith(REDIRECT) ? consent : await submitConsent(browser, consent, 'allow');
  expect(callback.status).toBe(303);
  return new URL(String(callback.headers.location));
}

/** Pushes parameters as a public client and returns the request_uri. */
async function push(clientId: string, extra: Record<string, string> = {}): Promise<string> {
  const res = await request(t.app).post(`${oauthPath}/par`).type('form').send({ client_id: clientId, ...validParams(clientId), ...extra });
  expect(res.status).toBe(201);
  return res.body.request_uri as string;
}

function validParams(clientId: string): Record<string, string> {
  return {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'openid patient/Observation.rs',
    aud: fhirBase(),
    state: 'st',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  };
}

async function requestObject(claims: Record<string, unknown>, options: { key?: webcrypto.CryptoKey | Uint8Array; alg?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT({ ...validParams('jar-app'), ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'ES256', kid: options.kid ?? 'jar-key', typ: 'oauth-authz-req+jwt' })
    .setIssuer('jar-app')
    .setAudience([issuer, fhirBase()])
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(options.key ?? signingKey);
}

const authorizeUrl = (params: Record<string, string>): string => `${oauthPath}/authorize?${new URLSearchParams(params).toString()}`;

describe('discovery', () => {
  it('advertises the PAR endpoint, request objects and registration', async () => {
    const res = await request(t.app).get('/w/default/default/.well-known/openid-configuration');
    expect(res.body).toMatchObject({
      pushed_authorization_request_endpoint: `${issuer}/api/v1/oauth/par`,
      require_pushed_authorization_requests: false,
      request_parameter_supported: true,
      request_uri_parameter_supported: false,
      request_object_signing_alg_values_supported: ['RS256', 'RS384', 'PS256', 'ES256', 'ES384'],
      registration_endpoint: `${issuer}/api/v1/oauth/register`,
    });
  });
});

describe('openid-client', () => {
  it('pushes a public client request, then completes the code flow with PKCE', async () => {
    const config = await oidc.discovery(new URL(issuer), 'par-public', undefined, oidc.None(), insecure);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access patient/Observation.rs',
      aud: fhirBase(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const callback = await signIn(url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.scope).toBe('openid offline_access patient/Observation.rs');
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('pushes with client_secret_basic and exchanges the code as the same client', async () => {
    const config = await oidc.discovery(new URL(issuer), 'par-secret', undefined, oidc.ClientSecretBasic(SECRET), insecure);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope: 'openid patient/Observation.rs',
      aud: fhirBase(),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    expect(tokens.scope).toBe('openid patient/Observation.rs');
  });

  it('sends a request object signed with the client key, by value and pushed', async () => {
    const key = { key: signingKey as unknown as oidc.CryptoKey, kid: 'jar-key' };
    const config = await oidc.discovery(new URL(issuer), 'jar-app', undefined, oidc.PrivateKeyJwt(key), insecure);
    for (const pushed of [false, true]) {
      const verifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      const jar = await oidc.buildAuthorizationUrlWithJAR(
        config,
        { redirect_uri: REDIRECT, scope: 'openid profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', nonce },
        key,
      );
      expect([...jar.searchParams.keys()].sort()).toEqual(['client_id', 'request']);
      const url = pushed ? await oidc.buildAuthorizationUrlWithPAR(config, jar.searchParams) : jar;
      const tokens = await oidc.authorizationCodeGrant(config, await signIn(url), {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        expectedState: oidc.skipStateCheck,
        idTokenExpected: true,
      });
      expect(tokens.claims()).toMatchObject({ iss: issuer, aud: 'jar-app', nonce });
    }
  });
});

describe('request_uri refusals', () => {
  it('accepts a request_uri once', async () => {
    const requestUri = await push('par-public');
    const first = await request(t.app).get(authorizeUrl({ client_id: 'par-public', request_uri: requestUri }));
    expect(first.status).toBe(303);
    expect(String(first.headers.location)).toContain('/login?interaction=');
    const second = await request(t.app).get(authorizeUrl({ client_id: 'par-public', request_uri: requestUri }));
    expect(second.status).toBe(400);
    expect(second.text).toContain('<code>invalid_request_uri</code>');
    expect(second.headers.location).toBeUndefined();
  });

  it('refuses an expired request_uri', async () => {
    const res = await request(t.app).post(`${oauthPath}/par`).type('form').send(validParams('par-public'));
    expect(res.status).toBe(201);
    expect(res.body.expires_in).toBeGreaterThan(0);
    expect(res.body.expires_in).toBeLessThanOrEqual(60);
    const later = Date.now() + (res.body.expires_in as number) * 1000 + 1000;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(later);
    try {
      const used = await request(t.app).get(authorizeUrl({ client_id: 'par-public', request_uri: res.body.request_uri as string }));
      expect(used.status).toBe(400);
      expect(used.text).toContain('<code>invalid_request_uri</code>');
    } finally {
      clock.mockRestore();
    }
  });

  it('refuses a request_uri presented with another client_id', async () => {
    const requestUri = await push('par-public');
    const res = await request(t.app).get(authorizeUrl({ client_id: 'par-secret', request_uri: requestUri }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('<code>invalid_request_uri</code>');
  });

  it('never fetches an external request_uri', async () => {
    let hits = 0;
    const external = http.createServer((_req, res) => {
      hits += 1;
      res.end('');
    });
    external.listen(0, '127.0.0.1');
    await new Promise((resolve) => external.once('listening', resolve));
    try {
      const uri = `http://127.0.0.1:${(external.address() as AddressInfo).port}/request.jwt`;
      const res = await request(t.app).get(authorizeUrl({ ...validParams('par-public'), request_uri: uri }));
      expect(res.status).toBe(400);
      expect(res.text).toContain('<code>invalid_request_uri</code>');
      expect(hits).toBe(0);
    } finally {
      await new Promise((resolve) => external.close(resolve));
    }
  });

  it('uses only the pushed parameters', async () => {
    const requestUri = await push('par-public', { state: 'pushed-state', code_challenge_method: 'S256' });
    // A different redirect_uri and response_type in the query are ignored: the pushed request is valid.
    const res = await request(t.app).get(authorizeUrl({ client_id: 'par-public', request_uri: requestUri, redirect_uri: 'https://evil.example/cb', response_type: 'token' }));
    expect(res.status).toBe(303);
    expect(String(res.headers.location)).toContain('/login?interaction=');
  });

  it('refuses plain requests from a client that must push, and accepts its pushed ones', async () => {
    const plain = await request(t.app).get(authorizeUrl(validParams('par-required')));
    expect(plain.status).toBe(400);
    expect(plain.text).toContain('pushed authorization request');
    expect(plain.headers.location).toBeUndefined();
    const requestUri = await push('par-required');
    const pushed = await request(t.app).get(authorizeUrl({ client_id: 'par-required', request_uri: requestUri }));
    expect(pushed.status).toBe(303);
  });
});

describe('PAR endpoint refusals', () => {
  const par = (body: Record<string, string>, basic?: [string, string]) => {
    const req = request(t.app).post(`${oauthPath}/par`).type('form');
    if (basic) req.auth(...basic);
    return req.send(body);
  };

  it('authenticates clients as the token endpoint does', async () => {
    const none = await par(validParams('par-secret'));
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_client');
    const wrong = await par(validParams('par-secret'), ['par-secret', 'not the secret']);
    expect(wrong.status).toBe(401);
    const ok = await par(validParams('par-secret'), ['par-secret', SECRET]);
    expect(ok.status).toBe(201);
    expect(ok.headers['cache-control']).toBe('no-store');
    const mismatch = await par({ ...validParams('par-secret'), client_id: 'par-public' }, ['par-secret', SECRET]);
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toBe('invalid_request');
  });

  it.each([
    ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }, 'invalid_request'],
    ['no PKCE', { code_challenge: '' }, 'invalid_request'],
    ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['a scope the client may not have', { scope: 'system/*.*' }, 'invalid_scope'],
    ['a request_uri', { request_uri: 'urn:ietf:params:oauth:request_uri:abc' }, 'invalid_request'],
    ['a foreign aud', { aud: 'https://other.example/fhir' }, 'invalid_request'],
  ])('refuses %s with %s', async (_label, change, error) => {
    const body = Object.fromEntries(Object.entries({ ...validParams('par-public'), ...change }).filter(([, v]) => v !== ''));
    const res = await par(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(typeof res.body.error_description).toBe('string');
  });

  it('answers 405 to GET', async () => {
    const res = await request(t.app).get(`${oauthPath}/par`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });
});

describe('request object refusals', () => {
  const unsigned = (): string => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'oauth-authz-req+jwt' }));
    const now = Math.floor(Date.now() / 1000);
    const body = base64url.encode(JSON.stringify({ ...validParams('jar-app'), iss: 'jar-app', aud: issuer, exp: now + 60 }));
    return `${header}.${body}.`;
  };
  const cases: Array<[string, () => Promise<string>]> = [
    ['unsigned (alg none)', async () => unsigned()],
    ['HS256', () => requestObject({}, { alg: 'HS256', key: new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!') })],
    ['signed by another key', () => requestObject({}, { key: otherKey })],
    ['for another audience', async () => new SignJWT(validParams('jar-app')).setProtectedHeader({ alg: 'ES256', kid: 'jar-key' }).setIssuer('jar-app').setAudience('https://other.example').setExpirationTime('2m').sign(signingKey)],
    ['from another issuer', async () => new SignJWT(validParams('jar-app')).setProtectedHeader({ alg: 'ES256', kid: 'jar-key' }).setIssuer('par-public').setAudience(issuer).setExpirationTime('2m').sign(signingKey)],
    ['expired', async () => new SignJWT(validParams('jar-app')).setProtectedHeader({ alg: 'ES256', kid: 'jar-key' }).setIssuer('jar-app').setAudience(issuer).setExpirationTime(Math.floor(Date.now() / 1000) - 600).sign(signingKey)],
    ['without exp', async () => new SignJWT(validParams('jar-app')).setProtectedHeader({ alg: 'ES256', kid: 'jar-key' }).setIssuer('jar-app').setAudience(issuer).sign(signingKey)],
    ['naming another client_id', () => requestObject({ client_id: 'par-public' })],
    ['nesting a request_uri', () => requestObject({ request_uri: 'urn:ietf:params:oauth:request_uri:x' })],
  ];

  it.each(cases)('refuses a request object %s at /authorize and at the PAR endpoint', async (_label, make) => {
    const jwt = await make();
    const page = await request(t.app).get(authorizeUrl({ client_id: 'jar-app', request: jwt }));
    expect(page.status).toBe(400);
    expect(page.text).toContain('<code>invalid_request_object</code>');
    expect(page.headers.location).toBeUndefined();
    const key = { key: signingKey as unknown as oidc.CryptoKey, kid: 'jar-key' };
    const assertion = await new SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader({ alg: 'ES256', kid: 'jar-key' }).setIssuer('jar-app').setSubject('jar-app').setAudience(issuer).setExpirationTime('1m').sign(key.key);
    const pushed = await request(t.app).post(`${oauthPath}/par`).type('form').send({
      client_id: 'jar-app',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      request: jwt,
    });
    expect(pushed.status).toBe(400);
    expect(pushed.body.error).toBe('invalid_request_object');
  });

  it('uses the claims of a request object and ignores the query', async () => {
    const { code_challenge: _dropped, ...withoutPkce } = validParams('jar-app');
    const jwt = await new SignJWT(withoutPkce).setProtectedHeader({ alg: 'ES256', kid: 'jar-key' }).setIssuer('jar-app').setAudience([issuer, fhirBase()]).setExpirationTime('2m').sign(signingKey);
    // The query's code_challenge does not count: the request object has none.
    const res = await request(t.app).get(authorizeUrl({ client_id: 'jar-app', request: jwt, code_challenge: pkce().challenge }));
    expect(res.status).toBe(303);
    const location = new URL(String(res.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/code_challenge/);
    const valid = await request(t.app).get(authorizeUrl({ client_id: 'jar-app', request: await requestObject({}) }));
    expect(valid.status).toBe(303);
    expect(String(valid.headers.location)).toContain('/login?interaction=');
    // A request object may be longer than the 4096 characters allowed of other parameters.
    const long = await requestObject({ state: 's'.repeat(4000) });
    expect(long.length).toBeGreaterThan(4096);
    const longRes = await request(t.app).get(authorizeUrl({ client_id: 'jar-app', request: long }));
    expect(longRes.status).toBe(303);
    expect(String(longRes.headers.location)).toContain('/login?interaction=');
  });
});

describe('REQUIRE_PUSHED_AUTHORIZATION_REQUESTS', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await buildTestApp({ REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: 'true' });
    await putClient(strict, 'app');
  });
  afterAll(async () => {
    await strict.close();
  });

  it('refuses every plain request, advertises it, and accepts pushed requests', async () => {
    const discovery = await request(strict.app).get('/w/default/default/.well-known/openid-configuration');
    expect(discovery.body.require_pushed_authorization_requests).toBe(true);
    const fhir = 'https://fhir.example.test/w/default/default/api/v1/fhir/r4';
    const params = { response_type: 'code', client_id: 'app', redirect_uri: 'https://app.example/callback', scope: 'openid patient/Observation.rs', aud: fhir, code_challenge: pkce().challenge, code_challenge_method: 'S256' };
    const plain = await request(strict.app).get(authorizeUrl(params));
    expect(plain.status).toBe(400);
    expect(plain.text).toContain('pushed authorization request');
    const pushed = await request(strict.app).post(`${oauthPath}/par`).type('form').send(params);
    expect(pushed.status).toBe(201);
    const used = await request(strict.app).get(authorizeUrl({ client_id: 'app', request_uri: pushed.body.request_uri as string }));
    expect(used.status).toBe(303);
  });
});
