/**
 * `ClientApplication.scope` is "everything the app may ever be granted" (docs/smart.md, docs/oauth.md). When an
 * administrator narrows it (say, to contain a misbehaving app without logging its users out), a refresh must not
 * keep issuing access tokens for the scopes the registration no longer lists. Today the refresh grant copies the
 * refresh token's scopes without looking at the client's registration, so the app goes on with `user/*.*`.
 */
import { codeTokens, fhirGet, type OAuthFixture, oauthPost, REDIRECT, setupOAuth, WEB } from './oauth-fixtures';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

it('a refresh after the client registration was narrowed issues no scope the registration no longer lists', async () => {
  const tokens = await codeTokens(fx);
  expect(tokens.scope).toContain('user/*.*');
  await fx.repo.update('ClientApplication', 'web-app', {
    resourceType: 'ClientApplication', id: 'web-app', name: 'web-app', status: 'active', redirectUri: [REDIRECT],
    grantType: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'client_secret_basic', secret: WEB[1],
    scope: 'openid offline_access user/Patient.read',
  });
  const res = await oauthPost(fx.t, 'token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string }, WEB);
  // Either refused, or narrowed to what the registration still allows.
  if (res.status === 200) {
    expect(String(res.body.scope).split(' ')).not.toContain('user/*.*');
    expect((await fhirGet(fx.t, res.body.access_token as string, '/Observation')).status).toBe(403);
  } else {
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  }
});
