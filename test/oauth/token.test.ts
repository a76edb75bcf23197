import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet, SignJWT } from 'jose';
import request from 'supertest';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { issueAuthorizationCode } from '../../src/oauth/tokens/authorization-codes';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;
const PROJECT = 'default/default';
const ISSUER = 'https://fhir.example.test/w/default/default';
const OAUTH = '/w/default/default/api/v1/oauth';
const FHIR_BASE = `${ISSUER}/api/v1/fhir/r4`;
const REDIRECT = 'https://app.example/callback';
let repo: FhirRepository;
let userId: string;
let membershipId: string;

beforeAll(async () => {
  t = await buildTestApp();
  repo = new FhirRepository(t.storage.resources, PROJECT);
  await repo.update('ClientApplication', 'web-app', {
    resourceType: 'ClientApplication',
    id: 'web-app',
    name: 'Web app',
    status: 'active',
    grantType: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secret: 'web-app-secret-0123456789',
    redirectUri: [REDIRECT],
    scope: 'openid fhirUser offline_access system/*.* user/*.*',
  });
  await repo.update('ClientApplication', 'other-app', {
    resourceType: 'ClientApplication',
    id: 'other-app',
    name: 'Other app',
    status: 'active',
    grantType: ['authorization_code'],
    tokenEndpointAuthMethod: 'client_secret_post',
    secret: 'other-app-secret-0123456789',
    redirectUri: [REDIRECT],
    scope: 'openid',
  });
  userId = (await repo.create({ resourceType: 'User', email: 'member@example.com', role: 'member', password: 'member password 1' })).resource.id as string;
  membershipId = (
    await repo.create({ resourceType: 'Membership', user: { reference: `User/${userId}` }, link: { reference: 'Patient/patient-ada' }, active: true })
  ).resource.id as string;
});
afterAll(async () => {
  await t.close();
});

const token = (body: Record<string, string>, auth?: [string, string]) => {
  const req = request(t.app).post(`${OAUTH}/token`).type('form');
  if (auth) req.auth(auth[0], auth[1]);
  return req.send(body);
};
const WEB: [string, string] = ['web-app', 'web-app-secret-0123456789'];
const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};
const code = async (challenge: string, overrides: Record<string, unknown> = {}) =>
  issueAuthorizationCode({ config: t.config, storage: t.storage, projects: t.projects, logger: undefined as never }, {
    project: PROJECT,
    clientId: 'web-app',
    redirectUri: REDIRECT,
    codeChallenge: challenge,
    scope: ['openid', 'fhirUser', 'offline_access', 'user/*.*'],
    userId,
    membershipId,
    nonce: 'n-123',
    authTime: Math.floor(Date.now() / 1000),
    ...overrides,
  });

describe('discovery and keys', () => {
  it('serves identical metadata at the three well-known URLs, with absolute endpoints and S256 only', async () => {
    const docs = await Promise.all(
      ['/.well-known/openid-configuration/w/default/default', '/w/default/default/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/w/default/default'].map((u) =>
        request(t.app).get(u),
      ),
    );
    for (const doc of docs) {
      expect(doc.status).toBe(200);
      expect(doc.body).toEqual(docs[0]?.body);
    }
    const meta = docs[0]?.body as Record<string, unknown>;
    expect(meta.issuer).toBe(ISSUER);
    expect(meta.token_endpoint).toBe(`${ISSUER}/api/v1/oauth/token`);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    for (const key of ['authorization_endpoint', 'jwks_uri', 'userinfo_endpoint', 'introspection_endpoint', 'revocation_endpoint']) expect(String(meta[key])).toMatch(/^https:\/\//);
    expect((await request(t.app).get('/.well-known/openid-configuration/w/nope/nope')).status).toBe(404);
  });

  it('publishes the signing key in the JWKS and signs access tokens that verify against it', async () => {
    const jwks = await request(t.app).get(`${OAUTH}/jwks`);
    expect(jwks.status).toBe(200);
    const set = JSON.parse(jwks.text) as { keys: Array<{ kid: string; d?: string }> };
    expect(set.keys.length).toBeGreaterThan(0);
    expect(set.keys.every((k) => k.d === undefined)).toBe(true);
    const { payload, protectedHeader } = await jwtVerify(t.adminToken, createLocalJWKSet(set as never), { issuer: ISSUER, audience: FHIR_BASE });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ client_id: 'admin-cli', scope: 'system/*.*', sub: 'admin-cli' });
  });
});

