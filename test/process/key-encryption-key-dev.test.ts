/**
 * The key-encryption key outside production: generated on the first start, printed once, kept in
 * DATA_DIR/key-encryption-key (0600) so a restart keeps its signing keys; a missing key file with encrypted keys
 * in the store stops the start naming KEY_ENCRYPTION_KEY (no new key is saved). With NODE_ENV=production the
 * variable is required.
 */
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { failedStart, filesUnder, killLeftoverServers, serverToken, startServer } from '../helpers/server-process';
import { clearPrivateMembers } from '../storage/signing-keys-at-rest.contract';

// Each test starts real server processes: generous on a loaded machine (the waits inside are event-driven).
jest.setTimeout(300_000);

const SECRET = 'dev-kek-admin-client-secret';
let dataDir: string;
let env: Record<string, string | undefined>;
const keyFile = (): string => path.join(dataDir, 'key-encryption-key');

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-dev-kek-'));
  env = { DATA_DIR: dataDir, ADMIN_CLIENT_SECRET: SECRET, SEED_DEMO: 'false', NODE_ENV: 'development', KEY_ENCRYPTION_KEY: undefined, KEY_ENCRYPTION_KEY_PREVIOUS: undefined };
});
afterEach(killLeftoverServers);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function fhirStatus(baseUrl: string, token: string): Promise<number> {
  return (await fetch(`${baseUrl}/w/default/default/api/v1/fhir/r4/Patient`, { headers: { Authorization: `Bearer ${token}` } })).status;
}

describe('the development key-encryption key', () => {
  let token: string;

  it('is generated on the first start, printed once with a warning and kept in a 0600 file in DATA_DIR', async () => {
    const server = await startServer(env);
    const printed = /Key-encryption key: ([\w-]{43})\s+\(generated; shown once; kept in (\S+)\)/.exec(server.stdout());
    expect(printed?.[2]).toBe(keyFile());
    expect(server.stdout()).toContain('WARNING: KEY_ENCRYPTION_KEY is unset');
    expect(fs.readFileSync(keyFile(), 'utf8')).toBe(`${printed?.[1]}\n`);
    if (process.platform !== 'win32') expect((fs.statSync(keyFile()).mode & 0o777).toString(8)).toBe('600');
    token = await serverToken(server.baseUrl, 'admin-cli', SECRET);
    expect(await fhirStatus(server.baseUrl, token)).toBe(200);
    expect(await server.stop()).toBe(0);
    for (const file of filesUnder(dataDir).files) expect({ file: file.path, clear: clearPrivateMembers(file.text) }).toEqual({ file: file.path, clear: [] });
  });

  it('is read from its file on the next start, not printed again; earlier tokens still verify', async () => {
    const server = await startServer(env);
    expect(server.stdout()).toContain(`Key-encryption key: read from ${keyFile()} (development; set KEY_ENCRYPTION_KEY in production)`);
    expect(server.stdout()).not.toMatch(/Key-encryption key: [\w-]{43}/);
    expect(await fhirStatus(server.baseUrl, token)).toBe(200);
    expect(await server.stop()).toBe(0);
  });

  it('stops naming KEY_ENCRYPTION_KEY when the file is gone but the store holds keys it encrypted, saving no new key', async () => {
    const saved = fs.readFileSync(keyFile(), 'utf8');
    fs.rmSync(keyFile());
    const res = await failedStart(env);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^Start-up failed: KEY_ENCRYPTION_KEY: the signing key [0-9a-f-]{36} of project default\/default is encrypted with key-encryption key/m);
    expect(res.stderr).toContain(`(KEY_ENCRYPTION_KEY is unset and ${keyFile()} is missing, so a new key was generated and not saved: restore that file or set KEY_ENCRYPTION_KEY)`);
    expect(fs.existsSync(keyFile())).toBe(false);

    // The same key given through the variable opens the store.
    const server = await startServer({ ...env, KEY_ENCRYPTION_KEY: saved.trim() });
    expect(server.stdout()).not.toContain('Key-encryption key:');
    expect(await fhirStatus(server.baseUrl, token)).toBe(200);
    expect(await server.stop()).toBe(0);
  });

  it('is never generated in production: NODE_ENV=production requires KEY_ENCRYPTION_KEY', async () => {
    const res = await failedStart({ ...env, NODE_ENV: 'production' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Configuration error: KEY_ENCRYPTION_KEY: required when NODE_ENV=production');
  });
});
