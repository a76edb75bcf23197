/**
 * `GET {issuer}/api/v1/oauth/keys` and `POST {issuer}/api/v1/oauth/keys/rotate`: the signing keys for owners and
 * administrators (full access) whose token reaches every type; 401 without a valid token, 403
 * `insufficient_scope` for anyone else; a rotation publishes the new key, signs new tokens with it and keeps the
 * retired one verifying.
 */
import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { buildTestApp, clientCredentialsToken, type TestApp } from '../helpers/build-test-app';
import { OAUTH, repo } from './authorize-helpers';

let t: TestApp;

async function confidentialClient(id: string, scope: string, fullAccess: boolean): Promise<string> {
  await repo(t).update('ClientApplication', id, {
    resourceType: 'ClientApplication',
    id,
    name: id,
    status: 'active',
    grantType: ['client_credentials'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secret: `${id}-secret-0123456789`,
    scope,
  } as never);
  if (fullAccess) {
    await repo(t).update('AccessPolicy', id, { resourceType: 'AccessPolicy', id, name: id, engine: 'full-access', target: [{ link: { reference: `ClientApplication/${id}` } }] } as never);
  }
  return clientCredentialsToken(t.app, 'default', 'default', id, `${id}-secret-0123456789`);
}

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const keys = (token?: string) => {
  const req = request(t.app).get(`${OAUTH}/keys`);
  return token ? req.set('Authorization', `Bearer ${token}`) : req;
};
const rotate = (token?: string) => {
  const req = request(t.app).post(`${OAUTH}/keys/rotate`);
  return token ? req.set('Authorization', `Bearer ${token}`) : req;
};

it('lists the keys for the admin client, without private parts', async () => {
  const res = await keys(t.adminToken);
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body.keys).toHaveLength(1);
  expect(Object.keys(res.body.keys[0]).sort()).toEqual(['alg', 'createdAt', 'kid']);
  expect(res.body.keys[0].kid).toBe(decodeProtectedHeader(t.adminToken).kid);
});

it('rotates: the JWKS publishes both keys, new tokens use the new one, the old token still works', async () => {
  const before = decodeProtectedHeader(t.adminToken).kid;
  const res = await rotate(t.adminToken);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ kid: expect.any(String), retired: before });
  const jwks = await request(t.app).get(`${OAUTH}/jwks`);
  expect(jwks.body.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([before, res.body.kid].sort());
  const listed = await keys(t.adminToken);
  expect(listed.body.keys).toEqual([
    expect.objectContaining({ kid: before, retiredAt: expect.any(String), removeAfter: expect.any(String) }),
    { kid: res.body.kid, alg: 'RS256', createdAt: expect.any(String) },
  ]);
  const fresh = await clientCredentialsToken(t.app, 'default', 'default', t.config.adminClientId, t.config.adminClientSecret as string);
  expect(decodeProtectedHeader(fresh).kid).toBe(res.body.kid);
  expect((await t.api.get(`${t.base}/Patient?_count=1`)).status).toBe(200);
});

it('answers 401 without a valid token and 403 insufficient_scope to callers without full access or wide scopes', async () => {
  const none = await keys();
  expect(none.status).toBe(401);
  expect(none.headers['www-authenticate']).toMatch(/^Bearer realm=/);
  const bad = await rotate('not.a.token');
  expect(bad.status).toBe(401);
  expect(bad.body.error).toBe('invalid_token');

  const noPolicy = await confidentialClient('no-policy', 'system/*.*', false);
  const narrow = await confidentialClient('narrow-scope', 'system/Patient.rs', true);
  const readOnly = await confidentialClient('read-only', 'system/*.rs', true);
  for (const [token, pattern] of [
    [noPolicy, /reserved to owners and administrators/],
    [narrow, /every resource type/],
  ] as const) {
    for (const res of [await keys(token), await rotate(token)]) {
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'insufficient_scope', error_description: expect.stringMatching(pattern) });
      expect(res.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    }
  }
  expect((await keys(readOnly)).status).toBe(200);
  const refused = await rotate(readOnly);
  expect(refused.status).toBe(403);
  expect(refused.body.error_description).toMatch(/write access to every resource type/);
  expect((await keys(t.adminToken)).body.keys).toHaveLength(2);
});

it('answers other methods with 405', async () => {
  const res = await request(t.app).get(`${OAUTH}/keys/rotate`).set('Authorization', `Bearer ${t.adminToken}`);
  expect(res.status).toBe(405);
  expect(res.headers.allow).toBe('POST');
  const del = await request(t.app).delete(`${OAUTH}/keys`);
  expect(del.status).toBe(405);
  expect(del.headers.allow).toBe('GET');
});
