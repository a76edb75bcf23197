/** `npm run seed -- <name>`: loads a bundle with visible progress, idempotently, and fails clearly. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtArgs } from '../helpers/built';
import { runNodeSync } from '../helpers/child-processes';

// Each test runs real CLI processes: generous on a loaded machine (each run has its own deadline, CLI_DEADLINE_MS).
jest.setTimeout(300_000);

let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-seed-cli-'));
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function seed(...args: string[]) {
  return runNodeSync(builtArgs('cli/seed.js', args), { env: { ...process.env, DATA_DIR: dataDir, ADMIN_PASSWORD: 'cli test password' } });
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

  it('fails with a message for an unknown bundle or a project name that is not a slug', () => {
    const missing = seed('no-such-bundle', '--tenant', 'never', '--project', 'made');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/seed failed: .*no-such-bundle\.json/);
    const project = seed('demo', '--tenant', 'Nobody', '--project', 'none');
    expect(project.status).toBe(1);
    expect(project.stderr).toContain('seed failed: tenant and project must be slugs');
  });

  it('creates a missing project as the API would, then loads the bundle into it', () => {
    const run = seed('demo', '--tenant', 'acme', '--project', 'clinic');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Created project acme/clinic');
    expect(run.stdout).toContain('Loading seed/demo.json into acme/clinic (10 entries)');
    expect(run.stdout).toContain('Done: 10 created, 0 updated, 0 unchanged');
    const again = seed('demo', '--tenant', 'acme', '--project', 'clinic');
    expect(again.stdout).not.toContain('Created project');
    expect(again.stdout).toContain('Done: 0 created, 0 updated, 10 unchanged');
  });
});
