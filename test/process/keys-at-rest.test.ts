/**
 * Signing keys at rest, on the real server process with KEY_ENCRYPTION_KEY set: after tokens were issued no file
 * under DATA_DIR holds a private JWK member in clear, DATA_DIR is 0700 and its files 0600; a restart with the same
 * key verifies the earlier token; a restart with another key stops with a message naming KEY_ENCRYPTION_KEY and
 * changes nothing; a store whose key is in clear (written before encryption) is encrypted at the next start, and
 * the key keeps verifying the tokens it signed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keyRecordOf, openPrivateJwk } from '../../src/oauth/tokens/key-record';
import { KeyEncryption } from '../../src/security/key-encryption';
import { openEmbeddedStorage } from '../../src/storage/embedded';
import { failedStart, filesUnder, killLeftoverServers, serverToken, startServer } from '../helpers/server-process';
import { clearPrivateMembers } from '../storage/signing-keys-at-rest.contract';

// Each test starts real server processes: generous on a loaded machine (the waits inside are event-driven).
jest.setTimeout(300_000);

const KEK = randomBytes(32);
const SECRET = 'keys-at-rest-admin-secret';
let dataDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-keys-at-rest-'));
  env = { DATA_DIR: dataDir, KEY_ENCRYPTION_KEY: KEK.toString('hex'), ADMIN_CLIENT_SECRET: SECRET, SEED_DEMO: 'false' };
});
afterEach(killLeftoverServers);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Every file under DATA_DIR: none holds a private JWK member in clear; the directory is 0700, files 0600. */
function expectDataDirPrivate(): void {
  const { files, dirs } = filesUnder(dataDir);
  expect(files.map((f) => path.basename(f.path)).sort()).toEqual(expect.arrayContaining(['journal.ndjson']));
  for (const file of files) expect({ file: file.path, clear: clearPrivateMembers(file.text) }).toEqual({ file: file.path, clear: [] });
  if (process.platform === 'win32') return;
  for (const file of files) expect({ file: file.path, mode: file.mode.toString(8) }).toEqual({ file: file.path, mode: '600' });
  for (const dir of dirs) expect({ dir: dir.path, mode: dir.mode.toString(8) }).toEqual({ dir: dir.path, mode: '700' });
}

async function fhirStatus(baseUrl: string, token: string): Promise<number> {
  return (await fetch(`${baseUrl}/w/default/default/api/v1/fhir/r4/Patient`, { headers: { Authorization: `Bearer ${token}` } })).status;
}

async function publishedKids(baseUrl: string): Promise<string[]> {
  const set = (await (await fetch(`${baseUrl}/w/default/default/api/v1/oauth/jwks`)).json()) as { keys: Array<{ kid: string }> };
  return set.keys.map((k) => k.kid).sort();
}

describe('signing keys at rest (KEY_ENCRYPTION_KEY set)', () => {
  let token: string;
  let kids: string[];

  it('leaves no private key member in clear under DATA_DIR, which is 0700 with files 0600', async () => {
    const server = await startServer(env);
    token = await serverToken(server.baseUrl, 'admin-cli', SECRET);
    expect(await fhirStatus(server.baseUrl, token)).toBe(200);
    kids = await publishedKids(server.baseUrl);
    expect(kids).toHaveLength(1);
    expect(server.stdout()).not.toContain('Key-encryption key:');
    expectDataDirPrivate();
    expect(await server.stop()).toBe(0);
    expectDataDirPrivate();
  });

  it('verifies the earlier token after a restart with the same key', async () => {
    const server = await startServer(env);
    expect(await fhirStatus(server.baseUrl, token)).toBe(200);
    expect(await publishedKids(server.baseUrl)).toEqual(kids);
    expect(await server.stop()).toBe(0);
  });

  it('stops with a message naming KEY_ENCRYPTION_KEY when started with another key, creating no key', async () => {
    const wrong = await failedStart({ ...env, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url') });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^Start-up failed: KEY_ENCRYPTION_KEY: the signing key [0-9a-f-]{36} of project default\/default is encrypted with key-encryption key [\w-]{16}, but the configured key is [\w-]{16}\./m);
    expect(wrong.stdout).not.toContain('listening');
    const malformed = await failedStart({ ...env, KEY_ENCRYPTION_KEY: 'not-a-key' });
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('Configuration error: KEY_ENCRYPTION_KEY: expected 32 bytes as 64 hex digits or 43 base64url characters');

    const server = await startServer(env);
    expect(await publishedKids(server.baseUrl)).toEqual(kids);
    expect(await fhirStatus(server.baseUrl, token)).toBe(200);
    expect(await server.stop()).toBe(0);
  });

  it('encrypts a key stored in clear by an earlier version at the next start; the key keeps verifying its tokens', async () => {
    // The record as versions before encryption wrote it: the private JWK in clear.
    const storage = await openEmbeddedStorage({ dataDir });
    const encryption = new KeyEncryption(KEK);
    for (const record of await storage.records.find('signing-key')) {
      const { encryptedPrivateJwk: _sealed, ...value } = keyRecordOf(record);
      await storage.records.put({ ...record, value: { ...value, privateJwk: openPrivateJwk(encryption, keyRecordOf(record)) } });
    }
    await storage.close();
    const before = filesUnder(dataDir).files.find((f) => path.basename(f.path) === 'journal.ndjson');
    expect(clearPrivateMembers(before?.text ?? '')).toEqual(['d', 'p', 'q', 'dp', 'dq', 'qi']);

    const server = await startServer(env);
    expect(server.stdout()).toMatch(/"msg":"signing keys stored in clear were encrypted"/);
    expect(await fhirStatus(server.baseUrl, token)).toBe(200);
    expect(await publishedKids(server.baseUrl)).toEqual(kids);
    expectDataDirPrivate();
    expect(await server.stop()).toBe(0);
    expectDataDirPrivate();
  });
});
