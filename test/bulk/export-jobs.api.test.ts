/**
 * Bulk export job control: only the client (and user) that started a job may poll, download or cancel it;
 * DELETE cancels and deletes the files; a client with BULK_EXPORT_MAX_JOBS_PER_CLIENT unfinished jobs gets 429;
 * expired jobs are swept with their files.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { kickOff, listeningServer, pollManifest } from '../helpers/bulk-client';
import { clientToken } from './bulk-fixtures';

let t: TestApp;
let http: Awaited<ReturnType<typeof listeningServer>>;
let fhir: string;
let other: string;

const auth = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });

function jobDir(statusUrl: string): string {
  return path.join(t.config.bulkExportDir, new URL(statusUrl).searchParams.get('job') as string);
}

beforeAll(async () => {
  http = await listeningServer();
  t = await buildTestApp({ PUBLIC_URL: http.origin, BULK_EXPORT_MAX_JOBS_PER_CLIENT: '2' });
  http.server.on('request', t.app);
  fhir = `${http.origin}${t.base}`;
  for (const name of ['Ada', 'Ben']) expect((await t.api.post(`${t.base}/Patient`).send({ resourceType: 'Patient', name: [{ family: name }] })).status).toBe(201);
  other = await clientToken(t, 'other-backend', 'system/*.rs');
}, 60_000);

afterAll(async () => {
  await http.close();
  await t.close();
});

describe('a job belongs to the client that started it', () => {
  it('answers another client as for an unknown job, on the status URL, the files and DELETE', async () => {
    const res = await kickOff(`${fhir}/$export?_type=Patient`, t.adminToken);
    const statusUrl = res.headers.get('content-location') as string;
    const { manifest } = await pollManifest(statusUrl, t.adminToken);
    const fileUrl = manifest.output[0]?.url as string;
    for (const [method, url] of [['GET', statusUrl], ['GET', fileUrl], ['DELETE', statusUrl]] as const) {
      const refused = await fetch(url, { method, headers: auth(other) });
      expect(refused.status).toBe(404);
      expect(await refused.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found' }] });
    }
    // Still there for its owner.
    expect((await fetch(fileUrl, { headers: auth(t.adminToken) })).status).toBe(200);
    expect((await fetch(statusUrl, { headers: auth(t.adminToken) })).status).toBe(200);
  });

  it('answers 404 for an unknown job and a file the manifest does not list', async () => {
    expect((await fetch(`${fhir}/$export-status?job=00000000-0000-4000-8000-000000000000`, { headers: auth(t.adminToken) })).status).toBe(404);
    const res = await kickOff(`${fhir}/$export?_type=Patient`, t.adminToken);
    const statusUrl = res.headers.get('content-location') as string;
    await pollManifest(statusUrl, t.adminToken);
    const job = new URL(statusUrl).searchParams.get('job') as string;
    for (const file of ['Observation.ndjson', '../../journal', 'OperationOutcome.ndjson']) {
      expect((await fetch(`${fhir}/$export-file?job=${job}&file=${encodeURIComponent(file)}`, { headers: auth(t.adminToken) })).status).toBe(404);
    }
  });
});

describe('cancellation', () => {
  it('DELETE on a complete job deletes its files; its status URL then answers 404', async () => {
    const res = await kickOff(`${fhir}/$export?_type=Patient`, t.adminToken);
    const statusUrl = res.headers.get('content-location') as string;
    const { manifest } = await pollManifest(statusUrl, t.adminToken);
    expect(existsSync(jobDir(statusUrl))).toBe(true);
    const cancelled = await fetch(statusUrl, { method: 'DELETE', headers: auth(t.adminToken) });
    expect(cancelled.status).toBe(202);
    expect(existsSync(jobDir(statusUrl))).toBe(false);
    expect((await fetch(statusUrl, { headers: auth(t.adminToken) })).status).toBe(404);
    expect((await fetch(manifest.output[0]?.url as string, { headers: auth(t.adminToken) })).status).toBe(404);
  });
});

describe('expiry', () => {
  it('a finished job expires after BULK_EXPORT_RETENTION_SECONDS and the sweep deletes its files', async () => {
    const short = await listeningServer();
    const app = await buildTestApp({ PUBLIC_URL: short.origin, BULK_EXPORT_RETENTION_SECONDS: '5' });
    short.server.on('request', app.app);
    try {
      await expireOne(app, `${short.origin}${app.base}`);
    } finally {
      await short.close();
      await app.close();
    }
  });
});

async function expireOne(app: TestApp, fhir: string): Promise<void> {
  const started = await kickOff(`${fhir}/$export?_type=ClientApplication`, app.adminToken);
  const statusUrl = started.headers.get('content-location') as string;
  const { manifest } = await pollManifest(statusUrl, app.adminToken);
  expect(manifest.output.map((o) => o.type)).toEqual(['ClientApplication']);
  const dir = path.join(app.config.bulkExportDir, new URL(statusUrl).searchParams.get('job') as string);
  expect(existsSync(dir)).toBe(true);
  const deadline = Date.now() + 60_000;
  while ((await fetch(statusUrl, { headers: auth(app.adminToken) })).status !== 404) {
    if (Date.now() > deadline) throw new Error('the job did not expire');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await app.bulk.sweep();
  expect(existsSync(dir)).toBe(false);
}

describe('too many jobs', () => {
  it('answers 429 with Retry-After once a client has as many unfinished jobs as allowed; cancelling one frees a slot', async () => {
    // With the worker stopped, jobs stay queued: the limit is reached deterministically.
    await t.bulk.stop();
    const first = await kickOff(`${fhir}/$export?_type=Patient`, t.adminToken);
    const second = await kickOff(`${fhir}/$export?_type=Patient`, t.adminToken);
    expect([first.status, second.status]).toEqual([202, 202]);
    const queued = await fetch(first.headers.get('content-location') as string, { headers: auth(t.adminToken) });
    expect(queued.status).toBe(202);
    expect(queued.headers.get('x-progress')).toBe('queued');
    expect(Number(queued.headers.get('retry-after'))).toBeGreaterThan(0);
    const third = await kickOff(`${fhir}/$export?_type=Patient`, t.adminToken);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await third.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
    // Another client has its own allowance.
    expect((await kickOff(`${fhir}/$export?_type=Patient`, other)).status).toBe(202);
    expect((await fetch(first.headers.get('content-location') as string, { method: 'DELETE', headers: auth(t.adminToken) })).status).toBe(202);
    expect((await kickOff(`${fhir}/$export?_type=Patient`, t.adminToken)).status).toBe(202);
  });
});