describe('client_credentials and client authentication', () => {
  it('issues a no-store token to the admin client; the token reads the FHIR API', async () => {
    const res = await token({ grant_type: 'client_credentials', client_id: 'admin-cli', client_secret: 'admin-client-secret-for-tests' });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'system/*.*' });
    expect(res.body.refresh_token).toBeUndefined();
    const read = await request(t.app).get('/w/default/default/api/v1/fhir/r4/Patient').set('Authorization', `Bearer ${res.body.access_token}`);
    expect(read.status).toBe(200);
  });

  it('refuses wrong secrets and unknown clients with 401 invalid_client and a challenge', async () => {
    for (const auth of [['admin-cli', 'wrong'], ['nobody', 'x']] as Array<[string, string]>) {
      const res = await token({ grant_type: 'client_credentials' }, auth);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic/);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    }
  });

  it('answers unauthorized_client, unsupported_grant_type, invalid_scope and invalid_request per RFC 6749', async () => {
    expect((await token({ grant_type: 'client_credentials' }, WEB)).body.error).toBe('unauthorized_client');
    expect((await token({ grant_type: 'password' }, WEB)).body.error).toBe('unsupported_grant_type');
    expect((await token({ grant_type: 'client_credentials', scope: 'nothing/allowed' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.error).toBe('invalid_scope');
    expect((await token({}, WEB)).body.error).toBe('invalid_request');
    const json = await request(t.app).post(`${OAUTH}/token`).send({ grant_type: 'client_credentials' });
    expect(json.status).toBe(400);
    expect(json.body.error).toBe('invalid_request');
  });

  it('authenticates private_key_jwt clients and refuses replayed, mis-addressed and unsigned assertions', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    await repo.update('ClientApplication', 'backend', {
      resourceType: 'ClientApplication',
      id: 'backend',
      name: 'Backend',
      status: 'active',
      grantType: ['client_credentials'],
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: JSON.stringify({ keys: [jwk] }),
      scope: 'system/*.*',
    });
    const aud = `${ISSUER}/api/v1/oauth/token`;
    const assertion = (claims: Record<string, unknown> = {}, audience = aud, kid = 'k1') =>
      new SignJWT({ jti: randomBytes(8).toString('hex'), ...claims })
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer('backend')
        .setSubject('backend')
        .setAudience(audience)
        .setExpirationTime(Math.floor(Date.now() / 1000) + 120)
        .sign(privateKey);
    const send = (jwt: string) =>
      token({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt });
    const good = await assertion();
    expect((await send(good)).status).toBe(200);
    expect((await send(good)).body.error).toBe('invalid_client');
    expect((await send(await assertion({}, 'https://elsewhere/token'))).body.error).toBe('invalid_client');
    expect((await send(await assertion({}, aud, 'unknown-kid'))).body.error).toBe('invalid_client');
    const [h, p] = (await assertion()).split('.');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
    expect((await send(unsigned)).body.error).toBe('invalid_client');
    expect((await send(`${h}.${p}.${Buffer.from('tampered').toString('base64url')}`)).body.error).toBe('invalid_client');
    const far = await new SignJWT({ jti: 'far' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('backend').setSubject('backend').setAudience(aud).setExpirationTime(Math.floor(Date.now() / 1000) + 3600).sign(privateKey);
    expect((await send(far)).body.error).toBe('invalid_client');
  });
});

describe('authorization_code and refresh_token', () => {
  it('exchanges a code once with the right verifier, redirect and client; a second use revokes what the first issued', async () => {
    const { verifier, challenge } = pkce();
    const c = await code(challenge);
    const res = await token({ grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, code_verifier: verifier }, WEB);
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('openid fhirUser offline_access user/*.*');
    expect(typeof res.body.refresh_token).toBe('string');
    const jwks = createLocalJWKSet(JSON.parse((await request(t.app).get(`${OAUTH}/jwks`)).text));
    const { payload } = await jwtVerify(res.body.id_token, jwks, { issuer: ISSUER, audience: 'web-app' });
    expect(payload).toMatchObject({ sub: `User/${userId}`, nonce: 'n-123', fhirUser: `${FHIR_BASE}/Patient/patient-ada` });
    expect(typeof payload.auth_time).toBe('number');

    const info = await request(t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${res.body.access_token}`);
    expect(info.body).toMatchObject({ sub: `User/${userId}`, fhirUser: `${FHIR_BASE}/Patient/patient-ada` });

    const again = await token({ grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, code_verifier: verifier }, WEB);
    expect(again.body.error).toBe('invalid_grant');
    const revoked = await request(t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${res.body.access_token}`);
    expect(revoked.status).toBe(401);
    expect(revoked.headers['www-authenticate']).toMatch(/invalid_token/);
  });

  it('refuses wrong verifiers, a verifier equal to the challenge, redirect mismatches and other clients', async () => {
    const { verifier, challenge } = pkce();
    const cases: Array<[Record<string, string>, [string, string] | undefined, Record<string, string>]> = [
      [{ code_verifier: pkce().verifier }, WEB, {}],
      [{ code_verifier: challenge }, WEB, {}],
      [{ redirect_uri: 'https://app.example/other' }, WEB, {}],
      [{ client_id: 'other-app', client_secret: 'other-app-secret-0123456789' }, undefined, {}],
    ];
    for (const [override, auth] of cases) {
      const c = await code(challenge);
      const res = await token({ grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, code_verifier: verifier, ...override }, auth);
      expect(res.body.error).toBe('invalid_grant');
    }
    expect((await token({ grant_type: 'authorization_code', code: 'made-up', redirect_uri: REDIRECT, code_verifier: verifier }, WEB)).body.error).toBe('invalid_grant');
  });

  it('rotates refresh tokens, allows narrowing, refuses widening, and revokes the family on reuse', async () => {
    const { verifier, challenge } = pkce();
    const first = await token({ grant_type: 'authorization_code', code: await code(challenge), redirect_uri: REDIRECT, code_verifier: verifier }, WEB);
    const widened = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token, scope: 'openid system/*.*' }, WEB);
    expect(widened.body.error).toBe('invalid_scope');
    const { verifier: v2, challenge: c2 } = pkce();
    const second = await token({ grant_type: 'authorization_code', code: await code(c2), redirect_uri: REDIRECT, code_verifier: v2 }, WEB);
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: second.body.refresh_token, scope: 'openid offline_access' }, WEB);
    expect(rotated.status).toBe(200);
    expect(rotated.body.scope).toBe('openid offline_access');
    expect(rotated.body.refresh_token).not.toBe(second.body.refresh_token);
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: second.body.refresh_token }, WEB);
    expect(reuse.body.error).toBe('invalid_grant');
    expect((await token({ grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token }, WEB)).body.error).toBe('invalid_grant');
  });
});

