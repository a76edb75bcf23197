/**
 * AccessPolicies enforced on the FHIR API with real tokens: the worked examples of docs/access-policies.md,
 * 404 versus 403, filtered searches with full pages, history, includes, Bundles, conditional interactions,
 * policy edits taking effect on the next request, and the guards on auth resources.
 */
import request from 'supertest';
import { codeTokens, FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
let fx: OAuthFixture;
let admin: string;

type Json = Record<string, unknown>;

const as = (token: string) => ({
  get: (path: string) => request(fx.t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`),
  post: (path: string, body: unknown) => request(fx.t.app).post(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send(body as object),
  put: (path: string, body: unknown) => request(fx.t.app).put(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send(body as object),
  patch: (path: string, body: unknown) =>
    request(fx.t.app).patch(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json-patch+json').send(body as object),
  delete: (path: string) => request(fx.t.app).delete(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`),
});

async function put(resource: Json): Promise<Json> {
  const res = await as(admin).put(`/${String(resource.resourceType)}/${String(resource.id)}`, resource);
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Json;
}

/** A user with a Membership (optionally linked) and a token obtained through the token endpoint. */
async function userToken(id: string, link?: string): Promise<string> {
  await put({ resourceType: 'User', id, email: `${id}@example.test`, role: 'member', password: `password of ${id}!` });
  await put({ resourceType: 'Membership', id, user: { reference: `User/${id}` }, active: true, ...(link ? { link: { reference: link } } : {}) });
  return (await codeTokens(fx, { userId: id, membershipId: id })).access_token as string;
}

/** A client_credentials client and its token. */
async function clientToken(id: string): Promise<string> {
  const secret = `${id}-secret-0123456789`;
  await put({ resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], secret, scope: 'system/*.cruds' });
  return (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, [id, secret])).body.access_token as string;
}

const policy = (id: string, target: string, rule: Json[], attribute?: Json[]): Json => ({
  resourceType: 'AccessPolicy',
  id,
  name: id,
  engine: 'rule-engine',
  target: [{ link: { reference: target } }],
  rule,
  ...(attribute ? { attribute } : {}),
});

const ids = (bundle: { entry?: Array<{ resource: Json; search?: { mode: string } }> }, mode = 'match'): string[] =>
  (bundle.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => `${String(e.resource.resourceType)}/${String(e.resource.id)}`);

const observation = (id: string, patient: string, extra: Json = {}): Json => ({
  resourceType: 'Observation', id, status: 'final', code: { text: 'weight' }, subject: { reference: `Patient/${patient}` }, ...extra,
});

const READS = "%request.interaction in ('read' | 'vread' | 'search-type' | 'search-system' | 'history-instance' | 'history-type' | 'history-system')";

beforeAll(async () => {
  fx = await setupOAuth();
  admin = (await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, ['admin-cli', 'admin-client-secret-for-tests'])).body.access_token as string;
  for (const id of ['ada', 'bob']) await put({ resourceType: 'Patient', id, name: [{ family: id }], identifier: [{ system: 'urn:test:mrn', value: id }] });
  // Interleaved ids so that filtering must skip across page boundaries.
  for (let i = 0; i < 12; i++) {
    const n = String(i).padStart(2, '0');
    await put(observation(`o${n}-ada`, 'ada', { focus: [{ reference: 'Patient/bob' }] }));
    await put(observation(`o${n}-bob`, 'bob'));
  }
});
afterAll(async () => {
  await fx.t.close();
});

