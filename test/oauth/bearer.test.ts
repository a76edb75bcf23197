/**
 * The closed FHIR API (issue 4 §11): bearer tokens of this project only, checked on every request for signature,
 * issuer, audience, expiry and type, and for an active grant, client, user and membership.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { KeyStore } from '../../src/oauth/tokens/keys';
import request from 'supertest';
import { ADMIN, codeTokens, FHIR, fhirGet, OAUTH, type OAuthFixture, oauthPost, PROJECT, setupOAuth } from './oauth-fixtures';

let fx: OAuthFixture;
let admin: string;
beforeAll(async () => {
  fx = await setupOAuth();
  admin = fx.t.adminToken;
});
afterAll(async () => {
  await fx.t.close();
});

/** Signs a token with the project's own key, with claims that differ from what the server issues. */
async function forge(overrides: Record<string, unknown>, typ = 'at+jwt'): Promise<string> {
  const key = await new KeyStore(fx.t.storage.records, fx.t.keyEncryption).activeKey(PROJECT);
  const claims = { ...decodeJwt(admin), jti: randomUUID(), ...overrides };
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ }).sign(key.privateKey);
}

function expectUnauthorized(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="https:\/\/[^"]+", error="invalid_token", error_description="[^"]+"$/);
  expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ severity: 'error' })] });
}

/** RFC 6750 §3.1: a request without credentials gets the challenge alone, no error code. */
function expectChallenge(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe('Bearer realm="https://fhir.example.test/w/default/default"');
  expect(res.body).toEqual({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'A bearer token is required' }] });
}

describe('authentication of FHIR requests', () => {
  it('serves /metadata and the discovery documents without a token, and nothing else', async () => {
    expect((await request(fx.t.app).get(`${FHIR}/metadata`)).status).toBe(200);
    expect((await request(fx.t.app).get('/.well-known/openid-configuration/w/default/default')).status).toBe(200);
    for (const path of ['/Patient', '/Patient/x', '/Patient/x/_history', '/_history', '/ClientApplication', '/']) {
      expectChallenge(await request(fx.t.app).get(`${FHIR}${path}`));
    }
    expectChallenge(await request(fx.t.app).post(`${FHIR}/Patient`).set('Content-Type', 'application/fhir+json').send({ resourceType: 'Patient' }));
  });

  it('answers a request with another scheme or an empty Authorization header as one without credentials', async () => {
    for (const header of [`Basic ${Buffer.from('admin-cli:x').toString('base64')}`, 'Digest username="x"', 'Bearerish abc', '', '   ']) {
      expectChallenge(await request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', header));
    }
  });

  it.each<[string, () => Promise<string>]>([
    ['a bearer header without a token', async () => 'Bearer'],
    ['a bearer header with two tokens', async () => `Bearer ${admin} ${admin}`],
    ['a bearer token with characters outside b64token', async () => 'Bearer abc"def'],
    ['a token that is not a JWT', async () => 'Bearer not-a-jwt'],
    ['a tampered token', async () => `Bearer ${admin.slice(0, -4)}AAAA`],
    ['an expired token', async () => `Bearer ${await forge({ exp: Math.floor(Date.now() / 1000) - 10 })}`],
    ['a token for another audience', async () => `Bearer ${await forge({ aud: 'https://elsewhere.example/fhir' })}`],
    ['a token of another issuer', async () => `Bearer ${await forge({ iss: 'https://elsewhere.example' })}`],
    ['an id_token-typed JWT', async () => `Bearer ${await forge({}, 'JWT')}`],
    ['a token without grant', async () => `Bearer ${await forge({ grant_id: undefined })}`],
    ['a token with an unknown grant', async () => `Bearer ${await forge({ grant_id: randomUUID(), grant_stored: undefined })}`],
    ['a token with an unknown grant and a grant_stored claim other than false', async () => `Bearer ${await forge({ grant_id: randomUUID(), grant_stored: 'false' })}`],
    ['a token naming an unknown key', async () => {
      const [, payload, signature] = admin.split('.');
      return `Bearer ${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'nope', typ: 'at+jwt' })).toString('base64url')}.${payload}.${signature}`;
    }],
  ])('answers 401 invalid_token to %s', async (_name, header) => {
    expectUnauthorized(await request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', await header()));
  });

  it('answers 400, not 500, to an undecodable tenant or project in the path', async () => {
    const fhir = await request(fx.t.app).get('/w/%ff/x/api/v1/fhir/r4/Patient').set('Authorization', `Bearer ${admin}`);
    expect(fhir.status).toBe(400);
    expect(fhir.body.resourceType).toBe('OperationOutcome');
    const oauth = await request(fx.t.app).post('/w/x/%e0%a4/api/v1/oauth/token').type('form').send({ grant_type: 'client_credentials' });
    expect({ status: oauth.status, body: oauth.body as unknown }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: expect.any(String) } });
    const unknown = await request(fx.t.app).get(`${OAUTH}/no-such-endpoint`);
    expect({ status: unknown.status, body: unknown.body as unknown }).toEqual({ status: 404, body: { error: 'not_found', error_description: 'Not found' } });
  });

  it("refuses another project's token, and that project refuses this one's", async () => {
    const other = await fx.t.authorize('other', 'place');
    expectUnauthorized(await fhirGet(fx.t, other));
    expectUnauthorized(await request(fx.t.app).get('/w/other/place/api/v1/fhir/r4/Patient').set('Authorization', `Bearer ${admin}`));
    expect((await request(fx.t.app).get('/w/other/place/api/v1/fhir/r4/Patient').set('Authorization', `Bearer ${other}`)).status).toBe(200);
  });
});

