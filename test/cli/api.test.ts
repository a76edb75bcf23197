/**
 * `fhir-smart api …` against the real server: every interaction's success and failure, what goes to stdout and
 * stderr, and the exit codes (0 ok, 1 HTTP error with the OperationOutcome's text, 2 usage, 3 network). JSON is
 * compact when piped and indented on a terminal (a pseudo-terminal from util-linux `script`).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliUser, type CliUser, ensureBuilt, jsonLines, runInTerminal, SCRIPT, startCliServer, type CliServer, succeeded, BUILD_AND_START_MS } from './cli-helpers';

let server: CliServer;
let cli: CliUser;
let dir: string;

beforeAll(async () => {
  ensureBuilt();
  server = await startCliServer();
  // A non-interactive caller: the admin token in the environment, no profile.
  cli = cliUser({ FHIR_SMART_SERVER: server.base, FHIR_SMART_TOKEN: server.t.adminToken });
  dir = mkdtempSync(path.join(os.tmpdir(), 'fhir-smart-api-'));
}, BUILD_AND_START_MS);
afterAll(async () => {
  cli?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await server?.close();
});

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('interactions', () => {
  it('creates, reads, updates, patches, vreads, deletes, with --data inline, @file and stdin', async () => {
    const created = succeeded(await cli.run(['api', 'create', 'r4', 'Patient', '--data', '{"resourceType":"Patient","name":[{"family":"Curie"}]}']));
    expect(created.stdout.trim().split('\n')).toHaveLength(1);
    const patient = json(created.stdout);
    expect(patient).toMatchObject({ resourceType: 'Patient', meta: { versionId: '1' }, name: [{ family: 'Curie' }] });
    const id = patient.id as string;

    const read = succeeded(await cli.run(['api', 'read', 'r4', 'Patient', id]));
    expect(json(read.stdout)).toMatchObject({ id, meta: { versionId: '1' } });

    const file = path.join(dir, 'patient.json');
    writeFileSync(file, JSON.stringify({ resourceType: 'Patient', id, name: [{ family: 'Curie', given: ['Marie'] }] }));
    const updated = succeeded(await cli.run(['api', 'update', 'r4', 'Patient', id, '--data', `@${file}`]));
    expect(json(updated.stdout)).toMatchObject({ id, meta: { versionId: '2' }, name: [{ given: ['Marie'] }] });

    const fromStdin = succeeded(
      await cli.run(['api', 'update', 'r4', 'Patient', id, '--data', '-', '--if-match', '2'], { input: JSON.stringify({ resourceType: 'Patient', id, active: true }) }),
    );
    expect(json(fromStdin.stdout)).toMatchObject({ meta: { versionId: '3' }, active: true });
    const stale = await cli.run(['api', 'update', 'r4', 'Patient', id, '--data', '{"resourceType":"Patient","id":"' + id + '"}', '--if-match', '1']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^fhir-smart: HTTP 412: /);

    const patched = succeeded(await cli.run(['api', 'patch', 'r4', 'Patient', id, '--data', '[{"op":"replace","path":"/active","value":false}]']));
    expect(json(patched.stdout)).toMatchObject({ meta: { versionId: '4' }, active: false });
    const version = succeeded(await cli.run(['api', 'vread', 'r4', 'Patient', id, '2']));
    expect(json(version.stdout)).toMatchObject({ meta: { versionId: '2' }, name: [{ given: ['Marie'] }] });

    const history = succeeded(await cli.run(['api', 'history', 'r4', 'Patient', id, '--output', 'ndjson']));
    expect(jsonLines(history.stdout).map((r) => (r.meta as { versionId: string }).versionId)).toEqual(['4', '3', '2', '1']);

    const deleted = succeeded(await cli.run(['api', 'delete', 'r4', 'Patient', id]));
    expect(deleted.stdout).toBe('');
    expect(deleted.stderr).toBe(`Deleted Patient/${id}\n`);
    const gone = await cli.run(['api', 'read', 'r4', 'Patient', id]);
    expect(gone).toMatchObject({ code: 1, stdout: '' });
    expect(gone.stderr).toMatch(/^fhir-smart: HTTP 410: /);
  }, 120_000);

  it('searches one page, every page (--all) and as NDJSON; histories of a type', async () => {
    const page = succeeded(await cli.run(['api', 'search', 'r4', 'Observation', '_count=1']));
    const bundle = json(page.stdout) as { entry: unknown[]; link: Array<{ relation: string }>; total: number };
    expect(bundle.entry).toHaveLength(1);
    expect(bundle.link.map((l) => l.relation)).toContain('next');
    const total = bundle.total;
    expect(total).toBeGreaterThanOrEqual(4);

    const all = succeeded(await cli.run(['api', 'search', 'r4', 'Observation', '_count=1', '--all']));
    const merged = json(all.stdout) as { entry: Array<{ resource: { id: string } }>; link: Array<{ relation: string }> };
    expect(merged.entry).toHaveLength(total);
    expect(new Set(merged.entry.map((e) => e.resource.id)).size).toBe(total);
    expect(merged.link.map((l) => l.relation)).toEqual(['self']);

    const lines = succeeded(await cli.run(['api', 'search', 'r4', 'Observation', '_count=2', '--all', '--output', 'ndjson']));
    expect(jsonLines(lines.stdout).map((r) => r.resourceType)).toEqual(Array(total).fill('Observation'));

    const query = succeeded(await cli.run(['api', 'search', 'r4', 'Patient', 'family=Lovelace&_elements=id']));
    expect((json(query.stdout) as { entry: Array<{ resource: { id: string } }> }).entry.map((e) => e.resource.id)).toEqual(['patient-ada']);

    const history = succeeded(await cli.run(['api', 'history', 'r4', 'Observation', '--count', '2', '--all', '--output', 'ndjson']));
    expect(jsonLines(history.stdout).length).toBeGreaterThanOrEqual(total);
  }, 120_000);
});

describe('failures and exit codes', () => {
  it('exits 1 with the OperationOutcome text on stderr for HTTP errors', async () => {
    const missing = await cli.run(['api', 'read', 'r4', 'Patient', 'no-such-patient']);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'fhir-smart: HTTP 404: Patient/no-such-patient not found\n' });
    const invalid = await cli.run(['api', 'create', 'r4', 'Patient', '--data', '{"resourceType":"Patient","colour":"blue"}']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^fhir-smart: HTTP 400: .*Patient\.colour/);
    const badSearch = await cli.run(['api', 'search', 'r4', 'Patient', 'birthdate=not-a-date']);
    expect(badSearch.code).toBe(1);
    expect(badSearch.stderr).toMatch(/^fhir-smart: HTTP 400: /);
    const noToken = await cli.run(['api', 'read', 'r4', 'Patient', 'patient-ada'], { env: { FHIR_SMART_TOKEN: 'not-a-token' } });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/^fhir-smart: HTTP 401: /);
  }, 60_000);

  it('exits 2 for usage errors, before any request', async () => {
    const cases: Array<[string[], RegExp, string?]> = [
      [['api', 'read', 'r5', 'Patient', 'x'], /unsupported FHIR version 'r5'/],
      [['api', 'read', 'r4', 'patient', 'x'], /'patient' is not a resource type/],
      [['api', 'read', 'r4', 'Patient', 'bad/id'], /not a valid id/],
      [['api', 'create', 'r4', 'Patient'], /required option '--data <json>' not specified/],
      [['api', 'create', 'r4', 'Patient', '--data', '{oops'], /--data is not JSON/],
      [['api', 'create', 'r4', 'Patient', '--data', '@/no/such/file.json'], /cannot read \/no\/such\/file\.json/],
      [['api', 'patch', 'r4', 'Patient', 'x', '--data', '{"op":"add"}'], /must be a JSON Patch array/],
      [['api', 'search', 'r4', 'Patient', 'name'], /search parameters are name=value/],
      [['api', 'search', 'r4', 'Patient', '--output', 'xml'], /Allowed choices are json, ndjson/],
      [['api', 'frobnicate'], /unknown command 'frobnicate'/],
      [['--server', 'ftp://x', 'api', 'read', 'r4', 'Patient', 'x'], /--server must be an http\(s\) URL/],
      [['api', 'read', 'r4', 'Patient', 'x'], /not logged in to .*run fhir-smart login, or give --token/, 'no token'],
    ];
    for (const [args, message, noToken] of cases) {
      const run = await cli.run(args, noToken ? { env: { FHIR_SMART_TOKEN: undefined } } : {});
      expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(run.stderr).toMatch(message);
    }
    const help = await cli.run(['api', 'search', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--output <format>/);
  }, 120_000);

  it('exits 3 when the server cannot be reached', async () => {
    const run = await cli.run(['api', 'read', 'r4', 'Patient', 'patient-ada'], { env: { FHIR_SMART_SERVER: 'http://127.0.0.1:9' } });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^fhir-smart: cannot reach http:\/\/127\.0\.0\.1:9: /);
  }, 60_000);
});

(existsSync(SCRIPT) ? it : it.skip)('indents JSON on a terminal and prints one line when piped', async () => {
  const piped = succeeded(await cli.run(['api', 'read', 'r4', 'Patient', 'patient-ada']));
  expect(piped.stdout.trim().split('\n')).toHaveLength(1);
  const tty = await runInTerminal(cli, ['api', 'read', 'r4', 'Patient', 'patient-ada'], { FHIR_SMART_SERVER: server.base, FHIR_SMART_TOKEN: server.t.adminToken });
  expect(tty.code).toBe(0);
  expect(tty.output).toMatch(/^\{\n {2}"resourceType": "Patient",\n {2}"id": "patient-ada",/);
  expect(JSON.parse(tty.output)).toEqual(JSON.parse(piped.stdout));
}, 120_000);

it('never sends the token to another origin than the server, even when a next link points there', async () => {
  // A server whose PUBLIC_URL is not the address the CLI uses: its links name another origin.
  const elsewhere = await startCliServer({ PUBLIC_URL: 'http://public.example' });
  try {
    const user = cliUser({ FHIR_SMART_SERVER: elsewhere.base, FHIR_SMART_TOKEN: elsewhere.t.adminToken });
    const first = succeeded(await user.run(['api', 'search', 'r4', 'Observation', '_count=1']));
    expect(JSON.parse(first.stdout).link).toEqual(expect.arrayContaining([expect.objectContaining({ relation: 'next', url: expect.stringMatching(/^http:\/\/public\.example\//) })]));
    const all = await user.run(['api', 'search', 'r4', 'Observation', '_count=1', '--all']);
    expect(all).toMatchObject({ code: 1, stdout: '' });
    expect(all.stderr).toMatch(/refusing to send the access token to http:\/\/public\.example \(the server is http:\/\/127\.0\.0\.1:\d+\); check PUBLIC_URL/);
    user.remove();
  } finally {
    await elsewhere.close();
  }
}, 120_000);
