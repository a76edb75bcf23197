/**
 * Introspection (RFC 7662) and revocation (RFC 7009).
 */
import { ADMIN, codeTokens, expectOAuthError, fhirGet, type OAuthFixture, oauthPost, setupOAuth, WEB } from './oauth-fixtures';

let fx: OAuthFixture;
let other: string;
beforeAll(async () => {
  fx = await setupOAuth();
  other = await fx.t.authorize('other', 'place');
});
afterAll(async () => {
  await fx.t.close();
});

const introspect = (token: string, auth: [string, string] = ADMIN) => oauthPost(fx.t, 'introspect', { token }, auth);
const revoke = (token: string, auth: [string, string] = WEB) => oauthPost(fx.t, 'revoke', { token }, auth);
const adminToken = async () => (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN)).body.access_token as string;

describe('introspection', () => {
  it('describes an active access token with its claims and context', async () => {
    const tokens = await codeTokens(fx);
    const res = await introspect(tokens.access_token as string);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      active: true,
      scope: 'openid fhirUser offline_access user/*.*',
      client_id: 'web-app',
      sub: `User/${fx.memberId}`,
      exp: expect.any(Number),
      iat: expect.any(Number),
      iss: fx.issuer,
      aud: fx.fhirBaseUrl,
      token_type: 'Bearer',
      jti: expect.any(String),
      fhirUser: `${fx.fhirBaseUrl}/Patient/patient-ada`,
    });
  });

  it('describes an active refresh token', async () => {
    const tokens = await codeTokens(fx);
    const res = await introspect(tokens.refresh_token as string, WEB);
    expect(res.body).toEqual({
      active: true,
      scope: 'openid fhirUser offline_access user/*.*',
      client_id: 'web-app',
      sub: `User/${fx.memberId}`,
      exp: expect.any(Number),
      iat: expect.any(Number),
      iss: fx.issuer,
      token_type: 'refresh_token',
    });
  });

  it('answers exactly {"active":false} for garbage, revoked, used, foreign-project and deactivated-user tokens', async () => {
    const revoked = await codeTokens(fx);
    await revoke(revoked.access_token as string);
    const rotated = await codeTokens(fx);
    await oauthPost(fx.t, 'token', { grant_type: 'refresh_token', refresh_token: rotated.refresh_token as string }, WEB);
    const user = await fx.repo.create({ resourceType: 'User', email: 'leaver@example.com', role: 'member' });
    const leaver = await codeTokens(fx, { userId: user.resource.id as string, membershipId: undefined });
    await fx.repo.update('User', user.resource.id as string, { ...user.resource, active: false });
    for (const token of ['garbage', 'a.b.c', '', revoked.access_token, revoked.refresh_token, rotated.refresh_token, other, leaver.access_token, leaver.refresh_token, 'x'.repeat(5000)]) {
      const res = await introspect(token as string);
      if (token === '') expectOAuthError(res, 400, 'invalid_request');
      else expect({ token, status: res.status, text: res.text }).toEqual({ token, status: 200, text: '{"active":false}' });
    }
  });

  it('is only for authenticated confidential clients', async () => {
    const token = await adminToken();
    expectOAuthError(await oauthPost(fx.t, 'introspect', { token }), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'introspect', { token, client_id: 'public-app' }), 401, 'invalid_client');
    expectOAuthError(await introspect(token, ['admin-cli', 'wrong']), 401, 'invalid_client');
  });
});

describe('revocation', () => {
  it('revokes the grant of an access token: the access and refresh tokens stop working', async () => {
    const tokens = await codeTokens(fx);
    const res = await revoke(tokens.access_token as string);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await introspect(tokens.access_token as string)).body).toEqual({ active: false });
    expectOAuthError(await oauthPost(fx.t, 'token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string }, WEB), 400, 'invalid_grant');
  });

  it('revokes the grant of a refresh token', async () => {
    const tokens = await codeTokens(fx);
    expect((await revoke(tokens.refresh_token as string)).status).toBe(200);
    expect((await introspect(tokens.access_token as string)).body).toEqual({ active: false });
  });

  it('ends a client_credentials token on the next FHIR request', async () => {
    const token = await adminToken();
    expect((await fhirGet(fx.t, token)).status).toBe(200);
    expect((await revoke(token, ADMIN)).status).toBe(200);
    const res = await fhirGet(fx.t, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="https:\/\/[^"]+", error="invalid_token", error_description="[^"]+"$/);
  });

  it('answers 200 to unknown and already revoked tokens, and leaves other clients\' tokens alone', async () => {
    expect((await revoke('never-issued')).status).toBe(200);
    const token = await adminToken();
    expect((await revoke(token, WEB)).status).toBe(200);
    expect((await introspect(token)).body.active).toBe(true);
    expect((await revoke(token, ADMIN)).status).toBe(200);
    expect((await revoke(token, ADMIN)).status).toBe(200);
  });

  it('lets a public client revoke its own tokens, and requires client authentication and a token', async () => {
    expect((await oauthPost(fx.t, 'revoke', { token: 'whatever', client_id: 'public-app' })).status).toBe(200);
    expectOAuthError(await oauthPost(fx.t, 'revoke', { token: 'whatever' }), 401, 'invalid_client');
    expectOAuthError(await oauthPost(fx.t, 'revoke', {}, WEB), 400, 'invalid_request');
  });
});
