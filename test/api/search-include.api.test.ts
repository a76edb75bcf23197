import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { includeRefs, matchRefs, outcomeIssues, type ProjectClient, projectClient } from './search-fixtures';

let t: TestApp;
let c: ProjectClient;
const r: Record<string, string> = {};

beforeAll(async () => {
  t = await buildTestApp();
  c = await projectClient(t, 'search', 'include');
  const add = async (key: string, resource: Record<string, unknown>): Promise<void> => {
    r[key] = `${String(resource.resourceType)}/${(await c.create(resource)).id}`;
  };
  await add('org1', { resourceType: 'Organization', name: 'Acme Health' });
  await add('org2', { resourceType: 'Organization', name: 'Beta Clinic', partOf: { reference: r.org1 } });
  await add('prac', { resourceType: 'Practitioner', name: [{ family: 'Doc' }] });
  await add('p1', { resourceType: 'Patient', name: [{ family: 'Smith', given: ['Peter'] }], managingOrganization: { reference: r.org1 }, generalPractitioner: [{ reference: r.prac }] });
  await add('p2', { resourceType: 'Patient', name: [{ family: 'Jones', given: ['Anna'] }], managingOrganization: { reference: r.org2 } });
  const obs = (subject: string, code: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: subject },
    ...extra,
  });
  await add('o1', obs(r.p1 as string, '1234-5', { performer: [{ reference: r.prac }] }));
  await add('o2', obs(r.p2 as string, '1234-5'));
  await add('o3', obs(r.p1 as string, '9999-9'));
  await add('enc', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: r.p1 } });
});
afterAll(async () => {
  await t.close();
});

const id = (key: string): string => (r[key] as string).split('/')[1] as string;
const refs = (...keys: string[]): string[] => keys.map((k) => r[k] as string).sort();
const matches = async (query: string): Promise<string[]> => [...matchRefs(await c.search(query))].sort();

describe('_include and _revinclude', () => {
  it('includes referenced resources once, marked search.mode include', async () => {
    const bundle = await c.search('/Observation?code=1234-5&_include=Observation:subject');
    expect([...matchRefs(bundle)].sort()).toEqual(refs('o1', 'o2'));
    expect(includeRefs(bundle)).toEqual(refs('p1', 'p2'));
    const p1Entry = bundle.entry?.find((e) => `Patient/${e.resource.id}` === r.p1);
    expect(p1Entry).toMatchObject({ fullUrl: `${t.config.publicUrl}${c.base}/${r.p1}`, search: { mode: 'include' } });
    expect(includeRefs(await c.search('/Observation?subject=' + r.p1 + '&_include=Observation:subject'))).toEqual(refs('p1'));
  });

  it('restricts an include to a target type and follows every reference with *', async () => {
    expect(includeRefs(await c.search(`/Observation?_id=${id('o1')}&_include=Observation:performer:Practitioner`))).toEqual(refs('prac'));
    expect(includeRefs(await c.search(`/Observation?_id=${id('o1')}&_include=Observation:performer:Organization`))).toEqual([]);
    expect(includeRefs(await c.search(`/Observation?_id=${id('o1')}&_include=Observation:*`))).toEqual(refs('p1', 'prac'));
    expect(includeRefs(await c.search(`/Patient?_id=${id('p1')}&_include=*`))).toEqual(refs('org1', 'prac'));
  });

  it('reverse-includes resources that reference the matches', async () => {
    expect(includeRefs(await c.search(`/Patient?_id=${id('p1')}&_revinclude=Observation:subject`))).toEqual(refs('o1', 'o3'));
    expect(includeRefs(await c.search(`/Patient?_id=${id('p1')}&_revinclude=Observation:subject&_revinclude=Encounter:subject`))).toEqual(refs('o1', 'o3', 'enc'));
    expect(includeRefs(await c.search(`/Patient?_id=${id('p1')}&_revinclude=Observation:*`))).toEqual(refs('o1', 'o3'));
    expect(includeRefs(await c.search(`/Patient?_id=${id('p2')}&_revinclude=*`))).toEqual(refs('o2'));
  });

  it('applies :iterate specs to included resources until nothing new turns up', async () => {
    const once = await c.search(`/Patient?_id=${id('p2')}&_include=Patient:organization&_include=Organization:partof`);
    expect(includeRefs(once)).toEqual(refs('org2'));
    const iterated = await c.search(`/Patient?_id=${id('p2')}&_include=Patient:organization&_include:iterate=Organization:partof`);
    expect(includeRefs(iterated)).toEqual(refs('org1', 'org2'));
    const mixed = await c.search(`/Observation?_id=${id('o2')}&_include=Observation:subject&_include:iterate=Patient:organization&_revinclude:iterate=Encounter:subject`);
    expect(includeRefs(mixed)).toEqual(refs('p2', 'org2'));
    const withRev = await c.search(`/Observation?_id=${id('o1')}&_include=Observation:subject&_revinclude:iterate=Encounter:subject`);
    expect(includeRefs(withRev)).toEqual(refs('p1', 'enc'));
  });

  it('never repeats a match as an include', async () => {
    const bundle = await c.search(`/Organization?_id=${id('org1')},${id('org2')}&_include=Organization:partof`);
    expect([...matchRefs(bundle)].sort()).toEqual(refs('org1', 'org2'));
    expect(bundle.entry).toHaveLength(2);
  });

  it('refuses malformed include values with 400 naming the parameter', async () => {
    for (const value of ['*:*:*', 'Observation', 'NotAType:subject', 'Observation:status', 'Observation:subject:NotAType']) {
      const res = await c.get(`/Observation?_include=${encodeURIComponent(value)}`);
      expect(res.status).toBe(400);
      expect(res.body.issue[0].expression).toEqual(['_include']);
    }
    expect((await c.get('/Observation?_include:deep=Observation:subject')).status).toBe(400);
  });
});

