/**
 * The `WWW-Authenticate` challenge of the FHIR API and the userinfo endpoint (RFC 6750 §3.1): a request without
 * credentials gets `Bearer realm="<issuer>"` and no error code; a token that was sent but is malformed, invalid,
 * expired or revoked gets `error="invalid_token"` with an `error_description`. FHIR bodies stay OperationOutcomes.
 */
import request from 'supertest';
import { ADMIN, codeTokens, FHIR, OAUTH, type OAuthFixture, oauthPost, setupOAuth } from '../oauth/oauth-fixtures';

let fx: OAuthFixture;
const REALM = 'Bearer realm="https://fhir.example.test/w/default/default"';
const invalidToken = (description: string) =>
  `Bearer realm="https://fhir.example.test/w/default/default", error="invalid_token", error_description="${description}"`;

beforeAll(async () => {
  fx = await setupOAuth();
});
afterAll(async () => {
  await fx.t.close();
});

function wire(res: request.Response): { status: number; challenge: unknown; body: unknown } {
  return { status: res.status, challenge: res.headers['www-authenticate'], body: res.body as unknown };
}

const loginOutcome = (diagnostics: string) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics }] });

async function revokedToken(): Promise<string> {
  const token = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN)).body.access_token as string;
  expect((await oauthPost(fx.t, 'revoke', { token }, ADMIN)).status).toBe(200);
  return token;
}

describe('FHIR API', () => {
  it('answers a request without credentials with the realm alone', async () => {
    for (const res of [
      await request(fx.t.app).get(`${FHIR}/Patient`),
      await request(fx.t.app).get(`${FHIR}/Patient`).set('Authorization', 'Basic YWRtaW4tY2xpOng='),
    ]) {
      expect(wire(res)).toEqual({ status: 401, challenge: REALM, body: loginOutcome('A bearer token is required') });
      expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    }
  });

  it('answers a token that is malformed, invalid or revoked with invalid_token and a description', async () => {
    const cases: Array<[string, string]> = [
      ['Bearer', 'The Authorization header does not carry a well-formed bearer token'],
      ['Bearer not-a-jwt', 'The access token is malformed'],
      [`Bearer ${await revokedToken()}`, 'The access token was revoked'],
    ];
    for (const [authorization, description] of cases) {
      const res = await request(fx.t.app).get(`${FHIR}/Patient/x`).set('Authorization', authorization);
      expect(wire(res)).toEqual({ status: 401, challenge: invalidToken(description), body: loginOutcome(description) });
    }
  });

  it('names the realm of the project addressed', async () => {
    await fx.t.authorize('other', 'place');
    const res = await request(fx.t.app).get('/w/other/place/api/v1/fhir/r4/Patient');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="https://fhir.example.test/w/other/place"');
  });
});

describe('userinfo', () => {
  it('answers a request without credentials with the realm alone and no error code in the body', async () => {
    for (const res of [
      await request(fx.t.app).get(`${OAUTH}/userinfo`),
      await request(fx.t.app).post(`${OAUTH}/userinfo`).set('Authorization', 'Basic YWRtaW4tY2xpOng='),
    ]) {
      expect(wire(res)).toEqual({ status: 401, challenge: REALM, body: { error_description: 'A bearer token is required' } });
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  it('answers an invalid or revoked token with invalid_token', async () => {
    for (const [authorization, description] of [
      ['Bearer not-a-jwt', 'The access token is malformed'],
      [`Bearer ${await revokedToken()}`, 'The access token was revoked'],
    ] as const) {
      const res = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', authorization);
      expect(wire(res)).toEqual({ status: 401, challenge: invalidToken(description), body: { error: 'invalid_token', error_description: description } });
    }
  });

  it('answers a valid token without openid with insufficient_scope in the same realm', async () => {
    const clientToken = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ADMIN)).body.access_token as string;
    const res = await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${clientToken}`);
    expect(wire(res)).toEqual({
      status: 403,
      challenge: 'Bearer realm="https://fhir.example.test/w/default/default", error="insufficient_scope", scope="openid"',
      body: { error: 'insufficient_scope', error_description: 'The token was not issued to a user with the openid scope' },
    });
    const userToken = (await codeTokens(fx, { userId: fx.adminId, membershipId: fx.adminMembershipId })).access_token as string;
    expect((await request(fx.t.app).get(`${OAUTH}/userinfo`).set('Authorization', `Bearer ${userToken}`)).status).toBe(200);
  });
});
