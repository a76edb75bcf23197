/**
 * A refresh request is checked in full (client binding, scope, grant, user and membership) before its refresh token
 * is used: a refused request changes nothing, so the same token still works for its client afterwards. Another
 * client presenting the token is refused without revoking the owner's grant; the owner's own reuse of a rotated
 * token still revokes the family.
 */
import request from 'supertest';
import { codeTokens, expectOAuthError, OAUTH, OTHER, type OAuthFixture, oauthPost, setupOAuth, WEB } from './oauth-fixtures';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
  await fx.repo.update('ClientApplication', 'other-app', {
    resourceType: 'ClientApplication', id: 'other-app', name: 'other-app', status: 'active', redirectUri: ['https://app.example/callback'],
    grantType: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'client_secret_post', secret: OTHER[1], scope: 'openid offline_access user/*.*',
  });
});
afterAll(async () => {
  await fx.t.close();
});

const refresh = (refreshToken: string, extra: Record<string, string> = {}, auth?: [string, string]) =>
  oauthPost(fx.t, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, auth);
const userinfo = (accessToken: string) => request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${accessToken}`);

/** Sets `active` on a stored resource (User or Membership). */
async function setActive(type: string, id: string, active: boolean): Promise<void> {
  const current = await fx.repo.read(type, id);
  await fx.repo.update(type, id, { ...current.resource, active });
}

/** Asserts that a refresh with the token succeeds for web-app and that the new access token works. */
async function expectRefreshWorks(refreshToken: string): Promise<Record<string, string>> {
  const res = await refresh(refreshToken, {}, WEB);
  expect(res.status).toBe(200);
  expect(res.body.refresh_token).toEqual(expect.any(String));
  expect(res.body.refresh_token).not.toBe(refreshToken);
  expect((await userinfo(res.body.access_token as string)).status).toBe(200);
  return res.body as Record<string, string>;
}

describe('a refused refresh request changes nothing', () => {
  it('answers invalid_scope to a request for more than the grant, and the same token then refreshes', async () => {
    const tokens = await codeTokens(fx);
    expectOAuthError(await refresh(tokens.refresh_token as string, { scope: 'openid user/*.* profile' }, WEB), 400, 'invalid_scope');
    expectOAuthError(await refresh(tokens.refresh_token as string, { scope: 'system/*.*' }, WEB), 400, 'invalid_scope');
    expect((await userinfo(tokens.access_token as string)).status).toBe(200);
    const next = await expectRefreshWorks(tokens.refresh_token as string);
    expect(next.scope).toBe(tokens.scope);
  });

  it('answers invalid_grant while the membership is inactive, and the token works again once it is reactivated', async () => {
    const tokens = await codeTokens(fx);
    await setActive('Membership', fx.memberMembershipId, false);
    try {
      expectOAuthError(await refresh(tokens.refresh_token as string, {}, WEB), 400, 'invalid_grant');
    } finally {
      await setActive('Membership', fx.memberMembershipId, true);
    }
    await expectRefreshWorks(tokens.refresh_token as string);
  });

  it('answers invalid_grant while the user is inactive, and the token works again once it is reactivated', async () => {
    const tokens = await codeTokens(fx);
    await setActive('User', fx.memberId, false);
    try {
      expectOAuthError(await refresh(tokens.refresh_token as string, {}, WEB), 400, 'invalid_grant');
    } finally {
      await setActive('User', fx.memberId, true);
    }
    await expectRefreshWorks(tokens.refresh_token as string);
  });
});

describe('another client presenting the refresh token', () => {
  it("gets invalid_grant; the owner's access token stays valid and its refresh still works", async () => {
    const tokens = await codeTokens(fx);
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: OTHER[0], client_secret: OTHER[1] }), 400, 'invalid_grant');
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: 'public-app' }), 400, 'invalid_grant');
    // Binding comes first: an over-scoped request from another client learns nothing about the grant's scopes.
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: OTHER[0], client_secret: OTHER[1], scope: 'patient/*.read' }), 400, 'invalid_grant');
    expect((await userinfo(tokens.access_token as string)).status).toBe(200);
    const next = await expectRefreshWorks(tokens.refresh_token as string);
    expect((await userinfo(tokens.access_token as string)).status).toBe(200);
    expect((await userinfo(next.access_token as string)).status).toBe(200);
  });

  it("gets invalid_grant for a rotated token too, without revoking the owner's grant", async () => {
    const first = await codeTokens(fx);
    const second = await expectRefreshWorks(first.refresh_token as string);
    expectOAuthError(await refresh(first.refresh_token as string, { client_id: OTHER[0], client_secret: OTHER[1] }), 400, 'invalid_grant');
    expectOAuthError(await refresh(first.refresh_token as string, { client_id: 'public-app' }), 400, 'invalid_grant');
    expect((await userinfo(second.access_token as string)).status).toBe(200);
    await expectRefreshWorks(second.refresh_token as string);
  });
});

describe('the owning client replaying a rotated token', () => {
  it('gets invalid_grant and the whole family is revoked', async () => {
    const first = await codeTokens(fx);
    const second = await expectRefreshWorks(first.refresh_token as string);
    expectOAuthError(await refresh(first.refresh_token as string, {}, WEB), 400, 'invalid_grant');
    expect((await userinfo(first.access_token as string)).status).toBe(401);
    expect((await userinfo(second.access_token as string)).status).toBe(401);
    expectOAuthError(await refresh(second.refresh_token as string, {}, WEB), 400, 'invalid_grant');
  });

  it('even when the replay asks for more scopes than granted', async () => {
    const first = await codeTokens(fx);
    const second = await expectRefreshWorks(first.refresh_token as string);
    expectOAuthError(await refresh(first.refresh_token as string, { scope: 'system/*.*' }, WEB), 400, 'invalid_grant');
    expect((await userinfo(second.access_token as string)).status).toBe(401);
  });
});
