/** `npm run seed -- <name>`: loads a bundle with visible progress, idempotently, and fails clearly. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths';

// Each test starts real server processes: generous on a loaded machine (the waits inside are event-driven).
jest.setTimeout(300_000);

const TSX = path.join(ROOT_DIR, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT_DIR, 'src', 'cli', 'seed.ts');
let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-seed-cli-'));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function seed(...args: string[]) {
  return spawnSync(TSX, [CLI, ...args], { env: { ...process.env, DATA_DIR: dataDir, ADMIN_PASSWORD: 'cli test password' }, encoding: 'utf8' });
}

describe('seed command', () => {
  it('loads the demo bundle with progress, then finds nothing to change', () => {
    const first = seed('demo');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('Loading seed/demo.json into default/default (10 entries)');
    expect(first.stdout).toContain('[3/10] Patient/patient-ada created');
    expect(first.stdout).toContain('Done: 10 created, 0 updated, 0 unchanged');
    const second = seed('demo');
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('Done: 0 created, 0 updated, 10 unchanged');
  });

  it('fails with a message for an unknown bundle or project', () => {
    const missing = seed('no-such-bundle');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/seed failed: .*no-such-bundle\.json/);
    const project = seed('demo', '--tenant', 'nobody', '--project', 'none');
    expect(project.status).toBe(1);
    expect(project.stderr).toContain('seed failed: unknown project nobody/none');
  });
});
