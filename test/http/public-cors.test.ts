/**
 * The public documents — the SMART configuration, the OpenID/RFC 8414 discovery documents, the JWKS and
 * `{FHIR base}/metadata` — answer CORS for any origin (`Access-Control-Allow-Origin: *`, never with credentials),
 * preflights included; the token endpoint and the FHIR API keep the registered-origin rule.
 */
import request from 'supertest';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { CORS_MAX_AGE_SECONDS } from '../../src/http/cors';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;
const OAUTH = '/w/default/default/api/v1/oauth';
const APP_ORIGIN = 'https://registered-app.example';
const STRANGER = 'https://unregistered.example';
const EXPOSED = 'Location, ETag, Content-Location, Last-Modified, WWW-Authenticate, DPoP-Nonce';

beforeAll(async () => {
  t = await buildTestApp();
  await new FhirRepository(t.storage.resources, 'default/default').update('ClientApplication', 'registered-app', {
    resourceType: 'ClientApplication',
    id: 'registered-app',
    name: 'Registered app',
    status: 'active',
    grantType: ['authorization_code'],
    tokenEndpointAuthMethod: 'none',
    redirectUri: [`${APP_ORIGIN}/callback`],
    scope: 'openid patient/*.rs',
  });
});
afterAll(async () => {
  await t.close();
});

const corsHeaders = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('access-control-')));

const publicDocuments = () => [
  '/.well-known/openid-configuration/w/default/default',
  '/w/default/default/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server/w/default/default',
  `${t.base}/.well-known/smart-configuration`,
  `${OAUTH}/jwks`,
  `${t.base}/metadata`,
];

describe('public documents', () => {
  it('answer any origin, and requests without Origin, with Allow-Origin * and no credentials', async () => {
    for (const url of publicDocuments()) {
      for (const origin of [STRANGER, APP_ORIGIN, 'null', undefined]) {
        const req = request(t.app).get(url);
        const res = origin === undefined ? await req : await req.set('Origin', origin);
        expect({ url, origin, status: res.status, cors: corsHeaders(res.headers) }).toEqual({
          url,
          origin,
          status: 200,
          cors: { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED },
        });
        expect(res.headers.vary ?? '').not.toMatch(/\bOrigin\b/);
      }
    }
  });

  it('answer a preflight from any origin with 204, *, the methods and the allowed headers', async () => {
    for (const url of publicDocuments()) {
      const res = await request(t.app)
        .options(url)
        .set('Origin', STRANGER)
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization, if-none-match');
      expect({ url, status: res.status, cors: corsHeaders(res.headers), body: res.text }).toEqual({
        url,
        status: 204,
        cors: {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, HEAD',
          'access-control-allow-headers': expect.stringMatching(/^Authorization, DPoP, Content-Type, Accept, If-Match, If-None-Match, /),
          'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
          'access-control-expose-headers': EXPOSED,
        },
        body: '',
      });
    }
  });

  it('keep * on a conditional 304 of /metadata and on an unknown project', async () => {
    const first = await request(t.app).get(`${t.base}/metadata`).set('Origin', STRANGER);
    const again = await request(t.app).get(`${t.base}/metadata`).set('Origin', STRANGER).set('If-None-Match', String(first.headers.etag));
    expect(again.status).toBe(304);
    expect(again.headers['access-control-allow-origin']).toBe('*');
    const unknown = await request(t.app).get('/w/nope/nope/api/v1/fhir/r4/metadata').set('Origin', STRANGER);
    expect({ status: unknown.status, origin: unknown.headers['access-control-allow-origin'] }).toEqual({ status: 404, origin: '*' });
  });
});

describe('the token endpoint and the FHIR API keep the registered-origin rule', () => {
  it('gives an unregistered origin no CORS header on the token endpoint, request and preflight', async () => {
    const post = await request(t.app).post(`${OAUTH}/token`).set('Origin', STRANGER).type('form').send({ grant_type: 'client_credentials' });
    expect({ status: post.status, cors: corsHeaders(post.headers) }).toEqual({ status: 401, cors: {} });
    const preflight = await request(t.app).options(`${OAUTH}/token`).set('Origin', STRANGER).set('Access-Control-Request-Method', 'POST');
    expect({ status: preflight.status, cors: corsHeaders(preflight.headers) }).toEqual({ status: 204, cors: {} });
    const registered = await request(t.app).post(`${OAUTH}/token`).set('Origin', APP_ORIGIN).type('form').send({ grant_type: 'client_credentials' });
    expect(registered.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
  });

  it('gives an unregistered origin no CORS header on a FHIR read, request and preflight', async () => {
    const created = await t.api.post(`${t.base}/Patient`).set('Content-Type', 'application/fhir+json').send({ resourceType: 'Patient' });
    const url = `${t.base}/Patient/${String(created.body.id)}`;
    const read = await t.api.get(url).set('Origin', STRANGER);
    expect({ status: read.status, cors: corsHeaders(read.headers) }).toEqual({ status: 200, cors: {} });
    expect(read.headers.vary).toMatch(/\bOrigin\b/);
    const preflight = await request(t.app).options(url).set('Origin', STRANGER).set('Access-Control-Request-Method', 'GET');
    expect({ status: preflight.status, cors: corsHeaders(preflight.headers) }).toEqual({ status: 204, cors: {} });
    expect((await t.api.get(url).set('Origin', APP_ORIGIN)).headers['access-control-allow-origin']).toBe(APP_ORIGIN);
  });

  it('opens only the exact public paths: a look-alike under the FHIR base keeps the registered-origin rule', async () => {
    for (const path of ['/metadata/', '/Metadata', '/metadata/x']) {
      const res = await t.api.get(`${t.base}${path}`).set('Origin', STRANGER);
      expect({ path, cors: corsHeaders(res.headers) }).toEqual({ path, cors: {} });
    }
  });
});
