/**
 * Bulk export end to end over real HTTP with the spec-following client (test/helpers/bulk-client.ts): system,
 * patient and group level, `_type`, `_since`, `_typeFilter`, POST Parameters, scopes that deny types, and what the
 * kick-off refuses.
 */
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { bulkExport, download, kickOff, listeningServer } from '../helpers/bulk-client';
import { clientToken } from './bulk-fixtures';

let t: TestApp;
let http: Awaited<ReturnType<typeof listeningServer>>;
let fhir: string;
let patients: string[];
const observations: string[] = [];

type Json = Record<string, unknown>;

async function create(resource: Json): Promise<Json> {
  const res = await t.api.post(`${t.base}/${String(resource.resourceType)}`).send(resource);
  expect(res.status).toBe(201);
  return res.body as Json;
}

function ids(resources: Json[] | undefined): string[] {
  return (resources ?? []).map((r) => String(r.id)).sort();
}

beforeAll(async () => {
  http = await listeningServer();
  t = await buildTestApp({ PUBLIC_URL: http.origin });
  http.server.on('request', t.app);
  fhir = `${http.origin}${t.base}`;
  patients = [];
  for (const name of ['Ada', 'Ben', 'Cy']) patients.push(String((await create({ resourceType: 'Patient', name: [{ family: name }] })).id));
  for (const [i, patient] of patients.entries()) {
    const category = [{ coding: [{ code: i === 0 ? 'laboratory' : 'vital-signs' }] }];
    observations.push(String((await create({ resourceType: 'Observation', status: 'final', code: { text: 'bp' }, category, subject: { reference: `Patient/${patient}` } })).id));
  }
  await create({ resourceType: 'Organization', name: 'Clinic' });
  await create({ resourceType: 'Group', id: undefined, type: 'person', actual: true, member: [{ entity: { reference: `Patient/${patients[0]}` } }, { entity: { reference: `Patient/${patients[1]}` } }] });
}, 60_000);

afterAll(async () => {
  await http.close();
  await t.close();
});

describe('system-level export', () => {
  it('exports the types asked for, each file holding the count the manifest gives', async () => {
    const result = await bulkExport(`${fhir}/$export?_type=Patient,Observation,Organization`, t.adminToken);
    expect(result.manifest).toMatchObject({ requiresAccessToken: true, request: `${fhir}/$export?_type=Patient%2CObservation%2COrganization`, error: [] });
    expect(Date.parse(result.manifest.transactionTime)).not.toBeNaN();
    expect(result.manifest.output.map((o) => [o.type, o.count])).toEqual([['Patient', 3], ['Observation', 3], ['Organization', 1]]);
    expect(ids(result.resources.get('Patient'))).toEqual([...patients].sort());
  });

  it('accepts POST with a Parameters body and every _outputFormat spelling', async () => {
    for (const format of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
      const body = { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Organization' }, { name: '_outputFormat', valueString: format }] };
      const result = await bulkExport(`${fhir}/$export`, t.adminToken, { method: 'POST', body });
      expect(result.manifest.output.map((o) => o.type)).toEqual(['Organization']);
    }
  });

  it('exports only resources changed after _since', async () => {
    const since = new Date().toISOString();
    const changed = await t.api.get(`${t.base}/Observation/${observations[2]}`);
    const res = await t.api.put(`${t.base}/Observation/${observations[2]}`).send({ ...changed.body, status: 'amended' });
    expect(res.status).toBe(200);
    const result = await bulkExport(`${fhir}/$export?_type=Observation,Patient&_since=${encodeURIComponent(since)}`, t.adminToken);
    expect(ids(result.resources.get('Observation'))).toEqual([observations[2]]);
    expect(result.resources.has('Patient')).toBe(false);
  });

  it('runs each _typeFilter through the search engine, exporting their union once', async () => {
    const lab = await bulkExport(`${fhir}/$export?_type=Observation&_typeFilter=${encodeURIComponent('Observation?category=laboratory')}`, t.adminToken);
    expect(ids(lab.resources.get('Observation'))).toEqual([observations[0]]);
    const filters = ['Observation?category=laboratory', `Observation?subject=Patient/${patients[1]}`, 'Observation?category=laboratory,vital-signs&_id=' + observations[0]];
    const union = await bulkExport(`${fhir}/$export?${filters.map((f) => `_typeFilter=${encodeURIComponent(f)}`).join('&')}`, t.adminToken);
    expect(ids(union.resources.get('Observation'))).toEqual([observations[0], observations[1]].sort());
    expect(union.manifest.output.map((o) => o.type)).toContain('Observation');
  });
});

describe('patient and group level', () => {
  it('Patient/$export writes the patient compartment types only', async () => {
    const result = await bulkExport(`${fhir}/Patient/$export`, t.adminToken);
    expect(ids(result.resources.get('Patient'))).toEqual([...patients].sort());
    expect(ids(result.resources.get('Observation'))).toEqual([...observations].sort());
    expect(result.resources.has('Organization')).toBe(false);
    // A Group is in the compartment of its members (R4 CompartmentDefinition: Group.member).
    expect(result.resources.get('Group')).toHaveLength(1);
  });

  it('POST Patient/$export with patient parameters limits the export to those patients', async () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: `Patient/${patients[2]}` } }] };
    const result = await bulkExport(`${fhir}/Patient/$export`, t.adminToken, { method: 'POST', body });
    expect(ids(result.resources.get('Patient'))).toEqual([patients[2]]);
    expect(ids(result.resources.get('Observation'))).toEqual([observations[2]]);
  });

  it('Group/[id]/$export writes the compartments of the group members', async () => {
    const group = (await t.api.get(`${t.base}/Group`)).body.entry[0].resource as { id: string };
    const result = await bulkExport(`${fhir}/Group/${group.id}/$export?_type=Patient,Observation`, t.adminToken);
    expect(ids(result.resources.get('Patient'))).toEqual([patients[0], patients[1]].sort());
    expect(ids(result.resources.get('Observation'))).toEqual([observations[0], observations[1]].sort());
  });

  it('answers 404 for a Group that does not exist', async () => {
    const res = await kickOff(`${fhir}/Group/nope/$export`, t.adminToken);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found' }] });
  });
});

