/**
 * Starts the real server process (`src/main.ts`) as `npm start` does, on a temporary DATA_DIR: checks the
 * start-up banner, that the bootstrap project and demo seed are served, that SIGTERM lets an in-flight write
 * finish and exits 0, that the data is there after a restart, and that a bad variable stops start-up.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths';

// Each test starts real server processes: generous on a loaded machine (the waits inside are event-driven).
jest.setTimeout(300_000);

const TSX = path.join(ROOT_DIR, 'node_modules', '.bin', 'tsx');
const MAIN = path.join(ROOT_DIR, 'src', 'main.ts');

interface Started {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  baseUrl: string;
}

function start(env: Record<string, string>): Promise<Started> {
  const child = spawn(TSX, [MAIN], { env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out} ${err}`)), 180_000);
    const check = setInterval(() => {
      const match = /listening on port (\d+)/.exec(out);
      if (match) {
        clearInterval(check);
        clearTimeout(timer);
        resolve({ child, stdout: () => out, baseUrl: `http://127.0.0.1:${match[1]}` });
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${out} ${err}`));
    });
  });
}

function exitCode(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-main-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the server process', () => {
  it('starts, prints where to go and the generated credentials, serves seed data and shuts down gracefully', async () => {
    const first = await start({ DATA_DIR: dataDir });
    const banner = first.stdout();
    const fhirBase = `${first.baseUrl.replace('127.0.0.1', 'localhost')}/w/default/default/api/v1/fhir/r4`;
    expect(banner).toContain('FHIR base:');
    expect(banner).toMatch(/\/w\/default\/default\/api\/v1\/fhir\/r4/);
    expect(banner).toMatch(/Admin user:\s+admin@example\.com\s+password: [\w-]{43}/);
    expect(banner).toMatch(/Admin client:\s+admin-cli\s+secret: [\w-]{43}/);
    expect(banner).toContain('/w/default/default/api/v1/oauth/token');

    const base = `${first.baseUrl}/w/default/default/api/v1/fhir/r4`;
    expect((await fetch(`${first.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/Patient/patient-ada`)).status).toBe(401);
    // The printed admin client gets a token at the printed token endpoint.
    const secret = /Admin client:\s+admin-cli\s+secret: ([\w-]{43})/.exec(banner)?.[1] as string;
    const tokenResponse = await fetch(`${first.baseUrl}/w/default/default/api/v1/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`admin-cli:${secret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    expect(tokenResponse.status).toBe(200);
    const auth = { Authorization: `Bearer ${((await tokenResponse.json()) as { access_token: string }).access_token}` };
    const ada = await fetch(`${base}/Patient/patient-ada`, { headers: auth });
    expect(ada.status).toBe(200);
    expect(((await ada.json()) as { name: Array<{ family: string }> }).name[0]?.family).toBe('Lovelace');
    expect(fhirBase).toContain('localhost');

    // A write in flight when SIGTERM arrives still completes and is durable.
    const write = fetch(`${base}/Patient/during-shutdown`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json', ...auth },
      body: JSON.stringify({ resourceType: 'Patient', id: 'during-shutdown' }),
    });
    await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGTERM');
    expect((await write).status).toBe(201);
    expect(await exitCode(first.child)).toBe(0);

    const second = await start({ DATA_DIR: dataDir });
    expect(second.stdout()).not.toMatch(/password: [\w-]{43}/);
    // Keys and grants live in the store: the token still works after a restart.
    const after = await fetch(`${second.baseUrl}/w/default/default/api/v1/fhir/r4/Patient/during-shutdown`, { headers: auth });
    expect(after.status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await exitCode(second.child)).toBe(0);
  });

  it('stops with a message naming a bad variable', async () => {
    const child = spawn(TSX, [MAIN], { env: { ...process.env, PORT: 'not-a-port', DATA_DIR: dataDir }, stdio: 'pipe' });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    expect(await exitCode(child)).toBe(1);
    expect(err).toContain('Configuration error: PORT: expected an integer, got "not-a-port"');
  });
});
