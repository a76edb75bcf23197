/**
 * One door (DESIGN §5.8): every resource in every response is one the same token could read directly, and every
 * resource a search condition looks at is one the caller may search. Each test is a concrete attack on a side
 * door, with real tokens (client_credentials clients, users through the authorization-code grant):
 * - `_include`, `_revinclude`, `:iterate` and wildcard includes judged per included resource exactly like a direct
 *   read of its type (scopes with their permissions, `patient/` compartments and restrictions; policies with deny
 *   rules); an included resource the caller may not read is left out silently;
 * - search matches need `s` for the search and `r` for each match;
 * - chains and `_has` evaluated only over resources the caller may search; `_total`/`_summary=count` counting
 *   only visible matches;
 * - `POST _search` form parameters are `%request.parameters` like query parameters;
 * - history honouring scopes like reads; batch entries; no existence oracle on writes;
 * - `$evaluate-policy` gated by the token's scopes.
 * The invariant form of the same promise is test/api/access-door.property.test.ts.
 */
import type request from 'supertest';
import {
  CATEGORY,
  type Caller,
  callerWith,
  type DoorEntry,
  type DoorFixture,
  historyVersions,
  loadDataset,
  permitType,
  searchView,
  setupDoor,
  unversioned,
} from './access-door-fixtures';

let door: DoorFixture;
const as = (token: string): Caller => callerWith(door.fx, token);

beforeAll(async () => {
  door = await setupDoor();
  await loadDataset(door);
});
afterAll(async () => {
  await door.fx.t.close();
});

const USER_SCOPES = ['openid', 'fhirUser', 'user/*.*'];
const ALL_OBS = 'Observation/obs-a-lab Observation/obs-a-vital Observation/obs-b-lab Observation/obs-b-vital'.split(' ');

