/**
 * The request budget (docs/fhir-rest.md "Limits"): a response never grows past MAX_RESPONSE_BYTES. Searches,
 * history and Bundles count what they add as they add it; a batch answers the entries that fit and 422
 * `too-costly` for the rest, a transaction fails as a whole and stores nothing, and nothing answers 5xx.
 * The app runs with a small budget (256 KiB) so that the cases stay small.
 */
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
const BUDGET = 256 * 1024;
let t: TestApp;

type Json = Record<string, unknown>;

function observation(i: number): Json {
  return {
    resourceType: 'Observation',
    id: `budget-obs-${i}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Heart rate '.repeat(20) },
    subject: { reference: 'Patient/budget-big' },
    valueQuantity: { value: i, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

/** A Patient of about 100 KiB (many names). */
const BIG_PATIENT = {
  resourceType: 'Patient',
  id: 'budget-big',
  name: Array.from({ length: 1500 }, (_, i) => ({ family: `Family-${i}`, given: [`Given-${i}`, 'Middle'] })),
};

function tooCostly(body: Json): void {
  expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'too-costly' }] });
}

beforeAll(async () => {
  t = await buildTestApp({ MAX_RESPONSE_BYTES: String(BUDGET), SEED_DEMO: 'false' });
  const entry = [BIG_PATIENT, ...Array.from({ length: 300 }, (_, i) => observation(i))].map((resource) => ({
    resource,
    request: { method: 'PUT', url: `${String(resource.resourceType)}/${String(resource.id)}` },
  }));
  // The response of a transaction counts too: load without echoing the resources.
  const loaded = await t.api.post(t.base).set('Content-Type', FHIR_JSON).set('Prefer', 'return=minimal').send({ resourceType: 'Bundle', type: 'transaction', entry });
  expect(loaded.status).toBe(200);
});
afterAll(async () => {
  await t.close();
});

describe('the response budget', () => {
  it('answers a search that fits, and 422 too-costly for one that does not', async () => {
    const small = await t.api.get(`${t.base}/Observation?_count=20`);
    expect(small.status).toBe(200);
    expect(small.body.entry).toHaveLength(20);
    const large = await t.api.get(`${t.base}/Observation?_count=300&_include=Observation:subject`);
    expect(large.status).toBe(422);
    tooCostly(large.body);
    expect(large.body.issue[0].diagnostics).toMatch(/MAX_RESPONSE_BYTES/);
  });

  it('answers the entries of a batch that fit and too-costly for the rest, never a 5xx, within the budget', async () => {
    const entry = Array.from({ length: 200 }, () => ({ request: { method: 'GET', url: 'Observation?_count=100' } }));
    const res = await t.api.post(t.base).set('Content-Type', FHIR_JSON).send({ resourceType: 'Bundle', type: 'batch', entry });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    const statuses = (res.body.entry as Array<{ response: { status: string; outcome?: Json } }>).map((e) => e.response.status);
    expect(statuses).toHaveLength(200);
    const answered = statuses.filter((s) => s.startsWith('200')).length;
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(200);
    // Answered entries come first; once the budget is spent every later entry is refused.
    expect(statuses.slice(0, answered).every((s) => s.startsWith('200'))).toBe(true);
    expect(statuses.slice(answered).every((s) => s.startsWith('422'))).toBe(true);
    const refused = res.body.entry[answered] as { response: { outcome: Json } };
    tooCostly(refused.response.outcome);
    expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThan(BUDGET + 100 * 1024);
  });

  it('counts large resources by their size: a batch of reads of a 100 KiB Patient stops at the budget', async () => {
    const entry = Array.from({ length: 40 }, () => ({ request: { method: 'GET', url: 'Patient/budget-big' } }));
    const res = await t.api.post(t.base).set('Content-Type', FHIR_JSON).send({ resourceType: 'Bundle', type: 'batch', entry });
    expect(res.status).toBe(200);
    const statuses = (res.body.entry as Array<{ response: { status: string } }>).map((e) => e.response.status);
    const answered = statuses.filter((s) => s.startsWith('200')).length;
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(answered).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s.startsWith('422'))).toHaveLength(40 - answered);
  });

  it('loads a transaction whose representations exceed the budget only without them', async () => {
    const entry = Array.from({ length: 5 }, (_, i) => ({ resource: { ...BIG_PATIENT, id: `budget-copy-${i}` }, request: { method: 'PUT', url: `Patient/budget-copy-${i}` } }));
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry };
    const echoed = await t.api.post(t.base).set('Content-Type', FHIR_JSON).send(bundle);
    expect(echoed.status).toBe(422);
    tooCostly(echoed.body);
    expect((await t.api.get(`${t.base}/Patient/budget-copy-0`)).status).toBe(404);
    const minimal = await t.api.post(t.base).set('Content-Type', FHIR_JSON).set('Prefer', 'return=minimal').send(bundle);
    expect(minimal.status).toBe(200);
    expect((await t.api.get(`${t.base}/Patient/budget-copy-4`)).status).toBe(200);
  });

  it('fails a transaction that would exceed the budget as a whole, storing nothing', async () => {
    const entry = [
      { resource: { resourceType: 'Patient', id: 'budget-tx', active: true }, request: { method: 'PUT', url: 'Patient/budget-tx' } },
      ...Array.from({ length: 20 }, () => ({ request: { method: 'GET', url: 'Observation?_count=100' } })),
    ];
    const res = await t.api.post(t.base).set('Content-Type', FHIR_JSON).send({ resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status).toBe(422);
    tooCostly(res.body);
    expect((await t.api.get(`${t.base}/Patient/budget-tx`)).status).toBe(404);
  });

  it('applies to history', async () => {
    for (let i = 0; i < 3; i++) {
      const put = await t.api.put(`${t.base}/Patient/budget-big`).set('Content-Type', FHIR_JSON).set('Prefer', 'return=minimal').send({ ...BIG_PATIENT, active: i % 2 === 0 });
      expect(put.status).toBe(200);
    }
    const res = await t.api.get(`${t.base}/Patient/budget-big/_history?_count=10`);
    expect(res.status).toBe(422);
    tooCostly(res.body);
    expect((await t.api.get(`${t.base}/Patient/budget-big/_history?_count=1`)).status).toBe(200);
  });
});

describe('the time budget', () => {
  let slow: TestApp;
  beforeAll(async () => {
    slow = await buildTestApp({ REQUEST_TIMEOUT_MS: '100', SEED_DEMO: 'false' });
    // One small write per request (a loaded machine may still push one past 100 ms: it is then sent again).
    for (let i = 0; i < 300; i++) {
      const resource = observation(i);
      let status = 0;
      for (let attempt = 0; attempt < 5 && status !== 201 && status !== 200; attempt++) {
        status = (await slow.api.put(`${slow.base}/Observation/${String(resource.id)}`).set('Content-Type', FHIR_JSON).set('Prefer', 'return=minimal').send(resource)).status;
      }
      expect([200, 201]).toContain(status);
    }
  });
  afterAll(async () => {
    await slow.close();
  });

  it('stops a batch at REQUEST_TIMEOUT_MS: the entries answered in time, then 422 too-costly for the rest', async () => {
    // 1,000 searches of 300 resources each take far longer than 100 ms on any machine.
    const entry = Array.from({ length: 1000 }, () => ({ request: { method: 'GET', url: 'Observation?_count=300&_total=accurate' } }));
    const res = await slow.api.post(slow.base).set('Content-Type', FHIR_JSON).send({ resourceType: 'Bundle', type: 'batch', entry });
    expect(res.status).toBe(200);
    const statuses = (res.body.entry as Array<{ response: { status: string } }>).map((e) => e.response.status);
    const answered = statuses.filter((s) => s.startsWith('200')).length;
    expect(answered).toBeLessThan(1000);
    expect(statuses.slice(answered).every((s) => s.startsWith('422'))).toBe(true);
    const refused = res.body.entry[answered] as { response: { outcome: Json } };
    tooCostly(refused.response.outcome);
    expect(JSON.stringify(refused.response.outcome)).toContain('REQUEST_TIMEOUT_MS');
  });
});
