import request from 'supertest';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';

const FHIR_JSON = 'application/fhir+json';
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp({ BODY_LIMIT: '64kb' });
});
afterAll(async () => {
  await t.close();
});

function expectOutcome(res: request.Response, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0]).toMatchObject({ severity: 'error', code });
  expect(res.text).not.toMatch(/\bat .+\.(ts|js):\d+/);
}

describe('FHIR HTTP error semantics', () => {
  it('answers 404 for an unknown resource type', async () => {
    const res = await t.api.get(`${t.base}/Spaceship/1`);
    expectOutcome(res, 404, 'not-found');
    expect(res.body.issue[0].diagnostics).toBe("Unknown resource type 'Spaceship'");
    expectOutcome(await t.api.post(`${t.base}/Spaceship`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Spaceship' }), 404, 'not-found');
  });

  it('answers 406 when Accept or _format asks for XML', async () => {
    expectOutcome(await t.api.get(`${t.base}/metadata`).set('Accept', 'application/fhir+xml'), 406, 'not-supported');
    expectOutcome(await t.api.get(`${t.base}/metadata?_format=xml`), 406, 'not-supported');
    expect((await t.api.get(`${t.base}/metadata?_format=json`)).status).toBe(200);
    expect((await t.api.get(`${t.base}/metadata`).set('Accept', 'application/xml;q=0.9, application/fhir+json')).status).toBe(200);
    expect((await t.api.get(`${t.base}/metadata`).set('Accept', 'text/html,*/*;q=0.8')).status).toBe(200);
  });

  it('lets a JSON _format override any Accept, and refuses any other _format whatever Accept says', async () => {
    // `application/fhir+json` unencoded reaches the server as `application/fhir json`; both are understood.
    const formats = ['json', 'JSON', 'application/json', 'application/fhir+json', 'application/fhir%2Bjson', 'application/fhir%2Bjson%3B%20fhirVersion%3D4.0'];
    for (const format of formats) {
      for (const accept of ['text/html', 'application/fhir+xml', 'image/png;q=1, */*;q=0']) {
        for (const path of ['/metadata', '/Patient']) {
          const res = await t.api.get(`${t.base}${path}?_format=${format}`).set('Accept', accept);
          expect({ format, accept, path, status: res.status, type: res.headers['content-type'] }).toEqual({
            format, accept, path, status: 200, type: 'application/fhir+json; charset=utf-8',
          });
        }
      }
    }
    for (const format of ['xml', 'application/fhir%2Bxml', 'html', 'ttl']) {
      expectOutcome(await t.api.get(`${t.base}/Patient?_format=${format}`).set('Accept', 'application/fhir+json'), 406, 'not-supported');
    }
    // An empty _format is ignored: Accept decides.
    expect((await t.api.get(`${t.base}/Patient?_format=`).set('Accept', 'application/fhir+json')).status).toBe(200);
    expectOutcome(await t.api.get(`${t.base}/Patient?_format=`).set('Accept', 'text/html'), 406, 'not-supported');
  });

  it('answers 415 for an unsupported Content-Type', async () => {
    const res = await t.api.post(`${t.base}/Patient`).set('Content-Type', 'application/fhir+xml').send('<Patient/>');
    expectOutcome(res, 415, 'not-supported');
    const none = await t.api.post(`${t.base}/Patient`).send(Buffer.from('{"resourceType":"Patient"}'));
    expectOutcome(none, 415, 'not-supported');
  });

  it('answers 400 for malformed JSON', async () => {
    const res = await t.api.post(`${t.base}/Patient`).set('Content-Type', FHIR_JSON).send('{"resourceType": "Patient",');
    expectOutcome(res, 400, 'structure');
    const scalar = await t.api.post(`${t.base}/Patient`).set('Content-Type', FHIR_JSON).send('"Patient"');
    expectOutcome(scalar, 400, 'structure');
  });

  it('answers 413 for a body over the configured limit', async () => {
    const res = await t.api
      .post(`${t.base}/Patient`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'Patient', name: [{ text: 'x'.repeat(70 * 1024) }] });
    expectOutcome(res, 413, 'too-costly');
  });

  it('answers 400 for deeply nested bodies', async () => {
    const deep = `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`;
    const res = await t.api.post(`${t.base}/Patient`).set('Content-Type', FHIR_JSON).send(deep);
    expectOutcome(res, 400, 'structure');
  });

  it('answers 400 with one issue per problem for an invalid resource', async () => {
    const res = await t.api
      .post(`${t.base}/Patient`)
      .set('Content-Type', FHIR_JSON)
      .send({ resourceType: 'Patient', birthDate: '1st of May', colour: 'blue' });
    expect(res.status).toBe(400);
    const expressions = (res.body.issue as Array<{ expression?: string[] }>).map((i) => i.expression?.[0]).sort();
    expect(expressions).toEqual(['Patient.birthDate', 'Patient.colour']);
  });

  it('answers 400 for an invalid id and an unparseable If-Match', async () => {
    expectOutcome(await t.api.get(`${t.base}/Patient/${'x'.repeat(65)}`), 400, 'invalid');
    expectOutcome(await t.api.get(`${t.base}/Patient/bad$id`), 400, 'invalid');
    const created = await t.api.post(`${t.base}/Patient`).set('Content-Type', FHIR_JSON).send({ resourceType: 'Patient' });
    const id = created.body.id as string;
    const res = await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).set('If-Match', 'banana').send({ resourceType: 'Patient', id });
    expectOutcome(res, 400, 'invalid');
  });

  it('answers non-FHIR paths with an OperationOutcome, never HTML', async () => {
    expectOutcome(await t.api.get('/nothing/here'), 404, 'not-found');
    expectOutcome(await t.api.post(`${t.base}/Patient/abc`).set('Content-Type', FHIR_JSON).send({}), 405, 'not-supported');
  });

  it('sets X-Request-Id on every response and stamps it on every log line', async () => {
    const res = await t.api.get(`${t.base}/metadata`).set('X-Request-Id', 'trace-1234-abcd');
    expect(res.headers['x-request-id']).toBe('trace-1234-abcd');
    const generated = await t.api.get(`${t.base}/Patient/none`);
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const line = t.logLines.find((l) => l.requestId === 'trace-1234-abcd');
    expect(line).toMatchObject({ msg: 'request completed', status: 200, method: 'GET' });
    expect(t.logLines.filter((l) => l.msg === 'request completed').every((l) => typeof l.requestId === 'string')).toBe(true);
  });

  it('serves liveness and readiness probes', async () => {
    expect((await t.api.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await t.api.get('/readyz')).body).toEqual({ status: 'ok', storage: 'embedded' });
  });
});
