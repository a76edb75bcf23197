import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;
const otherBase = '/w/acme/clinic/api/v1/fhir/r4';

beforeAll(async () => {
  t = await buildTestApp();
  await t.authorize('acme', 'clinic');
});
afterAll(async () => {
  await t.close();
});

describe('tenancy', () => {
  it('has the bootstrap project after the first start', async () => {
    expect(await t.projects.find(t.config.bootstrapTenant, t.config.bootstrapProject)).toMatchObject({ key: 'default/default' });
    const res = await t.api.get(`${t.base}/metadata`);
    expect(res.status).toBe(200);
  });

  it('answers 404 for an unknown tenant or project', async () => {
    for (const path of ['/w/nope/default/api/v1/fhir/r4/metadata', '/w/default/nope/api/v1/fhir/r4/Patient/1', '/w/ACME/clinic/api/v1/fhir/r4/metadata']) {
      const res = await t.api.get(path);
      expect(res.status).toBe(404);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].code).toBe('not-found');
    }
  });

  it('keeps data written in one project invisible from another', async () => {
    const created = await t.api
      .put(`${t.base}/Patient/shared-id`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'Patient', id: 'shared-id', gender: 'female' });
    expect(created.status).toBe(201);
    expect((await t.api.get(`${otherBase}/Patient/shared-id`)).status).toBe(404);
    expect((await t.api.get(`${otherBase}/Patient/shared-id/_history/1`)).status).toBe(404);
    const otherHistory = await t.api.get(`${otherBase}/Patient/_history`);
    expect(otherHistory.body.total).toBe(0);

    const other = await t.api
      .put(`${otherBase}/Patient/shared-id`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'Patient', id: 'shared-id', gender: 'male' });
    expect(other.status).toBe(201);
    expect((await t.api.get(`${t.base}/Patient/shared-id`)).body.gender).toBe('female');
    expect((await t.api.get(`${otherBase}/Patient/shared-id`)).body.gender).toBe('male');
    expect((await t.api.delete(`${otherBase}/Patient/shared-id`)).status).toBe(204);
    expect((await t.api.get(`${t.base}/Patient/shared-id`)).status).toBe(200);
  });

  it('keeps the auth resources of one project out of another', async () => {
    const res = await t.api.get(`${otherBase}/User/owner`);
    expect(res.status).toBe(404);
    const bootstrapOwner = await t.api.get(`${t.base}/User/owner`);
    expect(bootstrapOwner.status).toBe(200);
  });
});
