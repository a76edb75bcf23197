/**
 * `GET {FHIR base}/metadata` carries a validator derived from the CapabilityStatement's JSON and honours
 * `If-None-Match` (RFC 9110 §13.1.2, weak comparison) with a 304 and no body.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

let t: TestApp;
let etag: string;

beforeAll(async () => {
  t = await buildTestApp();
  await t.authorize('other', 'place');
  etag = String((await request(t.app).get(`${t.base}/metadata`)).headers.etag);
});
afterAll(async () => {
  await t.close();
});

const metadata = (ifNoneMatch?: string, base = t.base) => {
  const req = request(t.app).get(`${base}/metadata`);
  return ifNoneMatch === undefined ? req : req.set('If-None-Match', ifNoneMatch);
};

describe('metadata validators', () => {
  it('sends a weak ETag that is the SHA-256 of the statement it sends, and lets clients revalidate', async () => {
    const res = await metadata();
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('CapabilityStatement');
    expect(res.headers.etag).toBe(`W/"${createHash('sha256').update(res.text).digest('base64url')}"`);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect((await metadata()).headers.etag).toBe(res.headers.etag);
  });

  it('answers 304 without a body when If-None-Match names the current statement', async () => {
    const opaque = etag.slice(2);
    for (const header of [etag, opaque, `W/"stale", ${etag}`, `"stale",${opaque}`, '*']) {
      const res = await metadata(header);
      expect({ header, status: res.status, text: res.text, etag: res.headers.etag, type: res.headers['content-type'] }).toEqual({
        header,
        status: 304,
        text: '',
        etag,
        type: undefined,
      });
    }
  });

  it('answers 200 with the statement for another validator or a malformed header', async () => {
    for (const header of ['W/"stale"', '"stale"', '', 'garbage', etag.replace(/"$/, 'x"')]) {
      const res = await metadata(header);
      expect({ header, status: res.status, etag: res.headers.etag, type: res.body.resourceType }).toEqual({ header, status: 200, etag, type: 'CapabilityStatement' });
    }
  });

  it('gives a different statement a different validator: another project, whose URLs differ', async () => {
    const other = await metadata(etag, '/w/other/place/api/v1/fhir/r4');
    expect(other.status).toBe(200);
    expect(other.headers.etag).toMatch(/^W\/"[A-Za-z0-9_-]{43}"$/);
    expect(other.headers.etag).not.toBe(etag);
    expect((await metadata(String(other.headers.etag), '/w/other/place/api/v1/fhir/r4')).status).toBe(304);
  });

  it('answers a conditional HEAD and a batch entry the same way', async () => {
    expect((await request(t.app).head(`${t.base}/metadata`).set('If-None-Match', etag)).status).toBe(304);
    const batch = await t.api
      .post(t.base)
      .set('Content-Type', 'application/fhir+json')
      .send({ resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'metadata', ifNoneMatch: etag } }] });
    expect(batch.status).toBe(200);
    expect(batch.body.entry[0].response).toMatchObject({ status: '304 Not Modified', etag });
    expect(batch.body.entry[0].resource).toBeUndefined();
  });
});
