/** `npm run seed -- <name>`: loads a bundle with visible progress, idempotently, and fails clearly. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTsSync } from '../helpers/child-processes';

// Each test runs real CLI processes: generous on a loaded machine (each run has its own deadline, CLI_DEADLINE_MS).
jest.setTimeout(300_000);

const CLI = path.join('src', 'cli', 'seed.ts');
let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-seed-cli-'));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function seed(...args: string[]) {
  return runTsSync(CLI, args, { env: { ...process.env, DATA_DIR: dataDir, ADMIN_PASSWORD: 'cli test password' } });
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