describe('access comes from roles and AccessPolicies', () => {
  it('gives owners and admins full access; members and clients need a policy that targets them', async () => {
    const adminUser = await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId });
    expect((await fhirGet(fx.t, adminUser.access_token as string)).status).toBe(200);
    const member = await codeTokens(fx);
    const forbidden = await fhirGet(fx.t, member.access_token as string);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [expect.objectContaining({ code: 'forbidden' })] });
    await fx.repo.update('ClientApplication', 'reader', {
      resourceType: 'ClientApplication', id: 'reader', name: 'Reader', status: 'active', grantType: ['client_credentials'], secret: 'reader-secret-0123456', scope: 'system/*.read system/*.rs',
    });
    const reader = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['reader', 'reader-secret-0123456'])).body.access_token as string;
    expect((await fhirGet(fx.t, reader)).status).toBe(403);
    // The same token, judged on the next request by a policy written in between.
    await fx.repo.update('AccessPolicy', 'reader-all', {
      resourceType: 'AccessPolicy', id: 'reader-all', name: 'Reader', engine: 'full-access', target: [{ link: { reference: 'ClientApplication/reader' } }],
    });
    expect((await fhirGet(fx.t, reader)).status).toBe(200);
  });
});

describe('deactivation and revocation take effect on the next request', () => {
  it('when the ClientApplication is deactivated through the FHIR API', async () => {
    await fx.repo.update('ClientApplication', 'short-lived', {
      resourceType: 'ClientApplication', id: 'short-lived', name: 'Short', status: 'active', grantType: ['client_credentials'], secret: 'short-lived-secret-0123', scope: 'system/*.*',
    });
    await fx.repo.update('AccessPolicy', 'short-lived', {
      resourceType: 'AccessPolicy', id: 'short-lived', name: 'Short', engine: 'full-access', target: [{ link: { reference: 'ClientApplication/short-lived' } }],
    });
    const token = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['short-lived', 'short-lived-secret-0123'])).body.access_token as string;
    expect((await fhirGet(fx.t, token)).status).toBe(200);
    const current = (await fhirGet(fx.t, admin, '/ClientApplication/short-lived')).body as Record<string, unknown>;
    const put = await request(fx.t.app).put(`${FHIR}/ClientApplication/short-lived`).set('Authorization', `Bearer ${admin}`).set('Content-Type', 'application/fhir+json').send({ ...current, status: 'inactive' });
    expect(put.status).toBe(200);
    expectUnauthorized(await fhirGet(fx.t, token));
  });

  it('when the User or the Membership is deactivated', async () => {
    const make = async (email: string) => {
      const user = await fx.repo.create({ resourceType: 'User', email, role: 'admin' });
      const membership = await fx.repo.create({ resourceType: 'Membership', user: { reference: `User/${user.resource.id}` }, active: true });
      const tokens = await codeTokens(fx, { userId: user.resource.id as string, membershipId: membership.resource.id as string });
      expect((await fhirGet(fx.t, tokens.access_token as string)).status).toBe(200);
      return { user: user.resource, membership: membership.resource, token: tokens.access_token as string };
    };
    const a = await make('deactivated-user@example.com');
    await fx.repo.update('User', a.user.id as string, { ...a.user, active: false });
    expectUnauthorized(await fhirGet(fx.t, a.token));
    const b = await make('deactivated-membership@example.com');
    await fx.repo.update('Membership', b.membership.id as string, { ...b.membership, active: false });
    expectUnauthorized(await fhirGet(fx.t, b.token));
    const c = await make('deleted-membership@example.com');
    await fx.repo.delete('Membership', c.membership.id as string);
    expectUnauthorized(await fhirGet(fx.t, c.token));
  });

  it('when the grant is revoked, for the userinfo endpoint too', async () => {
    const tokens = await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId });
    const info = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${tokens.access_token}`);
    expect(info.status).toBe(200);
    await oauthPost(fx.t, 'revoke', { token: tokens.refresh_token as string }, ['web-app', 'web-app-secret-0123456789']);
    expectUnauthorized(await fhirGet(fx.t, tokens.access_token as string));
    const after = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${tokens.access_token}`);
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: 'invalid_token', error_description: expect.any(String) });
    expect((await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN)).status).toBe(200);
  });
});
