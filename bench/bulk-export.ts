/**
 * `npm run bench:bulk`: a Bulk Data export at scale (docs/bulk-export.md). Loads BENCH_BULK_RESOURCES resources
 * (default 100,000: one Patient per 10 Observations) into a fresh DATA_DIR through the real server, then runs
 * `GET $export?_type=Patient,Observation` as the admin client, polls the status URL as a client does (honouring
 * `Retry-After`, capped at 1 s so the wait does not round the measurement) while sampling the server's RSS every
 * 50 ms, and downloads every file, checking the manifest's counts.
 *
 * Reports the export's throughput (resources written per second, kick-off to manifest), the download's, and the
 * server's RSS before the export (settled, and after a full GC), its peak during the export and the growth. Goal
 * (issue: bounded memory): the growth stays within 100 MiB at 100k resources.
 *
 * Settings (environment): BENCH_BULK_RESOURCES (default 100000), BENCH_SERVER_ENTRY (default dist/main.js),
 * BENCH_START_TIMEOUT seconds (default 600). Writes bench/results/bulk-export-<n>.json. Not part of `npm run bench`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FHIR_BASE_PATH, FHIR_JSON } from './fixtures';
import { envNumber, findFreePort, killTargetsNow, runBenchMain, spawnServer, stopTarget, type Target } from './processes';
import { fetchToken } from './scenarios';

const ROOT = path.resolve(__dirname, '..');
const GC_ON_SIGNAL = path.join(__dirname, 'gc-on-signal.cjs');
const BUNDLE_SIZE = 1000;
const LOAD_CONNECTIONS = 4;
const GROWTH_GOAL_MIB = 100;

const running: { targets: Target[]; dataDir: string | null } = { targets: [], dataDir: null };

function cleanUpNow(): void {
  killTargetsNow(running.targets);
  if (running.dataDir !== null) rmSync(running.dataDir, { recursive: true, force: true });
  running.dataDir = null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory of a process, MiB (Linux). */
function rssMiB(target: Target): number {
  const status = readFileSync(`/proc/${target.child.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN) / 1024;
}

/** RSS after the server had 2 s to settle, and after a full GC then. */
async function settledRss(target: Target): Promise<{ rss: number; live: number }> {
  await sleep(2000);
  const rss = rssMiB(target);
  target.child.kill('SIGUSR2');
  await sleep(1000);
  return { rss, live: rssMiB(target) };
}

function patient(i: number): Record<string, unknown> {
  return { resourceType: 'Patient', id: `bulk-${i}`, active: true, gender: i % 2 ? 'female' : 'male', birthDate: `19${String(40 + (i % 60)).padStart(2, '0')}-01-01`, name: [{ family: `Bulk${i}`, given: ['Test'] }] };
}

function observation(seq: number, patients: number): Record<string, unknown> {
  const code = `${1000 + (seq % 20)}-${seq % 10}`;
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code, display: `Bulk analyte ${code}` }] },
    subject: { reference: `Patient/bulk-${seq % patients}` },
    effectiveDateTime: `2024-${String(1 + (seq % 12)).padStart(2, '0')}-${String(1 + (seq % 28)).padStart(2, '0')}T08:00:00Z`,
    valueQuantity: { value: seq % 500, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
}

async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

async function transaction(url: string, token: string, entry: unknown[]): Promise<void> {
  const res = await fetch(`${url}${FHIR_BASE_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': FHIR_JSON, accept: FHIR_JSON },
    body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`transaction answered ${res.status}: ${text.slice(0, 300)}`);
}

/** Counts the lines of a download without keeping it. */
async function countLines(url: string, token: string): Promise<{ lines: number; bytes: number }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+ndjson' } });
  if (res.status !== 200 || !res.body) throw new Error(`download answered ${res.status}`);
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    for (const byte of chunk) if (byte === 10) lines++;
  }
  return { lines, bytes };
}

