/**
 * CORS for browser apps: allowed origins come from the project's ClientApplications (redirect URI origins and
 * `allowedOrigin`), preflights are answered before authentication, the HTML pages never get CORS headers, and a
 * ClientApplication write changes the allowed set on the next request. The public documents (discovery, JWKS,
 * metadata) are open to any origin: public-cors.test.ts.
 */
import request from 'supertest';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { CORS_MAX_AGE_SECONDS } from '../../src/http/cors';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;
let repo: FhirRepository;
const OAUTH = '/w/default/default/api/v1/oauth';
const APP_ORIGIN = 'https://smart-app.example';
const EXTRA_ORIGIN = 'http://localhost:5173';
const EXPOSED = 'Location, ETag, Content-Location, Last-Modified, WWW-Authenticate, DPoP-Nonce';

beforeAll(async () => {
  t = await buildTestApp();
  repo = new FhirRepository(t.storage.resources, 'default/default');
  await repo.update('ClientApplication', 'browser-app', {
    resourceType: 'ClientApplication',
    id: 'browser-app',
    name: 'Browser app',
    status: 'active',
    grantType: ['authorization_code'],
    tokenEndpointAuthMethod: 'none',
    redirectUri: [`${APP_ORIGIN}/callback`, 'com.example.native:/callback'],
    allowedOrigin: [EXTRA_ORIGIN],
    scope: 'openid patient/*.rs',
  });
});
afterAll(async () => {
  await t.close();
});

const corsHeaders = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('access-control-')));

describe('allowed origins', () => {
  it('answers an allowed origin on the FHIR API with Allow-Origin, the exposed headers and Vary: Origin, and no credentials', async () => {
    const res = await t.api.get(`${t.base}/Patient`).set('Origin', APP_ORIGIN);
    expect(res.status).toBe(200);
    expect(corsHeaders(res.headers)).toEqual({ 'access-control-allow-origin': APP_ORIGIN, 'access-control-expose-headers': EXPOSED });
    expect(res.headers.vary).toMatch(/\bOrigin\b/);
  });

  it('allows the origins listed in allowedOrigin', async () => {
    const res = await t.api.get(`${t.base}/Patient`).set('Origin', EXTRA_ORIGIN);
    expect(res.headers['access-control-allow-origin']).toBe(EXTRA_ORIGIN);
  });

  it('sends no CORS header at all to another origin, and still varies on Origin', async () => {
    for (const origin of ['https://evil.example', 'https://smart-app.example:8443', 'null', 'com.example.native:']) {
      const res = await t.api.get(`${t.base}/Patient`).set('Origin', origin);
      expect({ origin, status: res.status, cors: corsHeaders(res.headers) }).toEqual({ origin, status: 200, cors: {} });
      expect(res.headers.vary).toMatch(/\bOrigin\b/);
    }
  });

  it('keeps CORS headers on error responses so the app can read the 401 and its WWW-Authenticate', async () => {
    const res = await request(t.app).get(`${t.base}/Patient`).set('Origin', APP_ORIGIN);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(corsHeaders(res.headers)).toEqual({ 'access-control-allow-origin': APP_ORIGIN, 'access-control-expose-headers': EXPOSED });
  });

  it('does not let the origins of one project open another project', async () => {
    await t.authorize('other', 'project');
    const res = await t.api.get('/w/other/project/api/v1/fhir/r4/Patient').set('Origin', APP_ORIGIN);
    expect(res.status).toBe(200);
    expect(corsHeaders(res.headers)).toEqual({});
  });
});

describe('preflight', () => {
  it('answers a preflight on the FHIR API with 204 without a bearer token', async () => {
    const res = await request(t.app)
      .options(`${t.base}/Patient/123`)
      .set('Origin', APP_ORIGIN)
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'authorization, content-type');
    expect(res.status).toBe(204);
    expect(corsHeaders(res.headers)).toEqual({
      'access-control-allow-origin': APP_ORIGIN,
      'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
      'access-control-allow-headers': expect.stringMatching(/^Authorization, DPoP, Content-Type, /),
      'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
      'access-control-expose-headers': EXPOSED,
    });
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.text).toBe('');
  });

  it('answers a preflight from another origin with 204 and no CORS headers', async () => {
    const res = await request(t.app).options(`${t.base}/Patient`).set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET');
    expect(res.status).toBe(204);
    expect(corsHeaders(res.headers)).toEqual({});
  });

  it('answers preflights on the token, userinfo, revocation, introspection and launch endpoints', async () => {
    const urls = ['token', 'userinfo', 'revoke', 'introspect', 'launch'].map((e) => `${OAUTH}/${e}`);
    for (const url of urls) {
      const res = await request(t.app).options(url).set('Origin', APP_ORIGIN).set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'content-type');
      expect({ url, status: res.status, origin: res.headers['access-control-allow-origin'] }).toEqual({ url, status: 204, origin: APP_ORIGIN });
      expect(res.headers['access-control-allow-headers']).toContain('Content-Type');
    }
  });

  it('leaves an OPTIONS request without Origin to the route (not a preflight)', async () => {
    const res = await request(t.app).options(`${t.base}/Patient`);
    expect(res.status).toBe(401);
    expect(corsHeaders(res.headers)).toEqual({});
  });
});

