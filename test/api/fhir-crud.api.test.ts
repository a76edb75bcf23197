import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

const patient = (extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  name: [{ family: 'Curie', given: ['Marie'] }],
  birthDate: '1867-11-07',
  ...extra,
});

async function createPatient(extra: Record<string, unknown> = {}) {
  const res = await t.api.post(`${t.base}/Patient`).set('Content-Type', FHIR_JSON).send(patient(extra));
  expect(res.status).toBe(201);
  return res;
}

describe('create', () => {
  it('returns 201 with Location, ETag, Last-Modified and the stored resource', async () => {
    const res = await createPatient({ id: 'ignored-client-id' });
    const id = res.body.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`${t.config.publicUrl}${t.base}/Patient/${id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(new Date(res.headers['last-modified'] as string).toUTCString()).toBe(res.headers['last-modified']);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(res.body).toEqual({
      ...patient(),
      id,
      meta: { versionId: '1', lastUpdated: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/) },
    });
  });

  it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
    const minimal = await t.api
      .post(`${t.base}/Patient`)
      .set('Content-Type', FHIR_JSON)
      .set('Prefer', 'return=minimal')
      .send(patient());
    expect(minimal.status).toBe(201);
    expect(minimal.text).toBe('');
    expect(minimal.headers.location).toMatch(/\/Patient\/[^/]+\/_history\/1$/);

    const outcome = await t.api
      .post(`${t.base}/Patient`)
      .set('Content-Type', FHIR_JSON)
      .set('Prefer', 'return=OperationOutcome')
      .send(patient());
    expect(outcome.status).toBe(201);
    expect(outcome.body.resourceType).toBe('OperationOutcome');
    expect(outcome.body.issue[0]).toMatchObject({ severity: 'information', code: 'informational' });
  });

  it('accepts application/json as well as application/fhir+json', async () => {
    const res = await t.api.post(`${t.base}/Patient`).set('Content-Type', 'application/json').send(patient());
    expect(res.status).toBe(201);
  });
});

describe('read and vread', () => {
  it('reads the current version with an ETag matching meta.versionId', async () => {
    const created = await createPatient();
    const res = await t.api.get(`${t.base}/Patient/${created.body.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual(created.body);
  });

  it('answers HEAD with the headers of the read and no body; Content-Length is the byte length of the JSON', async () => {
    const created = await t.api.post(`${t.base}/Patient`).set('Content-Type', FHIR_JSON).send(patient({ name: [{ family: 'Ünal' }] }));
    const get = await t.api.get(`${t.base}/Patient/${created.body.id}`).buffer(true).parse((res, done) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      res.on('end', () => done(null, text));
    });
    expect(Number(get.headers['content-length'])).toBe((get.body as string).length);
    const head = await t.api.head(`${t.base}/Patient/${created.body.id}`);
    expect(head.status).toBe(200);
    expect(head.headers.etag).toBe('W/"1"');
    expect(head.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.text ?? '').toBe('');
  });

  it('reads an earlier version by vread', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient({ id, gender: 'female' }));
    const v1 = await t.api.get(`${t.base}/Patient/${id}/_history/1`);
    expect(v1.status).toBe(200);
    expect(v1.body.gender).toBeUndefined();
    expect(v1.headers.etag).toBe('W/"1"');
    const v2 = await t.api.get(`${t.base}/Patient/${id}/_history/2`);
    expect(v2.body).toMatchObject({ gender: 'female', meta: { versionId: '2' } });
    const v3 = await t.api.get(`${t.base}/Patient/${id}/_history/3`);
    expect(v3.status).toBe(404);
    expect(v3.body.issue[0].code).toBe('not-found');
  });

  it('answers 404 with an OperationOutcome for an unknown id', async () => {
    const res = await t.api.get(`${t.base}/Patient/does-not-exist`);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'not-found', diagnostics: 'Patient/does-not-exist not found' }],
    });
  });
});

