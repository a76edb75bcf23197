/**
 * Projects through the API (docs/projects.md): the Project resource of the system project creates, lists,
 * renames, deactivates and reactivates projects; who may is decided by the system project's access layer.
 */
import request from 'supertest';
import { buildTestApp, clientCredentialsToken, type TestApp } from '../helpers/build-test-app';
import { reconcileProjectResources } from '../../src/tenancy/provision';
import { authorizeQuery, Browser, pkce, putUser, submitLogin, validParams } from '../oauth/authorize-helpers';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const fhirOf = (tenant: string, name: string): string => `/w/${tenant}/${name}/api/v1/fhir/r4`;

async function createProject(body: Record<string, unknown>, token = t.adminToken): Promise<request.Response> {
  return request(t.app).post(`${t.base}/Project`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Project', ...body });
}

function expectOutcome(res: request.Response, status: number, expression?: string): void {
  expect(res.status).toBe(status);
  expect(res.body.resourceType).toBe('OperationOutcome');
  if (expression) expect(res.body.issue[0].expression).toContain(expression);
}

describe('Project resources', () => {
  it('describes the system project itself', async () => {
    const res = await t.api.get(`${t.base}/Project?tenant=default&name=default`);
    expect(res.status).toBe(200);
    expect(res.body.entry).toHaveLength(1);
    expect(res.body.entry[0].resource).toMatchObject({ resourceType: 'Project', tenant: 'default', name: 'default', status: 'active' });
  });

  it('creates a project with its key, owner, policy, the creating client and a seed bundle', async () => {
    const created = await createProject({ tenant: 'acme', name: 'clinic', title: 'Acme Clinic', seed: 'demo' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ tenant: 'acme', name: 'clinic', title: 'Acme Clinic' });
    const base = fhirOf('acme', 'clinic');
    expect((await request(t.app).get(`${base}/metadata`)).status).toBe(200);
    expect((await request(t.app).get('/w/acme/clinic/api/v1/oauth/jwks')).body.keys).toHaveLength(1);
    // The client that created it works there with the same credentials.
    const token = await clientCredentialsToken(t.app, 'acme', 'clinic', t.config.adminClientId, t.config.adminClientSecret as string);
    const owner = await request(t.app).get(`${base}/User/owner`).set('Authorization', `Bearer ${token}`);
    expect(owner.status).toBe(200);
    expect(owner.body).toMatchObject({ email: t.config.adminEmail, role: 'owner' });
    expect(owner.body.password).toBeUndefined();
    const policy = await request(t.app).get(`${base}/AccessPolicy/admin-full-access`).set('Authorization', `Bearer ${token}`);
    expect(policy.body.target.map((x: { link: { reference: string } }) => x.link.reference)).toEqual(['Membership/owner', `ClientApplication/${t.config.adminClientId}`]);
    const patients = await request(t.app).get(`${base}/Patient?_summary=count`).set('Authorization', `Bearer ${token}`);
    expect(patients.body.total).toBeGreaterThan(0);
    // Listed by search.
    const listed = await t.api.get(`${t.base}/Project?tenant=acme`);
    expect(listed.body.entry.map((e: { resource: { name: string } }) => e.resource.name)).toEqual(['clinic']);
  });

  it('copies the named owner, who signs in there with the same credentials as the owner', async () => {
    const alice = await putUser(t, 'alice');
    const created = await createProject({ tenant: 'acme', name: 'alices', owner: { reference: 'User/alice' } });
    expect(created.status).toBe(201);
    const token = await clientCredentialsToken(t.app, 'acme', 'alices', t.config.adminClientId, t.config.adminClientSecret as string);
    const base = fhirOf('acme', 'alices');
    const owner = await request(t.app).get(`${base}/User/owner`).set('Authorization', `Bearer ${token}`);
    expect(owner.body).toMatchObject({ email: alice.email, role: 'owner' });
    await request(t.app).put(`${base}/ClientApplication/app`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send({
      resourceType: 'ClientApplication',
      id: 'app',
      name: 'App',
      grantType: ['authorization_code'],
      tokenEndpointAuthMethod: 'none',
      redirectUri: ['https://app.example/callback'],
      scope: 'openid user/*.rs',
      consentRequired: false,
    }).expect(201);
    const browser = new Browser(t.app);
    const oauth = '/w/acme/alices/api/v1/oauth';
    const start = await browser.get(authorizeQuery(validParams(pkce().challenge, { scope: 'openid user/Patient.rs', aud: `${t.config.publicUrl}${base}` })).replace('/w/default/default/api/v1/oauth', oauth));
    const signedIn = await submitLogin(browser, start, alice);
    expect(signedIn.status).toBe(303);
    expect(String(signedIn.headers.location)).toMatch(/^https:\/\/app\.example\/callback\?code=/);
  });

  it('refuses a duplicate tenant/name with 409', async () => {
    await createProject({ tenant: 'dup', name: 'one' });
    const again = await createProject({ tenant: 'dup', name: 'one', title: 'again' });
    expectOutcome(again, 409);
    expect(again.body.issue[0].diagnostics).toContain('dup/one already exists');
  });

  it('refuses bad slugs, unknown seeds and owners with a 400 naming the element', async () => {
    expectOutcome(await createProject({ tenant: 'Acme', name: 'x' }), 400, 'Project.tenant');
    expectOutcome(await createProject({ tenant: 'acme', name: '-x' }), 400, 'Project.name');
    expectOutcome(await createProject({ tenant: 'acme', name: 'a'.repeat(64) }), 400, 'Project.name');
    expectOutcome(await createProject({ tenant: 'acme', name: 'seeded', seed: 'nope' }), 400, 'Project.seed');
    expectOutcome(await createProject({ tenant: 'acme', name: 'seeded', seed: '../seed/demo' }), 400, 'Project.seed');
    expectOutcome(await createProject({ tenant: 'acme', name: 'owned', owner: { reference: 'User/nobody' } }), 400, 'Project.owner');
    expectOutcome(await createProject({ name: 'x' }), 400);
    expect((await t.api.get(`${t.base}/Project?name=seeded`)).body.entry ?? []).toHaveLength(0);
    expect((await request(t.app).get(`${fhirOf('acme', 'seeded')}/metadata`)).status).toBe(404);
  });

  it('keeps tenant and name fixed; renaming changes the title', async () => {
    const created = await createProject({ tenant: 'fixed', name: 'one' });
    const id = created.body.id as string;
    const moved = await t.api.put(`${t.base}/Project/${id}`).set('Content-Type', FHIR_JSON).send({ ...created.body, tenant: 'other' });
    expectOutcome(moved, 400, 'Project.tenant');
    const patched = await t.api.patch(`${t.base}/Project/${id}`).set('Content-Type', 'application/json-patch+json').send([{ op: 'replace', path: '/name', value: 'two' }]);
    expectOutcome(patched, 400, 'Project.name');
    const renamed = await t.api.put(`${t.base}/Project/${id}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Project', id, tenant: 'fixed', name: 'one', title: 'Renamed' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.title).toBe('Renamed');
    expect(renamed.body.owner).toEqual(created.body.owner);
  });

  it('is created only in the system project (403 elsewhere), one at a time, and never deleted', async () => {
    await createProject({ tenant: 'acme', name: 'elsewhere' });
    const token = await clientCredentialsToken(t.app, 'acme', 'elsewhere', t.config.adminClientId, t.config.adminClientSecret as string);
    const res = await request(t.app).post(`${fhirOf('acme', 'elsewhere')}/Project`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Project', tenant: 'acme', name: 'nested' });
    expectOutcome(res, 403);
    expect(res.body.issue[0].diagnostics).toContain('system project');
    const inBundle = await t.api.post(t.base).set('Content-Type', FHIR_JSON).send({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ request: { method: 'POST', url: 'Project' }, resource: { resourceType: 'Project', tenant: 'acme', name: 'batched' } }],
    });
    expect(inBundle.status).toBe(200);
    expect(inBundle.body.entry[0].response.status).toMatch(/^400/);
    const found = await t.api.get(`${t.base}/Project?name=elsewhere`);
    const deleted = await t.api.delete(`${t.base}/Project/${found.body.entry[0].resource.id}`);
    expectOutcome(deleted, 405);
  });

  it('deactivates a project: its URLs answer 404 and its tokens stop working; reactivation restores them', async () => {
    const created = await createProject({ tenant: 'sleepy', name: 'app' });
    const base = fhirOf('sleepy', 'app');
    const token = await clientCredentialsToken(t.app, 'sleepy', 'app', t.config.adminClientId, t.config.adminClientSecret as string);
    expect((await request(t.app).get(`${base}/Patient`).set('Authorization', `Bearer ${token}`)).status).toBe(200);

    const off = await t.api.put(`${t.base}/Project/${created.body.id}`).set('Content-Type', FHIR_JSON).send({ ...created.body, status: 'inactive' });
    expect(off.status).toBe(200);
    const read = await request(t.app).get(`${base}/Patient`).set('Authorization', `Bearer ${token}`);
    expectOutcome(read, 404);
    expect(JSON.stringify(read.body)).not.toContain('Bundle');
    expectOutcome(await request(t.app).get(`${base}/metadata`), 404);
    for (const path of ['/w/sleepy/app/.well-known/openid-configuration', '/.well-known/openid-configuration/w/sleepy/app', '/w/sleepy/app/api/v1/oauth/jwks']) {
      expect((await request(t.app).get(path)).status).toBe(404);
    }
    const tokenAttempt = await request(t.app).post('/w/sleepy/app/api/v1/oauth/token').auth(t.config.adminClientId, t.config.adminClientSecret as string).type('form').send({ grant_type: 'client_credentials' });
    expect(tokenAttempt.status).toBe(404);
    expect(tokenAttempt.body.access_token).toBeUndefined();

    const on = await t.api.patch(`${t.base}/Project/${created.body.id}`).set('Content-Type', 'application/json-patch+json').send([{ op: 'replace', path: '/status', value: 'active' }]);
    expect(on.status).toBe(200);
    expect((await request(t.app).get(`${base}/Patient`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });

  it('never deactivates the system project', async () => {
    const system = (await t.api.get(`${t.base}/Project?tenant=default&name=default`)).body.entry[0].resource;
    const res = await t.api.put(`${t.base}/Project/${system.id}`).set('Content-Type', FHIR_JSON).send({ ...system, status: 'inactive' });
    expectOutcome(res, 400, 'Project.status');
    expect((await t.api.get(`${t.base}/Patient`)).status).toBe(200);
  });

  it('gives projects made without a Project resource one at start, which then switches them off and on', async () => {
    await t.authorize('legacy', 'one');
    expect((await t.api.get(`${t.base}/Project?tenant=legacy`)).body.entry ?? []).toHaveLength(0);
    expect(await reconcileProjectResources(t.config, t.storage.resources, t.projects)).toBe(1);
    expect(await reconcileProjectResources(t.config, t.storage.resources, t.projects)).toBe(0);
    const listed = (await t.api.get(`${t.base}/Project?tenant=legacy`)).body.entry;
    expect(listed).toHaveLength(1);
    const project = listed[0].resource;
    expect(project).toMatchObject({ tenant: 'legacy', name: 'one', status: 'active' });
    expect((await t.api.get(`${fhirOf('legacy', 'one')}/Patient`)).status).toBe(200);
    await t.api.put(`${t.base}/Project/${project.id}`).set('Content-Type', FHIR_JSON).send({ ...project, status: 'inactive' }).expect(200);
    expect((await t.api.get(`${fhirOf('legacy', 'one')}/Patient`)).status).toBe(404);
    await t.api.put(`${t.base}/Project/${project.id}`).set('Content-Type', FHIR_JSON).send({ ...project, status: 'active' }).expect(200);
    expect((await t.api.get(`${fhirOf('legacy', 'one')}/Patient`)).status).toBe(200);
  });

  it('lets a tenant owner manage the projects of one tenant only', async () => {
    const client = await t.api.put(`${t.base}/ClientApplication/acme-owner`).set('Content-Type', FHIR_JSON).send({
      resourceType: 'ClientApplication',
      id: 'acme-owner',
      name: 'Acme tenant owner',
      grantType: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secret: 'acme-owner-secret',
      scope: 'system/Project.*',
      consentRequired: false,
    });
    expect(client.status).toBe(201);
    const policy = await t.api.put(`${t.base}/AccessPolicy/tenant-owner-acme`).set('Content-Type', FHIR_JSON).send({
      resourceType: 'AccessPolicy',
      id: 'tenant-owner-acme',
      name: 'Tenant owner of acme',
      engine: 'rule-engine',
      target: [{ link: { reference: 'ClientApplication/acme-owner' } }],
      rule: [{ name: 'acme projects', target: { expression: "%request.resourceType = 'Project'" }, condition: { expression: "%resource.tenant = 'acme'" } }],
    });
    expect(policy.status).toBe(201);
    const token = await clientCredentialsToken(t.app, 'default', 'default', 'acme-owner', 'acme-owner-secret');
    const mine = await createProject({ tenant: 'acme', name: 'lab' }, token);
    expect(mine.status).toBe(201);
    const theirs = await createProject({ tenant: 'globex', name: 'lab' }, token);
    expectOutcome(theirs, 403);
    // A refused create tells nothing about the system project's users.
    for (const owner of ['User/owner', 'User/nobody']) expectOutcome(await createProject({ tenant: 'globex', name: 'lab', owner: { reference: owner } }, token), 403);
    expect((await request(t.app).get(`${fhirOf('globex', 'lab')}/metadata`)).status).toBe(404);
    const listed = await request(t.app).get(`${t.base}/Project`).set('Authorization', `Bearer ${token}`);
    expect(listed.status).toBe(200);
    const tenants = new Set(listed.body.entry.map((e: { resource: { tenant: string } }) => e.resource.tenant));
    expect([...tenants]).toEqual(['acme']);
    // It may not move a project of its tenant out of it, nor touch another tenant's.
    const system = (await t.api.get(`${t.base}/Project?tenant=default`)).body.entry[0].resource;
    const hijack = await request(t.app).put(`${t.base}/Project/${system.id}`).set('Authorization', `Bearer ${token}`).set('Content-Type', FHIR_JSON).send({ ...system, title: 'mine now' });
    expect([403, 404]).toContain(hijack.status);
    // The tenant owner's client works in the new project with full access there.
    const labToken = await clientCredentialsToken(t.app, 'acme', 'lab', 'acme-owner', 'acme-owner-secret');
    expect((await request(t.app).get(`${fhirOf('acme', 'lab')}/AccessPolicy`).set('Authorization', `Bearer ${labToken}`)).status).toBe(200);
  });
});