describe('chained parameters', () => {
  it('follows a chain with an explicit or unambiguous target type', async () => {
    expect(await matches('/Observation?subject:Patient.name=peter')).toEqual(refs('o1', 'o3'));
    expect(await matches('/Observation?patient.name=peter')).toEqual(refs('o1', 'o3'));
    expect(await matches('/Observation?subject:Patient.name=nobody')).toEqual([]);
    expect(await matches('/Observation?subject:Patient.name=anna,peter&code=1234-5')).toEqual(refs('o1', 'o2'));
  });

  it('follows two and three links', async () => {
    expect(await matches('/Observation?subject:Patient.organization.name=acme')).toEqual(refs('o1', 'o3'));
    expect(await matches('/Observation?patient.organization.partof.name=acme')).toEqual(refs('o2'));
    expect(await matches('/Encounter?subject:Patient.general-practitioner:Practitioner.name=doc')).toEqual(refs('enc'));
  });

  it('refuses ambiguous and too-deep chains with 400, and warns about unknown chained parameters', async () => {
    const ambiguous = await c.get('/Observation?subject.name=peter');
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['subject.name'] });
    expect(ambiguous.body.issue[0].diagnostics).toContain('subject:Patient.name');
    const deep = await c.get('/Observation?patient.organization.partof.partof.name=acme');
    expect(deep.status).toBe(400);
    expect((await c.get('/Observation?status.name=x')).status).toBe(400);
    const unknown = await c.search('/Observation?subject:Patient.foo=x');
    expect(outcomeIssues(unknown)[0]).toMatchObject({ severity: 'warning', expression: ['subject:Patient.foo'] });
    expect(unknown.total).toBe(3);
  });
});

describe('_has', () => {
  it('selects resources referenced by resources matching a parameter', async () => {
    expect(await matches('/Patient?_has:Observation:patient:code=1234-5')).toEqual(refs('p1', 'p2'));
    expect(await matches('/Patient?_has:Observation:subject:code=9999-9')).toEqual(refs('p1'));
    expect(await matches('/Patient?_has:Observation:patient:code=0000-0')).toEqual([]);
    expect(await matches('/Practitioner?_has:Observation:performer:subject:Patient.name=peter')).toEqual(refs('prac'));
    expect(await matches('/Patient?_has:Observation:patient:code=1234-5&_has:Encounter:subject:status=finished')).toEqual(refs('p1'));
  });

  it('answers 400 for malformed _has and warns about an unknown reference parameter', async () => {
    for (const name of ['_has:NotAType:patient:code', '_has:Observation:patient', '_has:Observation:code:code', '_has:Observation:patient:_has:Encounter:subject:status']) {
      const res = await c.get(`/Patient?${name}=x`);
      expect(res.status).toBe(400);
      expect(res.body.issue[0].expression).toEqual([name]);
    }
    const unknown = await c.search('/Patient?_has:Observation:nope:code=1');
    expect(outcomeIssues(unknown)[0]).toMatchObject({ severity: 'warning', expression: ['_has:Observation:nope:code'] });
  });
});
