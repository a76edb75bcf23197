/**
 * Generated malformed batch and transaction Bundles: broken Bundle shapes, entries with missing or wrong-typed
 * parts, bad URLs and methods, operator-shaped values, invalid resources, bad conditional headers and references,
 * bad PATCH Binaries. Each must be answered with a batch/transaction-response or a 4xx OperationOutcome, never a
 * 5xx, and a failed transaction stores nothing.
 */
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { FHIR_JSON, type ProjectClient, projectClient } from './search-fixtures';

let t: TestApp;
let c: ProjectClient;

beforeAll(async () => {
  t = await buildTestApp({ BUNDLE_MAX_ENTRIES: '50' });
  c = await projectClient(t, 'bundles', 'fuzz');
  await c.put({ resourceType: 'Patient', id: 'fuzz-patient', identifier: [{ system: 'urn:mrn', value: 'FUZZ' }] });
});
afterAll(async () => {
  await t.close();
});

// Deterministic PRNG so a failing case reproduces.
let seed = 977;
const rand = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

const WEIRD_VALUES: unknown[] = [null, 0, -1, 1.5, true, '', ' ', [], {}, [null], { $where: 'sleep(1000)' }, { $ne: null }, '$gt', 'x'.repeat(5000), '\u0000', '../..', '%zz'];
const URLS = [
  '',
  '/',
  'Patient',
  'Patient/fuzz-patient',
  'Patient/',
  'Patient/../metadata',
  'Patient/%2e%2e',
  'Patient?identifier=urn:mrn|FUZZ',
  'Patient?name[$ne]=x',
  'Patient?{"$where":"1"}=1',
  'Patient?birthdate=xx2020',
  'Patient?_count=-1',
  'Nope/1',
  'Patient/bad id',
  'Patient/1/_history/abc',
  '_history',
  'metadata',
  '$evaluate',
  'http://other.example/Patient/1',
  'urn:uuid:not-a-base',
  '%',
  'Patient/%E0%A4%A',
  'Observation?subject:Patient.name:exact=%',
  'Patient?_include=*:iterate:bad',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'get', 'OPTIONS', 'TRACE', '', 7, null];
const RESOURCES: unknown[] = [
  { resourceType: 'Patient', birthDate: 'not-a-date' },
  { resourceType: 'Patient', gender: 42 },
  { resourceType: 'Patient', id: 'bad id!' },
  { resourceType: 'Patient', unknownElement: true },
  { resourceType: 'Observation', status: 'final', code: {}, subject: { reference: 'Patient?identifier=urn:mrn|NOPE' } },
  { resourceType: 'Observation', status: 'final', code: {}, subject: { reference: 'Nope?x=1' } },
  { resourceType: 'Observation', status: 'final', code: {}, subject: { reference: 'Patient?name[$ne]=x' } },
  { resourceType: 'Observation', status: 'final', code: {}, subject: { reference: 'urn:uuid:unknown' } },
  { resourceType: 'Bundle', type: 'transaction', entry: [] },
  { resourceType: 'Binary', contentType: 'application/json-patch+json', data: '!!!' },
  { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from('not json').toString('base64') },
  { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from('[{"op":"remove","path":"/nope"}]').toString('base64') },
  { resourceType: 'Binary', contentType: 'text/plain', data: 'eA==' },
  { resourceType: 'User', email: 'not-an-email', role: 'emperor' },
  { resourceType: 'ClientApplication', secret: { $ne: null } },
  { resourceType: 'Patient', meta: 'nope' },
  { resourceType: 'Patient', meta: { versionId: { $gt: 1 } } },
  { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'FUZZ-NEW' }] },
  { resourceType: { $ne: 1 } },
  'Patient',
  [],
];

function randomEntry(): unknown {
  const shape = rand();
  if (shape < 0.08) return pick(WEIRD_VALUES);
  const entry: Record<string, unknown> = {};
  if (rand() < 0.3) entry.fullUrl = pick<unknown>(['urn:uuid:1', 'urn:uuid:', 'http://x/Patient/1', 5, null, 'urn:uuid:6f1c1a51-0009-4000-8000-000000000009']);
  if (rand() < 0.7) entry.resource = pick(RESOURCES);
  if (shape < 0.15) {
    entry.request = pick(WEIRD_VALUES);
    return entry;
  }
  const req: Record<string, unknown> = { method: pick(METHODS), url: rand() < 0.1 ? pick(WEIRD_VALUES) : pick(URLS) };
  if (rand() < 0.2) req.ifMatch = pick<unknown>(['W/"1"', 'W/"x"', '*', 5, { $ne: 1 }]);
  if (rand() < 0.2) req.ifNoneExist = pick<unknown>(['identifier=urn:mrn|FUZZ', 'name[$ne]=x', 'nope=1', '', 5, '%']);
  if (rand() < 0.1) req.ifModifiedSince = pick<unknown>(['yesterday', 3]);
  entry.request = req;
  return entry;
}

function generate(): Array<{ label: string; body: unknown }> {
  const cases: Array<{ label: string; body: unknown }> = [];
  for (const value of WEIRD_VALUES) cases.push({ label: 'not a Bundle', body: { resourceType: 'Bundle', type: 'transaction', entry: value } });
  for (const type of WEIRD_VALUES) cases.push({ label: 'bad type', body: { resourceType: 'Bundle', type, entry: [] } });
  for (const type of ['document', 'message', 'collection', 'searchset', 'history', 'batch-response', 'Transaction']) {
    cases.push({ label: 'unprocessable type', body: { resourceType: 'Bundle', type, entry: [] } });
  }
  cases.push({ label: 'too many entries', body: { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 51 }, () => ({ request: { method: 'GET', url: 'Patient' } })) } });
  while (cases.length < 520) {
    const type = rand() < 0.5 ? 'batch' : 'transaction';
    const size = 1 + Math.floor(rand() * 5);
    cases.push({ label: `random ${type}`, body: { resourceType: 'Bundle', type, entry: Array.from({ length: size }, randomEntry) } });
  }
  return cases;
}

/** Number of versions ever written in the project (history rows). */
const versions = async (): Promise<number> => ((await c.get('/_history?_count=1')).body as { total: number }).total;

describe('malformed Bundles', () => {
  it('answers at least 500 of them with a response Bundle or a 4xx OperationOutcome, and failed transactions store nothing', async () => {
    const cases = generate();
    expect(cases.length).toBeGreaterThanOrEqual(500);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (const { label, body } of cases) {
      const isTransaction = (body as { type?: unknown }).type === 'transaction';
      const before = isTransaction ? await versions() : undefined;
      const res = await t.api.post(c.base).set('Content-Type', FHIR_JSON).send(JSON.stringify(body));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const reply = res.body as { resourceType?: string; type?: string; issue?: unknown[]; entry?: unknown[] };
      const ok =
        (res.status === 200 && reply.resourceType === 'Bundle' && /^(batch|transaction)-response$/.test(reply.type ?? '')) ||
        (res.status >= 400 && res.status < 500 && reply.resourceType === 'OperationOutcome' && Array.isArray(reply.issue));
      if (!ok) failures.push(`${label}: ${JSON.stringify(body).slice(0, 300)} → ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      if (isTransaction && res.status >= 400) {
        const after = await versions();
        if (after !== before) failures.push(`${label}: a failed transaction stored something: ${JSON.stringify(body).slice(0, 300)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(statuses.get(200)).toBeGreaterThan(50);
    expect(statuses.get(400)).toBeGreaterThan(50);
  });
});
