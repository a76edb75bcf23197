/**
 * An export job outlives its server process: the real server (dist/main.js) is killed with SIGKILL while a job runs,
 * started again on the same DATA_DIR, and the job resumes from the type it was writing: the manifest then lists
 * every resource exactly once, each file holding the count the manifest gives. A running job cancelled with DELETE
 * stops and leaves no file behind.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { createLogger } from '../../src/logger';
import { openStorage } from '../../src/storage/open';
import { bulkExport, download, kickOff, pollManifest } from '../helpers/bulk-client';
import { exitCode, killLeftoverServers, serverToken, startServer } from '../helpers/server-process';

const SECRET = 'bulk-restart-admin-secret';
const PATIENTS = 600;
const OBSERVATIONS_PER_PATIENT = 8;
let dataDir: string;

/** A free loopback port, so that PUBLIC_URL (and so the manifest's URLs) name the server before it starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Writes the dataset straight into the store the server will open (much faster than over HTTP). */
async function seed(): Promise<void> {
  const storage = await openStorage({ dataDir, logger: createLogger('silent') });
  const repo = new FhirRepository(storage.resources, 'default/default');
  for (let p = 0; p < PATIENTS; p += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const id = `p${p + i}`;
        await repo.create({ resourceType: 'Patient', id, name: [{ family: `Family${p + i}` }] }, id);
        for (let o = 0; o < OBSERVATIONS_PER_PATIENT; o++) {
          await repo.create({ resourceType: 'Observation', status: 'final', code: { text: `code-${o}` }, subject: { reference: `Patient/${id}` } }, `o${p + i}-${o}`);
        }
      }),
    );
  }
  await storage.close();
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-bulk-restart-'));
  await seed();
}, 180_000);
afterEach(killLeftoverServers);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

it('resumes a job interrupted by SIGKILL and completes it with every resource exactly once', async () => {
  const port = await freePort();
  const env = { DATA_DIR: dataDir, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ADMIN_CLIENT_SECRET: SECRET, SEED_DEMO: 'false', AUDIT: 'off' };
  const fhir = `http://127.0.0.1:${port}/w/default/default/api/v1/fhir/r4`;
  const first = await startServer(env);
  const token = await serverToken(first.baseUrl, 'admin-cli', SECRET);
  const started = await kickOff(`${fhir}/$export?_type=Patient,Observation`, token);
  expect(started.status).toBe(202);
  const statusUrl = started.headers.get('content-location') as string;
  const running = await fetch(statusUrl, { headers: { Authorization: `Bearer ${token}` } });
  // The job is unfinished when the process dies (thousands of resources are still to be written).
  expect(running.status).toBe(202);
  const killed = exitCode(first.child);
  first.child.kill('SIGKILL');
  await killed;

  const second = await startServer(env);
  try {
    // The same token still works (keys and grants are in the store), and the job is found again.
    const { manifest } = await pollManifest(statusUrl, token);
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([
      ['Patient', PATIENTS],
      ['Observation', PATIENTS * OBSERVATIONS_PER_PATIENT],
    ]);
    expect(manifest.error).toEqual([]);
    for (const output of manifest.output) {
      const lines = await download(output.url, token);
      expect(new Set(lines.map((r) => r.id)).size).toBe(output.count);
    }
    // New jobs run as usual after the restart.
    const again = await bulkExport(`${fhir}/Patient/$export?_type=Patient`, token);
    expect(again.manifest.output).toEqual([expect.objectContaining({ type: 'Patient', count: PATIENTS })]);

    // Cancelling a job that is still running stops it and leaves nothing behind.
    const cancelled = await kickOff(`${fhir}/$export?_type=Observation,Patient`, token);
    const cancelUrl = cancelled.headers.get('content-location') as string;
    const job = new URL(cancelUrl).searchParams.get('job') as string;
    expect((await fetch(cancelUrl, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(202);
    expect((await fetch(cancelUrl, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } })).status).toBe(202);
    expect((await fetch(cancelUrl, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(404);
    expect(existsSync(path.join(dataDir, 'bulk-export', job))).toBe(false);
  } finally {
    expect(await second.stop()).toBe(0);
  }
}, 240_000);