describe('worked example 1: a patient sees only their own compartment', () => {
  let ada: string;
  beforeAll(async () => {
    ada = await userToken('ada-user', 'Patient/ada');
    await put(
      policy('patient-compartment', 'Membership/ada-user', [
        {
          name: 'read own compartment',
          target: { expression: READS },
          condition: {
            expression:
              "(%resource.resourceType = 'Patient' and %resource.id = %fhirUser.id) or %resource.subject.reference = 'Patient/' + %fhirUser.id",
          },
        },
        {
          name: 'update own demographics',
          target: { expression: "%request.resourceType = 'Patient' and %request.interaction in ('update' | 'patch')" },
          condition: { expression: '%before.id = %fhirUser.id and %resource.id = %fhirUser.id and %resource.deceased.exists().not()' },
        },
      ]),
    );
  });

  it('reads its own Patient and Observations; another patient is a 404, as if it did not exist', async () => {
    expect((await as(ada).get('/Patient/ada')).status).toBe(200);
    expect((await as(ada).get('/Observation/o00-ada')).status).toBe(200);
    const other = await as(ada).get('/Patient/bob');
    expect(other.status).toBe(404);
    const unknown = await as(ada).get('/Patient/nobody');
    expect(JSON.stringify(other.body).replaceAll('bob', 'nobody')).toBe(JSON.stringify(unknown.body));
    expect((await as(ada).get('/Observation/o00-bob')).status).toBe(404);
    expect((await as(ada).get('/Observation/o00-bob/_history/1')).status).toBe(404);
    expect((await as(ada).get('/Observation/o00-bob/_history')).status).toBe(404);
  });

  it('searches only its own resources, with every page full and no entry twice', async () => {
    const seen: string[] = [];
    let url: string | undefined = '/Observation?_count=5';
    const sizes: number[] = [];
    while (url) {
      const res = await as(ada).get(url);
      expect(res.status).toBe(200);
      expect(res.body.total).toBeUndefined();
      sizes.push(ids(res.body).length);
      seen.push(...ids(res.body));
      const next = (res.body.link as Array<{ relation: string; url: string }>).find((l) => l.relation === 'next')?.url;
      url = next ? next.slice(next.indexOf('/Observation')) : undefined;
    }
    expect(sizes).toEqual([5, 5, 2]);
    expect(new Set(seen).size).toBe(12);
    expect(seen.every((id) => id.endsWith('-ada'))).toBe(true);
    const counted = await as(ada).get('/Observation?_total=accurate&_count=1');
    expect(counted.body.total).toBe(12);
    expect((await as(ada).get('/Observation?_summary=count')).body.total).toBe(12);
    expect(ids((await as(ada).get('/Patient')).body)).toEqual(['Patient/ada']);
  });

  it('compartment search, includes and history show only what it may see', async () => {
    const compartment = await as(ada).get('/Patient/bob/Observation');
    expect(compartment.status).toBe(200);
    expect(ids(compartment.body)).toEqual([]);
    expect(ids((await as(ada).get('/Patient/ada/Observation?_count=50')).body)).toHaveLength(12);
    const everything = ids((await as(ada).get('/Patient/ada/*?_count=100')).body);
    expect(everything).toContain('Observation/o00-ada');
    expect(everything.every((id) => id.endsWith('-ada') || id === 'Patient/ada')).toBe(true);
    expect(ids((await as(ada).get('/Patient/bob/*')).body)).toEqual([]);
    const included = await as(ada).get('/Observation?_id=o00-ada&_include=Observation:subject&_include=Observation:focus');
    expect(ids(included.body)).toEqual(['Observation/o00-ada']);
    expect(ids(included.body, 'include')).toEqual(['Patient/ada']);
    const history = await as(ada).get('/Observation/_history?_count=50');
    expect(history.status).toBe(200);
    const versions = (history.body.entry as Array<{ resource: Json }>).map((e) => String(e.resource.id));
    expect(versions).toHaveLength(12);
    expect(versions.every((id) => id.endsWith('-ada'))).toBe(true);
    expect(history.body.total).toBeUndefined();
  });

  it('updates its own Patient; a write to another patient is answered as for an unknown id, a create is a 403, and they change nothing', async () => {
    const own = await as(ada).put('/Patient/ada', { resourceType: 'Patient', id: 'ada', name: [{ family: 'ada', given: ['Augusta'] }], identifier: [{ system: 'urn:test:mrn', value: 'ada' }] });
    expect(own.status).toBe(200);
    const before = await as(admin).get('/Patient/bob');
    // A PUT to bob's id gets exactly what a PUT to an id never used gets (the create it would be is refused).
    const hidden = await as(ada).put('/Patient/bob', { resourceType: 'Patient', id: 'bob', name: [{ family: 'changed' }] });
    const unknown = await as(ada).put('/Patient/nobody-here', { resourceType: 'Patient', id: 'nobody-here', name: [{ family: 'changed' }] });
    expect(hidden.status).toBe(403);
    expect(hidden.body).toEqual(unknown.body);
    expect((await as(admin).get('/Patient/nobody-here')).status).toBe(404);
    expect((await as(ada).patch('/Patient/bob', [{ op: 'replace', path: '/name/0/family', value: 'x' }])).status).toBe(404);
    // No rule permits a delete at all: refused on the type, whatever the resource.
    expect((await as(ada).delete('/Patient/bob')).status).toBe(403);
    const created = await as(ada).post('/Observation', observation('ignored', 'ada'));
    expect(created.status).toBe(403);
    expect(created.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
    expect((await as(ada).delete('/Patient/ada')).status).toBe(403);
    // Its own Patient is visible: a refused update of it is a 403.
    expect((await as(ada).patch('/Patient/ada', [{ op: 'add', path: '/deceasedBoolean', value: true }])).status).toBe(403);
    // Updates and patches the rule permits.
    expect((await as(ada).put('/Patient/ada', { resourceType: 'Patient', id: 'ada', name: [{ family: 'renamed' }], identifier: [{ system: 'urn:test:mrn', value: 'ada' }] })).status).toBe(200);
    expect((await as(ada).patch('/Patient/ada', [{ op: 'add', path: '/active', value: true }])).status).toBe(200);
    const after = await as(admin).get('/Patient/bob');
    expect(after.body.meta.versionId).toBe(before.body.meta.versionId);
    expect((await as(admin).get('/Patient/ada')).status).toBe(200);
  });

  it('judges each entry of a batch, and fails a transaction with a refused entry as a whole', async () => {
    const batch = await as(ada).post('', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: 'Patient/ada' } },
        { request: { method: 'GET', url: 'Patient/bob' } },
        { request: { method: 'POST', url: 'Observation' }, resource: observation('x', 'ada') },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.body.entry.map((e: { response: { status: string } }) => e.response.status.slice(0, 3))).toEqual(['200', '404', '403']);
    const transaction = await as(ada).post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'PUT', url: 'Patient/ada' }, resource: { resourceType: 'Patient', id: 'ada', name: [{ family: 'in-transaction' }] } },
        { request: { method: 'POST', url: 'Observation' }, resource: observation('y', 'ada') },
      ],
    });
    expect(transaction.status).toBe(403);
    expect((await as(admin).get('/Patient/ada')).body.name[0].family).not.toBe('in-transaction');
  });

  it('conditional interactions match only resources it may see', async () => {
    // bob's identifier matches nothing visible: the update would create a Patient, which the policy refuses.
    const update = await as(ada).put('/Patient?identifier=urn:test:mrn|bob', { resourceType: 'Patient', name: [{ family: 'x' }] });
    expect(update.status).toBe(403);
    const own = await as(ada).put('/Patient?identifier=urn:test:mrn|ada', { resourceType: 'Patient', id: 'ada', identifier: [{ system: 'urn:test:mrn', value: 'ada' }] });
    expect(own.status).toBe(200);
  });

  it('is judged by the new version of its policy on the very next request, with the same token', async () => {
    expect((await as(ada).get('/Observation/o01-ada')).status).toBe(200);
    const current = (await as(admin).get('/AccessPolicy/patient-compartment')).body as Json;
    await put({ ...current, rule: [...(current.rule as Json[]), { name: 'hide o01', effect: 'deny', target: { expression: "%resource.id = 'o01-ada'" } }] });
    expect((await as(ada).get('/Observation/o01-ada')).status).toBe(404);
    await put({ ...current });
    expect((await as(ada).get('/Observation/o01-ada')).status).toBe(200);
  });

  it('may not use $evaluate-policy', async () => {
    const res = await as(ada).post('/$evaluate-policy', { resourceType: 'Parameters', parameter: [] });
    expect(res.status).toBe(403);
  });
});