describe('introspection, revocation and the closed FHIR API', () => {
  it('introspects active tokens and answers exactly {active:false} otherwise; revocation ends the token', async () => {
    const admin: [string, string] = ['admin-cli', 'admin-client-secret-for-tests'];
    const issued = (await token({ grant_type: 'client_credentials' }, admin)).body.access_token as string;
    const introspect = (tok: string) => request(t.app).post(`${OAUTH}/introspect`).auth(admin[0], admin[1]).type('form').send({ token: tok });
    const active = await introspect(issued);
    expect(active.body).toMatchObject({ active: true, client_id: 'admin-cli', scope: 'system/*.*', iss: ISSUER, token_type: 'Bearer' });
    expect((await introspect('garbage')).body).toEqual({ active: false });
    const revoke = await request(t.app).post(`${OAUTH}/revoke`).auth(admin[0], admin[1]).type('form').send({ token: issued });
    expect(revoke.status).toBe(200);
    expect((await introspect(issued)).body).toEqual({ active: false });
    const read = await request(t.app).get('/w/default/default/api/v1/fhir/r4/Patient/patient-ada').set('Authorization', `Bearer ${issued}`);
    expect(read.status).toBe(401);
    expect(read.body.resourceType).toBe('OperationOutcome');
  });

  it('answers 401 without a valid token, 403 for a member, and serves /metadata publicly', async () => {
    const fhir = '/w/default/default/api/v1/fhir/r4';
    const none = await request(t.app).get(`${fhir}/Patient`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect((await request(t.app).get(`${fhir}/Patient`).set('Authorization', 'Bearer not.a.token')).status).toBe(401);
    expect((await request(t.app).get(`${fhir}/metadata`)).status).toBe(200);
    const { verifier, challenge } = pkce();
    const member = await token({ grant_type: 'authorization_code', code: await code(challenge), redirect_uri: REDIRECT, code_verifier: verifier }, WEB);
    const forbidden = await request(t.app).get(`${fhir}/Patient`).set('Authorization', `Bearer ${member.body.access_token}`);
    expect(forbidden.status).toBe(403);
    // A token of one project is not accepted by another.
    await t.authorize('other', 'place');
    expect((await request(t.app).get('/w/other/place/api/v1/fhir/r4/Patient').set('Authorization', `Bearer ${t.adminToken}`)).status).toBe(401);
  });

  it('stops a token on the next request once its client is deactivated, and a new client works at once', async () => {
    await repo.update('ClientApplication', 'short-lived', {
      resourceType: 'ClientApplication', id: 'short-lived', name: 'Short-lived', status: 'active', grantType: ['client_credentials'], secret: 'short-lived-secret-0123', scope: 'system/*.*',
    });
    const issued = (await token({ grant_type: 'client_credentials' }, ['short-lived', 'short-lived-secret-0123'])).body.access_token as string;
    const fhir = '/w/default/default/api/v1/fhir/r4';
    expect((await request(t.app).get(`${fhir}/Patient`).set('Authorization', `Bearer ${issued}`)).status).toBe(200);
    const current = await request(t.app).get(`${fhir}/ClientApplication/short-lived`).set('Authorization', `Bearer ${t.adminToken}`);
    await request(t.app).put(`${fhir}/ClientApplication/short-lived`).set('Authorization', `Bearer ${t.adminToken}`).set('Content-Type', 'application/fhir+json').send({ ...current.body, status: 'inactive' });
    expect((await request(t.app).get(`${fhir}/Patient`).set('Authorization', `Bearer ${issued}`)).status).toBe(401);
  });
});
