import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { FHIR_JSON, type ProjectClient, projectClient } from './search-fixtures';

let t: TestApp;
let c: ProjectClient;

beforeAll(async () => {
  t = await buildTestApp();
  c = await projectClient(t, 'bundles', 'main');
});
afterAll(async () => {
  await t.close();
});

interface ResponseEntry {
  fullUrl?: string;
  resource?: Record<string, unknown> & { id?: string; resourceType: string };
  response: { status: string; location?: string; etag?: string; lastModified?: string; outcome?: { issue: Array<Record<string, unknown>> } };
}

const entry = (method: string, url: string, resource?: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  ...(extra.fullUrl ? { fullUrl: extra.fullUrl } : {}),
  ...(resource ? { resource } : {}),
  request: { method, url, ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'fullUrl')) },
});
const bundle = (type: string, entries: unknown[]) => ({ resourceType: 'Bundle', type, entry: entries });
const send = (body: unknown, headers: Record<string, string> = {}) => {
  const req = t.api.post(c.base).set('Content-Type', FHIR_JSON);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body as object);
};
const entries = (res: request.Response): ResponseEntry[] => (res.body as { entry: ResponseEntry[] }).entry;
const count = async (query: string): Promise<number> => (await c.search(`${query}${query.includes('?') ? '&' : '?'}_summary=count`)).total as number;
const patient = (value: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  identifier: [{ system: 'urn:mrn', value }],
  ...extra,
});
const patch = (ops: unknown[]) => ({
  resourceType: 'Binary',
  contentType: 'application/json-patch+json',
  data: Buffer.from(JSON.stringify(ops)).toString('base64'),
});