describe('worked example 2: a practitioner sees the patients of their organization (an attribute)', () => {
  it('lists and reads only patients managed by an organization of its PractitionerRoles', async () => {
    await put({ resourceType: 'Organization', id: 'org-north', name: 'North' });
    await put({ resourceType: 'Organization', id: 'org-south', name: 'South' });
    await put({ resourceType: 'Practitioner', id: 'dr-who' });
    await put({ resourceType: 'PractitionerRole', id: 'dr-who-north', practitioner: { reference: 'Practitioner/dr-who' }, organization: { reference: 'Organization/org-north' } });
    await put({ resourceType: 'Patient', id: 'north-1', managingOrganization: { reference: 'Organization/org-north' } });
    await put({ resourceType: 'Patient', id: 'north-2', managingOrganization: { reference: 'Organization/org-north' } });
    await put({ resourceType: 'Patient', id: 'south-1', managingOrganization: { reference: 'Organization/org-south' } });
    const dr = await userToken('dr-who-user', 'Practitioner/dr-who');
    await put(
      policy(
        'practitioner-organization',
        'Membership/dr-who-user',
        [
          {
            name: 'patients of my organizations',
            target: { expression: "%request.resourceType = 'Patient' and %request.interaction in ('read' | 'search-type')" },
            condition: { expression: '%resource.managingOrganization.reference in %roles.organization.reference' },
          },
        ],
        [{ attributeId: 'roles', operation: { type: 'search-type', path: "'PractitionerRole'", params: "'practitioner=Practitioner/' + %fhirUser.id" } }],
      ),
    );
    const search = await as(dr).get('/Patient?_count=2&_total=accurate');
    expect(search.status).toBe(200);
    expect(search.body.total).toBe(2);
    expect(ids(search.body).sort()).toEqual(['Patient/north-1', 'Patient/north-2']);
    expect((await as(dr).get('/Patient/north-1')).status).toBe(200);
    expect((await as(dr).get('/Patient/south-1')).status).toBe(404);
    // No rule for Observations: refused on the type, whatever the resource.
    expect((await as(dr).get('/Observation')).status).toBe(403);
  });
});

