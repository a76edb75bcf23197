/**
 * Fixtures of the token, introspection, revocation and bearer tests: a test app with registered clients and users,
 * PKCE pairs, authorization codes issued the way /authorize issues them, and assertions on OAuth error bodies.
 */
import { NO_AUDIT } from '../../src/audit/events';
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { FhirRepository } from '../../src/fhir/repository/repository';
import type { OAuthDeps } from '../../src/oauth/deps';
import { type AuthorizationCodeData, issueAuthorizationCode } from '../../src/oauth/tokens/authorization-codes';
import { createLogger } from '../../src/logger';
import { RemoteJwks, remoteJwksOptions } from '../../src/security/remote-jwks';
import { buildTestApp, type TestApp, type TestAppOptions } from '../helpers/build-test-app';

export const PROJECT = 'default/default';
export const OAUTH = '/w/default/default/api/v1/oauth';
export const FHIR = '/w/default/default/api/v1/fhir/r4';
export const REDIRECT = 'https://app.example/callback';
export const ADMIN: [string, string] = ['admin-cli', 'admin-client-secret-for-tests'];
export const WEB: [string, string] = ['web-app', 'web-app-secret-0123456789'];
export const OTHER: [string, string] = ['other-app', 'other-app-secret-0123456789'];
export const USER_SCOPES = ['openid', 'fhirUser', 'offline_access', 'user/*.*'];

/** The app and the principals the tests use. */
export interface OAuthFixture {
  t: TestApp;
  repo: FhirRepository;
  deps: OAuthDeps;
  issuer: string;
  fhirBaseUrl: string;
  /** A member (role member) whose Membership links Patient/patient-ada. */
  memberId: string;
  memberMembershipId: string;
  /** An admin user with a Membership and no link. */
  adminId: string;
  adminMembershipId: string;
}

/**
 * Builds the app and registers `web-app` (authorization_code + refresh_token, client_secret_basic), `other-app`
 * (authorization_code, client_secret_post), `public-app` (authorization_code + refresh_token, none) and two users.
 * @param env - extra configuration
 * @param options - how the store is opened (a failing journal file system)
 * @returns the fixture
 */
export async function setupOAuth(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<OAuthFixture> {
  const t = await buildTestApp(env, options);
  const repo = new FhirRepository(t.storage.resources, PROJECT);
  const client = (id: string, fields: Record<string, unknown>) =>
    repo.update('ClientApplication', id, { resourceType: 'ClientApplication', id, name: id, status: 'active', redirectUri: [REDIRECT], ...fields });
  await client('web-app', {
    grantType: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    secret: WEB[1],
    scope: 'openid fhirUser profile email offline_access user/*.*',
  });
  await client('other-app', { grantType: ['authorization_code'], tokenEndpointAuthMethod: 'client_secret_post', secret: OTHER[1], scope: 'openid offline_access user/*.*' });
  await client('public-app', { grantType: ['authorization_code', 'refresh_token'], tokenEndpointAuthMethod: 'none', scope: 'openid fhirUser offline_access user/*.*' });
  const user = async (email: string, role: string, link?: string) => {
    const id = (await repo.create({ resourceType: 'User', email, role, name: { given: ['Ada'], family: 'Lovelace' }, password: `password of ${email}` })).resource.id as string;
    const membership = { resourceType: 'Membership', user: { reference: `User/${id}` }, active: true, ...(link ? { link: { reference: link } } : {}) };
    return { id, membershipId: (await repo.create(membership)).resource.id as string };
  };
  const member = await user('member@example.com', 'member', 'Patient/patient-ada');
  const admin = await user('admin2@example.com', 'admin');
  const issuer = `${t.config.publicUrl}/w/default/default`;
  return {
    t,
    repo,
    deps: { config: t.config, storage: t.storage, projects: t.projects, logger: createLogger('silent'), remoteJwks: new RemoteJwks(remoteJwksOptions(t.config)), audit: NO_AUDIT },
    issuer,
    fhirBaseUrl: `${issuer}/api/v1/fhir/r4`,
    memberId: member.id,
    memberMembershipId: member.membershipId,
    adminId: admin.id,
    adminMembershipId: admin.membershipId,
  };
}

/**
 * A form-encoded request to an OAuth endpoint.
 * @param t - the app
 * @param endpoint - `token`, `introspect` or `revoke`
 * @param body - form parameters
 * @param auth - Basic credentials
 * @returns the supertest request
 */
export function oauthPost(t: TestApp, endpoint: string, body: Record<string, string>, auth?: [string, string]): request.Test {
  const req = request(t.app).post(`${OAUTH}/${endpoint}`).type('form');
  if (auth) req.auth(auth[0], auth[1]);
  return req.send(body);
}

/**
 * A PKCE verifier and its S256 challenge.
 * @returns the pair
 */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * Issues a code for the member to `web-app`, as /authorize does after consent.
 * @param fx - the fixture
 * @param challenge - the PKCE challenge
 * @param overrides - fields to change
 * @returns the code
 */
export function issueCode(fx: OAuthFixture, challenge: string, overrides: Partial<AuthorizationCodeData> = {}): Promise<string> {
  return issueAuthorizationCode(fx.deps, {
    project: PROJECT,
    clientId: 'web-app',
    redirectUri: REDIRECT,
    codeChallenge: challenge,
    scope: USER_SCOPES,
    userId: fx.memberId,
    membershipId: fx.memberMembershipId,
    nonce: 'n-123',
    authTime: Math.floor(Date.now() / 1000) - 5,
    ...overrides,
  });
}

/**
 * Runs a code exchange for `web-app` and returns the token response body.
 * @param fx - the fixture
 * @param overrides - code fields to change
 * @returns the token response
 */
export async function codeTokens(fx: OAuthFixture, overrides: Partial<AuthorizationCodeData> = {}): Promise<Record<string, string>> {
  const { verifier, challenge } = pkce();
  const code = await issueCode(fx, challenge, overrides);
  const res = await oauthPost(fx.t, 'token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, WEB);
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, string>;
}

/**
 * Asserts an RFC 6749 §5.2 error response: status, exactly `{ error, error_description }`, never cached.
 * @param res - the response
 * @param status - expected status
 * @param error - expected error code
 */
export function expectOAuthError(res: request.Response, status: number, error: string): void {
  expect({ status: res.status, body: res.body as unknown }).toEqual({ status, body: { error, error_description: expect.any(String) } });
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers.pragma).toBe('no-cache');
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  if (status === 401 && error === 'invalid_client') expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
}

/**
 * A FHIR read with a bearer token.
 * @param t - the app
 * @param token - the access token
 * @param path - the path under the FHIR base
 * @returns the supertest request
 */
export function fhirGet(t: TestApp, token: string, path = '/Patient'): request.Test {
  return request(t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`);
}