describe('transaction', () => {
  it('creates resources linked by urn:uuid references and answers a transaction-response in request order', async () => {
    const res = await send(
      bundle('transaction', [
        entry('POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject: { reference: 'urn:uuid:6f1c1a51-0001-4000-8000-000000000001' } }, { fullUrl: 'urn:uuid:6f1c1a51-0002-4000-8000-000000000002' }),
        entry('POST', 'Patient', patient('TX-1'), { fullUrl: 'urn:uuid:6f1c1a51-0001-4000-8000-000000000001' }),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'transaction-response' });
    const [obs, pat] = entries(res);
    expect(obs?.response.status).toBe('201 Created');
    expect(pat?.response.status).toBe('201 Created');
    expect(pat?.resource?.resourceType).toBe('Patient');
    const patientId = pat?.resource?.id as string;
    expect(obs?.resource?.subject).toEqual({ reference: `Patient/${patientId}` });
    expect(pat?.fullUrl).toBe(`https://fhir.example.test${c.base}/Patient/${patientId}`);
    expect(pat?.response.location).toBe(`https://fhir.example.test${c.base}/Patient/${patientId}/_history/1`);
    expect(pat?.response.etag).toBe('W/"1"');
    expect(pat?.response.lastModified).toBe((pat?.resource?.meta as { lastUpdated: string }).lastUpdated);
    const stored = await t.api.get(`${c.base}/Observation/${obs?.resource?.id as string}`);
    expect(stored.status).toBe(200);
    expect(stored.body.subject).toEqual({ reference: `Patient/${patientId}` });
  });

  it('processes DELETE, POST, PUT/PATCH, then GET, so a GET sees the writes of the same transaction', async () => {
    const old = await c.create(patient('TX-ORDER-OLD'));
    const kept = await c.create(patient('TX-ORDER-KEPT', { active: false }));
    const res = await send(
      bundle('transaction', [
        entry('GET', 'Patient?identifier=urn:mrn|TX-ORDER-NEW,urn:mrn|TX-ORDER-OLD'),
        entry('PATCH', `Patient/${kept.id}`, patch([{ op: 'replace', path: '/active', value: true }])),
        entry('POST', 'Patient', patient('TX-ORDER-NEW')),
        entry('DELETE', `Patient/${old.id}`),
      ]),
    );
    expect(res.status).toBe(200);
    const [search, patched, created, deleted] = entries(res);
    expect(deleted?.response.status).toMatch(/^20[04]/);
    expect(created?.response.status).toBe('201 Created');
    expect(patched?.response.status).toBe('200 OK');
    expect(patched?.resource?.active).toBe(true);
    expect(search?.response.status).toBe('200 OK');
    const found = search?.resource as unknown as { total: number; entry: Array<{ resource: { id: string } }> };
    expect(found.total).toBe(1);
    expect(found.entry[0]?.resource.id).toBe(created?.resource?.id);
    expect((await t.api.get(`${c.base}/Patient/${old.id}`)).status).toBe(410);
  });

  it('stores nothing when any entry fails, and names the failing entry', async () => {
    const before = await count('/Patient?identifier=urn:mrn|TX-FAIL');
    const res = await send(
      bundle('transaction', [
        entry('POST', 'Patient', patient('TX-FAIL')),
        entry('POST', 'Observation', { resourceType: 'Observation', status: 'not-a-status', code: { text: 'x' } }),
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[1]');
    expect(res.body.issue[0].expression).toContain('Bundle.entry[1]');
    expect(await count('/Patient?identifier=urn:mrn|TX-FAIL')).toBe(before);
  });

  it('answers the failing entry status: If-Match mismatch → 412, unknown resource → 404; nothing is stored', async () => {
    const p = await c.create(patient('TX-412'));
    const conflict = await send(
      bundle('transaction', [
        entry('POST', 'Patient', patient('TX-412-NEW')),
        entry('PUT', `Patient/${p.id}`, { ...patient('TX-412', { active: true }), id: p.id }, { ifMatch: 'W/"7"' }),
      ]),
    );
    expect(conflict.status).toBe(412);
    const missing = await send(bundle('transaction', [entry('POST', 'Patient', patient('TX-412-NEW')), entry('DELETE', 'Patient/no-such-patient')]));
    expect(missing.status).toBe(404);
    expect(await count('/Patient?identifier=urn:mrn|TX-412-NEW')).toBe(0);
    expect((await t.api.get(`${c.base}/Patient/${p.id}`)).body.meta.versionId).toBe('1');
  });

  it('refuses to write one resource twice in a transaction', async () => {
    const p = await c.create(patient('TX-TWICE'));
    const res = await send(
      bundle('transaction', [
        entry('PUT', `Patient/${p.id}`, { ...patient('TX-TWICE'), id: p.id, active: true }),
        entry('PATCH', `Patient/${p.id}`, patch([{ op: 'add', path: '/active', value: false }])),
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toMatch(/more than once/);
    expect((await t.api.get(`${c.base}/Patient/${p.id}`)).body.meta.versionId).toBe('1');
  });

  it('stores nothing when two entries claim one unique value (User.email)', async () => {
    const user = (n: number) => ({ resourceType: 'User', email: 'twin@example.com', role: 'member', password: `twin-password-${n}` });
    const res = await send(bundle('transaction', [entry('POST', 'User', user(1)), entry('POST', 'User', user(2))]));
    expect(res.status).toBe(409);
    expect(await count('/User?email=twin@example.com')).toBe(0);
  });

  it('resolves conditional references; none or several matches fail the transaction', async () => {
    const p = await c.create(patient('TX-CREF'));
    await c.create(patient('TX-CREF-DUP'));
    await c.create(patient('TX-CREF-DUP'));
    const obs = (reference: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'cref' }, subject: { reference } });
    const ok = await send(bundle('transaction', [entry('POST', 'Observation', obs('Patient?identifier=urn:mrn|TX-CREF'))]));
    expect(ok.status).toBe(200);
    expect(entries(ok)[0]?.resource?.subject).toEqual({ reference: `Patient/${p.id}` });
    const several = await send(bundle('transaction', [entry('POST', 'Observation', obs('Patient?identifier=urn:mrn|TX-CREF-DUP'))]));
    expect(several.status).toBe(412);
    const none = await send(bundle('transaction', [entry('POST', 'Observation', obs('Patient?identifier=urn:mrn|TX-CREF-NONE'))]));
    expect(none.status).toBe(400);
    expect(none.body.issue[0].diagnostics).toContain('matches no resource');
  });

  it('maps a conditional create that finds its match to the existing resource', async () => {
    const existing = await c.create(patient('TX-COND'));
    const res = await send(
      bundle('transaction', [
        entry('POST', 'Patient', patient('TX-COND'), { fullUrl: 'urn:uuid:6f1c1a51-0003-4000-8000-000000000003', ifNoneExist: 'identifier=urn:mrn|TX-COND' }),
        entry('POST', 'Observation', { resourceType: 'Observation', status: 'final', code: { text: 'c' }, subject: { reference: 'urn:uuid:6f1c1a51-0003-4000-8000-000000000003' } }),
      ]),
    );
    expect(res.status).toBe(200);
    const [pat, obs] = entries(res);
    expect(pat?.response.status).toBe('200 OK');
    expect(pat?.resource?.id).toBe(existing.id);
    expect(obs?.resource?.subject).toEqual({ reference: `Patient/${existing.id}` });
    expect(await count('/Patient?identifier=urn:mrn|TX-COND')).toBe(1);
  });

  it('maps a conditional update to its match, and creates when nothing matches', async () => {
    const existing = await c.create(patient('TX-CUPD'));
    const res = await send(
      bundle('transaction', [
        entry('PUT', 'Patient?identifier=urn:mrn|TX-CUPD', patient('TX-CUPD', { active: true }), { fullUrl: 'urn:uuid:6f1c1a51-0004-4000-8000-000000000004' }),
        entry('PUT', 'Patient?identifier=urn:mrn|TX-CUPD-NEW', patient('TX-CUPD-NEW'), { fullUrl: 'urn:uuid:6f1c1a51-0005-4000-8000-000000000005' }),
        entry('POST', 'Observation', {
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'c' },
          subject: { reference: 'urn:uuid:6f1c1a51-0004-4000-8000-000000000004' },
          performer: [{ reference: 'urn:uuid:6f1c1a51-0005-4000-8000-000000000005' }],
        }),
      ]),
    );
    expect(res.status).toBe(200);
    const [updated, created, obs] = entries(res);
    expect(updated?.response.status).toBe('200 OK');
    expect(updated?.resource?.id).toBe(existing.id);
    expect(created?.response.status).toBe('201 Created');
    expect(obs?.resource?.subject).toEqual({ reference: `Patient/${existing.id}` });
    expect(obs?.resource?.performer).toEqual([{ reference: `Patient/${created?.resource?.id as string}` }]);
  });

  it('honours Prefer: return=minimal and return=OperationOutcome for every entry', async () => {
    const minimal = await send(bundle('transaction', [entry('POST', 'Patient', patient('TX-MIN'))]), { Prefer: 'return=minimal' });
    expect(minimal.status).toBe(200);
    expect(entries(minimal)[0]?.resource).toBeUndefined();
    expect(entries(minimal)[0]?.response.location).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    const outcome = await send(bundle('transaction', [entry('POST', 'Patient', patient('TX-OO'))]), { Prefer: 'return=OperationOutcome' });
    expect(entries(outcome)[0]?.response.outcome?.issue[0]?.severity).toBe('information');
  });
});

describe('batch', () => {
  it('processes entries independently and reports each outcome in request order', async () => {
    const p = await c.create(patient('B-1'));
    const res = await send(
      bundle('batch', [
        entry('GET', `Patient/${p.id}`),
        entry('GET', 'Patient/does-not-exist'),
        entry('POST', 'Patient', patient('B-NEW')),
        entry('POST', 'Observation', { resourceType: 'Observation', status: 'bogus', code: {} }),
        entry('PATCH', `Patient/${p.id}`, patch([{ op: 'add', path: '/active', value: true }])),
        { request: { method: 'FROB', url: 'Patient' } },
        entry('GET', 'Patient?identifier=urn:mrn|B-NEW'),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    const [read, missing, created, invalid, patched, bogus, search] = entries(res);
    expect(read?.response.status).toBe('200 OK');
    expect(read?.resource?.id).toBe(p.id);
    expect(missing?.response.status).toBe('404 Not Found');
    expect(missing?.response.outcome?.issue[0]?.code).toBe('not-found');
    expect(created?.response.status).toBe('201 Created');
    expect(invalid?.response.status).toBe('400 Bad Request');
    expect(patched?.response.status).toBe('200 OK');
    expect(patched?.resource?.active).toBe(true);
    expect(bogus?.response.status).toBe('400 Bad Request');
    expect(bogus?.response.outcome?.issue[0]?.expression).toEqual(['Bundle.entry[5].request.method']);
    // GET runs after POST: the batch's own create is found.
    expect((search?.resource as unknown as { total: number }).total).toBe(1);
    expect(await count('/Patient?identifier=urn:mrn|B-NEW')).toBe(1);
  });

  it('supports conditional interactions in entries', async () => {
    await c.create(patient('B-COND'));
    const res = await send(
      bundle('batch', [
        entry('POST', 'Patient', patient('B-COND'), { ifNoneExist: 'identifier=urn:mrn|B-COND' }),
        entry('DELETE', 'Patient?identifier=urn:mrn|B-COND-NONE'),
      ]),
    );
    const [create, del] = entries(res);
    expect(create?.response.status).toBe('200 OK');
    expect(del?.response.status).toBe('204 No Content');
  });
});

describe('Bundle limits and malformed Bundles', () => {
  it('answers 413 above BUNDLE_MAX_ENTRIES and above the body limit', async () => {
    const small = await buildTestApp({ BUNDLE_MAX_ENTRIES: '3', BODY_LIMIT: '64kb' });
    try {
      const base = small.base;
      const four = bundle('batch', [1, 2, 3, 4].map((n) => entry('GET', `Patient/p${n}`)));
      const res = await small.api.post(base).set('Content-Type', FHIR_JSON).send(four);
      expect(res.status).toBe(413);
      expect(res.body.issue[0].diagnostics).toContain('BUNDLE_MAX_ENTRIES');
      const big = bundle('batch', [entry('POST', 'Patient', patient('x'.repeat(70 * 1024)))]);
      expect((await small.api.post(base).set('Content-Type', FHIR_JSON).send(big)).status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('refuses what is not a batch or transaction Bundle with 400', async () => {
    for (const body of [
      { resourceType: 'Patient' },
      { resourceType: 'Bundle', type: 'collection', entry: [] },
      { resourceType: 'Bundle', type: 'transaction', entry: {} },
      [],
    ]) {
      const res = await send(body);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('refuses entries addressing other servers, the base itself, or nested Bundles', async () => {
    const res = await send(
      bundle('batch', [
        entry('GET', 'https://elsewhere.example/fhir/Patient/1'),
        entry('POST', '', { resourceType: 'Bundle', type: 'batch' }),
        entry('GET', `https://fhir.example.test${c.base}/Patient/none`),
      ]),
    );
    const [elsewhere, base, absolute] = entries(res);
    expect(elsewhere?.response.status).toBe('400 Bad Request');
    expect(base?.response.status).toBe('400 Bad Request');
    expect(absolute?.response.status).toBe('404 Not Found');
  });

  it('answers an empty transaction with an empty transaction-response', async () => {
    const res = await send(bundle('transaction', []));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: 'transaction-response', entry: [] });
  });

  it('lists batch and transaction in the CapabilityStatement', async () => {
    const res = await t.api.get(`${c.base}/metadata`);
    const codes = (res.body.rest[0].interaction as Array<{ code: string }>).map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(['transaction', 'batch']));
  });
});
