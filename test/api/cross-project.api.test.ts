/**
 * Nothing crosses projects (docs/projects.md "Isolation"): a token of project A presented at project B is refused
 * as an invalid token (401 with the RFC 6750 challenge, no data) on the FHIR API and userinfo, and introspection at
 * B reports it inactive; a client of A cannot authenticate at B; a user of A cannot sign in at B.
 */
import request from 'supertest';
import { clientCredentialsToken } from '../helpers/build-test-app';
import { authorizeQuery, Browser, pkce as pagePkce, putClient, putUser, submitLogin, validParams } from '../oauth/authorize-helpers';
import { codeTokens, FHIR, type OAuthFixture, setupOAuth, WEB } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
const B_FHIR = '/w/acme/clinic/api/v1/fhir/r4';
const B_OAUTH = '/w/acme/clinic/api/v1/oauth';
let fx: OAuthFixture;
let bToken: string;
let aUserToken: string;

beforeAll(async () => {
  fx = await setupOAuth();
  const created = await request(fx.t.app)
    .post(`${FHIR}/Project`)
    .set('Authorization', `Bearer ${fx.t.adminToken}`)
    .set('Content-Type', FHIR_JSON)
    .send({ resourceType: 'Project', tenant: 'acme', name: 'clinic', seed: 'demo' });
  expect(created.status).toBe(201);
  bToken = await clientCredentialsToken(fx.t.app, 'acme', 'clinic', fx.t.config.adminClientId, fx.t.config.adminClientSecret as string);
  aUserToken = (await codeTokens(fx)).access_token as string;
});
afterAll(async () => {
  await fx.t.close();
});

function expectInvalidToken(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer .*error="invalid_token"/);
  // No data: no resource, no Bundle, no claim of the token's user.
  expect(JSON.stringify(res.body)).not.toMatch(/"resourceType":"(Bundle|Patient)"|"sub"|"email"/);
}

describe('a token of project A at project B', () => {
  it('is refused by the FHIR API with 401 invalid_token', async () => {
    for (const token of [fx.t.adminToken, aUserToken]) {
      for (const path of ['/Patient', '/Patient?_summary=count', '/User/owner', '/_history', '/AccessPolicy']) {
        const res = await request(fx.t.app).get(`${B_FHIR}${path}`).set('Authorization', `Bearer ${token}`);
        expectInvalidToken(res);
        expect(res.body.resourceType).toBe('OperationOutcome');
      }
      const write = await request(fx.t.app).post(`${B_FHIR}/Patient`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Patient' });
      expectInvalidToken(write);
    }
    // B's own token reads B's data: the refusal is about the token, not the path.
    expect((await request(fx.t.app).get(`${B_FHIR}/Patient`).set('Authorization', `Bearer ${bToken}`)).status).toBe(200);
  });

  it('is refused by userinfo with 401 invalid_token', async () => {
    expect((await request(fx.t.app).get('/w/default/default/api/v1/oauth/userinfo').set('Authorization', `Bearer ${aUserToken}`)).status).toBe(200);
    const res = await request(fx.t.app).get(`${B_OAUTH}/userinfo`).set('Authorization', `Bearer ${aUserToken}`);
    expectInvalidToken(res);
  });

  it('is inactive to introspection at B, and A clients cannot authenticate at B', async () => {
    const [clientId, secret] = [fx.t.config.adminClientId, fx.t.config.adminClientSecret as string];
    const res = await request(fx.t.app).post(`${B_OAUTH}/introspect`).auth(clientId, secret).type('form').send({ token: aUserToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
    const own = await request(fx.t.app).post(`${B_OAUTH}/introspect`).auth(clientId, secret).type('form').send({ token: bToken });
    expect(own.body.active).toBe(true);
    const foreignClient = await request(fx.t.app).post(`${B_OAUTH}/introspect`).auth(WEB[0], WEB[1]).type('form').send({ token: aUserToken });
    expect(foreignClient.status).toBe(401);
    expect(foreignClient.body.error).toBe('invalid_client');
    expect(foreignClient.body.active).toBeUndefined();
  });
});

describe('a user of project A', () => {
  it('cannot sign in at project B', async () => {
    // The same client id registered in both projects; the user exists only in A.
    await putClient(fx.t, 'app');
    const aUser = await putUser(fx.t, 'only-in-a');
    const put = await request(fx.t.app).put(`${B_FHIR}/ClientApplication/app`).set('Authorization', `Bearer ${bToken}`).set('Content-Type', FHIR_JSON).send({
      resourceType: 'ClientApplication',
      id: 'app',
      name: 'App in B',
      grantType: ['authorization_code'],
      tokenEndpointAuthMethod: 'none',
      redirectUri: ['https://app.example/callback'],
      scope: 'openid patient/Observation.rs',
    });
    expect(put.status).toBe(201);
    const signIn = async (oauth: string, aud: string): Promise<request.Response> => {
      const browser = new Browser(fx.t.app);
      const { challenge } = pagePkce();
      const start = await browser.get(authorizeQuery(validParams(challenge, { aud })).replace('/w/default/default/api/v1/oauth', oauth));
      return submitLogin(browser, start, aUser);
    };
    const inA = await signIn('/w/default/default/api/v1/oauth', `${fx.t.config.publicUrl}/w/default/default/api/v1/fhir/r4`);
    expect(inA.status).toBe(303);
    const inB = await signIn(B_OAUTH, `${fx.t.config.publicUrl}${B_FHIR}`);
    expect(inB.status).toBe(401);
    expect(inB.headers.location).toBeUndefined();
    expect(inB.text).not.toContain('only-in-a@example.org</');
  });
});