describe('worked example 3: a deny rule hides Observations carrying a security label', () => {
  it('hides labelled Observations from reads, searches and counts', async () => {
    await put(observation('labelled', 'ada', { meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] } }));
    const reader = await userToken('obs-reader', undefined);
    await put(
      policy('observations-unless-restricted', 'Membership/obs-reader', [
        { name: 'read observations', target: { expression: `%request.resourceType = 'Observation' and ${READS}` } },
        { name: 'restricted', effect: 'deny', target: { expression: "%resource.meta.security.where(code = 'R').exists()" } },
      ]),
    );
    expect((await as(reader).get('/Observation/labelled')).status).toBe(404);
    expect((await as(reader).get('/Observation/o00-ada')).status).toBe(200);
    const all = await as(reader).get('/Observation?_count=100&_total=accurate');
    expect(all.body.total).toBe(24);
    expect(ids(all.body)).not.toContain('Observation/labelled');
    expect((await as(admin).get('/Observation?_count=0&_total=accurate')).body.total).toBe(25);
  });
});

describe('worked example 4: a backend client may only create Observations', () => {
  it('creates Observations and nothing else; it cannot read what it wrote', async () => {
    const device = await clientToken('device-gateway');
    await put(
      policy('gateway-create-observations', 'ClientApplication/device-gateway', [
        { name: 'create observations', target: { expression: "%request.interaction = 'create' and %request.resourceType = 'Observation'" } },
      ]),
    );
    const created = await as(device).post('/Observation', observation('ignored', 'ada'));
    expect(created.status).toBe(201);
    expect((await as(device).post('/Patient', { resourceType: 'Patient' })).status).toBe(403);
    expect((await as(device).get(`/Observation/${String(created.body.id)}`)).status).toBe(403);
    expect((await as(device).get('/Observation')).status).toBe(403);
    expect((await as(device).put('/Observation/o00-ada', observation('o00-ada', 'ada'))).status).toBe(403);
  });
});