describe('OAuth and discovery endpoints', () => {
  it('answers cross-origin token requests, errors included', async () => {
    const res = await request(t.app).post(`${OAUTH}/token`).set('Origin', APP_ORIGIN).type('form').send({ grant_type: 'client_credentials', client_id: 'nobody' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    expect(res.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
  });

  it('answers the userinfo, revocation and introspection endpoints cross-origin for an allowed origin only', async () => {
    for (const url of [`${OAUTH}/userinfo`, `${OAUTH}/revoke`, `${OAUTH}/introspect`]) {
      const allowed = await request(t.app).get(url).set('Origin', APP_ORIGIN);
      const other = await request(t.app).get(url).set('Origin', 'https://evil.example');
      expect({ url, allowed: allowed.headers['access-control-allow-origin'], other: corsHeaders(other.headers) }).toEqual({ url, allowed: APP_ORIGIN, other: {} });
    }
  });

  it('never adds CORS headers to the authorize, login, consent and logout pages', async () => {
    for (const page of ['authorize', 'login', 'consent', 'logout']) {
      const get = await request(t.app).get(`${OAUTH}/${page}?client_id=browser-app`).set('Origin', APP_ORIGIN);
      const preflight = await request(t.app).options(`${OAUTH}/${page}`).set('Origin', APP_ORIGIN).set('Access-Control-Request-Method', 'POST');
      expect({ page, get: corsHeaders(get.headers), preflight: corsHeaders(preflight.headers) }).toEqual({ page, get: {}, preflight: {} });
      expect(preflight.status).not.toBe(204);
    }
  });

  it('sends no CORS headers for an unknown project', async () => {
    const res = await request(t.app).options('/w/nope/nope/api/v1/fhir/r4/Patient').set('Origin', APP_ORIGIN).set('Access-Control-Request-Method', 'GET');
    expect(res.status).toBe(404);
    expect(corsHeaders(res.headers)).toEqual({});
  });
});

describe('the allowed set follows ClientApplication writes', () => {
  const preflight = (origin: string) => request(t.app).options(`${t.base}/Observation`).set('Origin', origin).set('Access-Control-Request-Method', 'GET');

  it('allows a new client’s origin on the next request after a FHIR create, and after an update adding allowedOrigin', async () => {
    const created = 'https://created.example';
    expect((await preflight(created)).headers['access-control-allow-origin']).toBeUndefined();
    const res = await t.api
      .post(`${t.base}/ClientApplication`)
      .send({ resourceType: 'ClientApplication', name: 'New', status: 'active', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none', redirectUri: [`${created}/cb`] });
    expect(res.status).toBe(201);
    expect((await preflight(created)).headers['access-control-allow-origin']).toBe(created);

    const added = 'https://added.example';
    expect((await preflight(added)).headers['access-control-allow-origin']).toBeUndefined();
    const client = res.body as Record<string, unknown>;
    const updated = await t.api.put(`${t.base}/ClientApplication/${String(client.id)}`).send({ ...client, allowedOrigin: [added] });
    expect(updated.status).toBe(200);
    expect((await preflight(added)).headers['access-control-allow-origin']).toBe(added);
  });

  it('drops the origins of a client that is deactivated or deleted', async () => {
    const origin = 'https://short-lived.example';
    const body = { resourceType: 'ClientApplication', id: 'short-lived', name: 'Short', status: 'active', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none', redirectUri: [`${origin}/cb`] };
    expect((await t.api.put(`${t.base}/ClientApplication/short-lived`).send(body)).status).toBe(201);
    expect((await preflight(origin)).headers['access-control-allow-origin']).toBe(origin);
    expect((await t.api.put(`${t.base}/ClientApplication/short-lived`).send({ ...body, status: 'inactive' })).status).toBe(200);
    expect((await preflight(origin)).headers['access-control-allow-origin']).toBeUndefined();
    expect((await t.api.put(`${t.base}/ClientApplication/short-lived`).send(body)).status).toBe(200);
    expect((await preflight(origin)).headers['access-control-allow-origin']).toBe(origin);
    expect((await t.api.delete(`${t.base}/ClientApplication/short-lived`)).status).toBe(204);
    expect((await preflight(origin)).headers['access-control-allow-origin']).toBeUndefined();
  });
});
