/**
 * Starts the real server process (`dist/main.js`) as `npm start` does, on a temporary DATA_DIR: checks the
 * start-up banner, that the bootstrap project and demo seed are served, that SIGTERM lets an in-flight write
 * finish and exits 0, that the data is there after a restart, and that a bad variable stops start-up.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exitCode, failedStart, killLeftoverServers, startServer as start } from '../helpers/server-process';

// Each test starts real server processes: generous on a loaded machine (the waits inside are event-driven).
jest.setTimeout(300_000);

/**
 * PUTs a resource, sending the body only once the server has the request in hand (`Expect: 100-continue`: the
 * server answers `100 Continue` after reading the headers), and calls `inFlight` at that moment.
 * @returns the status and the response's `Connection` header
 */
function putWhenAccepted(url: string, token: string, body: string, inFlight: () => void): Promise<{ status: number; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/fhir+json', Authorization: `Bearer ${token}`, Expect: '100-continue', 'Content-Length': Buffer.byteLength(body) },
    });
    req.on('continue', () => {
      inFlight();
      req.end(body);
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-main-'));
});
afterEach(killLeftoverServers);
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
    const accessToken = ((await tokenResponse.json()) as { access_token: string }).access_token;
    const auth = { Authorization: `Bearer ${accessToken}` };
    const ada = await fetch(`${base}/Patient/patient-ada`, { headers: auth });
    expect(ada.status).toBe(200);
    expect(((await ada.json()) as { name: Array<{ family: string }> }).name[0]?.family).toBe('Lovelace');
    expect(fhirBase).toContain('localhost');

    // A write in flight when SIGTERM arrives still completes and is durable; its connection closes with the answer
    // (no keep-alive to wait out before the process can exit).
    const exited = exitCode(first.child);
    const written = await putWhenAccepted(`${base}/Patient/during-shutdown`, accessToken, JSON.stringify({ resourceType: 'Patient', id: 'during-shutdown' }), () =>
      first.child.kill('SIGTERM'),
    );
    expect(written).toEqual({ status: 201, connection: 'close' });
    expect(await exited).toBe(0);

    const second = await start({ DATA_DIR: dataDir });
    expect(second.stdout()).not.toMatch(/password: [\w-]{43}/);
    // Keys and grants live in the store: the token still works after a restart.
    const after = await fetch(`${second.baseUrl}/w/default/default/api/v1/fhir/r4/Patient/during-shutdown`, { headers: auth });
    expect(after.status).toBe(200);
    expect(await second.stop()).toBe(0);
  });

  it('stops with a message naming a bad variable', async () => {
    const failed = await failedStart({ PORT: 'not-a-port', DATA_DIR: dataDir });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('Configuration error: PORT: expected an integer, got "not-a-port"');
  });
});
