import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { FHIR_JSON, link, matchRefs, outcomeIssues, type ProjectClient, projectClient } from './search-fixtures';

let t: TestApp;
let c: ProjectClient;
const ids: Record<string, string> = {};
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'Resource encoded in summary mode' };

beforeAll(async () => {
  t = await buildTestApp();
  c = await projectClient(t, 'search', 'basics');
  ids.org = (await c.create({ resourceType: 'Organization', name: 'Acme Health' })).id;
  ids.p1 = (await c.create({
    resourceType: 'Patient',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Peter Smith</div>' },
    identifier: [{ system: 'urn:sys', value: 'A1' }],
    name: [{ family: 'Smith', given: ['Peter'] }],
    gender: 'male',
    birthDate: '1980-01-01',
    photo: [{ url: 'https://example.org/p1.png' }],
    managingOrganization: { reference: `Organization/${ids.org}` },
  })).id;
  ids.p2 = (await c.create({ resourceType: 'Patient', identifier: [{ system: 'urn:sys', value: 'A2' }], name: [{ family: 'Smythe', given: ['Anna'] }], gender: 'female', birthDate: '1990-05-05' })).id;
  ids.p3 = (await c.create({ resourceType: 'Patient', name: [{ family: 'Jones', given: ['Peter'] }], gender: 'male', birthDate: '2000-12-31' })).id;
  const obs = (subject: string, code: string, status: string) => ({
    resourceType: 'Observation',
    status,
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${subject}` },
  });
  ids.o1 = (await c.create(obs(ids.p1 as string, '1234-5', 'final'))).id;
  ids.o2 = (await c.create(obs(ids.p2 as string, '1234-5', 'preliminary'))).id;
  ids.o3 = (await c.create(obs(ids.p1 as string, '9999-9', 'final'))).id;
});
afterAll(async () => {
  await t.close();
});

const typeOf = (key: string): string => (key === 'org' ? 'Organization' : key.startsWith('p') ? 'Patient' : 'Observation');
const refs = (...keys: string[]): string[] => keys.map((k) => `${typeOf(k)}/${ids[k]}`).sort();
const sorted = (list: string[]): string[] => [...list].sort();

describe('type search', () => {
  it('answers GET [type]?params with a searchset of matches, total, self link and full URLs', async () => {
    const bundle = await c.search('/Patient?name=smi');
    expect(bundle.total).toBe(1);
    expect(matchRefs(bundle)).toEqual(refs('p1'));
    const entry = bundle.entry?.[0];
    expect(entry?.fullUrl).toBe(`${t.config.publicUrl}${c.base}/Patient/${ids.p1}`);
    expect(entry?.search).toEqual({ mode: 'match' });
    expect(link(bundle, 'self')).toMatch(new RegExp(`^${t.config.publicUrl}${c.base}/Patient\\?name=smi&_cursor=`));
  });

  it('treats commas as OR and repeated parameters as AND', async () => {
    expect(sorted(matchRefs(await c.search('/Patient?name=sm')))).toEqual(refs('p1', 'p2'));
    expect(sorted(matchRefs(await c.search('/Patient?gender=male,female')))).toEqual(refs('p1', 'p2', 'p3'));
    expect(matchRefs(await c.search('/Patient?name=peter&name=jones'))).toEqual(refs('p3'));
    expect(matchRefs(await c.search('/Observation?code=http://loinc.org|1234-5&status=final'))).toEqual(refs('o1'));
  });

  it('answers POST [type]/_search with the form body merged with the URL parameters', async () => {
    const res = await t.api.post(`${c.base}/Patient/_search?gender=male`).type('form').send('name=jones&_count=5');
    expect(res.status).toBe(200);
    expect(matchRefs(res.body)).toEqual(refs('p3'));
    expect(link(res.body, 'self')).toMatch(/\/Patient\?gender=male&name=jones&_count=5&_cursor=/);
  });

  it('refuses a POST _search body that is not form-encoded', async () => {
    const res = await t.api.post(`${c.base}/Patient/_search`).set('Content-Type', FHIR_JSON).send({ name: 'x' });
    expect(res.status).toBe(415);
    expect(res.body.issue[0].code).toBe('not-supported');
  });
});

describe('system and compartment search', () => {
  it('searches several types with _type, and every type without it', async () => {
    const both = await c.search(`?_type=Patient,Observation&_id=${ids.p1},${ids.o1},${ids.org}`);
    expect(sorted(matchRefs(both))).toEqual(refs('p1', 'o1'));
    expect(matchRefs(await c.search(`?_id=${ids.org}`))).toEqual(refs('org'));
    const post = await t.api.post(`${c.base}/_search`).type('form').send(`_type=Observation&status=preliminary`);
    expect(matchRefs(post.body)).toEqual(refs('o2'));
  });

  it('rejects an unknown _type with 400 naming _type', async () => {
    const res = await c.get('?_type=Patient,NotAType');
    expect(res.status).toBe(400);
    expect(res.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['_type'] });
  });

  it('searches a Patient compartment by type, with criteria, and across all types', async () => {
    expect(sorted(matchRefs(await c.search(`/Patient/${ids.p1}/Observation`)))).toEqual(refs('o1', 'o3'));
    expect(matchRefs(await c.search(`/Patient/${ids.p1}/Observation?code=1234-5`))).toEqual(refs('o1'));
    expect(matchRefs(await c.search(`/Patient/${ids.p1}/Patient`))).toEqual(refs('p1'));
    expect(sorted(matchRefs(await c.search(`/Patient/${ids.p1}/*`)))).toEqual(refs('p1', 'o1', 'o3'));
    const outside = await c.search(`/Patient/${ids.p1}/Organization`);
    expect(outside.total).toBe(0);
    expect(outside.entry).toBeUndefined();
  });
});

describe('unknown parameters and invalid values', () => {
  it('ignores an unknown parameter and reports it in an outcome entry', async () => {
    const bundle = await c.search('/Patient?foo=bar&name=smith');
    expect(matchRefs(bundle)).toEqual(refs('p1'));
    expect(bundle.entry?.[0]?.search).toEqual({ mode: 'outcome' });
    expect(outcomeIssues(bundle)).toEqual([
      { severity: 'warning', code: 'not-supported', diagnostics: "Unknown search parameter 'foo'; the parameter was ignored", expression: ['foo'] },
    ]);
  });

  it('answers 400 for an unknown parameter under Prefer: handling=strict', async () => {
    const res = await c.get('/Patient?foo=bar&name=smith', { Prefer: 'handling=strict' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-supported', diagnostics: "Unknown search parameter 'foo'", expression: ['foo'] }],
    });
  });

  it('answers 400 naming the parameter for an invalid value', async () => {
    for (const [query, name] of [
      ['birthdate=notadate', 'birthdate'],
      ['_count=abc', '_count'],
      ['_total=maybe', '_total'],
      ['_summary=short', '_summary'],
      ['gender:bogus=male', 'gender:bogus'],
      ['_include=Patient:name', '_include'],
    ] as const) {
      const res = await c.get(`/Patient?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.issue[0].expression).toEqual([name]);
    }
  });
});

describe('result controls', () => {
  it('pages with _count and reports the total; _count=0 gives only the total', async () => {
    const page = await c.search('/Patient?_count=2');
    expect(page.total).toBe(3);
    expect(matchRefs(page)).toHaveLength(2);
    expect(link(page, 'next')).toBeDefined();
    const none = await c.search('/Patient?_count=0');
    expect(none).toMatchObject({ total: 3 });
    expect(none.entry).toBeUndefined();
    expect(none.link.map((l) => l.relation)).toEqual(['self']);
  });

  it('sorts by several keys, descending with -, and ties by id', async () => {
    expect(matchRefs(await c.search('/Patient?_sort=-birthdate'))).toEqual([`Patient/${ids.p3}`, `Patient/${ids.p2}`, `Patient/${ids.p1}`]);
    expect(matchRefs(await c.search('/Patient?_sort=given,-family'))).toEqual([`Patient/${ids.p2}`, `Patient/${ids.p1}`, `Patient/${ids.p3}`]);
    const byGender = matchRefs(await c.search('/Patient?_sort=gender'));
    expect(byGender[0]).toBe(`Patient/${ids.p2}`);
    expect(byGender.slice(1)).toEqual(sorted([`Patient/${ids.p1}`, `Patient/${ids.p3}`]));
  });

  it('warns about an unknown sort key, or refuses it under strict handling', async () => {
    const bundle = await c.search('/Patient?_sort=$where');
    expect(outcomeIssues(bundle)).toEqual([
      { severity: 'warning', code: 'not-supported', diagnostics: "Cannot sort by '$where'; the sort key was ignored", expression: ['_sort'] },
    ]);
    expect((await c.get('/Patient?_sort=$where', { Prefer: 'handling=strict' })).status).toBe(400);
  });

  it('omits the total with _total=none and counts with estimate and accurate', async () => {
    expect((await c.search('/Patient?_total=none')).total).toBeUndefined();
    expect((await c.search('/Patient?_total=estimate')).total).toBe(3);
    expect((await c.search('/Patient?_total=accurate&gender=male')).total).toBe(2);
  });

  it('answers _summary=count with the total only', async () => {
    const bundle = await c.search('/Observation?_summary=count&status=final');
    expect(bundle.total).toBe(2);
    expect(bundle.entry).toBeUndefined();
  });

  it('reduces matches to summary elements with _summary=true and drops text with _summary=data', async () => {
    const summary = await c.search(`/Patient?_id=${ids.p1}&_summary=true`);
    const resource = summary.entry?.[0]?.resource as Record<string, unknown>;
    expect(resource.photo).toBeUndefined();
    expect(resource.text).toBeUndefined();
    expect(resource.name).toEqual([{ family: 'Smith', given: ['Peter'] }]);
    expect((resource.meta as { tag: unknown[] }).tag).toEqual([SUBSETTED]);
    const data = (await c.search(`/Patient?_id=${ids.p1}&_summary=data`)).entry?.[0]?.resource as Record<string, unknown>;
    expect(data.text).toBeUndefined();
    expect(data.photo).toEqual([{ url: 'https://example.org/p1.png' }]);
  });

  it('keeps only the listed elements plus id and meta with _elements, tagged SUBSETTED', async () => {
    const bundle = await c.search(`/Patient?_id=${ids.p1}&_elements=birthDate,gender`);
    expect(bundle.entry?.[0]?.resource).toEqual({
      resourceType: 'Patient',
      id: ids.p1,
      meta: { versionId: '1', lastUpdated: expect.any(String), tag: [SUBSETTED] },
      birthDate: '1980-01-01',
      gender: 'male',
    });
    expect((await c.get('/Patient?_elements=gender&_summary=true')).status).toBe(400);
  });

  it('never returns write-only fields', async () => {
    const created = await c.create({ resourceType: 'ClientApplication', name: 'Searchable', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic', secret: 'a-very-secret-value' });
    const bundle = await c.search(`/ClientApplication?_id=${created.id}`);
    expect(bundle.entry?.[0]?.resource).toMatchObject({ name: 'Searchable' });
    expect(bundle.entry?.[0]?.resource.secret).toBeUndefined();
    const stored = await t.storage.resources.readCurrent('search/basics', 'ClientApplication', created.id);
    const hash = stored?.resource?.secret as string;
    expect(hash.length).toBeGreaterThan(20);
    expect(JSON.stringify(bundle)).not.toContain(hash);
    expect(JSON.stringify(bundle)).not.toContain('a-very-secret-value');
  });
});

describe('capabilities', () => {
  it('advertises search, the search parameters, includes and conditional interactions', async () => {
    const res = await c.get('/metadata');
    const rest = res.body.rest[0];
    expect(rest.interaction.map((i: { code: string }) => i.code)).toEqual(expect.arrayContaining(['history-system', 'search-system']));
    expect(rest.searchParam.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['_type', '_id', '_lastUpdated']));
    const patient = rest.resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient).toMatchObject({ conditionalCreate: true, conditionalUpdate: true, conditionalDelete: 'single', conditionalRead: 'full-support' });
    expect(patient.interaction.map((i: { code: string }) => i.code)).toContain('search-type');
    expect(patient.searchParam).toEqual(expect.arrayContaining([
      { name: 'birthdate', definition: 'http://hl7.org/fhir/SearchParameter/individual-birthdate', type: 'date' },
      { name: '_id', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id', type: 'token' },
    ]));
    expect(patient.searchInclude).toEqual(expect.arrayContaining(['*', 'Patient:organization', 'Patient:general-practitioner']));
    expect(patient.searchRevInclude).toEqual(expect.arrayContaining(['Observation:subject', 'Observation:patient']));
  });
});