describe('what the token may not read', () => {
  it('reports a type asked for but denied by the scopes as an error line, and leaves it out otherwise', async () => {
    const token = await clientToken(t, 'patients-only', 'system/Patient.rs');
    const asked = await bulkExport(`${fhir}/$export?_type=Patient,Observation`, token);
    expect(asked.manifest.output.map((o) => o.type)).toEqual(['Patient']);
    expect(asked.errors).toEqual([
      { resourceType: 'OperationOutcome', issue: [expect.objectContaining({ severity: 'error', code: 'forbidden', expression: ['Observation'] })] },
    ]);
    const all = await bulkExport(`${fhir}/$export`, token);
    expect(all.manifest.output.map((o) => o.type)).toEqual(['Patient']);
    expect(all.manifest.error).toEqual([]);
  });
});

describe('kick-off refusals (400 OperationOutcome)', () => {
  const cases: Array<[string, string, string?]> = [
    ['an unsupported _outputFormat', '_outputFormat=text/csv'],
    ['an unsupported parameter', '_elements=id'],
    ['an unknown _type', '_type=Nothing'],
    ['includeAssociatedData', 'includeAssociatedData=LatestProvenanceResources'],
    ['a bad _since', '_since=yesterday'],
    ['a _typeFilter with an unknown parameter', `_typeFilter=${encodeURIComponent('Observation?nothing=1')}`],
    ['a _typeFilter with a result control', `_typeFilter=${encodeURIComponent('Observation?_include=Observation:subject')}`],
    ['a _typeFilter outside _type', `_type=Patient&_typeFilter=${encodeURIComponent('Observation?status=final')}`],
    ['patient in the URL', 'patient=Patient/1', 'Patient/'],
  ];
  it.each(cases)('refuses %s', async (_what, query, level = '') => {
    const res = await kickOff(`${fhir}/${level}$export?${query}`, t.adminToken);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { resourceType: string; issue: Array<{ severity: string }> };
    expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] });
  });

  it('requires Prefer: respond-async', async () => {
    const res = await kickOff(`${fhir}/$export`, t.adminToken, { prefer: 'handling=lenient' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'required' }] });
  });

  it('refuses patient on a system-level POST', async () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: `Patient/${patients[0]}` } }] };
    const res = await kickOff(`${fhir}/$export`, t.adminToken, { method: 'POST', body });
    expect(res.status).toBe(400);
  });

  it('ignores unsupported parameters under Prefer: handling=lenient and names them in the error file', async () => {
    const result = await bulkExport(`${fhir}/$export?_type=Organization&_elements=id&includeAssociatedData=LatestProvenanceResources`, t.adminToken, { prefer: 'respond-async, handling=lenient' });
    expect(result.manifest.output.map((o) => o.type)).toEqual(['Organization']);
    expect(result.errors.map((e) => e.issue[0]?.code)).toEqual(['not-supported', 'not-supported']);
    expect(result.errors.map((e) => e.issue[0]?.diagnostics).join(' ')).toMatch(/_elements.*includeAssociatedData/);
  });

  it('answers 401 without a token', async () => {
    const res = await fetch(`${fhir}/$export`, { headers: { Prefer: 'respond-async' } });
    expect(res.status).toBe(401);
  });
});

describe('write-only fields', () => {
  it('never exports a client secret or a password hash', async () => {
    const result = await bulkExport(`${fhir}/$export?_type=ClientApplication,User`, t.adminToken);
    expect(result.resources.get('ClientApplication')?.length).toBeGreaterThan(0);
    expect(result.resources.get('User')?.length).toBeGreaterThan(0);
    for (const resource of [...(result.resources.get('ClientApplication') ?? []), ...(result.resources.get('User') ?? [])]) {
      expect(resource).not.toHaveProperty('secret');
      expect(resource).not.toHaveProperty('password');
    }
  });
});

describe('downloads', () => {
  it('refuses a download without a token', async () => {
    const result = await bulkExport(`${fhir}/$export?_type=Organization`, t.adminToken);
    const url = result.manifest.output[0]?.url as string;
    expect((await fetch(url)).status).toBe(401);
    expect(await download(url, t.adminToken)).toHaveLength(1);
  });
});
