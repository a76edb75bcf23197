/**
 * Who may present a refresh token (RFC 6749 §6, §2.3): a public client may refresh without `client_id` (the token
 * names its client, as SMART's JavaScript client relies on); a confidential client must authenticate; another
 * client (public or not, in this project or another) gets `invalid_grant`. A refused attempt consumes nothing:
 * the rightful client's next refresh still works. A used token presented by its own client still revokes the
 * family.
 */
import request from 'supertest';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { codeTokens, expectOAuthError, issueCode, OAUTH, OTHER, type OAuthFixture, oauthPost, pkce, REDIRECT, setupOAuth, WEB } from './oauth-fixtures';

let fx: OAuthFixture;
beforeAll(async () => {
  fx = await setupOAuth();
  const client = (repo: FhirRepository, id: string, fields: Record<string, unknown>) =>
    repo.update('ClientApplication', id, { resourceType: 'ClientApplication', id, name: id, status: 'active', redirectUri: [REDIRECT], ...fields });
  await client(fx.repo, 'other-app', {
    grantType: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'client_secret_post', secret: OTHER[1], scope: 'openid offline_access user/*.*',
  });
  await client(fx.repo, 'public-two', { grantType: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'none', scope: 'openid offline_access user/*.*' });
  // Another project with a public client of the same id as this project's.
  await fx.t.projects.ensure('other', 'place');
  await client(new FhirRepository(fx.t.storage.resources, 'other/place'), 'public-app', {
    grantType: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'none', scope: 'openid offline_access user/*.*',
  });
});
afterAll(async () => {
  await fx.t.close();
});

const refresh = (refreshToken: string, extra: Record<string, string> = {}, auth?: [string, string]) =>
  oauthPost(fx.t, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, auth);
const userinfo = (accessToken: string) => request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${accessToken}`);

/** Tokens of `public-app` for the member, from a code exchanged with `client_id` alone. */
async function publicTokens(): Promise<Record<string, string>> {
  const { verifier, challenge } = pkce();
  const code = await issueCode(fx, challenge, { clientId: 'public-app', scope: ['openid', 'offline_access', 'user/*.*'] });
  const res = await oauthPost(fx.t, 'token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: 'public-app' });
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, string>;
}

describe('public clients', () => {
  it('refresh without client_id; the refresh token names the client', async () => {
    const first = await publicTokens();
    const res = await refresh(first.refresh_token as string);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'openid offline_access user/*.*',
      refresh_token: expect.any(String),
      id_token: expect.any(String),
    });
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect((await userinfo(res.body.access_token)).status).toBe(200);
    // The rotated token works the same way with client_id.
    expect((await refresh(res.body.refresh_token, { client_id: 'public-app' })).status).toBe(200);
  });

  it('revoke the family when a used refresh token comes back without client_id', async () => {
    const first = await publicTokens();
    const second = (await refresh(first.refresh_token as string)).body as Record<string, string>;
    expectOAuthError(await refresh(first.refresh_token as string), 400, 'invalid_grant');
    expect((await userinfo(second.access_token as string)).status).toBe(401);
    expectOAuthError(await refresh(second.refresh_token as string), 400, 'invalid_grant');
  });

  it("cannot use another public client's refresh token, which stays usable by its client", async () => {
    const tokens = await publicTokens();
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: 'public-two' }), 400, 'invalid_grant');
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: OTHER[0], client_secret: OTHER[1] }), 400, 'invalid_grant');
    expectOAuthError(await refresh(tokens.refresh_token as string, {}, WEB), 400, 'invalid_grant');
    expect((await refresh(tokens.refresh_token as string)).status).toBe(200);
  });

  it("cannot use a refresh token at another project's token endpoint, even under the same client id", async () => {
    const tokens = await publicTokens();
    const elsewhere = (extra: Record<string, string>) =>
      request(fx.t.app).post('/w/other/place/api/v1/oauth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, ...extra });
    expectOAuthError(await elsewhere({}), 401, 'invalid_client');
    expectOAuthError(await elsewhere({ client_id: 'public-app' }), 400, 'invalid_grant');
    expect((await refresh(tokens.refresh_token as string)).status).toBe(200);
  });
});

describe('confidential clients', () => {
  it('must authenticate to refresh; a failed attempt consumes nothing', async () => {
    const tokens = await codeTokens(fx);
    expectOAuthError(await refresh(tokens.refresh_token as string), 401, 'invalid_client');
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: WEB[0] }), 401, 'invalid_client');
    expectOAuthError(await refresh(tokens.refresh_token as string, {}, [WEB[0], 'wrong secret']), 401, 'invalid_client');
    expect((await userinfo(tokens.access_token as string)).status).toBe(200);
    const res = await refresh(tokens.refresh_token as string, {}, WEB);
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).toEqual(expect.any(String));
  });

  it("get invalid_grant for another client's refresh token, which stays usable by its client", async () => {
    const tokens = await codeTokens(fx);
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: OTHER[0], client_secret: OTHER[1] }), 400, 'invalid_grant');
    expectOAuthError(await refresh(tokens.refresh_token as string, { client_id: 'public-app' }), 400, 'invalid_grant');
    expect((await refresh(tokens.refresh_token as string, {}, WEB)).status).toBe(200);
  });

  it("leave the family alone when another client presents a used token; its own client's reuse revokes it", async () => {
    const first = await codeTokens(fx);
    const second = (await refresh(first.refresh_token as string, {}, WEB)).body as Record<string, string>;
    expectOAuthError(await refresh(first.refresh_token as string, { client_id: OTHER[0], client_secret: OTHER[1] }), 400, 'invalid_grant');
    expectOAuthError(await refresh(first.refresh_token as string), 401, 'invalid_client');
    expect((await userinfo(second.access_token as string)).status).toBe(200);
    expectOAuthError(await refresh(first.refresh_token as string, {}, WEB), 400, 'invalid_grant');
    expect((await userinfo(second.access_token as string)).status).toBe(401);
    expectOAuthError(await refresh(second.refresh_token as string, {}, WEB), 400, 'invalid_grant');
  });

  it('answer invalid_client to an unknown refresh token sent without client authentication', async () => {
    expectOAuthError(await refresh('not-a-refresh-token'), 401, 'invalid_client');
  });
});
