/**
 * `npm run bench:scale`: the embedded store at scale. Loads BENCH_SCALE Observations (10k, 100k or 1m; default
 * 100k) of about 1.26 KB into a fresh DATA_DIR through the real server, then measures memory per stored resource,
 * the journal's size, the memory growth of 5,000 updates of one resource, the restart time to `/readyz`, and
 * read and indexed token-search latency at 10 connections after the restart.
 *
 * Settings (environment): BENCH_SCALE (10k | 100k | 1m, default 100k), BENCH_DURATION seconds per latency run
 * (default 10), BENCH_SCALE_CONNECTIONS concurrent transactions while loading (default 4), BENCH_SERVER_ENTRY
 * (default dist/main.js), BENCH_START_TIMEOUT seconds (default 600: a large store takes a while to replay).
 * Writes bench/results/scale-<size>.json. Exit code: 0 whether or not goals are met; 1 when the harness fails.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { FHIR_BASE_PATH, FHIR_JSON } from './fixtures';
import { LatencyRecorder } from './latency';
import { envNumber, findFreePort, killTargetsNow, runBenchMain, spawnServer, stopTarget } from './processes';
import type { Target } from './processes';
import { fetchToken } from './scenarios';

const ROOT = path.resolve(__dirname, '..');
/** Preloaded into the server: a full GC on SIGUSR2 (see the file). */
const GC_ON_SIGNAL = path.join(__dirname, 'gc-on-signal.cjs');
const SIZES = { '10k': 10_000, '100k': 100_000, '1m': 1_000_000 } as const;
type SizeName = keyof typeof SIZES;
/** Entries per loading transaction (the server's default BUNDLE_MAX_ENTRIES is 1,000). */
const BUNDLE_SIZE = 1000;
/** Patients the Observations refer to (created first, by PUT). */
const SUBJECTS = 1000;
const UPDATES = 5000;
const CODES = 20;
const HEADERS = { 'content-type': FHIR_JSON, accept: FHIR_JSON };
/** Access tokens live 300 s by default; the harness takes a new one well before. */
const TOKEN_REFRESH_MS = 120_000;

/** Goals of issue-level scale targets (the latency ones are set for 1M resources). */
const GOALS = { rssPerJson: 3, updateGrowthMiB: 10, restartSeconds: 3, readP99Ms: 20, searchP99Ms: 50 };

function envSize(): SizeName {
  const raw = (process.env.BENCH_SCALE ?? '100k').trim().toLowerCase();
  if (!(raw in SIZES)) throw new Error(`BENCH_SCALE must be one of ${Object.keys(SIZES).join(', ')}, got "${raw}"`);
  return raw as SizeName;
}

/**
 * An Observation of about 1.26 KB as stored (with `id` and `meta`), one of {@link CODES} LOINC codes.
 *
 * @param seq - makes identifier, code, dates and value differ
 */
export function makeScaleObservation(seq: number): Record<string, unknown> {
  const code = `${1000 + (seq % CODES)}-${seq % 10}`;
  return {
    resourceType: 'Observation',
    identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.2', value: `OBS-${String(seq).padStart(10, '0')}` }],
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code, display: `Scale test analyte ${code}` }], text: `Analyte ${code}` },
    subject: { reference: `Patient/scale-${seq % SUBJECTS}` },
    effectiveDateTime: `2024-0${1 + (seq % 9)}-1${seq % 10}T10:${String(seq % 60).padStart(2, '0')}:00Z`,
    issued: `2024-0${1 + (seq % 9)}-1${seq % 10}T12:00:00.000Z`,
    performer: [{ reference: 'Practitioner/scale-lab', display: 'Scale Laboratory Services' }],
    valueQuantity: { value: 50 + (seq % 100), unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'N', display: 'Normal' }] }],
    referenceRange: [
      {
        low: { value: 40, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
        high: { value: 160, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
        text: 'normal range',
      },
    ],
    note: [{ text: 'Specimen received in good condition; result verified.' }],
  };
}

/** State the signal handlers need. */
const running: { targets: Target[]; dataDir: string | null } = { targets: [], dataDir: null };

function cleanUpNow(): void {
  killTargetsNow(running.targets);
  if (running.dataDir !== null) rmSync(running.dataDir, { recursive: true, force: true });
  running.dataDir = null;
}

