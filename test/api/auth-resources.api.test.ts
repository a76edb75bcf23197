import request from 'supertest';
import { verifyPassword, verifySecret } from '../../src/security/hashing';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const confidentialClient = {
  resourceType: 'ClientApplication',
  name: 'Lab integration',
  grantType: ['client_credentials'],
  tokenEndpointAuthMethod: 'client_secret_basic',
  scope: 'system/Observation.c',
};

describe('ClientApplication.secret', () => {
  it('generates a secret for a confidential client and returns it only in the create response', async () => {
    const created = await t.api.post(`${t.base}/ClientApplication`).set('Content-Type', FHIR_JSON).send(confidentialClient);
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const id = created.body.id as string;

    const read = await t.api.get(`${t.base}/ClientApplication/${id}`);
    expect(read.body.secret).toBeUndefined();
    expect(read.body.name).toBe('Lab integration');
    const vread = await t.api.get(`${t.base}/ClientApplication/${id}/_history/1`);
    expect(vread.body.secret).toBeUndefined();
    const history = await t.api.get(`${t.base}/ClientApplication/_history`);
    expect(JSON.stringify(history.body)).not.toContain('sha256$');
    expect(JSON.stringify(history.body)).not.toContain(secret);

    const stored = await t.storage.resources.readCurrent(t.boot.project.key, 'ClientApplication', id);
    expect(stored?.resource?.secret).not.toBe(secret);
    expect(verifySecret(secret, stored?.resource?.secret as string)).toBe(true);

    // PUT back what was read: the stored secret is kept.
    const updated = await t.api.put(`${t.base}/ClientApplication/${id}`).set('Content-Type', FHIR_JSON).send({ ...read.body, description: 'x' });
    expect(updated.status).toBe(200);
    expect(updated.body.secret).toBeUndefined();
    const after = await t.storage.resources.readCurrent(t.boot.project.key, 'ClientApplication', id);
    expect(verifySecret(secret, after?.resource?.secret as string)).toBe(true);
    const patched = await t.api
      .patch(`${t.base}/ClientApplication/${id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'replace', path: '/name', value: 'Lab integration 2' }]);
    expect(patched.status).toBe(200);
    expect(patched.body.secret).toBeUndefined();
    const afterPatch = await t.storage.resources.readCurrent(t.boot.project.key, 'ClientApplication', id);
    expect(verifySecret(secret, afterPatch?.resource?.secret as string)).toBe(true);
  });

  it('hashes a secret the client supplies and never echoes it', async () => {
    const created = await t.api
      .post(`${t.base}/ClientApplication`)
      .set('Content-Type', FHIR_JSON)
      .send({ ...confidentialClient, secret: 'a-client-chosen-secret-value' });
    expect(created.status).toBe(201);
    expect(created.body.secret).toBeUndefined();
    const stored = await t.storage.resources.readCurrent(t.boot.project.key, 'ClientApplication', created.body.id as string);
    expect(verifySecret('a-client-chosen-secret-value', stored?.resource?.secret as string)).toBe(true);
  });

  it('gives a public client no secret and refuses one', async () => {
    const pub = { resourceType: 'ClientApplication', name: 'SPA', grantType: ['authorization_code'], tokenEndpointAuthMethod: 'none', redirectUri: ['http://localhost:5173/cb'] };
    const created = await t.api.post(`${t.base}/ClientApplication`).set('Content-Type', FHIR_JSON).send(pub);
    expect(created.status).toBe(201);
    expect(created.body.secret).toBeUndefined();
    const refused = await t.api.post(`${t.base}/ClientApplication`).set('Content-Type', FHIR_JSON).send({ ...pub, secret: 'nope-nope-nope' });
    expect(refused.status).toBe(400);
    expect(refused.body.issue[0].expression).toEqual(['ClientApplication.secret']);
  });

  it('validates the fields of DESIGN §4 (grantType codes, required name)', async () => {
    const res = await t.api
      .post(`${t.base}/ClientApplication`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'ClientApplication', grantType: ['implicit'] });
    expect(res.status).toBe(400);
    const expressions = (res.body.issue as Array<{ expression?: string[] }>).flatMap((i) => i.expression ?? []);
    expect(expressions).toEqual(expect.arrayContaining(['ClientApplication.name', 'ClientApplication.grantType[0]']));
  });
});

describe('User.password and User.email', () => {
  it('hashes the password with scrypt and never returns it', async () => {
    const created = await t.api
      .put(`${t.base}/User/ada`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'User', id: 'ada', email: 'ada@example.com', role: 'member', password: 'analytical engine' });
    expect(created.status).toBe(201);
    expect(created.body.password).toBeUndefined();
    const stored = await t.storage.resources.readCurrent(t.boot.project.key, 'User', 'ada');
    expect(stored?.resource?.password).toMatch(/^scrypt\$/);
    expect(await verifyPassword('analytical engine', stored?.resource?.password as string)).toBe(true);
    for (const path of ['/User/ada', '/User/ada/_history/1', '/User/ada/_history', '/User/_history', '/_history']) {
      const res = await t.api.get(`${t.base}${path}`);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('scrypt$');
      expect(res.text).not.toContain('analytical engine');
    }
  });

  it('keeps User.email unique per project (409), case-insensitively, and frees it on delete', async () => {
    await t.api.put(`${t.base}/User/u1`).set('Content-Type', FHIR_JSON).send({ resourceType: 'User', id: 'u1', email: 'grace@example.com', role: 'member' }).expect(201);
    const dup = await t.api.post(`${t.base}/User`).set('Content-Type', FHIR_JSON).send({ resourceType: 'User', email: 'Grace@Example.com', role: 'admin' });
    expect(dup.status).toBe(409);
    expect(dup.body.issue[0]).toMatchObject({ code: 'conflict', expression: ['User.email'] });
    await t.authorize('other', 'project');
    const elsewhere = await t.api
      .post('/w/other/project/api/v1/fhir/r4/User')
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'User', email: 'grace@example.com', role: 'member' });
    expect(elsewhere.status).toBe(201);
    await t.api.delete(`${t.base}/User/u1`).expect(204);
    const reuse = await t.api.post(`${t.base}/User`).set('Content-Type', FHIR_JSON).send({ resourceType: 'User', email: 'grace@example.com', role: 'member' });
    expect(reuse.status).toBe(201);
  });

  it('writes no credential to the logs', async () => {
    await t.api
      .post(`${t.base}/User`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'User', email: 'logcheck@example.com', role: 'member', password: 'log-canary-password' })
      .expect(201);
    const logs = JSON.stringify(t.logLines);
    expect(logs).not.toContain('log-canary-password');
    expect(logs).not.toContain('scrypt$');
    expect(logs).not.toContain(t.config.adminClientSecret as string);
  });

  it('stores Membership and AccessPolicy like any resource', async () => {
    const membership = await t.api
      .post(`${t.base}/Membership`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'Membership', user: { reference: 'User/ada' }, link: { reference: 'Patient/p1' }, active: true });
    expect(membership.status).toBe(201);
    const policy = await t.api
      .post(`${t.base}/AccessPolicy`)
      .set('Content-Type', FHIR_JSON)
      .send({
        resourceType: 'AccessPolicy',
        name: 'Patients see their own data',
        engine: 'rule-engine',
        target: [{ link: { reference: `Membership/${membership.body.id}` } }],
        rule: [{ name: 'own compartment', effect: 'permit', condition: { expression: '%resource.subject.reference = %fhirUser' }, rule: [{ name: 'nested', effect: 'deny' }] }],
      });
    expect(policy.status).toBe(201);
    expect(policy.body.rule[0].rule[0].name).toBe('nested');
    const badEngine = await t.api.post(`${t.base}/AccessPolicy`).set('Content-Type', FHIR_JSON).send({ resourceType: 'AccessPolicy', name: 'x', engine: 'magic' });
    expect(badEngine.status).toBe(400);
  });
});
