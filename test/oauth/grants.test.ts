/**
 * The token endpoint's grants: authorization_code (codes issued as /authorize issues them), refresh_token and
 * client_credentials, with every error path of RFC 6749 §5.2 and RFC 7636 that belongs to them.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import request from 'supertest';
import { tokenKey } from '../../src/oauth/tokens/hash';
import {
  ADMIN,
  codeTokens,
  expectOAuthError,
  fhirGet,
  issueCode,
  OAUTH,
  OTHER,
  type OAuthFixture,
  oauthPost,
  pkce,
  REDIRECT,
  setupOAuth,
  WEB,
} from './oauth-fixtures';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

const token = (body: Record<string, string>, auth?: [string, string]) => oauthPost(fx.t, 'token', body, auth);
const exchange = (code: string, verifier: string, extra: Record<string, string> = {}, auth: [string, string] | null = WEB) =>
  token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, ...extra }, auth ?? undefined);
/** Rewrites other-app with these grant types (the stored secret is a hash, so the plain one is written again). */
const otherAppGrants = (grantType: string[]) =>
  fx.repo.update('ClientApplication', 'other-app', {
    resourceType: 'ClientApplication', id: 'other-app', name: 'other-app', status: 'active', redirectUri: [REDIRECT],
    grantType, tokenEndpointAuthMethod: 'client_secret_post', secret: OTHER[1], scope: 'openid offline_access user/*.*',
  });