/** Resident and peak resident memory of a process, MiB (Linux). */
function memoryMiB(target: Target): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${target.child.pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/** CPU time (user + system) a process has used so far, ms (Linux; 100 clock ticks per second). */
function cpuMs(target: Target): number {
  const stat = readFileSync(`/proc/${target.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** RSS after the server had 2 s to finish its own work, and RSS after a full GC then (live data). */
async function settledRss(target: Target): Promise<{ rss: number; live: number }> {
  await sleep(2000);
  const rss = memoryMiB(target).rss;
  target.child.kill('SIGUSR2');
  await sleep(1000);
  return { rss, live: memoryMiB(target).rss };
}

class Session {
  private token = '';
  private fetchedAt = 0;
  constructor(readonly url: string) {}

  async authorization(): Promise<string> {
    if (Date.now() - this.fetchedAt > TOKEN_REFRESH_MS) {
      this.token = await fetchToken(this.url);
      this.fetchedAt = Date.now();
    }
    return `Bearer ${this.token}`;
  }

  async request(method: string, pathname: string, body?: unknown): Promise<{ status: number; json: unknown; bytes: number }> {
    // A new connection per request: on a loaded machine, a kept-alive connection can be reused just as the server
    // closes it (ECONNRESET), and a transaction cannot be retried blindly.
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const authorization = await this.authorization();
    const res = await new Promise<{ status: number; buffer: Buffer }>((resolve, reject) => {
      const req = http.request(
        `${this.url}${FHIR_BASE_PATH}${pathname}`,
        { method, agent: false, headers: { ...HEADERS, authorization, ...(payload ? { 'content-length': String(payload.length) } : {}) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, buffer: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    const buffer = res.buffer;
    let json: unknown;
    try {
      json = JSON.parse(buffer.toString('utf8'));
    } catch {
      json = undefined;
    }
    if (res.status >= 300) throw new Error(`${method} ${pathname} answered ${res.status}: ${buffer.toString('utf8').slice(0, 500)}`);
    return { status: res.status, json, bytes: buffer.length };
  }
}

async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function startServer(serverEntry: string, port: number, dataDir: string, keyEncryptionKey: string): Target {
  // The same key on every start: the restarted server reads what the first one sealed.
  const target = spawnServer('server', serverEntry, port, dataDir, ROOT, { KEY_ENCRYPTION_KEY: keyEncryptionKey }, ['--require', GC_ON_SIGNAL]);
  running.targets.push(target);
  return target;
}

/** Polls `/readyz` every 10 ms; resolves with the ms since `since` once it answers 200. */
async function waitReady(target: Target, since: number, timeoutMs: number): Promise<number> {
  const deadline = since + timeoutMs;
  while (Date.now() < deadline) {
    if (target.child.exitCode !== null || target.child.signalCode !== null) {
      throw new Error(`server exited before answering /readyz. Its last output:\n${target.outputTail()}`);
    }
    try {
      const res = await fetch(`${target.url}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return Date.now() - since;
    } catch {
      // Not listening yet.
    }
    await sleep(10);
  }
  throw new Error(`server did not answer /readyz within ${timeoutMs} ms. Its last output:\n${target.outputTail()}`);
}

interface Latency {
  reqPerSec: number;
  /** The server's CPU time per completed request, ms: steadier than req/s on a shared machine. */
  cpuMsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

function measureLatency(server: Target, authorization: string, durationSeconds: number, nextPath: () => string): Promise<Latency> {
  const latency = new LatencyRecorder();
  const cpuBefore = cpuMs(server);
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: server.url,
        connections: 10,
        duration: durationSeconds,
        headers: { ...HEADERS, authorization },
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: nextPath() }) }],
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else {
          resolve({
            reqPerSec: result.requests.average,
            cpuMsPerRequest: (cpuMs(server) - cpuBefore) / Math.max(1, result.requests.total),
            p50Ms: latency.percentile(50),
            p99Ms: latency.percentile(99),
            failures: result.non2xx + result.errors + result.timeouts,
          });
        }
      },
    );
    instance.on('response', (_client, status: number, _bytes, ms: number) => {
      if (status >= 200 && status < 300) latency.record(ms);
    });
  });
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

function verdict(ok: boolean): string {
  return ok ? 'OK' : 'MISS';
}

