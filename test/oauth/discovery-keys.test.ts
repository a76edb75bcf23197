/**
 * Discovery (OIDC Discovery 1.0, RFC 8414), the JWKS endpoint and signing key rotation.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import request from 'supertest';
import { KeyStore } from '../../src/oauth/tokens/keys';
import { ADMIN, fhirGet, OAUTH, type OAuthFixture, oauthPost, PROJECT, setupOAuth } from './oauth-fixtures';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

const DISCOVERY_URLS = [
  '/.well-known/openid-configuration/w/default/default',
  '/w/default/default/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server/w/default/default',
];
const jwks = async () => JSON.parse((await request(fx.t.app).get(`${OAUTH}/jwks`)).text) as { keys: Array<Record<string, unknown>> };

describe('discovery', () => {
  it('serves one document at the three well-known URLs, every endpoint an absolute URL under the issuer', async () => {
    const docs = await Promise.all(DISCOVERY_URLS.map((url) => request(fx.t.app).get(url)));
    for (const doc of docs) {
      expect(doc.status).toBe(200);
      expect(doc.headers['content-type']).toMatch(/^application\/json/);
      expect(doc.body).toEqual(docs[0]?.body);
    }
    const oauth = `${fx.issuer}/api/v1/oauth`;
    expect(docs[0]?.body).toMatchObject({
      issuer: fx.issuer,
      authorization_endpoint: `${oauth}/authorize`,
      token_endpoint: `${oauth}/token`,
      jwks_uri: `${oauth}/jwks`,
      userinfo_endpoint: `${oauth}/userinfo`,
      introspection_endpoint: `${oauth}/introspect`,
      revocation_endpoint: `${oauth}/revoke`,
      end_session_endpoint: `${oauth}/logout`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'RS384', 'ES256', 'ES384'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      id_token_signing_alg_values_supported: ['RS256'],
      subject_types_supported: ['public'],
      scopes_supported: expect.arrayContaining(['openid', 'fhirUser', 'offline_access', 'online_access']),
      authorization_response_iss_parameter_supported: true,
    });
  });

  it('answers 404 for an unknown tenant or project', async () => {
    for (const url of ['/.well-known/openid-configuration/w/nope/nope', '/w/default/nope/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/w/nope/default']) {
      const res = await request(fx.t.app).get(url);
      expect({ url, status: res.status, body: res.body as unknown }).toEqual({ url, status: 404, body: { error: 'not_found', error_description: expect.any(String) } });
    }
    expect((await request(fx.t.app).get('/w/nope/nope/api/v1/oauth/jwks')).status).toBe(404);
  });
});

describe('JWKS', () => {
  it('publishes public RS256 keys only, and access tokens verify against them', async () => {
    const res = await request(fx.t.app).get(`${OAUTH}/jwks`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
    const set = JSON.parse(res.text) as { keys: Array<Record<string, unknown>> };
    expect(set.keys.length).toBeGreaterThan(0);
    for (const key of set.keys) {
      expect(key).toEqual({ kty: 'RSA', n: expect.any(String), e: 'AQAB', kid: expect.any(String), alg: 'RS256', use: 'sig' });
    }
    const { protectedHeader } = await jwtVerify(fx.t.adminToken, createLocalJWKSet(set as never), { issuer: fx.issuer, audience: fx.fhirBaseUrl });
    expect(protectedHeader).toEqual({ alg: 'RS256', kid: set.keys[0]?.kid, typ: 'at+jwt' });
  });

  it("creates a project's key on first use and keeps projects' keys apart", async () => {
    await fx.t.projects.ensure('fresh', 'keys');
    expect(await fx.t.storage.records.find('signing-key', { project: 'fresh/keys' })).toHaveLength(0);
    const fresh = JSON.parse((await request(fx.t.app).get('/w/fresh/keys/api/v1/oauth/jwks')).text) as { keys: Array<{ kid: string }> };
    expect(fresh.keys).toHaveLength(1);
    expect((await jwks()).keys.map((k) => k.kid)).not.toContain(fresh.keys[0]?.kid);
  });
});

describe('rotation', () => {
  it('signs with the new key while the retired one stays published and valid until its tokens have expired', async () => {
    const before = fx.t.adminToken;
    const oldKid = decodeProtectedHeader(before).kid;
    // Another instance (or `npm run keys -- rotate`) rotates through the shared store.
    const elsewhere = new KeyStore(fx.t.storage.records, fx.t.keyEncryption);
    const { kid, retired } = await elsewhere.rotate(PROJECT);
    expect(retired).toBe(oldKid);
    // A token the other instance signs with the new key is accepted here at once.
    const active = await elsewhere.activeKey(PROJECT);
    // The same grant as the admin token's (a client_credentials token is its own grant: `grant_stored: false`).
    const { grant_id, grant_stored } = JSON.parse(Buffer.from(before.split('.')[1] as string, 'base64url').toString()) as { grant_id: string; grant_stored?: boolean };
    const claims = { client_id: 'admin-cli', scope: 'system/*.*', grant_id, grant_stored };
    const signedElsewhere = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .setIssuer(fx.issuer).setSubject('admin-cli').setAudience(fx.fhirBaseUrl).setIssuedAt().setExpirationTime('5m').setJti('rotated')
      .sign(active.privateKey);
    expect((await fhirGet(fx.t, signedElsewhere)).status).toBe(200);
    expect((await fhirGet(fx.t, before)).status).toBe(200);
    const published = (await jwks()).keys.map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining([oldKid, kid]));

    const [record] = (await fx.t.storage.records.find('signing-key', { project: PROJECT })).filter((r) => r.value.kid === oldKid);
    expect(record?.value).toMatchObject({ retiredAt: expect.any(String), removeAfter: expect.any(String) });
    expect(Date.parse(String(record?.value.removeAfter)) - Date.now()).toBeGreaterThan(24 * 3600 * 1000);
    // Once removeAfter has passed, the retired key is no longer published nor accepted.
    await fx.t.storage.records.put({ ...(record as NonNullable<typeof record>), value: { ...record?.value, removeAfter: new Date(Date.now() - 1000).toISOString() } });
    const later = new KeyStore(fx.t.storage.records, fx.t.keyEncryption);
    expect((await later.jwks(PROJECT)).keys.map((k) => k.kid)).toEqual([kid]);
    expect(await later.verificationKey(PROJECT, oldKid as string)).toBeUndefined();
  });

  it('creates exactly one key when many requests need one at the same time', async () => {
    await fx.t.projects.ensure('busy', 'keys');
    const store = new KeyStore(fx.t.storage.records, fx.t.keyEncryption);
    const kids = await Promise.all(Array.from({ length: 20 }, () => store.activeKey('busy/keys').then((k) => k.kid)));
    expect(new Set(kids).size).toBe(1);
    expect(await fx.t.storage.records.find('signing-key', { project: 'busy/keys' })).toHaveLength(1);
    expect((await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN)).status).toBe(200);
  });
});
