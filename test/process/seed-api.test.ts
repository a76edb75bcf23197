/**
 * `npm run seed -- demo --tenant acme --project clinic` while the server runs: the command finds DATA_DIR held by
 * the server, creates the project through the system project's Project API and loads the bundle as one transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtArgs } from '../helpers/built';
import { spawnNode } from '../helpers/child-processes';
import { killLeftoverServers, type ServerProcess, startServer } from '../helpers/server-process';

jest.setTimeout(300_000);

const SECRET = 'seed-api-admin-secret';
let dataDir: string;
let server: ServerProcess;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-seed-api-'));
  server = await startServer({ DATA_DIR: dataDir, ADMIN_CLIENT_SECRET: SECRET, ADMIN_PASSWORD: 'seed api password', SEED_DEMO: 'false' });
});
afterAll(async () => {
  await server?.stop();
  await killLeftoverServers();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Runs the built seed command against the running server's DATA_DIR, without blocking this process. */
function seed(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnNode(builtArgs('cli/seed.js', args), {
    env: { ...process.env, DATA_DIR: dataDir, PUBLIC_URL: server.baseUrl, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function clinicToken(): Promise<string> {
  const res = await fetch(`${server.baseUrl}/w/acme/clinic/api/v1/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`admin-cli:${SECRET}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe('seed command against a running server', () => {
  it('refuses without the admin client secret, naming what to set', async () => {
    const run = await seed({ ADMIN_CLIENT_SECRET: '' }, 'demo', '--tenant', 'acme', '--project', 'clinic');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ADMIN_CLIENT_SECRET');
    const wrong = await seed({ ADMIN_CLIENT_SECRET: 'not the secret of this server' }, 'demo', '--tenant', 'acme', '--project', 'clinic');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('cannot sign in to the system project');
    expect((await fetch(`${server.baseUrl}/w/acme/clinic/api/v1/fhir/r4/metadata`)).status).toBe(404);
  });

  it('creates the project and loads the bundle through the API, the server still running', async () => {
    const run = await seed({ ADMIN_CLIENT_SECRET: SECRET }, 'demo', '--tenant', 'acme', '--project', 'clinic');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`through the API at ${server.baseUrl}`);
    expect(run.stdout).toContain('created project acme/clinic');
    expect(run.stdout).toContain('Done: 10 created, 0 updated (one transaction)');
    const token = await clinicToken();
    const patient = await fetch(`${server.baseUrl}/w/acme/clinic/api/v1/fhir/r4/Patient/patient-ada`, { headers: { Authorization: `Bearer ${token}` } });
    expect(patient.status).toBe(200);
    // The bootstrap project got nothing.
    expect((await fetch(`${server.baseUrl}/w/default/default/api/v1/fhir/r4/Patient/patient-ada`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);

    const again = await seed({ ADMIN_CLIENT_SECRET: SECRET }, 'demo', '--tenant', 'acme', '--project', 'clinic');
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain('created project');
    expect(again.stdout).toContain('Done: 0 created, 10 updated (one transaction)');
  });
});