function expectInsufficientScope(res: request.Response): void {
  expect({ status: res.status, code: res.body?.issue?.[0]?.code }).toEqual({ status: 403, code: 'forbidden' });
  expect(res.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope"/);
}

describe('what the caller may read is still returned', () => {
  const QUERIES = [
    '/Observation?_include=Observation:subject&_include=Observation:performer&_include=Observation:focus',
    '/Observation?_include=*&_include:iterate=Patient:organization',
    '/Observation?_include=Observation:encounter&_include:iterate=Encounter:subject',
    '/Patient?_revinclude=Observation:subject&_revinclude=Encounter:subject',
    '/Patient?_revinclude=*',
    '/Observation?subject:Patient.family=Beta&_total=accurate',
    '/Observation?encounter:Encounter.subject:Patient.gender=male&_total=accurate',
    '/Patient?_has:Observation:subject:category=laboratory&_total=accurate',
    '/Practitioner?_has:Observation:performer:subject:Patient.family=Alpha&_total=accurate',
  ];

  it('a system/*.rs client with a full-access policy gets what the admin client gets', async () => {
    const token = await door.clientToken('door-all-rs', 'system/*.rs');
    for (const query of QUERIES) {
      const expected = searchView(await door.admin.get(query), true);
      expect(expected.matches.length).toBeGreaterThan(0);
      expect({ query, ...searchView(await as(token).get(query), true) }).toEqual({ query, ...expected });
    }
  });

  it('a user permitted Observations and Patient A still sees Patient A through includes, chains and _has', async () => {
    const token = await door.userToken('door-control-obs-a', {
      scopes: USER_SCOPES,
      policies: [{ engine: 'rule-engine', rule: [permitType('Observation'), permitType('Patient', "%resource.id = 'pat-a'")] }],
    });
    const viaChain = await as(token).get('/Observation?subject:Patient.family=Alpha&_include=Observation:subject&_total=accurate');
    expect(searchView(viaChain, true)).toEqual({ status: 200, matches: ['Observation/obs-a-lab', 'Observation/obs-a-vital'], included: ['Patient/pat-a'], outcomes: [], total: 2 });
    const viaHas = await as(token).get('/Patient?_has:Observation:subject:category=laboratory&_revinclude=Observation:subject&_total=accurate');
    expect(searchView(viaHas, true)).toEqual({ status: 200, matches: ['Patient/pat-a'], included: ['Observation/obs-a-lab', 'Observation/obs-a-vital'], outcomes: [], total: 1 });
  });

  it('a restricted scope’s system history shows only the versions it can read', async () => {
    const lab = await door.clientToken('door-control-lab', 'system/Observation.rs?category=laboratory');
    const system = await as(lab).get('/_history?_count=1000');
    expect(system.status).toBe(200);
    expect(historyVersions(system.body).sort()).toEqual(['Observation/obs-a-lab/_history/1', 'Observation/obs-b-lab/_history/1']);
  });
});

describe('includes are judged like direct reads: a client scoped to Observations', () => {
  let obsOnly: string;
  beforeAll(async () => {
    obsOnly = await door.clientToken('door-obs-rs', 'system/Observation.rs');
  });

  it('may not read the Patients and the Practitioner directly', async () => {
    expectInsufficientScope(await as(obsOnly).get('/Patient/pat-a'));
    expectInsufficientScope(await as(obsOnly).get('/Patient/pat-b'));
    expectInsufficientScope(await as(obsOnly).get('/Practitioner/prac-1'));
  });

  it('gets no Patient from _include=Observation:subject', async () => {
    const res = await as(obsOnly).get('/Observation?_id=obs-a-lab,obs-b-lab&_include=Observation:subject');
    expect(searchView(res)).toEqual({ status: 200, matches: ['Observation/obs-a-lab', 'Observation/obs-b-lab'], included: [], outcomes: [] });
  });

  it('gets no Practitioner from _include=Observation:performer', async () => {
    const res = await as(obsOnly).get('/Observation?_id=obs-a-lab&_include=Observation:performer');
    expect(searchView(res)).toEqual({ status: 200, matches: ['Observation/obs-a-lab'], included: [], outcomes: [] });
  });

  it('gets nothing unreadable from wildcard includes (Observation:*, *) and :iterate', async () => {
    for (const query of [
      '_include=Observation:*',
      '_include=*',
      '_include=Observation:subject:Patient',
      '_include=Observation:encounter&_include:iterate=Encounter:subject',
      '_include:iterate=Observation:*',
      '_revinclude=*',
    ]) {
      const res = await as(obsOnly).get(`/Observation?${query}`);
      expect({ query, ...searchView(res) }).toEqual({ query, status: 200, matches: ALL_OBS, included: [], outcomes: [] });
    }
  });

  it('gets the same from a v1 system/Observation.read token', async () => {
    const v1 = await door.clientToken('door-obs-v1', 'system/Observation.read');
    const res = await as(v1).get('/Observation?_include=Observation:subject&_include=Observation:performer');
    expect(searchView(res)).toEqual({ status: 200, matches: ALL_OBS, included: [], outcomes: [] });
  });

  it('gets no Patient from a search entry of a batch', async () => {
    const res = await as(obsOnly).post('', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ request: { method: 'GET', url: 'Observation?_id=obs-a-lab&_include=Observation:subject&_include=Observation:performer' } }],
    });
    expect(res.status).toBe(200);
    const entry = (res.body.entry as DoorEntry[])[0] as DoorEntry;
    expect(entry.response?.status).toMatch(/^200/);
    const inner = (entry.resource as unknown as { entry?: DoorEntry[] }).entry ?? [];
    expect(inner.map((e) => `${e.search?.mode}:${e.resource?.resourceType}/${e.resource?.id}`)).toEqual(['match:Observation/obs-a-lab']);
  });

  it('with Encounters in scope, includes Encounters but no Patient through :iterate', async () => {
    const token = await door.clientToken('door-obs-enc', 'system/Observation.rs system/Encounter.rs');
    const res = await as(token).get('/Observation?_include=Observation:encounter&_include:iterate=Encounter:subject');
    expect(searchView(res)).toEqual({ status: 200, matches: ALL_OBS, included: ['Encounter/enc-a', 'Encounter/enc-b'], outcomes: [] });
  });
});

