/**
 * The audit trail survives a graceful shutdown of the real server process (`dist/main.js`, started as `npm start`
 * starts the build, by test/helpers/server-process.ts): with AUDIT=on the server answers N requests, gets SIGTERM
 * right after the last answer (before the trail's one-second flush), exits 0, and once restarted on the same
 * DATA_DIR the AuditEvents of all N requests are there (docs/audit.md "Graceful shutdown").
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { killLeftoverServers, serverToken, startServer } from '../helpers/server-process';

// Starts two real server processes: generous on a loaded machine (the waits inside are event-driven).
jest.setTimeout(300_000);

const SECRET = 'audit-shutdown-admin-secret';
const N = 40;
const FHIR = '/w/default/default/api/v1/fhir/r4';

let dataDir: string;
let env: Record<string, string>;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-audit-shutdown-'));
  env = { DATA_DIR: dataDir, KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'), ADMIN_CLIENT_SECRET: SECRET, SEED_DEMO: 'false', AUDIT: 'on' };
});
afterEach(killLeftoverServers);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

it('writes the AuditEvents of every answered request on SIGTERM; they are there after a restart', async () => {
  const first = await startServer(env);
  const token = await serverToken(first.baseUrl, 'admin-cli', SECRET);
  const auth = { Authorization: `Bearer ${token}` };
  // N reads of distinct unknown ids (404): each id names its request in the trail.
  const probes = Array.from({ length: N }, (_, i) => `shutdown-probe-${i}`);
  const statuses = await Promise.all(probes.map(async (id) => (await fetch(`${first.baseUrl}${FHIR}/Observation/${id}`, { headers: auth })).status));
  expect(statuses).toEqual(probes.map(() => 404));
  expect(await first.stop()).toBe(0);

  const second = await startServer(env);
  try {
    const token2 = await serverToken(second.baseUrl, 'admin-cli', SECRET);
    const res = await fetch(`${second.baseUrl}${FHIR}/AuditEvent?subtype=read&_count=1000`, { headers: { Authorization: `Bearer ${token2}` } });
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as { entry?: Array<{ resource: { outcomeDesc?: string; entity?: Array<{ what?: { reference?: string } }> } }> };
    const events = (bundle.entry ?? []).map((e) => e.resource);
    const named = new Set(events.flatMap((e) => (e.entity ?? []).map((entity) => entity.what?.reference)));
    expect(probes.filter((id) => !named.has(`Observation/${id}`))).toEqual([]);
    // Several reads of one caller and outcome share a record: the records count the N requests.
    const counted = events
      .filter((e) => (e.entity ?? []).some((entity) => String(entity.what?.reference).startsWith('Observation/shutdown-probe-')))
      .reduce((sum, e) => sum + Number(/^(\d+) requests: /.exec(String(e.outcomeDesc))?.[1] ?? 1), 0);
    expect(counted).toBe(N);
  } finally {
    expect(await second.stop()).toBe(0);
  }
});
