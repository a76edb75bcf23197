/**
 * SMART scopes narrow what the AccessPolicies permit, on the FHIR API, with real tokens: permissions per
 * interaction (write never implies read), restricted scopes filtering searches and refusing reads, and
 * 403 `insufficient_scope` with its WWW-Authenticate challenge.
 */
import request from 'supertest';
import { FHIR, oauthPost, setupOAuth, type OAuthFixture } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
let fx: OAuthFixture;

const call = (token: string) => ({
  get: (path: string) => request(fx.t.app).get(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`),
  post: (path: string, body: object) => request(fx.t.app).post(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send(body),
  put: (path: string, body: object) => request(fx.t.app).put(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send(body),
  delete: (path: string) => request(fx.t.app).delete(`${FHIR}${path}`).set('Authorization', `Bearer ${token}`),
});

/** A client with a full-access policy whose token carries exactly `scope`. */
async function tokenWith(id: string, scope: string, granted = scope): Promise<string> {
  const secret = `${id}-secret-0123456789`;
  await fx.repo.update('ClientApplication', id, { resourceType: 'ClientApplication', id, name: id, status: 'active', grantType: ['client_credentials'], secret, scope });
  await fx.repo.update('AccessPolicy', id, { resourceType: 'AccessPolicy', id, name: id, engine: 'full-access', target: [{ link: { reference: `ClientApplication/${id}` } }] });
  const res = await oauthPost(fx.t, 'token', { grant_type: 'client_credentials' }, [id, secret]);
  expect(res.body.scope).toBe(granted);
  return res.body.access_token as string;
}

const observation = (id: string, category: string) => ({
  resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' },
  category: [{ coding: [{ system: CATEGORY, code: category }] }],
});

function expectInsufficientScope(res: request.Response): void {
  expect(res.status).toBe(403);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope"/);
  expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
}

beforeAll(async () => {
  fx = await setupOAuth();
  await fx.repo.update('Patient', 'p1', { resourceType: 'Patient', id: 'p1' });
  await fx.repo.update('Observation', 'lab-1', observation('lab-1', 'laboratory'));
  await fx.repo.update('Observation', 'lab-2', observation('lab-2', 'laboratory'));
  await fx.repo.update('Observation', 'vital-1', observation('vital-1', 'vital-signs'));
});
afterAll(async () => {
  await fx.t.close();
});

describe('scopes narrow a full-access policy', () => {
  it('r allows reads but not searches; s searches but shows nothing it could not read', async () => {
    const reader = await tokenWith('r-only', 'system/Observation.r');
    expect((await call(reader).get('/Observation/lab-1')).status).toBe(200);
    expectInsufficientScope(await call(reader).get('/Observation'));
    expectInsufficientScope(await call(reader).get('/Patient/p1'));
    const searcher = await tokenWith('s-only', 'system/Observation.s');
    const searched = await call(searcher).get('/Observation?_total=accurate');
    expect(searched.status).toBe(200);
    // Searching is allowed; seeing what matches needs `r`.
    expect(searched.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
    expect(searched.body.entry).toBeUndefined();
    expectInsufficientScope(await call(searcher).get('/Observation/lab-1'));
  });

  it('write never implies read', async () => {
    const writer = await tokenWith('c-only', 'system/Observation.c');
    const created = await call(writer).post('/Observation', observation('ignored', 'laboratory'));
    expect(created.status).toBe(201);
    expectInsufficientScope(await call(writer).get(`/Observation/${String(created.body.id)}`));
    expectInsufficientScope(await call(writer).put('/Observation/lab-1', observation('lab-1', 'laboratory')));
    expectInsufficientScope(await call(writer).delete('/Observation/lab-1'));
    const v1 = await tokenWith('v1-write', 'system/Observation.write');
    expect((await call(v1).put('/Observation/vital-1', observation('vital-1', 'vital-signs'))).status).toBe(200);
    expectInsufficientScope(await call(v1).get('/Observation/vital-1'));
  });

  it('a restricted scope filters searches and refuses reads and writes of other resources', async () => {
    const lab = await tokenWith('lab-only', `system/Observation.cruds?category=${encodeURIComponent(`${CATEGORY}|laboratory`)}`);
    const search = await call(lab).get('/Observation?_total=accurate');
    expect(search.status).toBe(200);
    const ids = (search.body.entry as Array<{ resource: { id: string } }>).map((e) => e.resource.id).sort();
    expect(ids).toEqual(expect.arrayContaining(['lab-1', 'lab-2']));
    expect(ids).not.toContain('vital-1');
    expect(search.body.total).toBe(ids.length);
    expect((await call(lab).get('/Observation/lab-1')).status).toBe(200);
    expect((await call(lab).get('/Observation/vital-1')).status).toBe(404);
    expect((await call(lab).post('/Observation', observation('ignored', 'vital-signs'))).status).toBe(403);
    expect((await call(lab).put('/Observation/lab-2', observation('lab-2', 'vital-signs'))).status).toBe(403);
    expect((await call(lab).delete('/Observation/vital-1')).status).toBe(404);
    expect((await call(lab).post('/Observation', observation('ignored', 'laboratory'))).status).toBe(201);
  });

  it('chains and _has look only at resources the token may search and read', async () => {
    const matched = (res: request.Response): string[] => (res.body.entry as Array<{ resource: { id: string } }> | undefined ?? []).map((e) => e.resource.id);
    const searchOnly = await tokenWith('patient-s-only', 'system/Observation.rs system/Patient.s');
    const full = await tokenWith('patient-rs', 'system/Observation.rs system/Patient.rs');
    // With s but no r a search of Patient returns nothing; a chain through Patient finds nothing either.
    expect(matched(await call(searchOnly).get('/Patient?_id=p1'))).toEqual([]);
    expect(matched(await call(searchOnly).get('/Observation?subject:Patient._id=p1'))).toEqual([]);
    expect(matched(await call(full).get('/Observation?subject:Patient._id=p1'))).toEqual(expect.arrayContaining(['lab-1']));
    const has = '/Patient?_has:Observation:subject:_id=lab-1';
    expect(matched(await call(await tokenWith('obs-s-only', 'system/Patient.rs system/Observation.s')).get(has))).toEqual([]);
    expect(matched(await call(await tokenWith('obs-rs', 'system/Patient.rs system/Observation.rs')).get(has))).toEqual(['p1']);
  });

  it('wildcards and v1 scopes grant what they say, and a token without resource scopes reaches nothing', async () => {
    const all = await tokenWith('star-rs', 'system/*.rs');
    expect((await call(all).get('/Patient/p1')).status).toBe(200);
    expect((await call(all).get('/Observation?_count=1')).status).toBe(200);
    expectInsufficientScope(await call(all).post('/Patient', { resourceType: 'Patient' }));
    const none = await tokenWith('no-resource-scopes', 'openid', '');
    expectInsufficientScope(await call(none).get('/Patient/p1'));
    expectInsufficientScope(await call(none).get('/'));
  });
});
