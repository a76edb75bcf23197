/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592) over a real listener: openid-client 6
 * registers a public client with an initial access token and runs PAR + code + PKCE with it; a software statement
 * from a trusted issuer registers without a token; the refusals hand-built: no credentials, a token that may not
 * create ClientApplications, untrusted, forged, HMAC and expired statements, bad metadata, and RFC 7592 with a
 * wrong or foreign registration access token, or an update that widens the registration.
 */
import { webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { agentRefs, type AuditEventJson, entityRefs, storedAuditEvents, subtypes } from '../audit/audit-fixtures';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { Browser, putUser, repo, submitConsent, submitLogin } from './authorize-helpers';

let t: TestApp;
const server = http.createServer();
let issuer = '';
const REDIRECT = 'http://127.0.0.1:9/callback';
const oauthPath = '/w/default/default/api/v1/oauth';
const STATEMENT_ISSUER = 'https://statements.example';
let statementKey: webcrypto.CryptoKey;
let strangerKey: webcrypto.CryptoKey;

beforeAll(async () => {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  statementKey = pair.privateKey;
  strangerKey = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])).privateKey;
  const jwk = { ...(await webcrypto.subtle.exportKey('jwk', pair.publicKey)), kid: 'ss-1' };
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = await buildTestApp({ PUBLIC_URL: base, AUDIT: 'on', SOFTWARE_STATEMENT_ISSUERS: JSON.stringify({ 'default/default': [{ issuer: STATEMENT_ISSUER, jwks: { keys: [jwk] } }] }) });
  server.on('request', t.app);
  issuer = `${base}/w/default/default`;
  await putUser(t, 'grace');
  // A backend client without any AccessPolicy: its tokens may not create ClientApplications.
  await repo(t).update('ClientApplication', 'no-policy', {
    resourceType: 'ClientApplication',
    id: 'no-policy',
    name: 'No policy',
    status: 'active',
    grantType: ['client_credentials'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secret: 'no-policy-secret-value',
    scope: 'system/*.*',
  } as never);
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

const register = (body: unknown, token?: string) => {
  const req = request(t.app).post(`${oauthPath}/register`).set('Content-Type', 'application/json');
  if (token) req.set('Authorization', `Bearer ${token}`);
  return req.send(JSON.stringify(body));
};
const manage = (method: 'get' | 'put' | 'delete', clientId: string, token: string, body?: unknown) => {
  const req = request(t.app)[method](`${oauthPath}/register/${clientId}`).set('Authorization', `Bearer ${token}`);
  return body === undefined ? req : req.set('Content-Type', 'application/json').send(JSON.stringify(body));
};

const publicApp = { client_name: 'Registered app', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], scope: 'openid patient/Observation.rs' };

async function statement(claims: Record<string, unknown>, options: { key?: webcrypto.CryptoKey | Uint8Array; alg?: string; iss?: string; exp?: number } = {}): Promise<string> {
  return new SignJWT({ software_id: 'example-app', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'ES256', kid: 'ss-1' })
    .setIssuer(options.iss ?? STATEMENT_ISSUER)
    .setIssuedAt()
    .setExpirationTime(options.exp ?? '10m')
    .sign(options.key ?? statementKey);
}