describe('update', () => {
  it('updates and bumps the version', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    const res = await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient({ id, gender: 'female' }));
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.headers.location).toBeUndefined();
    expect(res.body.meta.versionId).toBe('2');
  });

  it('creates with the client id when the id is new (201)', async () => {
    const res = await t.api.put(`${t.base}/Patient/client-chosen-1`).set('Content-Type', FHIR_JSON).send(patient({ id: 'client-chosen-1' }));
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`${t.config.publicUrl}${t.base}/Patient/client-chosen-1/_history/1`);
  });

  it('refuses a stale If-Match with 412 and keeps the stored version', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).set('If-Match', 'W/"1"').send(patient({ id, gender: 'male' })).expect(200);
    const stale = await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).set('If-Match', 'W/"1"').send(patient({ id, gender: 'other' }));
    expect(stale.status).toBe(412);
    expect(stale.body.issue[0].code).toBe('conflict');
    const read = await t.api.get(`${t.base}/Patient/${id}`);
    expect(read.body).toMatchObject({ gender: 'male', meta: { versionId: '2' } });
  });

  it('rejects a body id that differs from the URL id (400)', async () => {
    const res = await t.api.put(`${t.base}/Patient/abc`).set('Content-Type', FHIR_JSON).send(patient({ id: 'xyz' }));
    expect(res.status).toBe(400);
    expect(res.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['Patient.id'] });
  });

  it('rejects a resourceType that differs from the URL type (400)', async () => {
    const res = await t.api.put(`${t.base}/Patient/abc`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Observation', id: 'abc' });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toBe("resourceType 'Observation' does not match the URL type 'Patient'");
  });

  it('loses no update when many run concurrently without If-Match', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient({ id, birthDate: `1900-01-0${i + 1}` })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const versions = results.map((r) => Number(r.body.meta.versionId)).sort((a, b) => a - b);
    expect(versions).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const history = await t.api.get(`${t.base}/Patient/${id}/_history`);
    expect(history.body.total).toBe(9);
  });

  it('lets exactly one of two concurrent updates with the same If-Match win', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    const [a, b] = await Promise.all(
      ['male', 'female'].map((gender) =>
        t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).set('If-Match', 'W/"1"').send(patient({ id, gender })),
      ),
    );
    expect([a?.status, b?.status].sort()).toEqual([200, 412]);
  });
});

describe('patch', () => {
  it('applies a JSON Patch and validates the result', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    const res = await t.api
      .patch(`${t.base}/Patient/${id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'replace', path: '/birthDate', value: '1868-01-01' }, { op: 'add', path: '/active', value: true }]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ birthDate: '1868-01-01', active: true, meta: { versionId: '2' } });

    const invalid = await t.api
      .patch(`${t.base}/Patient/${id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'replace', path: '/birthDate', value: 'not-a-date' }]);
    expect(invalid.status).toBe(400);
    expect(invalid.body.issue[0].expression).toEqual(['Patient.birthDate']);
  });

  it('answers 422 when a test operation fails and 400 for a malformed patch', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    const failing = await t.api
      .patch(`${t.base}/Patient/${id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'test', path: '/birthDate', value: '2000-01-01' }]);
    expect(failing.status).toBe(422);
    expect(failing.body.issue[0].code).toBe('processing');
    const malformed = await t.api
      .patch(`${t.base}/Patient/${id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'jump', path: '/x' }]);
    expect(malformed.status).toBe(400);
    const changesId = await t.api
      .patch(`${t.base}/Patient/${id}`)
      .set('Content-Type', 'application/json-patch+json')
      .send([{ op: 'replace', path: '/id', value: 'other' }]);
    expect(changesId.status).toBe(400);
    const read = await t.api.get(`${t.base}/Patient/${id}`);
    expect(read.body.meta.versionId).toBe('1');
  });

  it('requires the JSON Patch media type (415)', async () => {
    const created = await createPatient();
    const res = await t.api.patch(`${t.base}/Patient/${created.body.id}`).set('Content-Type', FHIR_JSON).send([]);
    expect(res.status).toBe(415);
    expect(res.body.issue[0].code).toBe('not-supported');
  });
});

describe('delete', () => {
  it('deletes; a later read is 410 Gone and history shows the deletion', async () => {
    const created = await createPatient();
    const id = created.body.id as string;
    const del = await t.api.delete(`${t.base}/Patient/${id}`);
    expect(del.status).toBe(204);
    expect(del.headers.etag).toBe('W/"2"');
    const read = await t.api.get(`${t.base}/Patient/${id}`);
    expect(read.status).toBe(410);
    expect(read.body.issue[0].code).toBe('deleted');
    const history = await t.api.get(`${t.base}/Patient/${id}/_history`);
    expect(history.status).toBe(200);
    expect(history.body.total).toBe(2);
    expect(history.body.entry[0]).toEqual({
      fullUrl: `${t.config.publicUrl}${t.base}/Patient/${id}`,
      request: { method: 'DELETE', url: `Patient/${id}` },
      response: { status: '204 No Content', etag: 'W/"2"', lastModified: expect.any(String) },
    });
    expect(history.body.entry[1].request).toEqual({ method: 'POST', url: 'Patient' });
    const again = await t.api.delete(`${t.base}/Patient/${id}`);
    expect(again.status).toBe(204);
    const recreated = await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient({ id }));
    expect(recreated.status).toBe(201);
    expect(recreated.body.meta.versionId).toBe('3');
  });

  it('answers 404 for an id that never existed', async () => {
    const res = await t.api.delete(`${t.base}/Patient/never-was`);
    expect(res.status).toBe(404);
  });
});
