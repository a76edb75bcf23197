/**
 * A disk that refuses writes (ENOSPC, EIO), through the real app: a FHIR write answers 503 `transient` and
 * leaves no trace (read 404, `_total` unchanged), a token request that must store something (a refresh) and a
 * revocation answer 503 `temporarily_unavailable` and change nothing, and all work again once the disk does. A
 * client_credentials token stores nothing, so it is still issued. The faults come from the journal's file-system seam, passed to the store by
 * the test; nothing in the app or its configuration can switch them on.
 */
import request from 'supertest';
import type { TestApp } from '../helpers/build-test-app';
import { FaultyJournalFileSystem } from '../helpers/faulty-journal-fs';
import { codeTokens, type OAuthFixture, oauthPost, setupOAuth, WEB } from '../oauth/oauth-fixtures';

const FHIR_JSON = 'application/fhir+json';
const disk = new FaultyJournalFileSystem();
let fx: OAuthFixture;
let t: TestApp;
let attempt = 0;

beforeAll(async () => {
  fx = await setupOAuth({}, { journalFileSystem: disk });
  t = fx.t;
});
afterEach(() => disk.heal());
afterAll(async () => {
  await t.close();
});

const patient = (id: string) => ({ resourceType: 'Patient', id, name: [{ family: 'Full', given: ['Disk'] }] });

async function patientTotal(): Promise<number> {
  const res = await t.api.get(`${t.base}/Patient?family=Full&_total=accurate`);
  expect(res.status).toBe(200);
  return res.body.total as number;
}

function tokenRequest(): request.Test {
  return request(t.app)
    .post(`/w/${t.config.bootstrapTenant}/${t.config.bootstrapProject}/api/v1/oauth/token`)
    .auth(t.config.adminClientId, t.config.adminClientSecret as string)
    .type('form')
    .send({ grant_type: 'client_credentials' });
}

const UNAVAILABLE = {
  error: 'temporarily_unavailable',
  error_description: 'The server cannot store changes right now; nothing was changed. Try again later.',
};

const TRANSIENT = {
  resourceType: 'OperationOutcome',
  issue: [
    {
      severity: 'error',
      code: 'transient',
      diagnostics: 'The server cannot store changes right now; nothing was changed. Try again later.',
    },
  ],
};

describe.each([
  ['ENOSPC on write', () => (disk.writeFault = 'ENOSPC')],
  ['EIO on fdatasync', () => (disk.syncFault = 'EIO')],
])('a disk failing with %s', (_name, inject) => {
  it('answers a PUT with 503 transient, keeps the resource unreadable and uncounted, and accepts it once healed', async () => {
    const id = `full-${++attempt}`;
    const total = await patientTotal();
    inject();
    const refused = await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient(id));
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(refused.body).toEqual(TRANSIENT);
    disk.heal();

    const read = await t.api.get(`${t.base}/Patient/${id}`);
    expect(read.status).toBe(404);
    expect(read.body.issue[0].code).toBe('not-found');
    expect(await patientTotal()).toBe(total);
    const history = await t.api.get(`${t.base}/Patient/${id}/_history`);
    expect(history.status).toBe(404);
    expect(t.logLines).toContainEqual(expect.objectContaining({ msg: 'request refused: the store cannot take writes' }));

    const accepted = await t.api.put(`${t.base}/Patient/${id}`).set('Content-Type', FHIR_JSON).send(patient(id));
    expect(accepted.status).toBe(201);
    expect(accepted.body.meta.versionId).toBe('1');
    expect((await t.api.get(`${t.base}/Patient/${id}`)).status).toBe(200);
    expect(await patientTotal()).toBe(total + 1);
  });

  it('answers a refresh with 503 temporarily_unavailable, then refreshes once healed; client_credentials needs no write', async () => {
    const { refresh_token: refreshToken } = await codeTokens(fx);
    inject();
    const refused = await oauthPost(t, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken as string }, WEB);
    expect(refused.status).toBe(503);
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toEqual(UNAVAILABLE);
    // A client_credentials token is its own grant: nothing is stored, so the full disk does not stop it.
    const issued = await tokenRequest();
    expect(issued.status).toBe(200);
    expect(issued.body.token_type).toBe('Bearer');
    disk.heal();
    const refreshed = await oauthPost(t, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken as string }, WEB);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));
  });

  it('answers a revocation with 503 temporarily_unavailable and the token keeps working until a revocation is stored', async () => {
    const token = (await tokenRequest()).body.access_token as string;
    const admin: [string, string] = [t.config.adminClientId, t.config.adminClientSecret as string];
    inject();
    const refused = await oauthPost(t, 'revoke', { token }, admin);
    expect(refused.status).toBe(503);
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(refused.body).toEqual(UNAVAILABLE);
    disk.heal();
    const read = () => request(t.app).get(`${t.base}/Patient?_count=1`).set('Authorization', `Bearer ${token}`);
    expect((await read()).status).toBe(200);
    expect((await oauthPost(t, 'revoke', { token }, admin)).status).toBe(200);
    expect((await read()).status).toBe(401);
  });
});

describe('a batch on a failing disk', () => {
  it('reports 503 transient for each entry the store refused', async () => {
    disk.writeFault = 'ENOSPC';
    const res = await t.api
      .post(t.base)
      .set('Content-Type', FHIR_JSON)
      .send({
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ request: { method: 'PUT', url: 'Patient/batch-full' }, resource: patient('batch-full') }],
      });
    disk.heal();
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response).toEqual({ status: '503 Service Unavailable', outcome: TRANSIENT });
    expect((await t.api.get(`${t.base}/Patient/batch-full`)).status).toBe(404);
  });

  it('answers a transaction with 503 transient and stores none of it', async () => {
    disk.syncFault = 'EIO';
    const res = await t.api
      .post(t.base)
      .set('Content-Type', FHIR_JSON)
      .send({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { request: { method: 'PUT', url: 'Patient/tx-full-1' }, resource: patient('tx-full-1') },
          { request: { method: 'PUT', url: 'Patient/tx-full-2' }, resource: patient('tx-full-2') },
        ],
      });
    expect(res.status).toBe(503);
    expect(res.body).toEqual(TRANSIENT);
    expect((await t.api.get(`${t.base}/Patient/tx-full-1`)).status).toBe(404);
    expect((await t.api.get(`${t.base}/Patient/tx-full-2`)).status).toBe(404);
  });
});
