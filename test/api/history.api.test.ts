import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;
const base = '/w/hist/one/api/v1/fhir/r4';

beforeAll(async () => {
  t = await buildTestApp();
  await t.authorize('hist', 'one');
});
afterAll(async () => {
  await t.close();
});

async function put(type: string, id: string, extra: Record<string, unknown> = {}) {
  const res = await t.api.put(`${base}/${type}/${id}`).set('Content-Type', FHIR_JSON).send({ resourceType: type, id, ...extra });
  expect([200, 201]).toContain(res.status);
  return res;
}

describe('history', () => {
  it('lists type and system history newest first with totals', async () => {
    await put('Patient', 'h1');
    await put('Patient', 'h2');
    await put('Patient', 'h1', { active: true });
    await put('Practitioner', 'p1');
    const type = await t.api.get(`${base}/Patient/_history`);
    expect(type.status).toBe(200);
    expect(type.body).toMatchObject({ resourceType: 'Bundle', type: 'history', total: 3 });
    expect(type.body.entry.map((e: { fullUrl: string; response: { etag: string } }) => [e.fullUrl.split('/').pop(), e.response.etag])).toEqual([
      ['h1', 'W/"2"'],
      ['h2', 'W/"1"'],
      ['h1', 'W/"1"'],
    ]);
    expect(type.body.entry[0].request).toEqual({ method: 'PUT', url: 'Patient/h1' });
    const system = await t.api.get(`${base}/_history`);
    // four versions written here, plus the project's admin client the test token comes from and its policy
    expect(system.body.total).toBe(6);
    expect(system.body.entry[0].resource).toMatchObject({ resourceType: 'Practitioner', id: 'p1' });
  });

  it('pages with _count and next links that are not shifted by later writes', async () => {
    for (let i = 0; i < 5; i++) await put('Observation', 'paged', { status: 'final', code: { text: `v${i}` } });
    const first = await t.api.get(`${base}/Observation/paged/_history?_count=2`);
    expect(first.body.total).toBe(5);
    expect(first.body.entry.map((e: { resource: { meta: { versionId: string } } }) => e.resource.meta.versionId)).toEqual(['5', '4']);
    await put('Observation', 'paged', { status: 'final', code: { text: 'late' } });
    const nextUrl = new URL(first.body.link.find((l: { relation: string }) => l.relation === 'next').url as string);
    const second = await t.api.get(`${nextUrl.pathname}${nextUrl.search}`);
    expect(second.body.total).toBe(5);
    expect(second.body.entry.map((e: { resource: { meta: { versionId: string } } }) => e.resource.meta.versionId)).toEqual(['3', '2']);
    expect(second.body.link.map((l: { relation: string }) => l.relation)).toEqual(['self', 'next', 'previous']);
  });

  it('filters with _since', async () => {
    await put('Device', 'd1');
    await new Promise((r) => setTimeout(r, 5));
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await put('Device', 'd1', { status: 'active' });
    const res = await t.api.get(`${base}/Device/d1/_history?_since=${encodeURIComponent(since)}`);
    expect(res.body.total).toBe(1);
    expect(res.body.entry[0].resource.meta.versionId).toBe('2');
  });

  it('rejects bad _count and _since values with 400 naming the parameter', async () => {
    const badCount = await t.api.get(`${base}/_history?_count=-1`);
    expect(badCount.status).toBe(400);
    expect(badCount.body.issue[0].expression).toEqual(['_count']);
    const badSince = await t.api.get(`${base}/_history?_since=yesterday`);
    expect(badSince.status).toBe(400);
    expect(badSince.body.issue[0].expression).toEqual(['_since']);
  });

  it('answers 404 for the history of an id never used', async () => {
    expect((await t.api.get(`${base}/Patient/never/_history`)).status).toBe(404);
  });
});

describe('capabilities', () => {
  it('is public and lists every resource type including the auth types, fhirVersion 4.0.1', async () => {
    const res = await t.api.get(`${base}/metadata`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance', format: ['json'] });
    const types = (res.body.rest[0].resource as Array<{ type: string }>).map((r) => r.type);
    for (const type of ['Patient', 'Observation', 'ClientApplication', 'User', 'Membership', 'AccessPolicy']) expect(types).toContain(type);
    expect(types.length).toBeGreaterThan(140);
    const patient = res.body.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient.interaction.map((i: { code: string }) => i.code).sort()).toEqual(
      ['create', 'delete', 'history-instance', 'history-type', 'patch', 'read', 'search-type', 'update', 'vread'].sort(),
    );
    expect(res.body.implementation.url).toBe(`${t.config.publicUrl}${base}`);
  });
});
