/**
 * `fhir-smart import` and `export` against the real server: 10,000 resources from NDJSON in transaction batches with
 * plain progress lines when piped, resumed with --skip-existing, a bar (count, rate, ETA) on a terminal, Bundle
 * files and directories, failures reported with their OperationOutcome text (exit 1) while the rest is stored, and
 * an NDJSON export with --since.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliUser, type CliUser, ensureBuilt, jsonLines, runInTerminal, SCRIPT, startCliServer, type CliServer, succeeded, BUILD_AND_START_MS } from './cli-helpers';

let server: CliServer;
let cli: CliUser;
let dir: string;
const COUNT = 10_000;

beforeAll(async () => {
  ensureBuilt();
  server = await startCliServer();
  cli = cliUser({ FHIR_SMART_SERVER: server.base, FHIR_SMART_TOKEN: server.t.adminToken });
  dir = mkdtempSync(path.join(os.tmpdir(), 'fhir-smart-import-'));
}, BUILD_AND_START_MS);
afterAll(async () => {
  cli?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await server?.close();
});

async function total(query: string): Promise<number> {
  const res = await server.t.api.get(`${server.t.base}/${query}${query.includes('?') ? '&' : '?'}_summary=count`);
  return (res.body as { total: number }).total;
}

it(`imports ${COUNT.toLocaleString('en')} resources with progress lines, then resumes with --skip-existing`, async () => {
  const file = path.join(dir, 'patients.ndjson');
  const lines: string[] = [];
  for (let i = 0; i < COUNT; i++) lines.push(JSON.stringify({ resourceType: 'Patient', id: `bulk-${i}`, name: [{ family: `Family${i}` }], active: i % 2 === 0 }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  const since = new Date().toISOString();

  const run = succeeded(await cli.run(['import', file, '--batch-size', '1000']));
  expect(run.stdout).toBe(`created ${COUNT}, updated 0, skipped 0, failed 0\n`);
  const progress = run.stderr.trimEnd().split('\n');
  expect(progress).toHaveLength(COUNT / 1000);
  for (const [i, line] of progress.entries()) {
    const done = (i + 1) * 1000;
    expect(line).toMatch(new RegExp(`^imported ${done}/${COUNT} \\(${Math.floor((done / COUNT) * 100)}%\\) \\d+/s ETA (\\d+s|\\d+m\\d\\ds)$`));
  }
  expect(await total('Patient?family:contains=Family')).toBe(COUNT);

  // Again, resuming: nothing is written twice.
  const resumed = succeeded(await cli.run(['import', file, '--skip-existing', '--batch-size', '1000']));
  expect(resumed.stdout).toBe(`created 0, updated 0, skipped ${COUNT}, failed 0\n`);
  const history = await server.t.api.get(`${server.t.base}/Patient/bulk-9999/_history`);
  expect(history.body.total).toBe(1);

  // Without --skip-existing the same ids are updated.
  writeFileSync(file, `${lines.slice(0, 10).join('\n')}\n`);
  expect(succeeded(await cli.run(['import', file])).stdout).toBe('created 0, updated 10, skipped 0, failed 0\n');

  // Export: NDJSON of what changed since the import began, to stdout or to a 0600 file.
  const exported = succeeded(await cli.run(['export', 'Patient', '--since', since]));
  const resources = jsonLines(exported.stdout);
  expect(resources).toHaveLength(COUNT);
  expect(new Set(resources.map((r) => r.id)).size).toBe(COUNT);
  expect(exported.stderr).toBe(`Patient: ${COUNT} exported\n`);
  const out = path.join(dir, 'export.ndjson');
  succeeded(await cli.run(['export', 'Patient', 'Observation', '--out', out]));
  expect(statSync(out).mode & 0o777).toBe(0o600);
  const all = jsonLines(readFileSync(out, 'utf8'));
  expect(all.filter((r) => r.resourceType === 'Patient')).toHaveLength(COUNT + 2);
  expect(all.filter((r) => r.resourceType === 'Observation').length).toBeGreaterThanOrEqual(4);
  const future = succeeded(await cli.run(['export', 'Patient', '--since', '2999-01-01T00:00:00Z']));
  expect(future.stdout).toBe('');
}, 300_000);

it('imports Bundles and directories; failures are named with their OperationOutcome text and the rest is stored', async () => {
  const input = path.join(dir, 'mixed');
  mkdirSync(input);
  writeFileSync(
    path.join(input, 'a-bundle.json'),
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Organization', id: 'org-import', name: 'Imported' } },
        { resource: { resourceType: 'Patient', id: 'bad-patient', colour: 'blue' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'no id: created' } } },
      ],
    }),
  );
  writeFileSync(path.join(input, 'b.ndjson'), `${JSON.stringify({ resourceType: 'Patient', id: 'good-patient' })}\n\n{"resourceType":"Patient","id":"bad id"}\n`);
  writeFileSync(path.join(input, 'ignored.txt'), 'not imported');
  const run = await cli.run(['import', input, '--batch-size', '10']);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('created 3, updated 0, skipped 0, failed 2\n');
  expect(run.stderr).toContain(`failed: ${path.join(input, 'a-bundle.json')} entry 1 Patient/bad-patient: Unknown element 'colour' (Patient.colour)`);
  expect(run.stderr).toContain(`failed: ${path.join(input, 'b.ndjson')}:3: not a resource with a valid resourceType and id`);
  expect(run.stderr).toMatch(/fhir-smart: 2 of 5 resources failed\n$/);
  expect((await server.t.api.get(`${server.t.base}/Organization/org-import`)).status).toBe(200);
  expect((await server.t.api.get(`${server.t.base}/Patient/good-patient`)).status).toBe(200);
  expect((await server.t.api.get(`${server.t.base}/Patient/bad-patient`)).status).toBe(404);
  expect(await total('Observation?code:text=no id')).toBe(1);

  // Usage errors: exit 2 before anything is sent.
  const cases: Array<[string[], RegExp]> = [
    [['import', path.join(dir, 'missing.ndjson')], /cannot read .*missing\.ndjson/],
    [['import', input, '--batch-size', '5000'], /--batch-size must be 1 to 1000/],
    [['export', 'patient'], /'patient' is not a resource type/],
    [['export', 'Patient', '--since', 'yesterday'], /--since must be a date or instant/],
  ];
  for (const [args, message] of cases) {
    const failed = await cli.run(args);
    expect({ args, code: failed.code }).toEqual({ args, code: 2 });
    expect(failed.stderr).toMatch(message);
  }
  const broken = path.join(dir, 'broken.ndjson');
  writeFileSync(broken, '{"resourceType":"Patient"}\n{oops\n');
  const notJson = await cli.run(['import', broken]);
  expect(notJson.code).toBe(2);
  expect(notJson.stderr).toMatch(/broken\.ndjson:2 is not JSON/);
}, 120_000);

(existsSync(SCRIPT) ? it : it.skip)('draws a progress bar with count, rate and ETA on a terminal', async () => {
  const file = path.join(dir, 'tty.ndjson');
  writeFileSync(file, Array.from({ length: 300 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `tty-${i}` })).join('\n'));
  const run = await runInTerminal(cli, ['import', file, '--batch-size', '100'], { FHIR_SMART_SERVER: server.base, FHIR_SMART_TOKEN: server.t.adminToken });
  expect(run.code).toBe(0);
  const frames = run.output.split('\r').filter((f) => f.startsWith('['));
  expect(frames).toHaveLength(3);
  expect(frames[0]).toMatch(/^\[#{10}-{20}\] 100\/300 33% \d+\/s ETA \d+s/);
  expect(frames[2]).toMatch(/^\[#{30}\] 300\/300 100% \d+\/s ETA 0s/);
  expect(run.output).toContain('created 300, updated 0, skipped 0, failed 0');
}, 120_000);
