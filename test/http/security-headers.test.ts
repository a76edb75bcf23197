/**
 * Response security headers: the FHIR API carries the REST API set (and none of the HTML-page headers), every
 * other path keeps helmet's set.
 */
import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { API_SECURITY_HEADERS, HTML_OPTIONS } from '../../src/http/security-headers';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const HTML_ONLY = ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection'];

function expectApiHeaders(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) expect(headers[name.toLowerCase()]).toBe(value);
  for (const name of HTML_ONLY) expect(headers[name]).toBeUndefined();
}

describe('security headers', () => {
  it('a FHIR read, a FHIR error, an unauthenticated request and /metadata carry the API set', async () => {
    const created = await t.api.post(`${t.base}/Patient`).send({ resourceType: 'Patient' }).expect(201);
    const read = await t.api.get(`${t.base}/Patient/${created.body.id as string}`).expect(200);
    expectApiHeaders(read.headers);
    expect(read.headers['cache-control']).toBe('no-store');
    expectApiHeaders((await t.api.get(`${t.base}/Patient/unknown`).expect(404)).headers);
    expectApiHeaders((await request(t.app).get(`${t.base}/Patient`).expect(401)).headers);
    expectApiHeaders((await request(t.app).get(`${t.base}/metadata`).expect(200)).headers);
    expectApiHeaders((await request(t.app).get('/w/nobody/nowhere/api/v1/fhir/r4/metadata').expect(404)).headers);
  });

  it('the OAuth endpoints and discovery documents keep the full set', async () => {
    for (const path of ['/w/default/default/.well-known/openid-configuration', '/w/default/default/api/v1/oauth/jwks', '/healthz']) {
      const res = await request(t.app).get(path).expect(200);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-dns-prefetch-control']).toBe('off');
      expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    }
  });

  it('every other path carries exactly the headers helmet itself sets', async () => {
    const bare = express();
    bare.disable('x-powered-by');
    bare.use(helmet(HTML_OPTIONS));
    bare.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    const expected = (await request(bare).get('/healthz').expect(200)).headers;
    const actual = (await request(t.app).get('/healthz').expect(200)).headers;
    const pick = (headers: Record<string, string>) =>
      Object.fromEntries(Object.entries(headers).filter(([name]) => !['date', 'etag', 'x-request-id', 'content-length', 'connection', 'keep-alive'].includes(name)));
    expect(pick(actual)).toEqual(pick(expected));
  });

  it('a path that only looks like the FHIR base is not treated as one', async () => {
    const res = await request(t.app).get('/w/default/default/api/v1/fhir/r4x').expect(404);
    expect(res.headers['x-dns-prefetch-control']).toBe('off');
  });
});
