import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { FHIR_JSON, type ProjectClient, projectClient } from './search-fixtures';

let t: TestApp;
let c: ProjectClient;

beforeAll(async () => {
  t = await buildTestApp();
  c = await projectClient(t, 'search', 'conditional');
});
afterAll(async () => {
  await t.close();
});

const patient = (value: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:mrn', value }],
  ...extra,
});
const post = (body: unknown, ifNoneExist?: string) => {
  const req = t.api.post(`${c.base}/Patient`).set('Content-Type', FHIR_JSON);
  if (ifNoneExist !== undefined) req.set('If-None-Exist', ifNoneExist);
  return req.send(body as object);
};
const put = (query: string, body: unknown, headers: Record<string, string> = {}) => {
  const req = t.api.put(`${c.base}/Patient?${query}`).set('Content-Type', FHIR_JSON);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body as object);
};
const count = async (query: string): Promise<number> => (await c.search(`/Patient?${query}&_summary=count`)).total as number;

describe('conditional create', () => {
  it('creates when nothing matches, returns the existing resource when one does, and 412 for several', async () => {
    const created = await post(patient('C-1'), 'identifier=urn:mrn|C-1');
    expect(created.status).toBe(201);
    const again = await post(patient('C-1', { active: true }), 'identifier=urn:mrn|C-1');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created.body);
    expect(again.headers.etag).toBe('W/"1"');
    expect(await count('identifier=urn:mrn|C-1')).toBe(1);
    // The header may also carry a full search URL.
    expect((await post(patient('C-1'), `${t.config.publicUrl}${c.base}/Patient?identifier=urn:mrn|C-1`)).status).toBe(200);
    await post(patient('C-2', { gender: 'other' }));
    await post(patient('C-3', { gender: 'other' }));
    const several = await post(patient('C-4'), 'gender=other');
    expect(several.status).toBe(412);
    expect(several.body.issue[0].code).toBe('multiple-matches');
    expect(await count('identifier=urn:mrn|C-4')).toBe(0);
  });

  it('answers 400 for unknown criteria or none at all, rather than widening the match', async () => {
    const unknown = await post(patient('C-5'), 'nonsense=1');
    expect(unknown.status).toBe(400);
    expect(unknown.body.issue[0].expression).toEqual(['nonsense']);
    expect((await post(patient('C-5'), '_count=1')).status).toBe(400);
    expect(await count('identifier=urn:mrn|C-5')).toBe(0);
  });
});

describe('conditional update', () => {
  it('creates when nothing matches, with a new id or the body id', async () => {
    const fresh = await put('identifier=urn:mrn|U-1', patient('U-1'));
    expect(fresh.status).toBe(201);
    expect(fresh.headers.location).toMatch(new RegExp(`/Patient/${fresh.body.id as string}/_history/1$`));
    const withId = await put('identifier=urn:mrn|U-2', patient('U-2', { id: 'chosen-id' }));
    expect(withId.status).toBe(201);
    expect(withId.body.id).toBe('chosen-id');
  });

  it('refuses a body id that names an existing resource the criteria do not match', async () => {
    const res = await put('identifier=urn:mrn|U-none', patient('U-none', { id: 'chosen-id' }));
    expect(res.status).toBe(409);
    expect(res.body.issue[0].code).toBe('conflict');
  });

  it('updates the single match, keeping its id; a different body id is a 400', async () => {
    const created = await post(patient('U-3'));
    const id = created.body.id as string;
    const updated = await put('identifier=urn:mrn|U-3', patient('U-3', { active: false }));
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, active: false, meta: { versionId: '2' } });
    expect((await put('identifier=urn:mrn|U-3', patient('U-3', { id, active: true }))).status).toBe(200);
    const mismatch = await put('identifier=urn:mrn|U-3', patient('U-3', { id: 'someone-else' }));
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.issue[0].expression).toEqual(['Patient.id']);
    // If-Match still applies to the matched resource.
    expect((await put('identifier=urn:mrn|U-3', patient('U-3'), { 'If-Match': 'W/"1"' })).status).toBe(412);
  });

  it('answers 412 when several resources match, changing nothing', async () => {
    await post(patient('U-4', { gender: 'unknown' }));
    await post(patient('U-5', { gender: 'unknown' }));
    const res = await put('gender=unknown', patient('U-6'));
    expect(res.status).toBe(412);
    expect(res.body.issue[0].code).toBe('multiple-matches');
    expect(await count('identifier=urn:mrn|U-6')).toBe(0);
  });
});

describe('conditional delete', () => {
  it('deletes the single match, answers 204 when nothing matches and 412 for several', async () => {
    const created = await post(patient('D-1'));
    const del = await t.api.delete(`${c.base}/Patient?identifier=urn:mrn|D-1`);
    expect(del.status).toBe(204);
    expect(del.headers.etag).toBe('W/"2"');
    expect((await c.get(`/Patient/${created.body.id as string}`)).status).toBe(410);
    expect((await t.api.delete(`${c.base}/Patient?identifier=urn:mrn|D-1`)).status).toBe(204);
    await post(patient('D-2', { birthDate: '1911-11-11' }));
    await post(patient('D-3', { birthDate: '1911-11-11' }));
    const several = await t.api.delete(`${c.base}/Patient?birthdate=1911-11-11`);
    expect(several.status).toBe(412);
    expect(await count('birthdate=1911-11-11')).toBe(2);
  });

  it('refuses a conditional delete without criteria', async () => {
    const res = await t.api.delete(`${c.base}/Patient`);
    expect(res.status).toBe(400);
    expect(await count('identifier=urn:mrn|D-2')).toBe(1);
  });
});

describe('conditional read', () => {
  it('answers 304 to If-None-Match with the current ETag, and 200 otherwise', async () => {
    const created = await post(patient('R-1'));
    const url = `/Patient/${created.body.id as string}`;
    const notModified = await c.get(url, { 'If-None-Match': 'W/"1"' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('W/"1"');
    expect(notModified.text).toBe('');
    expect((await c.get(url, { 'If-None-Match': '*' })).status).toBe(304);
    expect((await c.get(url, { 'If-None-Match': 'W/"2"' })).status).toBe(200);
    await c.put({ ...patient('R-1', { active: true }), id: created.body.id as string });
    const changed = await c.get(url, { 'If-None-Match': 'W/"1"' });
    expect(changed.status).toBe(200);
    expect(changed.body.active).toBe(true);
    expect((await c.get(`${url}/_history/1`, { 'If-None-Match': 'W/"1"' })).status).toBe(304);
  });

  it('answers 304 to If-Modified-Since not older than lastUpdated', async () => {
    const created = await post(patient('R-2'));
    const url = `/Patient/${created.body.id as string}`;
    const lastModified = created.headers['last-modified'] as string;
    expect((await c.get(url, { 'If-Modified-Since': lastModified })).status).toBe(304);
    expect((await c.get(url, { 'If-Modified-Since': new Date(Date.now() + 60_000).toUTCString() })).status).toBe(304);
    const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect((await c.get(url, { 'If-Modified-Since': older })).status).toBe(200);
    expect((await c.get(url, { 'If-Modified-Since': 'not a date' })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since.
    expect((await c.get(url, { 'If-None-Match': 'W/"9"', 'If-Modified-Since': lastModified })).status).toBe(200);
  });
});
