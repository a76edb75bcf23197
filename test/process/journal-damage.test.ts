/**
 * The server process on a damaged journal: a torn last line (a write cut short by a crash) is reported with what
 * it was and kept in DATA_DIR/journal.rejected, and the server starts; a damaged line in the middle stops
 * start-up with a non-zero exit and a message naming the line and DATA_DIR.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { failedStart, killLeftoverServers, serverToken, startServer } from '../helpers/server-process';

const SECRET = 'journal-damage-admin-secret';
let dataDir: string;
let env: Record<string, string>;
const journal = (): string => path.join(dataDir, 'journal.ndjson');

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-journal-damage-'));
  env = { DATA_DIR: dataDir, KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'), ADMIN_CLIENT_SECRET: SECRET, SEED_DEMO: 'false' };
});
afterEach(killLeftoverServers);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function putPatient(baseUrl: string, token: string, id: string): Promise<number> {
  const res = await fetch(`${baseUrl}/w/default/default/api/v1/fhir/r4/Patient/${id}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Patient', id }),
  });
  return res.status;
}

describe('a damaged journal', () => {
  it('starts past a torn last line, naming it and keeping it in journal.rejected', async () => {
    const first = await startServer(env);
    const token = await serverToken(first.baseUrl, 'admin-cli', SECRET);
    expect(await putPatient(first.baseUrl, token, 'kept')).toBe(201);
    expect(await first.stop()).toBe(0);

    const torn = '{"t":"resources","docs":[{"project":"default/default","type":"Patient","id":"torn-1","versionId":1,"lastUp';
    fs.appendFileSync(journal(), torn);
    const lineNumber = fs.readFileSync(journal(), 'utf8').split('\n').length;

    const second = await startServer(env);
    const warning = second
      .stdout()
      .split('\n')
      .filter((line) => line.includes('set aside a damaged last line'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(warning).toEqual([
      expect.objectContaining({
        msg: 'journal: set aside a damaged last line (an interrupted, unacknowledged write of Patient/torn-1/_history/1)',
        lineNumber,
        entry: 'resources',
        resources: [{ type: 'Patient', id: 'torn-1', versionId: 1 }],
        rejectedFile: path.join(dataDir, 'journal.rejected'),
      }),
    ]);
    const token2 = await serverToken(second.baseUrl, 'admin-cli', SECRET);
    expect(await putPatient(second.baseUrl, token2, 'after')).toBe(201);
    expect(await second.stop()).toBe(0);

    const rejected = path.join(dataDir, 'journal.rejected');
    const kept = fs.readFileSync(rejected, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(kept).toEqual([expect.objectContaining({ lineNumber, text: torn })]);
    if (process.platform !== 'win32') expect(fs.statSync(rejected).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('refuses to start on a damaged middle line, exiting non-zero with the line and DATA_DIR', async () => {
    const lines = fs.readFileSync(journal(), 'utf8').split('\n');
    expect(lines.length).toBeGreaterThan(4);
    lines[2] = `${(lines[2] as string).slice(0, 40)}\u0000`;
    const damaged = lines.join('\n');
    fs.writeFileSync(journal(), damaged);

    const failed = await failedStart(env);
    expect(failed.code).toBe(1);
    expect(failed.stdout).not.toContain('listening');
    expect(failed.stderr).toContain(`Start-up failed: DATA_DIR ${dataDir}: the journal journal.ndjson is corrupt at line 3 (byte `);
    expect(failed.stderr).toContain('refusing to start');
    expect(fs.readFileSync(journal(), 'utf8')).toBe(damaged);
  }, 60_000);
});