const userinfo = (accessToken: string) => request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${accessToken}`);

describe('authorization_code', () => {
  it('exchanges a code for an access token, a refresh token and an id_token, never cached', async () => {
    const { verifier, challenge } = pkce();
    const res = await exchange(await issueCode(fx, challenge), verifier);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(res.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'openid fhirUser offline_access user/*.*',
      // SMART: the user's identity as a context parameter when fhirUser was granted.
      fhirUser: `${fx.fhirBaseUrl}/Patient/patient-ada`,
      refresh_token: expect.any(String),
      id_token: expect.any(String),
    });
    const jwks = createLocalJWKSet(JSON.parse((await request(fx.t.app).get(`${OAUTH}/jwks`)).text));
    const id = await jwtVerify(res.body.id_token, jwks, { issuer: fx.issuer, audience: 'web-app', algorithms: ['RS256'] });
    expect(id.payload).toEqual({
      iss: fx.issuer,
      sub: `User/${fx.memberId}`,
      aud: 'web-app',
      exp: expect.any(Number),
      iat: expect.any(Number),
      auth_time: expect.any(Number),
      nonce: 'n-123',
      fhirUser: `${fx.fhirBaseUrl}/Patient/patient-ada`,
    });
    const access = await jwtVerify(res.body.access_token, jwks, { issuer: fx.issuer, audience: fx.fhirBaseUrl, typ: 'at+jwt' });
    expect(access.payload).toMatchObject({ sub: `User/${fx.memberId}`, client_id: 'web-app', scope: res.body.scope, grant_id: expect.any(String), jti: expect.any(String) });
  });

  it('leaves fhirUser out of the id_token when the fhirUser scope was not granted, and the id_token out without openid', async () => {
    const noFhirUser = await codeTokens(fx, { scope: ['openid', 'user/*.*'] });
    expect(decodeJwt(noFhirUser.id_token as string).fhirUser).toBeUndefined();
    const noOpenid = await codeTokens(fx, { scope: ['user/*.*'] });
    expect(noOpenid.id_token).toBeUndefined();
    expect(noOpenid.refresh_token).toBeUndefined();
  });

  it('answers invalid_grant to a second use of a code and revokes the tokens the first use issued', async () => {
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge);
    const first = await exchange(code, verifier);
    expect((await userinfo(first.body.access_token)).status).toBe(200);
    expectOAuthError(await exchange(code, verifier), 400, 'invalid_grant');
    const revoked = await userinfo(first.body.access_token);
    expect(revoked.status).toBe(401);
    expect(revoked.headers['www-authenticate']).toMatch(/^Bearer realm="https:\/\/[^"]+", error="invalid_token", error_description="[^"]+"$/);
    expectOAuthError(await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, WEB), 400, 'invalid_grant');
  });

  it('lets one of two simultaneous redemptions through and then revokes what it issued', async () => {
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge);
    const results = await Promise.all([exchange(code, verifier), exchange(code, verifier), exchange(code, verifier)]);
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeLessThanOrEqual(1);
    for (const res of results.filter((r) => r.status !== 200)) expectOAuthError(res, 400, 'invalid_grant');
    for (const res of ok) expect((await userinfo(res.body.access_token)).status).toBe(401);
  });

  it('answers invalid_grant to an expired code', async () => {
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge);
    const stored = await fx.t.storage.records.get('authorization-code', tokenKey(code));
    await fx.t.storage.records.put({ ...(stored as NonNullable<typeof stored>), expiresAt: new Date(Date.now() - 1000).toISOString() });
    expectOAuthError(await exchange(code, verifier), 400, 'invalid_grant');
  });

  it.each([
    ['a verifier of another pair', () => pkce().verifier],
    ['the challenge itself as verifier', (challenge: string) => challenge],
    ['a verifier shorter than 43 characters', () => 'a'.repeat(42)],
    ['a verifier longer than 128 characters', () => 'a'.repeat(129)],
    ['a verifier outside the RFC 7636 alphabet', () => `${'a'.repeat(50)}+/=`],
  ])('answers invalid_grant to %s', async (_name, makeVerifier) => {
    const { challenge } = pkce();
    expectOAuthError(await exchange(await issueCode(fx, challenge), makeVerifier(challenge)), 400, 'invalid_grant');
  });

  it('answers invalid_grant when redirect_uri differs from the authorization request', async () => {
    const { verifier, challenge } = pkce();
    expectOAuthError(await exchange(await issueCode(fx, challenge), verifier, { redirect_uri: 'https://app.example/callback/' }), 400, 'invalid_grant');
  });

  it('answers invalid_grant when another client redeems the code', async () => {
    const { verifier, challenge } = pkce();
    const res = await exchange(await issueCode(fx, challenge), verifier, { client_id: OTHER[0], client_secret: OTHER[1] }, null);
    expectOAuthError(res, 400, 'invalid_grant');
  });

  it('answers invalid_grant to an unknown code and invalid_request without code, verifier or redirect_uri', async () => {
    const { verifier, challenge } = pkce();
    expectOAuthError(await exchange('made-up-code', verifier), 400, 'invalid_grant');
    const code = await issueCode(fx, challenge);
    for (const missing of ['code', 'code_verifier', 'redirect_uri']) {
      const body: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
      delete body[missing];
      expectOAuthError(await token(body, WEB), 400, 'invalid_request');
    }
  });

  it('lets the token request omit redirect_uri only when the authorization request did (RFC 6749 §4.1.3)', async () => {
    const omitted = pkce();
    const body = (code: string, verifier: string) => ({ grant_type: 'authorization_code', code, code_verifier: verifier });
    const ok = await token(body(await issueCode(fx, omitted.challenge, { redirectUriOmitted: true }), omitted.verifier), WEB);
    expect(ok.status).toBe(200);
    const other = pkce();
    const mismatch = await token({ ...body(await issueCode(fx, other.challenge, { redirectUriOmitted: true }), other.verifier), redirect_uri: 'https://app.example/other' }, WEB);
    expectOAuthError(mismatch, 400, 'invalid_grant');
    const given = pkce();
    expectOAuthError(await token(body(await issueCode(fx, given.challenge), given.verifier), WEB), 400, 'invalid_request');
  });

  it('answers invalid_grant when the user was deactivated between consent and exchange', async () => {
    const user = await fx.repo.create({ resourceType: 'User', email: 'gone@example.com', role: 'member', active: false });
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge, { userId: user.resource.id as string, membershipId: undefined });
    expectOAuthError(await exchange(code, verifier), 400, 'invalid_grant');
  });
});

describe('refresh_token', () => {
  it('rotates the refresh token on every use; the new tokens work and the id_token keeps auth_time without nonce', async () => {
    const first = await codeTokens(fx);
    const res = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token as string }, WEB);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: first.scope,
      fhirUser: first.fhirUser,
      refresh_token: expect.any(String),
      id_token: expect.any(String),
    });
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    const id = decodeJwt(res.body.id_token);
    expect(id.auth_time).toBe(decodeJwt(first.id_token as string).auth_time);
    expect(id.nonce).toBeUndefined();
    expect((await userinfo(res.body.access_token)).status).toBe(200);
  });

  it('revokes the whole family when a used refresh token comes back', async () => {
    const first = await codeTokens(fx);
    const second = (await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token as string }, WEB)).body;
    expectOAuthError(await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token as string }, WEB), 400, 'invalid_grant');
    expect((await userinfo(second.access_token)).status).toBe(401);
    expect((await userinfo(first.access_token as string)).status).toBe(401);
    expectOAuthError(await token({ grant_type: 'refresh_token', refresh_token: second.refresh_token }, WEB), 400, 'invalid_grant');
  });

  it('lets one of two simultaneous uses of a refresh token through and revokes the family', async () => {
    const first = await codeTokens(fx);
    const body = { grant_type: 'refresh_token', refresh_token: first.refresh_token as string };
    const results = await Promise.all([token(body, WEB), token(body, WEB)]);
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
    for (const res of results.filter((r) => r.status !== 200)) expectOAuthError(res, 400, 'invalid_grant');
    for (const res of results.filter((r) => r.status === 200)) expect((await userinfo(res.body.access_token)).status).toBe(401);
    expect((await userinfo(first.access_token as string)).status).toBe(401);
  });

  it('narrows the scope on request, keeps the refresh token at the original scope, and refuses widening', async () => {
    const first = await codeTokens(fx);
    const narrowed = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token as string, scope: 'openid user/*.*' }, WEB);
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('openid user/*.*');
    expect(decodeJwt(narrowed.body.access_token).scope).toBe('openid user/*.*');
    const back = await token({ grant_type: 'refresh_token', refresh_token: narrowed.body.refresh_token, scope: 'openid fhirUser offline_access' }, WEB);
    expect(back.body.scope).toBe('openid fhirUser offline_access');
    expectOAuthError(await token({ grant_type: 'refresh_token', refresh_token: back.body.refresh_token, scope: 'openid profile' }, WEB), 400, 'invalid_scope');
  });

  it('answers invalid_grant to a refresh token of another client, an unknown one, and one whose user was deactivated', async () => {
    const first = await codeTokens(fx);
    await otherAppGrants(['authorization_code', 'refresh_token']);
    const stolen = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token as string, client_id: OTHER[0], client_secret: OTHER[1] });
    expectOAuthError(stolen, 400, 'invalid_grant');
    expectOAuthError(await token({ grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' }, WEB), 400, 'invalid_grant');
    expectOAuthError(await token({ grant_type: 'refresh_token' }, WEB), 400, 'invalid_request');

    const user = await fx.repo.create({ resourceType: 'User', email: 'soon-gone@example.com', role: 'member' });
    const userId = user.resource.id as string;
    const tokens = await codeTokens(fx, { userId, membershipId: undefined });
    await fx.repo.update('User', userId, { ...user.resource, active: false });
    expectOAuthError(await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string }, WEB), 400, 'invalid_grant');
  });

  it('issues refresh tokens only to clients with the refresh_token grant that were granted offline_access or online_access', async () => {
    const { verifier, challenge } = pkce();
    const code = await issueCode(fx, challenge, { clientId: 'other-app', scope: ['openid', 'offline_access'] });
    await otherAppGrants(['authorization_code']);
    const res = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: OTHER[0], client_secret: OTHER[1] });
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toBeUndefined();
    expect((await codeTokens(fx, { scope: ['openid', 'user/*.*'] })).refresh_token).toBeUndefined();
    expect((await codeTokens(fx, { scope: ['openid', 'online_access'] })).refresh_token).toEqual(expect.any(String));
  });
});

describe('client_credentials', () => {
  it('grants the registered scopes by default and a requested subset on request, without refresh or id token', async () => {
    await fx.repo.update('ClientApplication', 'svc', {
      resourceType: 'ClientApplication',
      id: 'svc',
      name: 'Service',
      status: 'active',
      grantType: ['client_credentials', 'refresh_token'],
      secret: 'svc-secret-0123456789',
      scope: 'openid offline_access system/*.* system/Patient.rs',
    });
    const all = await token({ grant_type: 'client_credentials' }, ['svc', 'svc-secret-0123456789']);
    // Backend tokens live 5 minutes unless the client says otherwise (SMART Backend Services).
    expect(all.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300, scope: 'system/*.* system/Patient.rs' });
    const claims = decodeJwt(all.body.access_token);
    expect(claims).toMatchObject({ sub: 'svc', client_id: 'svc' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
    const some = await token({ grant_type: 'client_credentials', scope: 'system/Patient.rs unknown/scope' }, ['svc', 'svc-secret-0123456789']);
    expect(some.body.scope).toBe('system/Patient.rs');
    // system/*.* covers a narrower system scope; user and patient scopes are never granted to a client acting alone.
    expect((await token({ grant_type: 'client_credentials', scope: 'system/Observation.rs' }, ['svc', 'svc-secret-0123456789'])).body.scope).toBe('system/Observation.rs');
    expectOAuthError(await token({ grant_type: 'client_credentials', scope: 'user/Observation.rs openid' }, ['svc', 'svc-secret-0123456789']), 400, 'invalid_scope');
    // Scopes narrow what the client's AccessPolicy permits (here: everything).
    await fx.repo.update('AccessPolicy', 'svc', {
      resourceType: 'AccessPolicy', id: 'svc', name: 'Service', engine: 'full-access', target: [{ link: { reference: 'ClientApplication/svc' } }],
    });
    expect((await fhirGet(fx.t, all.body.access_token)).status).toBe(200);
    expect((await fhirGet(fx.t, some.body.access_token)).status).toBe(200);
    expect((await fhirGet(fx.t, some.body.access_token, '/Observation')).status).toBe(403);
  });

  it("lets the client's accessTokenLifetime set another lifetime, without changing user tokens' default", async () => {
    const svc = (accessTokenLifetime?: number) =>
      fx.repo.update('ClientApplication', 'svc-lifetime', {
        resourceType: 'ClientApplication', id: 'svc-lifetime', name: 'Service', status: 'active', grantType: ['client_credentials'],
        secret: 'svc-lifetime-secret-0123', scope: 'system/*.*', ...(accessTokenLifetime ? { accessTokenLifetime } : {}),
      });
    for (const [lifetime, expected] of [[900, 900], [60, 60], [undefined, 300]] as const) {
      await svc(lifetime);
      const res = await token({ grant_type: 'client_credentials' }, ['svc-lifetime', 'svc-lifetime-secret-0123']);
      const claims = decodeJwt(res.body.access_token);
      expect({ lifetime, expires_in: res.body.expires_in, jwt: (claims.exp as number) - (claims.iat as number) }).toEqual({ lifetime, expires_in: expected, jwt: expected });
    }
    expect((await codeTokens(fx)).expires_in).toBe(3600);
  });

  it('answers unauthorized_client to a client that does not list the grant type, and to public clients', async () => {
    expectOAuthError(await token({ grant_type: 'client_credentials' }, WEB), 400, 'unauthorized_client');
    expectOAuthError(await token({ grant_type: 'refresh_token', refresh_token: 'x' }, ADMIN), 400, 'unauthorized_client');
    expectOAuthError(await token({ grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT, code_verifier: 'x' }, ADMIN), 400, 'unauthorized_client');
    await fx.repo.update('ClientApplication', 'public-cc', {
      resourceType: 'ClientApplication', id: 'public-cc', name: 'Public', status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'none', scope: 'system/*.*',
    });
    expectOAuthError(await token({ grant_type: 'client_credentials', client_id: 'public-cc' }), 400, 'unauthorized_client');
  });
});

describe('the request itself', () => {
  it('answers unsupported_grant_type, and invalid_request for a missing grant_type, repeated parameters or a JSON body', async () => {
    expectOAuthError(await token({ grant_type: 'password', username: 'a', password: 'b' }, WEB), 400, 'unsupported_grant_type');
    expectOAuthError(await token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }, WEB), 400, 'unsupported_grant_type');
    expectOAuthError(await token({}, WEB), 400, 'invalid_request');
    const repeated = await request(fx.t.app).post(`${OAUTH}/token`).auth(...ADMIN).type('form').send('grant_type=client_credentials&grant_type=client_credentials');
    expectOAuthError(repeated, 400, 'invalid_request');
    expectOAuthError(await request(fx.t.app).post(`${OAUTH}/token`).auth(...ADMIN).send({ grant_type: 'client_credentials' }), 400, 'invalid_request');
  });

  it('answers 405 to other methods and 404 to unknown projects', async () => {
    const get = await request(fx.t.app).get(`${OAUTH}/token`);
    expectOAuthError(get, 405, 'invalid_request');
    expect(get.headers.allow).toBe('POST');
    expectOAuthError(await request(fx.t.app).post('/w/nope/nope/api/v1/oauth/token').type('form').send({ grant_type: 'client_credentials' }), 404, 'not_found');
  });
});