async function main(): Promise<void> {
  const total = envNumber('BENCH_BULK_RESOURCES', 100_000, 100);
  const startTimeoutMs = envNumber('BENCH_START_TIMEOUT', 600, 1) * 1000;
  const serverEntry = path.resolve(ROOT, process.env.BENCH_SERVER_ENTRY ?? 'dist/main.js');
  if (!existsSync(serverEntry)) throw new Error(`${serverEntry} does not exist: run \`npm run build\` first`);
  const patients = Math.max(1, Math.round(total / 11));
  const observations = total - patients;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fhir-bench-bulk-'));
  running.dataDir = dataDir;
  const port = await findFreePort();
  console.log(`bench:bulk: ${total.toLocaleString('en')} resources (${patients} Patients, ${observations} Observations), ${os.cpus().length} cpus, node ${process.version}`);
  const server = spawnServer('server', serverEntry, port, dataDir, ROOT, { AUDIT: 'off' }, ['--require', GC_ON_SIGNAL]);
  running.targets.push(server);
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`server did not start:\n${server.outputTail()}`);
    const ok = await fetch(`${server.url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await sleep(50);
  }
  let token = await fetchToken(server.url);
  const loadStarted = Date.now();
  for (let p = 0; p < patients; p += BUNDLE_SIZE) {
    const entry = Array.from({ length: Math.min(BUNDLE_SIZE, patients - p) }, (_, k) => ({ resource: patient(p + k), request: { method: 'PUT', url: `Patient/bulk-${p + k}` } }));
    await transaction(server.url, token, entry);
  }
  await inParallel(Math.ceil(observations / BUNDLE_SIZE), LOAD_CONNECTIONS, async (b) => {
    const first = b * BUNDLE_SIZE;
    const entry = Array.from({ length: Math.min(BUNDLE_SIZE, observations - first) }, (_, k) => ({ resource: observation(first + k, patients), request: { method: 'POST', url: 'Observation' } }));
    await transaction(server.url, token, entry);
  });
  console.log(`loaded in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`);
  token = await fetchToken(server.url);
  const before = await settledRss(server);

  // The export, with RSS sampled while it runs.
  let peak = rssMiB(server);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB(server));
  }, 50);
  const exportStarted = Date.now();
  const kickOff = await fetch(`${server.url}${FHIR_BASE_PATH}/$export?_type=Patient,Observation`, {
    headers: { authorization: `Bearer ${token}`, accept: FHIR_JSON, prefer: 'respond-async' },
  });
  await kickOff.text();
  if (kickOff.status !== 202) throw new Error(`kick-off answered ${kickOff.status}`);
  const statusUrl = kickOff.headers.get('content-location') as string;
  let manifest: { output: Array<{ type: string; url: string; count: number }> } | undefined;
  let polls = 0;
  while (!manifest) {
    const res = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 200) manifest = (await res.json()) as typeof manifest;
    else {
      await res.text();
      if (res.status !== 202) throw new Error(`status answered ${res.status}`);
      polls++;
      await sleep(Math.min(1000, Number(res.headers.get('retry-after') ?? 1) * 1000) / 4);
    }
  }
  const exportSeconds = (Date.now() - exportStarted) / 1000;
  clearInterval(sampler);
  const exported = manifest.output.reduce((n, o) => n + o.count, 0);
  if (exported !== total) throw new Error(`the manifest lists ${exported} resources, ${total} were loaded`);

  const downloadStarted = Date.now();
  let bytes = 0;
  for (const output of manifest.output) {
    const counted = await countLines(output.url, token);
    if (counted.lines !== output.count) throw new Error(`${output.type}: ${counted.lines} lines, manifest says ${output.count}`);
    bytes += counted.bytes;
  }
  const downloadSeconds = (Date.now() - downloadStarted) / 1000;
  const after = await settledRss(server);
  // The sampler starts right after the full GC: growth is measured from the live size.
  const growth = peak - before.live;
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
    resources: total,
    export: { seconds: exportSeconds, perSecond: total / exportSeconds, polls },
    download: { seconds: downloadSeconds, perSecond: total / downloadSeconds, mib: bytes / 2 ** 20 },
    rssMiB: { before: before.rss, beforeAfterGc: before.live, peakDuringExport: peak, growth, after: after.rss, afterGc: after.live },
    goal: { growthMiB: GROWTH_GOAL_MIB, met: growth <= GROWTH_GOAL_MIB },
  };
  console.log(`export: ${total.toLocaleString('en')} resources in ${exportSeconds.toFixed(1)} s = ${Math.round(total / exportSeconds)} resources/s (${polls} polls)`);
  console.log(`download: ${(bytes / 2 ** 20).toFixed(1)} MiB in ${downloadSeconds.toFixed(1)} s = ${Math.round(total / downloadSeconds)} resources/s`);
  console.log(`RSS: ${before.rss.toFixed(0)} MiB before (${before.live.toFixed(0)} after a full GC), peak ${peak.toFixed(0)} MiB during the export: growth ${growth.toFixed(1)} MiB (goal ≤ ${GROWTH_GOAL_MIB} MiB: ${growth <= GROWTH_GOAL_MIB ? 'met' : 'NOT met'}); ${after.rss.toFixed(0)} MiB after (${after.live.toFixed(0)} after a full GC)`);
  const file = path.join(ROOT, 'bench', 'results', `bulk-export-${total}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  await stopTarget(server, 60_000);
}

runBenchMain('bench:bulk', main, cleanUpNow);
