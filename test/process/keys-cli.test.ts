/** `npm run keys -- rotate|list`: rotates a project's signing key in the store; the retired key stays listed. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths';

const TSX = path.join(ROOT_DIR, 'node_modules', '.bin', 'tsx');
let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-keys-cli-'));
  // The seed command bootstraps the project on the empty store.
  const seeded = run('seed.ts', 'demo');
  expect(seeded.status).toBe(0);
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function run(script: string, ...args: string[]) {
  const env = { ...process.env, DATA_DIR: dataDir, ADMIN_PASSWORD: 'cli test password', LOG_LEVEL: 'silent' };
  return spawnSync(TSX, [path.join(ROOT_DIR, 'src', 'cli', script), ...args], { env, encoding: 'utf8' });
}

describe('keys command', () => {
  it('lists no key before first use, rotates twice, and lists the retired key with its removal date', () => {
    expect(run('keys.ts', 'list').stdout).toContain('default/default: no signing key yet');
    const first = run('keys.ts', 'rotate', '--tenant', 'default', '--project', 'default');
    expect(first.status).toBe(0);
    const kid = /new signing key ([0-9a-f-]{36})/.exec(first.stdout)?.[1];
    const second = run('keys.ts', 'rotate');
    expect(second.stdout).toMatch(new RegExp(`new signing key [0-9a-f-]{36}; retired ${kid}`));
    const list = run('keys.ts', 'list');
    expect(list.stdout).toMatch(new RegExp(`${kid} RS256 created \\S+ retired \\S+, published until \\S+`));
    expect(list.stdout.match(/ active$/gm)).toHaveLength(1);
  });

  it('fails with a message for an unknown project', () => {
    const res = run('keys.ts', 'rotate', '--tenant', 'nobody', '--project', 'none');
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('keys failed: unknown project nobody/none');
  });
});