describe('worked example 5: a read-only auditor searches everything and writes nothing', () => {
  it('reads, searches and reads history of every type, and every write is a 403', async () => {
    const auditor = await userToken('auditor', undefined);
    await put(policy('auditor-read-only', 'Membership/auditor', [{ name: 'read anything', target: { expression: READS } }]));
    expect((await as(auditor).get('/Patient/bob')).status).toBe(200);
    expect(ids((await as(auditor).get('/Observation?_count=100')).body).length).toBeGreaterThanOrEqual(24);
    expect((await as(auditor).get('/?_type=Patient,Observation&_count=5')).status).toBe(200);
    expect((await as(auditor).get('/_history?_count=5')).status).toBe(200);
    expect((await as(auditor).get('/AccessPolicy')).status).toBe(200);
    expect((await as(auditor).put('/Patient/bob', { resourceType: 'Patient', id: 'bob' })).status).toBe(403);
    expect((await as(auditor).post('/Patient', { resourceType: 'Patient' })).status).toBe(403);
    expect((await as(auditor).delete('/Observation/o00-bob')).status).toBe(403);
    expect((await as(admin).get('/Observation/o00-bob')).status).toBe(200);
  });
});

describe('auth resources', () => {
  let manager: string;
  let managerUserId: string;
  beforeAll(async () => {
    managerUserId = 'user-manager';
    manager = await userToken(managerUserId, undefined);
    await put(
      policy('user-manager', `Membership/${managerUserId}`, [
        { name: 'manage users', target: { expression: "%request.resourceType in ('User' | 'Membership' | 'AccessPolicy')" } },
      ]),
    );
  });

  it('lets a member whose policy permits it manage other members', async () => {
    const created = await as(manager).post('/User', { resourceType: 'User', email: 'new-member@example.test', role: 'member', password: 'another long password' });
    expect(created.status).toBe(201);
    expect(created.body.password).toBeUndefined();
  });

  it('never lets a member raise a role, write its own User or Membership, or attach a policy to itself', async () => {
    const own = (await as(admin).get(`/User/${managerUserId}`)).body as Json;
    const raise = await as(manager).put(`/User/${managerUserId}`, { ...own, role: 'admin' });
    expect(raise.status).toBe(403);
    expect(raise.body.issue[0].diagnostics).toMatch(/owner and admin roles/);
    expect((await as(manager).patch(`/User/${managerUserId}`, [{ op: 'add', path: '/name', value: { text: 'me' } }])).status).toBe(403);
    expect((await as(manager).post('/User', { resourceType: 'User', email: 'sidekick@example.test', role: 'admin', password: 'another long password' })).status).toBe(403);
    const membership = (await as(admin).get(`/Membership/${managerUserId}`)).body as Json;
    expect((await as(manager).put(`/Membership/${managerUserId}`, { ...membership, link: { reference: 'Patient/bob' } })).status).toBe(403);
    expect((await as(manager).post('/Membership', { resourceType: 'Membership', user: { reference: `User/${managerUserId}` }, active: true })).status).toBe(403);
    const selfPolicy = policy('self-grant', `Membership/${managerUserId}`, [{ name: 'everything' }]);
    expect((await as(manager).put('/AccessPolicy/self-grant', selfPolicy)).status).toBe(403);
    expect((await as(manager).put('/AccessPolicy/user-manager', { ...selfPolicy, id: 'user-manager' })).status).toBe(403);
    expect((await as(admin).get(`/User/${managerUserId}`)).body.role).toBe('member');
    expect((await as(admin).get('/AccessPolicy/self-grant')).status).toBe(404);
  });

  it('refuses auth-resource writes to members without a policy for them', async () => {
    const plain = await userToken('plain-member', undefined);
    await put(policy('plain-member-reads-patients', 'Membership/plain-member', [{ target: { expression: "%request.resourceType = 'Patient'" } }]));
    const res = await as(plain).post('/ClientApplication', { resourceType: 'ClientApplication', name: 'sneaky', grantType: ['client_credentials'], secret: 'a sneaky secret 12345' });
    expect(res.status).toBe(403);
    expect((await as(plain).get('/User')).status).toBe(403);
  });
});