describe('reverse includes are judged like direct reads', () => {
  it('a client scoped to Patients gets no Observation from _revinclude', async () => {
    const token = await door.clientToken('door-pat-rs', 'system/Patient.rs');
    expectInsufficientScope(await as(token).get('/Observation/obs-a-lab'));
    for (const query of ['_revinclude=Observation:subject', '_revinclude=Observation:*', '_revinclude=*', '_revinclude:iterate=Observation:subject']) {
      const res = await as(token).get(`/Patient?_id=pat-a&${query}`);
      expect({ query, ...searchView(res) }).toEqual({ query, status: 200, matches: ['Patient/pat-a'], included: [], outcomes: [] });
    }
  });
});

describe('search needs s for the search and r for each match', () => {
  it('a system/Observation.s token gets 200 and an empty searchset, counting nothing', async () => {
    const token = await door.clientToken('door-obs-s', 'system/Observation.s');
    expect(searchView(await as(token).get('/Observation'))).toEqual({ status: 200, matches: [], included: [], outcomes: [] });
    expect(searchView(await as(token).get('/Observation?_total=accurate'), true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
    expect(searchView(await as(token).get('/Observation?_summary=count'), true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
  });

  it('Patients searchable but not readable are not included', async () => {
    const token = await door.clientToken('door-obs-rs-pat-s', 'system/Observation.rs system/Patient.s');
    expectInsufficientScope(await as(token).get('/Patient/pat-a'));
    const res = await as(token).get('/Observation?_include=Observation:subject');
    expect(searchView(res)).toEqual({ status: 200, matches: ALL_OBS, included: [], outcomes: [] });
  });

  it('a restricted Patient scope includes only the Patients it can read', async () => {
    const token = await door.clientToken('door-female', 'system/Observation.rs system/Patient.rs?gender=female');
    expect((await as(token).get('/Patient/pat-b')).status).toBe(404);
    const res = await as(token).get('/Observation?_include=Observation:subject');
    expect(searchView(res)).toEqual({ status: 200, matches: ALL_OBS, included: ['Patient/pat-a'], outcomes: [] });
  });
});

describe('includes under AccessPolicies', () => {
  it('a user permitted every Observation and only Patient A gets only A included', async () => {
    const token = await door.userToken('door-obs-and-a', {
      scopes: USER_SCOPES,
      policies: [{ engine: 'rule-engine', rule: [permitType('Observation'), permitType('Patient', "%resource.id = 'pat-a'")] }],
    });
    expect((await as(token).get('/Patient/pat-a')).status).toBe(200);
    expect((await as(token).get('/Patient/pat-b')).status).toBe(404);
    const res = await as(token).get('/Observation?_include=Observation:subject&_include=Observation:focus');
    expect(searchView(res)).toEqual({ status: 200, matches: ALL_OBS, included: ['Patient/pat-a'], outcomes: [] });
    const wildcard = await as(token).get('/Observation?_include=*');
    expect(searchView(wildcard)).toEqual({ status: 200, matches: ALL_OBS, included: ['Patient/pat-a'], outcomes: [] });
  });

  it('a deny rule hides an included Practitioner the rest of the policy permits', async () => {
    const token = await door.userToken('door-deny-prac', {
      scopes: USER_SCOPES,
      policies: [
        {
          engine: 'rule-engine',
          rule: [
            permitType('Observation'),
            permitType('Practitioner'),
            { name: 'not prac-1', effect: 'deny', target: { expression: "%request.resourceType = 'Practitioner'" }, condition: { expression: "%resource.id = 'prac-1'" } },
          ],
        },
      ],
    });
    expect((await as(token).get('/Practitioner/prac-1')).status).toBe(404);
    expect((await as(token).get('/Practitioner/prac-2')).status).toBe(200);
    const res = await as(token).get('/Observation?_include=Observation:performer');
    expect(searchView(res)).toEqual({ status: 200, matches: ALL_OBS, included: ['Practitioner/prac-2'], outcomes: [] });
  });

  it('a user permitted only Patients gets no Observation from _revinclude', async () => {
    const token = await door.userToken('door-pat-only', { scopes: USER_SCOPES, policies: [{ engine: 'rule-engine', rule: [permitType('Patient')] }] });
    expect((await as(token).get('/Observation/obs-a-lab')).status).toBe(403);
    const res = await as(token).get('/Patient?_revinclude=Observation:subject&_revinclude=Encounter:subject');
    expect(searchView(res)).toEqual({ status: 200, matches: ['Patient/pat-a', 'Patient/pat-b'], included: [], outcomes: [] });
  });

  it('a patient/*.rs token includes only resources of its patient compartment', async () => {
    const token = await door.userToken('door-patient-ctx', { scopes: ['openid', 'patient/*.rs'], role: 'admin', launchPatient: 'pat-a' });
    expect((await as(token).get('/Patient/pat-b')).status).toBe(404);
    expect((await as(token).get('/Practitioner/prac-1')).status).not.toBe(200);
    const res = await as(token).get('/Observation?_include=Observation:subject&_include=Observation:focus&_include=Observation:performer');
    expect(searchView(res)).toEqual({ status: 200, matches: ['Observation/obs-a-lab', 'Observation/obs-a-vital'], included: ['Patient/pat-a'], outcomes: [] });
    const iterate = await as(token).get('/Observation?_id=obs-a-lab&_include=Observation:encounter&_include:iterate=Encounter:subject&_include:iterate=Patient:organization');
    expect(searchView(iterate)).toEqual({ status: 200, matches: ['Observation/obs-a-lab'], included: ['Encounter/enc-a', 'Patient/pat-a'], outcomes: [] });
  });
});

describe('chains and _has see only what the caller may search', () => {
  let obsAndA: string;
  let obsOnly: string;
  let patOnly: string;
  beforeAll(async () => {
    obsAndA = await door.userToken('door-chain-obs-a', {
      scopes: USER_SCOPES,
      policies: [{ engine: 'rule-engine', rule: [permitType('Observation'), permitType('Patient', "%resource.id = 'pat-a'")] }],
    });
    obsOnly = await door.userToken('door-chain-obs', { scopes: USER_SCOPES, policies: [{ engine: 'rule-engine', rule: [permitType('Observation')] }] });
    patOnly = await door.userToken('door-chain-pat', { scopes: USER_SCOPES, policies: [{ engine: 'rule-engine', rule: [permitType('Patient')] }] });
  });

  it('a chain through a Patient the caller may not search matches nothing', async () => {
    const hidden = await as(obsAndA).get('/Observation?subject:Patient.family=Beta&_total=accurate');
    expect(searchView(hidden, true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
    const visible = await as(obsAndA).get('/Observation?subject:Patient.family=Alpha&_total=accurate');
    expect(searchView(visible, true)).toEqual({ status: 200, matches: ['Observation/obs-a-lab', 'Observation/obs-a-vital'], included: [], outcomes: [], total: 2 });
    expect(searchView(await as(obsAndA).get('/Observation?subject:Patient.family=Beta&_summary=count'), true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
    expect(searchView(await as(obsAndA).get('/Observation?patient.gender=male&_summary=count'), true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
  });

  it('an Observation-only user learns nothing about Patients or Encounters through chains', async () => {
    for (const query of ['subject:Patient.family=Beta', 'subject:Patient.family=Alpha', 'patient.identifier=urn:test:mrn|b', 'encounter.subject:Patient.family=Beta', 'performer:Practitioner.name=Hidden']) {
      const res = await as(obsOnly).get(`/Observation?${query}&_total=accurate`);
      expect({ query, ...searchView(res, true) }).toEqual({ query, status: 200, matches: [], included: [], outcomes: [], total: 0 });
    }
  });

  it('an Observation-only user gets nothing from :iterate and wildcard includes', async () => {
    for (const query of ['_include=Observation:*', '_include=*', '_include=Observation:encounter&_include:iterate=Encounter:subject', '_include=Observation:subject&_revinclude:iterate=Encounter:subject']) {
      const res = await as(obsOnly).get(`/Observation?${query}`);
      expect({ query, ...searchView(res) }).toEqual({ query, status: 200, matches: ALL_OBS, included: [], outcomes: [] });
    }
  });

  it('_has over Observations a Patient-only user may not search matches nothing, whether or not they exist', async () => {
    const existing = await as(patOnly).get('/Patient?_has:Observation:subject:_id=obs-a-lab&_total=accurate');
    const unknown = await as(patOnly).get('/Patient?_has:Observation:subject:_id=no-such-observation&_total=accurate');
    expect(searchView(unknown, true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
    expect(searchView(existing, true)).toEqual(searchView(unknown, true));
    const byCategory = await as(patOnly).get('/Patient?_has:Observation:subject:category=laboratory&_summary=count');
    expect(searchView(byCategory, true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
  });

  it('a chain through a restricted scope sees only the resources the restriction allows', async () => {
    const token = await door.clientToken('door-chain-female', 'system/Observation.rs system/Patient.rs?gender=female');
    const res = await as(token).get('/Observation?subject:Patient.family=Beta&_total=accurate');
    expect(searchView(res, true)).toEqual({ status: 200, matches: [], included: [], outcomes: [], total: 0 });
    const has = await as(token).get('/Patient?_has:Observation:subject:category=laboratory&_total=accurate');
    expect(searchView(has, true)).toEqual({ status: 200, matches: ['Patient/pat-a'], included: [], outcomes: [], total: 1 });
  });
});

describe('POST _search form parameters are %request.parameters', () => {
  const denyInclude = (condition?: string) => ({
    name: 'no includes',
    effect: 'deny',
    target: { expression: "%request.parameters.where(name = '_include').exists()" },
    ...(condition ? { condition: { expression: condition } } : {}),
  });

  it('a deny rule on _include refuses GET and POST _search alike', async () => {
    const token = await door.userToken('door-no-include', { scopes: USER_SCOPES, policies: [{ engine: 'rule-engine', rule: [{ name: 'read all' }, denyInclude()] }] });
    expect((await as(token).get('/Observation')).status).toBe(200);
    const viaGet = await as(token).get('/Observation?_include=Observation:subject');
    expect({ status: viaGet.status, code: viaGet.body.issue?.[0]?.code }).toEqual({ status: 403, code: 'forbidden' });
    const viaPost = await as(token).postForm('/Observation/_search', '_include=Observation:subject');
    expect({ status: viaPost.status, code: viaPost.body.issue?.[0]?.code }).toEqual({ status: 403, code: 'forbidden' });
    const viaSystemPost = await as(token).postForm('/_search', '_type=Observation&_include=Observation:subject');
    expect({ status: viaSystemPost.status, code: viaSystemPost.body.issue?.[0]?.code }).toEqual({ status: 403, code: 'forbidden' });
  });

  it('a deny rule on _include with a resource condition hides the same matches for GET and POST _search', async () => {
    const token = await door.userToken('door-hide-include', {
      scopes: USER_SCOPES,
      policies: [{ engine: 'rule-engine', rule: [{ name: 'read all' }, denyInclude("%resource.subject.reference = 'Patient/pat-b'")] }],
    });
    const expected = { status: 200, matches: ['Observation/obs-a-lab', 'Observation/obs-a-vital'], included: ['Patient/pat-a'], outcomes: [], total: 2 };
    const viaGet = searchView(await as(token).get('/Observation?_include=Observation:subject&_total=accurate'), true);
    expect(viaGet).toEqual(expected);
    const viaPost = searchView(await as(token).postForm('/Observation/_search', '_include=Observation:subject&_total=accurate'), true);
    expect(viaPost).toEqual(expected);
  });
});

describe('history honours scopes like reads', () => {
  let patientA: string;
  beforeAll(async () => {
    patientA = await door.userToken('door-hist-patient', { scopes: ['openid', 'patient/*.rs'], role: 'admin', launchPatient: 'pat-a' });
  });

  it('the history of Patient B is a 404, as for an unknown id', async () => {
    expect((await as(patientA).get('/Patient/pat-a/_history')).status).toBe(200);
    const other = await as(patientA).get('/Patient/pat-b/_history');
    const unknown = await as(patientA).get('/Patient/no-such-patient/_history');
    expect(unknown.status).toBe(404);
    expect({ status: other.status, body: JSON.stringify(other.body).replaceAll('pat-b', 'no-such-patient') }).toEqual({ status: 404, body: JSON.stringify(unknown.body) });
  });

  it('type and system history show no version of Patient B or of its Observations', async () => {
    const patients = await as(patientA).get('/Patient/_history?_count=100');
    expect(patients.status).toBe(200);
    expect(historyVersions(patients.body)).toEqual(['Patient/pat-a/_history/1']);
    const observations = await as(patientA).get('/Observation/_history?_count=100');
    expect(observations.status).toBe(200);
    expect(historyVersions(observations.body).sort()).toEqual(['Observation/obs-a-lab/_history/1', 'Observation/obs-a-vital/_history/1', 'Observation/obs-a-vital/_history/2']);
    const system = await as(patientA).get('/_history?_count=1000');
    expect(system.status).toBe(200);
    const seen = [...new Set(historyVersions(system.body).map(unversioned))].sort();
    expect(seen).toEqual(['Encounter/enc-a', 'Observation/obs-a-lab', 'Observation/obs-a-vital', 'Patient/pat-a']);
  });

  it('every version a history shows reads 200 with the same token', async () => {
    for (const path of ['/_history?_count=1000', '/Patient/_history', '/Observation/_history', '/Encounter/_history']) {
      const versions = historyVersions((await as(patientA).get(path)).body);
      for (const version of versions) expect({ path, version, status: (await as(patientA).get(`/${version}`)).status }).toEqual({ path, version, status: 200 });
    }
  });

  it('a restricted scope shows only laboratory Observation versions, and other instances are 404s', async () => {
    const lab = await door.clientToken('door-hist-lab', 'system/Observation.rs?category=laboratory');
    const type = await as(lab).get('/Observation/_history?_count=100');
    expect(type.status).toBe(200);
    expect(historyVersions(type.body).sort()).toEqual(['Observation/obs-a-lab/_history/1', 'Observation/obs-b-lab/_history/1']);
    expect(historyVersions((await as(lab).get('/Observation/obs-a-lab/_history')).body)).toEqual(['Observation/obs-a-lab/_history/1']);
    const vital = await as(lab).get('/Observation/obs-a-vital/_history');
    const unknown = await as(lab).get('/Observation/no-such-observation/_history');
    expect({ status: vital.status, body: JSON.stringify(vital.body).replaceAll('obs-a-vital', 'no-such-observation') }).toEqual({ status: 404, body: JSON.stringify(unknown.body) });
    const userLab = await door.userToken('door-hist-user-lab', { scopes: ['openid', `user/Observation.rs?category=${encodeURIComponent(`${CATEGORY}|laboratory`)}`], role: 'admin' });
    expect((await as(userLab).get('/Observation/obs-a-lab')).status).toBe(200);
    expect((await as(userLab).get('/Observation/obs-b-vital')).status).toBe(404);
    expect(historyVersions((await as(userLab).get('/Observation/_history?_count=100')).body).sort()).toEqual(['Observation/obs-a-lab/_history/1', 'Observation/obs-b-lab/_history/1']);
    expect((await as(userLab).get('/Observation/obs-b-vital/_history')).status).toBe(404);
  });
});

describe('no existence oracle on writes', () => {
  const patientBody = (id: string) => ({ resourceType: 'Patient', id, gender: 'male', name: [{ family: 'Overwritten' }] });
  const outcome = (res: request.Response) => ({ status: res.status, code: res.body?.issue?.[0]?.code as unknown });

  async function expectNothingWritten(): Promise<void> {
    const b = await door.admin.get('/Patient/pat-b');
    expect({ version: b.body.meta.versionId, family: b.body.name[0].family }).toEqual({ version: '2', family: 'Beta' });
    for (const id of ['no-such-patient', 'no-such-patient-2']) expect((await door.admin.get(`/Patient/${id}`)).status).toBe(404);
  }

  const unreadablePatientB: Array<[string, () => Promise<string>]> = [
    [
      'policies, no create',
      () => door.userToken('door-put-policy', { scopes: USER_SCOPES, policies: [{ engine: 'rule-engine', rule: [permitType('Patient', "%resource.id = 'pat-a'")] }] }),
    ],
    ['a restricted scope, no c', () => door.clientToken('door-put-scope', 'system/Patient.rus?gender=female')],
  ];
  it.each(unreadablePatientB)('PUT of an unreadable Patient answers as for an unknown id (%s)', async (_label, tokenFor) => {
    const token = await tokenFor();
    expect((await as(token).get('/Patient/pat-b')).status).toBe(404);
    const existing = await as(token).put('/Patient/pat-b', patientBody('pat-b'));
    const unknown = await as(token).put('/Patient/no-such-patient', patientBody('no-such-patient'));
    expect(existing.status).toBeGreaterThanOrEqual(400);
    expect(outcome(existing)).toEqual(outcome(unknown));
    await expectNothingWritten();
  });

  it('a conditional update whose body names an unreadable Patient answers as for an unknown id', async () => {
    const token = await door.userToken('door-cond-put', {
      scopes: USER_SCOPES,
      policies: [{ engine: 'rule-engine', rule: [permitType('Patient', "%resource.id = 'pat-a'")] }],
    });
    const criteria = `/Patient?identifier=${encodeURIComponent('urn:test:mrn|nothing-matches')}`;
    const existing = await as(token).put(criteria, patientBody('pat-b'));
    const unknown = await as(token).put(criteria, patientBody('no-such-patient-2'));
    expect(existing.status).toBeGreaterThanOrEqual(400);
    expect(outcome(existing)).toEqual(outcome(unknown));
    await expectNothingWritten();
  });
});

describe('$evaluate-policy is gated by the token scopes', () => {
  const body = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'principal', valueReference: { reference: 'Membership/door-chain-obs' } },
      { name: 'method', valueCode: 'GET' },
      { name: 'url', valueString: 'Patient/pat-a' },
    ],
  };

  it('an owner with only patient/*.rs gets 403 insufficient_scope; the admin client gets 200', async () => {
    const owner = await door.userToken('door-owner', { scopes: ['openid', 'launch', 'patient/*.rs'], role: 'owner', launchPatient: 'pat-a' });
    expect((await as(owner).get('/Patient/pat-a')).status).toBe(200);
    expectInsufficientScope(await as(owner).post('/$evaluate-policy', body));
    // Reading every AccessPolicy is not enough: the decision depends on the Patient, which the token may not read.
    const policyReader = await door.userToken('door-owner', { scopes: ['openid', 'user/AccessPolicy.rs', 'user/Membership.rs'], role: 'owner' });
    expect((await as(policyReader).get('/Patient/pat-a')).status).toBe(403);
    expectInsufficientScope(await as(policyReader).post('/$evaluate-policy', body));
    const everything = await door.userToken('door-owner', { scopes: ['openid', 'user/*.rs'], role: 'owner' });
    expect((await as(everything).post('/$evaluate-policy', body)).status).toBe(200);
    const admin = await door.admin.post('/$evaluate-policy', body);
    expect(admin.status).toBe(200);
    expect(admin.body.resourceType).toBe('Parameters');
  });
});