describe('registration with an initial access token', () => {
  it('registers a public client with openid-client and runs PAR + code + PKCE with it', async () => {
    const config = await oidc.dynamicClientRegistration(new URL(issuer), publicApp, oidc.None(), { initialAccessToken: t.adminToken, execute: [oidc.allowInsecureRequests] });
    const clientId = config.clientMetadata().client_id;
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(config.clientMetadata()).toMatchObject({ registration_access_token: expect.any(String), registration_client_uri: `${issuer}/api/v1/oauth/register/${clientId}` });
    expect(config.clientMetadata().client_secret).toBeUndefined();

    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope: 'openid patient/Observation.rs',
      aud: `${issuer}/api/v1/fhir/r4`,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const browser = new Browser(t.app);
    const start = await browser.get(`${url.pathname}${url.search}`);
    const consent = await submitLogin(browser, start, { email: 'grace@example.org', password: 'password of grace' });
    const callback = await submitConsent(browser, consent, 'allow');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(String(callback.headers.location)), { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    expect(tokens.scope).toBe('openid patient/Observation.rs');
  });

  it('returns the secret once and stores the registration access token hashed', async () => {
    const res = await register({ client_name: 'Backend', grant_types: ['client_credentials'], scope: 'system/Patient.rs' }, t.adminToken);
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const { client_id: clientId, client_secret: secret, registration_access_token: token } = res.body as Record<string, string>;
    expect(res.body).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', client_secret_expires_at: 0, client_id_issued_at: expect.any(Number) });
    expect(res.headers.location).toBe(res.body.registration_client_uri);
    const tokenRes = await request(t.app).post(`${oauthPath}/token`).auth(clientId as string, secret as string).type('form').send({ grant_type: 'client_credentials', scope: 'system/Patient.rs' });
    expect(tokenRes.status).toBe(200);
    const read = await t.api.get(`${t.base}/ClientApplication/${clientId}`);
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    expect(read.body.registrationAccessToken).toBeUndefined();
    const history = await t.api.get(`${t.base}/ClientApplication/${clientId}/_history`);
    expect(history.status).toBe(200);
    expect(JSON.stringify(history.body)).not.toMatch(/registrationAccessToken|"secret"/);
    const search = await t.api.get(`${t.base}/ClientApplication?_id=${clientId}`);
    expect(search.body.entry).toHaveLength(1);
    expect(JSON.stringify(search.body)).not.toMatch(/registrationAccessToken|"secret"/);
    const stored = await t.storage.resources.readCurrent(t.boot.project.key, 'ClientApplication', clientId as string);
    expect(typeof stored?.resource?.registrationAccessToken).toBe('string');
    expect(stored?.resource?.registrationAccessToken).not.toContain(token);
  });

  it('refuses a request without credentials, with a bad token, and with a token that may not create clients', async () => {
    const none = await register(publicApp);
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_token');
    expect(String(none.headers['www-authenticate'])).toMatch(/^Bearer /);
    const forged = await register(publicApp, 'not-a-token');
    expect(forged.status).toBe(401);
    expect(forged.body.error).toBe('invalid_token');
    const backend = await request(t.app).post(`${oauthPath}/token`).auth('no-policy', 'no-policy-secret-value').type('form').send({ grant_type: 'client_credentials', scope: 'system/*.*' });
    expect(backend.status).toBe(200);
    const count = async (): Promise<number> => ((await t.api.get(`${t.base}/ClientApplication?_count=1000`)).body.entry ?? []).length;
    const before = await count();
    const refused = await register(publicApp, backend.body.access_token as string);
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('insufficient_scope');
    expect(await count()).toBe(before);
  });

  it.each([
    ['an http redirect URI to a public host', { redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri'],
    ['a redirect URI with a fragment', { redirect_uris: ['https://app.example/cb#x'] }, 'invalid_redirect_uri'],
    ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
    ['no redirect URI with authorization_code', { redirect_uris: [] }, 'invalid_redirect_uri'],
    ['an unknown grant type', { grant_types: ['password'] }, 'invalid_client_metadata'],
    ['response_types token', { response_types: ['token'] }, 'invalid_client_metadata'],
    ['an unknown auth method', { token_endpoint_auth_method: 'tls_client_auth' }, 'invalid_client_metadata'],
    ['a public client_credentials client', { grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
    ['private_key_jwt without keys', { token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    ['a private key in jwks', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' }] } }, 'invalid_client_metadata'],
    ['a symmetric key in jwks', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'invalid_client_metadata'],
    ['both jwks and jwks_uri', { jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] }, jwks_uri: 'https://keys.example/jwks' }, 'invalid_client_metadata'],
    ['an http jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example/jwks' }, 'invalid_client_metadata'],
    ['a scope with a quote', { scope: 'openid "x' }, 'invalid_client_metadata'],
    ['a client_name that is not a string', { client_name: 42 }, 'invalid_client_metadata'],
    ['a logo_uri that is not a URL', { logo_uri: 'not a url' }, 'invalid_client_metadata'],
  ])('refuses %s', async (_label, change, error) => {
    const res = await register({ ...publicApp, ...change }, t.adminToken);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(typeof res.body.error_description).toBe('string');
  });

  it('refuses a body that is not a JSON object', async () => {
    for (const [type, body] of [['application/json', '[1]'], ['application/json', '{'], ['application/x-www-form-urlencoded', 'client_name=x']]) {
      const res = await request(t.app).post(`${oauthPath}/register`).set('Authorization', `Bearer ${t.adminToken}`).set('Content-Type', type as string).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    }
  });
});

describe('registration with a software statement', () => {
  it('registers without a token; the statement takes precedence over the plain metadata', async () => {
    const jwt = await statement({ client_name: 'From the statement', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
    const res = await register({ client_name: 'Plain name', redirect_uris: ['https://other.example/cb'], software_statement: jwt });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ client_name: 'From the statement', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', software_statement: jwt });
  });

  it.each([
    ['an untrusted issuer', () => statement({}, { iss: 'https://elsewhere.example' }), 'unapproved_software_statement'],
    ['a foreign key', () => statement({}, { key: strangerKey }), 'invalid_software_statement'],
    ['HS256', () => statement({}, { alg: 'HS256', key: new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!') }), 'invalid_software_statement'],
    ['an expired statement', () => statement({}, { exp: Math.floor(Date.now() / 1000) - 600 }), 'invalid_software_statement'],
    ['no JWT at all', async () => 'not.a.jwt', 'invalid_software_statement'],
  ])('refuses %s', async (_label, make, error) => {
    const res = await register({ ...publicApp, software_statement: await make() });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
  });
});

describe('client configuration (RFC 7592)', () => {
  let clientId = '';
  let token = '';
  let otherToken = '';

  beforeAll(async () => {
    const res = await register(publicApp, t.adminToken);
    clientId = res.body.client_id as string;
    token = res.body.registration_access_token as string;
    otherToken = (await register(publicApp, t.adminToken)).body.registration_access_token as string;
  });

  it('reads the metadata with the registration access token only', async () => {
    const ok = await manage('get', clientId, token);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ client_id: clientId, client_name: 'Registered app', redirect_uris: [REDIRECT] });
    expect(ok.body.registration_access_token).toBeUndefined();
    for (const wrong of ['wrong-token', otherToken, t.adminToken]) {
      const res = await manage('get', clientId, wrong);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
    }
    const unknown = await manage('get', 'no-such-client', token);
    expect(unknown.status).toBe(401);
  });

  it('updates the metadata, but not beyond what was registered', async () => {
    const narrowed = { ...publicApp, client_id: clientId, client_name: 'Renamed', scope: 'openid' };
    const ok = await manage('put', clientId, token, narrowed);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ client_name: 'Renamed', scope: 'openid' });
    const wider = await manage('put', clientId, token, { ...narrowed, scope: 'openid user/*.*' });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_client_metadata');
    const otherId = await manage('put', clientId, token, { ...narrowed, client_id: 'someone-else' });
    expect(otherId.status).toBe(400);
    const managed = await manage('put', clientId, token, { ...narrowed, registration_access_token: 'x' });
    expect(managed.status).toBe(400);
    const wrong = await manage('put', clientId, otherToken, narrowed);
    expect(wrong.status).toBe(401);
    expect((await manage('get', clientId, token)).body.client_name).toBe('Renamed');
  });

  it('deletes the client with its token only', async () => {
    const wrong = await manage('delete', clientId, otherToken);
    expect(wrong.status).toBe(401);
    expect((await manage('get', clientId, token)).status).toBe(200);
    const ok = await manage('delete', clientId, token);
    expect(ok.status).toBe(204);
    expect((await manage('get', clientId, token)).status).toBe(401);
    const read = await t.api.get(`${t.base}/ClientApplication/${clientId}`);
    expect(read.status).toBe(410);
  });
});

describe('security events', () => {
  it('records registrations and refusals without a credential in them', async () => {
    const ok = await register({ ...publicApp, client_name: 'Audited app' }, t.adminToken);
    expect(ok.status).toBe(201);
    const clientId = ok.body.client_id as string;
    const token = ok.body.registration_access_token as string;
    expect((await manage('delete', clientId, token)).status).toBe(204);
    expect((await register(publicApp)).status).toBe(401);
    const pushed = await request(t.app).post(`${oauthPath}/par`).type('form').send({ client_id: 'no-policy', response_type: 'code' });
    expect(pushed.status).toBe(401);
    const events = await storedAuditEvents(t);
    const named = (code: string) => events.filter((e) => subtypes(e).includes(code));
    const [registered] = named('client-registered').filter((e) => entityRefs(e).includes(`ClientApplication/${clientId}`));
    expect(registered).toBeDefined();
    expect(agentRefs(registered as AuditEventJson)).toContain(`ClientApplication/${t.config.adminClientId}`);
    expect(named('client-registration-deleted').some((e) => agentRefs(e).includes(`ClientApplication/${clientId}`))).toBe(true);
    expect(named('registration-failed').length).toBeGreaterThan(0);
    expect(named('pushed-request-failed').length).toBeGreaterThan(0);
    expect(JSON.stringify(events)).not.toContain(token);
  });
});