async function main(): Promise<void> {
  const size = envSize();
  const total = SIZES[size];
  const durationSeconds = envNumber('BENCH_DURATION', 10, 1);
  const connections = envNumber('BENCH_SCALE_CONNECTIONS', 4, 1);
  const startTimeoutMs = envNumber('BENCH_START_TIMEOUT', 600, 1) * 1000;
  const serverEntry = path.resolve(ROOT, process.env.BENCH_SERVER_ENTRY ?? 'dist/main.js');
  if (!existsSync(serverEntry)) throw new Error(`${serverEntry} does not exist: run \`npm run build\` first`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fhir-bench-scale-'));
  running.dataDir = dataDir;
  const journal = path.join(dataDir, 'journal.ndjson');
  const keyEncryptionKey = randomBytes(32).toString('hex');
  console.log(`bench:scale: ${size} (${total.toLocaleString('en')} Observations), ${os.cpus().length} cpus, node ${process.version}, ${Math.round(os.totalmem() / 2 ** 20)} MiB RAM`);

  let server = startServer(serverEntry, await findFreePort(), dataDir, keyEncryptionKey);
  await waitReady(server, Date.now(), startTimeoutMs);
  let session = new Session(server.url);
  const { rss: baseRss, live: baseLive } = await settledRss(server);

  // Subjects, then the Observations as transactions of BUNDLE_SIZE entries.
  await session.request('POST', '', {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: Array.from({ length: SUBJECTS }, (_, i) => ({
      resource: { resourceType: 'Patient', id: `scale-${i}`, active: true, name: [{ family: `Scale${i}` }] },
      request: { method: 'PUT', url: `Patient/scale-${i}` },
    })),
  });
  const ids: string[] = new Array<string>(total);
  const bundles = Math.ceil(total / BUNDLE_SIZE);
  const loadStarted = Date.now();
  let lastReport = loadStarted;
  let loaded = 0;
  await inParallel(bundles, connections, async (b) => {
    const first = b * BUNDLE_SIZE;
    const count = Math.min(BUNDLE_SIZE, total - first);
    const entry = Array.from({ length: count }, (_, k) => ({ resource: makeScaleObservation(first + k), request: { method: 'POST', url: 'Observation' } }));
    const { json } = await session.request('POST', '', { resourceType: 'Bundle', type: 'transaction', entry });
    const entries = (json as { entry?: Array<{ response?: { location?: string } }> }).entry ?? [];
    entries.forEach((e, k) => {
      const id = /Observation\/([^/]+)/.exec(e.response?.location ?? '')?.[1];
      if (id === undefined) throw new Error(`transaction entry ${k} has no Observation location`);
      ids[first + k] = id;
    });
    loaded += count;
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      console.log(`  loaded ${loaded.toLocaleString('en')} (${Math.round(loaded / ((Date.now() - loadStarted) / 1000))}/s), RSS ${Math.round(memoryMiB(server).rss)} MiB`);
    }
  });
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  console.log(`loaded ${total.toLocaleString('en')} Observations in ${loadSeconds.toFixed(1)} s (${Math.round(total / loadSeconds)}/s)`);

  // The stored JSON: every Observation is read back's size is nearly the same; a sample of reads measures it.
  const sample = Array.from({ length: 200 }, () => pick(ids));
  let sampleBytes = 0;
  for (const id of sample) sampleBytes += (await session.request('GET', `/Observation/${id}`)).bytes;
  const jsonBytesPerResource = sampleBytes / sample.length;
  const jsonMiB = (jsonBytesPerResource * total) / 2 ** 20;
  const { rss: loadedRss, live: loadedLive } = await settledRss(server);
  const journalAfterLoad = statSync(journal).size;
  console.log(`RSS after loading ${loadedRss.toFixed(0)} MiB, ${loadedLive.toFixed(0)} MiB after a full GC (empty server ${baseRss.toFixed(0)} / ${baseLive.toFixed(0)} MiB); stored JSON ${jsonMiB.toFixed(0)} MiB (${jsonBytesPerResource.toFixed(0)} B each)`);

  // 5,000 updates of one resource.
  const target = ids[0] as string;
  const body = makeScaleObservation(0);
  const { rss: beforeUpdates, live: beforeUpdatesLive } = await settledRss(server);
  const updatesStarted = Date.now();
  await inParallel(UPDATES, 10, async (i) => {
    await session.request('PUT', `/Observation/${target}`, { ...body, id: target, valueQuantity: { ...(body.valueQuantity as object), value: i } });
  });
  const updatesSeconds = (Date.now() - updatesStarted) / 1000;
  const { rss: afterUpdates, live: afterUpdatesLive } = await settledRss(server);
  const updateGrowth = afterUpdates - beforeUpdates;
  const updateGrowthLive = afterUpdatesLive - beforeUpdatesLive;
  console.log(`${UPDATES} updates of one Observation in ${updatesSeconds.toFixed(1)} s: RSS ${beforeUpdates.toFixed(0)} → ${afterUpdates.toFixed(0)} MiB (after a full GC ${beforeUpdatesLive.toFixed(0)} → ${afterUpdatesLive.toFixed(0)} MiB)`);
  const journalBeforeRestart = statSync(journal).size;
  const peakBeforeRestart = memoryMiB(server).peak;

  // Restart: SIGTERM (graceful), then a new process on the same DATA_DIR, timed to its first 200 from /readyz.
  await stopTarget(server, 60_000);
  running.targets = running.targets.filter((t) => t !== server);
  const started = Date.now();
  server = startServer(serverEntry, await findFreePort(), dataDir, keyEncryptionKey);
  const restartMs = await waitReady(server, started, startTimeoutMs);
  const restartCpuMs = cpuMs(server);
  const restartRss = memoryMiB(server).rss;
  const journalAfterRestart = statSync(journal).size;
  console.log(`restart to /readyz: ${(restartMs / 1000).toFixed(2)} s (${(restartCpuMs / 1000).toFixed(2)} s CPU); RSS ${restartRss.toFixed(0)} MiB; journal ${(journalAfterRestart / 2 ** 20).toFixed(0)} MiB`);

  // Latency at 10 connections, on the restarted server.
  session = new Session(server.url);
  const authorization = await session.authorization();
  const read = await measureLatency(server, authorization, durationSeconds, () => `${FHIR_BASE_PATH}/Observation/${pick(ids)}`);
  console.log(`read: ${read.reqPerSec.toFixed(0)} req/s, p50 ${read.p50Ms.toFixed(2)} ms, p99 ${read.p99Ms.toFixed(2)} ms, failures ${read.failures}`);
  const searchPath = (): string => {
    const seq = Math.floor(Math.random() * CODES * 10);
    const code = `${1000 + (seq % CODES)}-${seq % 10}`;
    return `${FHIR_BASE_PATH}/Observation?code=${encodeURIComponent(`http://loinc.org|${code}`)}&_count=20`;
  };
  // The first token search after a start fills the element index of (project, Observation, code) from every
  // stored Observation unless the start-up snapshot held it: timed apart, then the latency run.
  const firstSearchStarted = Date.now();
  await session.request('GET', searchPath().slice(FHIR_BASE_PATH.length));
  const firstSearchMs = Date.now() - firstSearchStarted;
  console.log(`first token search (fills the element index if not yet defined): ${firstSearchMs} ms`);
  const search = await measureLatency(server, authorization, durationSeconds, searchPath);
  console.log(`token search: ${search.reqPerSec.toFixed(0)} req/s, p50 ${search.p50Ms.toFixed(2)} ms, p99 ${search.p99Ms.toFixed(2)} ms, failures ${search.failures}`);
  const finalMemory = memoryMiB(server);

  const rssPerJson = loadedRss / jsonMiB;
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, totalMemMiB: Math.round(os.totalmem() / 2 ** 20), node: process.version },
    size,
    observations: total,
    load: { seconds: loadSeconds, perSecond: total / loadSeconds, connections, bundleSize: BUNDLE_SIZE },
    jsonBytesPerResource,
    jsonMiB,
    rssMiB: { emptyServer: baseRss, afterLoad: loadedRss, beforeUpdates, afterUpdates, peakBeforeRestart, afterRestart: restartRss, afterLatencyRuns: finalMemory.rss, peakAfterRestart: finalMemory.peak },
    liveRssMiB: { emptyServer: baseLive, afterLoad: loadedLive, beforeUpdates: beforeUpdatesLive, afterUpdates: afterUpdatesLive },
    rssKiBPerResource: (loadedRss * 1024) / total,
    liveRssPerJson: loadedLive / jsonMiB,
    rssPerJson,
    rssGrowthPerJson: (loadedRss - baseRss) / jsonMiB,
    journalBytesPerResource: { afterLoad: journalAfterLoad / total, beforeRestart: journalBeforeRestart / total, afterRestart: journalAfterRestart / total, compactedPerVersion: journalAfterRestart / (total + UPDATES) },
    firstTokenSearchMs: firstSearchMs,
    updates: { count: UPDATES, seconds: updatesSeconds, rssGrowthMiB: updateGrowth, liveRssGrowthMiB: updateGrowthLive },
    restartSeconds: restartMs / 1000,
    restartCpuSeconds: restartCpuMs / 1000,
    read,
    search,
  };
  const rows: Array<[string, string, string, string]> = [
    ['RSS after loading', `${loadedRss.toFixed(0)} MiB (${((loadedRss * 1024) / total).toFixed(2)} KiB/resource)`, '', ''],
    ['RSS growth ÷ JSON', ((loadedRss - baseRss) / jsonMiB).toFixed(2), '', ''],
    ['  after a full GC', `${loadedLive.toFixed(0)} MiB; ÷ JSON ${(loadedLive / jsonMiB).toFixed(2)}; growth ÷ JSON ${((loadedLive - baseLive) / jsonMiB).toFixed(2)}`, '', ''],
    ['stored JSON', `${jsonMiB.toFixed(0)} MiB (${jsonBytesPerResource.toFixed(0)} B/resource)`, '', ''],
    ['RSS ÷ JSON', rssPerJson.toFixed(2), `≤ ${GOALS.rssPerJson}`, verdict(rssPerJson <= GOALS.rssPerJson)],
    ['journal/resource', `${(journalAfterLoad / total).toFixed(0)} B loaded; compacted ${(journalAfterRestart / (total + UPDATES)).toFixed(0)} B/version`, '', ''],
    [`${UPDATES} updates of one`, `+${updateGrowth.toFixed(1)} MiB RSS (+${updateGrowthLive.toFixed(1)} after a full GC)`, `≤ ${GOALS.updateGrowthMiB} MiB`, verdict(updateGrowth <= GOALS.updateGrowthMiB)],
    ['restart to /readyz', `${(restartMs / 1000).toFixed(2)} s (${(restartCpuMs / 1000).toFixed(2)} s CPU)`, `≤ ${GOALS.restartSeconds} s`, verdict(restartMs / 1000 <= GOALS.restartSeconds)],
    ['read p99 (10 conn)', `${read.p99Ms.toFixed(2)} ms (${read.reqPerSec.toFixed(0)} req/s, ${read.cpuMsPerRequest.toFixed(2)} cpu ms)`, `< ${GOALS.readP99Ms} ms`, verdict(read.p99Ms < GOALS.readP99Ms && read.failures === 0)],
    ['token search p99', `${search.p99Ms.toFixed(2)} ms (${search.reqPerSec.toFixed(0)} req/s, ${search.cpuMsPerRequest.toFixed(2)} cpu ms)`, `< ${GOALS.searchP99Ms} ms`, verdict(search.p99Ms < GOALS.searchP99Ms && search.failures === 0)],
  ];
  const width = rows.reduce((w, r) => Math.max(w, r[1].length), 0);
  console.log('');
  for (const [name, value, goal, ok] of rows) console.log(`${name.padEnd(22)} ${value.padEnd(width)}  ${goal.padEnd(10)} ${ok}`);
  const file = path.join(ROOT, 'bench', 'results', `scale-${size}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  await stopTarget(server, 60_000);
}

/** A failed run shows what the server printed last (a crash explains itself there). */
async function mainShowingServerOutput(): Promise<void> {
  try {
    await main();
  } catch (err) {
    for (const target of running.targets) {
      const { exitCode, signalCode } = target.child;
      const state = exitCode === null && signalCode === null ? 'still running' : `exited (code ${exitCode}, signal ${signalCode})`;
      console.error(`--- ${target.name} ${state}; its last output:\n${target.outputTail()}`);
    }
    throw err;
  }
}

runBenchMain('bench:scale', mainShowingServerOutput, cleanUpNow);
