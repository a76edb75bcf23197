/**
 * `npm run keys -- rotate|list|encryption`: rotates a project's signing key in the store (the retired key stays
 * listed); re-encrypts the stored keys under a new KEY_ENCRYPTION_KEY given with KEY_ENCRYPTION_KEY_PREVIOUS.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtArgs } from '../helpers/built';
import { runNodeSync } from '../helpers/child-processes';

// Each test runs real CLI processes: generous on a loaded machine (each run has its own deadline, CLI_DEADLINE_MS).
jest.setTimeout(300_000);

let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-keys-cli-'));
  // The seed command bootstraps the project on the empty store.
  const seeded = run('seed.js', 'demo');
  expect(seeded.status).toBe(0);
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function run(script: string, ...args: string[]) {
  return runWith({}, script, ...args);
}

function runWith(extra: Record<string, string>, script: string, ...args: string[]) {
  const env = { ...process.env, DATA_DIR: dataDir, ADMIN_PASSWORD: 'cli test password', LOG_LEVEL: 'silent', ...extra };
  return runNodeSync(builtArgs(`cli/${script}`, args), { env });
}

describe('keys command', () => {
  it('lists no key before first use, rotates twice, and lists the retired key with its removal date', () => {
    expect(run('keys.js', 'list').stdout).toContain('default/default: no signing key yet');
    const first = run('keys.js', 'rotate', '--tenant', 'default', '--project', 'default');
    expect(first.status).toBe(0);
    const kid = /new signing key ([0-9a-f-]{36})/.exec(first.stdout)?.[1];
    const second = run('keys.js', 'rotate');
    expect(second.stdout).toMatch(new RegExp(`new signing key [0-9a-f-]{36}; retired ${kid}`));
    const list = run('keys.js', 'list');
    expect(list.stdout).toMatch(new RegExp(`${kid} RS256 created \\S+ retired \\S+, published until \\S+`));
    expect(list.stdout.match(/ active$/gm)).toHaveLength(1);
  });

  it('fails with a message for an unknown project', () => {
    const res = run('keys.js', 'rotate', '--tenant', 'nobody', '--project', 'none');
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('keys failed: unknown project nobody/none');
  });

  it('re-encrypts the stored keys under a new key-encryption key given with the previous one', () => {
    // Last: afterwards the store opens only with the new key.
    const before = readFileSync(path.join(dataDir, 'key-encryption-key'), 'utf8').trim();
    const next = randomBytes(32).toString('hex');
    const check = run('keys.js', 'encryption');
    expect(check.stdout).toMatch(/^key-encryption key [\w-]{16} \(data-dir \S+key-encryption-key\)\n/);
    expect(check.stdout).toContain('signing keys: 2 stored');
    // Without the previous key the new one opens nothing, and the command says which variable to set.
    const alone = runWith({ KEY_ENCRYPTION_KEY: next }, 'keys.js', 'list');
    expect(alone.status).toBe(1);
    expect(alone.stderr).toMatch(/^keys failed: KEY_ENCRYPTION_KEY: the signing key [0-9a-f-]{36} of project default\/default is encrypted with key-encryption key/);

    const rotated = runWith({ KEY_ENCRYPTION_KEY: next, KEY_ENCRYPTION_KEY_PREVIOUS: before }, 'keys.js', 'encryption');
    expect(rotated.status).toBe(0);
    expect(rotated.stdout).toMatch(/, previous [\w-]{16}\nsigning keys: 2 stored, all encrypted with [\w-]{16}; 0 were in clear, 2 re-encrypted from the previous key\n$/);
    const journal = readFileSync(path.join(dataDir, 'journal.ndjson'), 'utf8');
    expect(new Set([...journal.matchAll(/"kekId":"([\w-]+)"/g)].map((m) => m[1])).size).toBe(1);
    // Now the new key alone suffices, and the former one no longer opens the store.
    expect(runWith({ KEY_ENCRYPTION_KEY: next }, 'keys.js', 'list').stdout.match(/ RS256 /g)).toHaveLength(2);
    expect(runWith({ KEY_ENCRYPTION_KEY: before }, 'keys.js', 'list').status).toBe(1);
  });
});
