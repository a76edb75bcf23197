/**
 * Bulk export end to end over real HTTP with the spec-following client (test/helpers/bulk-client.ts): system,
 * patient and group level, `_type`, `_since`, `_typeFilter`, POST Parameters, cancellation, and what the status,
 * file and kick-off endpoints refuse.
 */
import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { bulkExport, kickOff, listeningServer, pollManifest } from '../helpers/bulk-client';

let t: TestApp;
let http: Awaited<ReturnType<typeof listeningServer>>;
let fhir: string;

async function create(resource: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await t.api.post(`${t.base}/${String(resource.resourceType)}`).send(resource);
  expect(res.status).toBe(201);
  return res.body as Record<string, unknown>;
}

function ids(resources: Array<Record<string, unknown>> | undefined): string[] {
  return (resources ?? []).map((r) => String(r.id)).sort();
}

beforeAll(async () => {
  http = await listeningServer();
  t = await buildTestApp({ PUBLIC_URL: http.origin });
  http.server.on('request', t.app);
  fhir = `${http.origin}${t.base}`;
  for (const name of ['Ada', 'Ben', 'Cy']) await create({ resourceType: 'Patient', id: undefined, name: [{ family: name }] });
  const patients = (await t.api.get(`${t.base}/Patient?_count=10`)).body.entry.map((e: { resource: { id: string } }) => e.resource.id) as string[];
  for (const [i, patient] of patients.entries()) {
    await create({ resourceType: 'Observation', status: 'final', code: { text: 'bp' }, category: [{ coding: [{ code: i === 0 ? 'laboratory' : 'vital-signs' }] }], subject: { reference: `Patient/${patient}` } });
  }
  await create({ resourceType: 'Organization', name: 'Clinic' });
  await create({ resourceType: 'Group', type: 'person', actual: true, member: [{ entity: { reference: `Patient/${patients[0]}` } }, { entity: { reference: `Patient/${patients[1]}` } }] });
}, 60_000);

afterAll(async () => {
  await http.close();
  await t.close();
});

describe('system-level export', () => {
  it('exports every type the admin client may read, with counts matching the files', async () => {
    const result = await bulkExport(`${fhir}/$export?_type=Patient,Observation,Organization`, t.adminToken);
    expect(result.manifest).toMatchObject({ requiresAccessToken: true, request: `${fhir}/$export?_type=Patient%2CObservation%2COrganization`, error: [] });
    expect(ids(result.resources.get('Patient'))).toHaveLength(3);
    expect(ids(result.resources.get('Observation'))).toHaveLength(3);
    expect(ids(result.resources.get('Organization'))).toHaveLength(1);
    expect(result.manifest.output.map((o) => o.type)).toEqual(['Patient', 'Observation', 'Organization']);
  });
});

describe('kick-off refusals', () => {
  it('requires Prefer: respond-async', async () => {
    const res = await kickOff(`${fhir}/$export`, t.adminToken, { prefer: '' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'required' }] });
  });
});
