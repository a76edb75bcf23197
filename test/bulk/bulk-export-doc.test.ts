/**
 * docs/bulk-export.md is a working walkthrough: its ```sh blocks run in page order in one `bash -euo pipefail` shell
 * against a server listening on a real port (demo seed loaded), with the variables of the docs convention: `BASE`,
 * `FHIR`, `OAUTH`, `TOKEN` (the admin client's client_credentials token), `ADMIN_CLIENT_ID`, `ADMIN_CLIENT_SECRET`.
 * A block preceded by `<!-- docs-test: skip — reason -->` is left out.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { readSeedBundle } from '../../src/seed/bootstrap';
import { loadSeedBundle } from '../../src/seed/load-bundle';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { listeningServer } from '../helpers/bulk-client';

const PAGE = path.join(__dirname, '..', '..', 'docs', 'bulk-export.md');

/** The page's sh blocks, in order. */
function shellBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```sh') continue;
    const skipped = /^<!-- docs-test: skip/.test(lines[i - 1]?.trim() ?? '');
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]?.trim() !== '```'; i++) body.push(lines[i] as string);
    if (!skipped) blocks.push(body.join('\n'));
  }
  return blocks;
}

let t: TestApp;
let http: Awaited<ReturnType<typeof listeningServer>>;

beforeAll(async () => {
  http = await listeningServer();
  t = await buildTestApp({ PUBLIC_URL: http.origin });
  http.server.on('request', t.app);
  await loadSeedBundle(new FhirRepository(t.storage.resources, t.boot.project.key), await readSeedBundle('demo'));
}, 60_000);

afterAll(async () => {
  await http.close();
  await t.close();
});

it('runs every sh block of docs/bulk-export.md', async () => {
  const blocks = shellBlocks(readFileSync(PAGE, 'utf8'));
  expect(blocks.length).toBeGreaterThanOrEqual(7);
  const script = blocks.join('\n');
  const env = {
    ...process.env,
    BASE: http.origin,
    FHIR: `${http.origin}/w/default/default/api/v1/fhir/r4`,
    OAUTH: `${http.origin}/w/default/default/api/v1/oauth`,
    TOKEN: t.adminToken,
    ADMIN_CLIENT_ID: t.config.adminClientId,
    ADMIN_CLIENT_SECRET: t.config.adminClientSecret as string,
  };
  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the walkthrough failed (exit ${code}):\n${out}`);
  expect(out).toMatch(/Patient: [1-9]\d* resources/);
  expect(out).toMatch(/Observation: [1-9]\d* resources/);
}, 120_000);
