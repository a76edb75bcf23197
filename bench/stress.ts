/**
 * Stress runs against the server alone (no baseline): does it stay responsive and within its memory while a few
 * clients ask for the most expensive things they can? A probe requests `/healthz` every 50 ms throughout and its
 * response times are the measure.
 * - `search-stress`: 8 connections of unselective searches (`Observation?_count=1000&_total=accurate&_sort=-date`
 *   with `_include=Observation:subject`) for BENCH_DURATION seconds; goal: `/healthz` p99 < 200 ms.
 * - `batch-stress`: 4 batch Bundles at once, each 1,000 × `GET Observation?_count=1000`; goals: every batch answers
 *   200 (entries beyond the response budget answer 422 too-costly, none 5xx), `/healthz` never slower than 1 s,
 *   and the server's RSS stays under {@link RSS_CEILING_MIB}.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { FHIR_BASE_PATH, FHIR_JSON } from './fixtures';
import { LatencyRecorder } from './latency';
import type { Target } from './processes';
import type { PreparedData } from './scenarios';

/** Names of the stress runs. */
export const STRESS_RUNS = ['search-stress', 'batch-stress'] as const;
export type StressName = (typeof STRESS_RUNS)[number];

/** The server's resident memory must stay under this during `batch-stress` (MiB). */
export const RSS_CEILING_MIB = 1024;
const PROBE_EVERY_MS = 50;
const SEARCH_P99_GOAL_MS = 200;
const BATCH_MAX_GOAL_MS = 1000;

/** The outcome of one stress run. */
export interface StressResult {
  name: StressName;
  /** One line describing what was measured. */
  line: string;
  /** Why a goal was missed, or undefined when all were met. */
  missed?: string;
}

function rssMiB(target: Target): number {
  try {
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${target.child.pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb) / 1024;
  } catch {
    return 0;
  }
}

/**
 * The probe loop, run in a worker thread: its own event loop, so the load generator's work (autocannon parsing
 * megabyte responses in the main thread) does not show up as server latency.
 */
const PROBE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
let running = true;
parentPort.on('message', () => { running = false; });
(async () => {
  while (running) {
    const started = performance.now();
    let ok = false;
    try {
      const res = await fetch(workerData.url, { signal: AbortSignal.timeout(10000) });
      await res.arrayBuffer();
      ok = res.status === 200;
    } catch {}
    const ms = performance.now() - started;
    parentPort.postMessage({ ms, ok });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, workerData.every - ms)));
  }
  parentPort.postMessage('done');
})();
`;

/** Probes `/healthz` (and the server's RSS) until stopped. */
function probe(target: Target): { stop(): Promise<{ latency: LatencyRecorder; max: number; failures: number; peakRss: number }> } {
  const latency = new LatencyRecorder();
  let max = 0;
  let failures = 0;
  let peakRss = rssMiB(target);
  const worker = new Worker(PROBE_WORKER, { eval: true, workerData: { url: `${target.url}/healthz`, every: PROBE_EVERY_MS } });
  const finished = new Promise<void>((resolve) => {
    worker.on('message', (message: { ms: number; ok: boolean } | 'done') => {
      if (message === 'done') {
        resolve();
        return;
      }
      latency.record(message.ms);
      max = Math.max(max, message.ms);
      if (!message.ok) failures++;
      peakRss = Math.max(peakRss, rssMiB(target));
    });
  });
  return {
    async stop() {
      worker.postMessage('stop');
      await finished;
      await worker.terminate();
      return { latency, max, failures, peakRss };
    },
  };
}

async function searchStress(target: Target, data: PreparedData, seconds: number): Promise<StressResult> {
  const probing = probe(target);
  const headers = { accept: FHIR_JSON, authorization: `Bearer ${data.token}` };
  const path = `${FHIR_BASE_PATH}/Observation?_count=1000&_total=accurate&_sort=-date&_include=Observation:subject`;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url: target.url, connections: 8, duration: seconds, requests: [{ method: 'GET', path, headers }] }, (err: unknown, res: autocannon.Result) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res),
    );
  });
  const { latency, max, failures } = await probing.stop();
  const p99 = latency.percentile(99);
  const line =
    `search-stress: ${result.requests.total} searches (${result.non2xx} non-2xx, ${result.errors} errors) at 8 connections; ` +
    `/healthz p50 ${latency.percentile(50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms, ${failures} failed`;
  const missed =
    p99 >= SEARCH_P99_GOAL_MS || failures > 0 || result.errors > 0 || result.non2xx > 0
      ? `/healthz p99 must stay under ${SEARCH_P99_GOAL_MS} ms with every request answered 2xx`
      : undefined;
  return { name: 'search-stress', line, missed };
}

async function batchStress(target: Target, data: PreparedData): Promise<StressResult> {
  const probing = probe(target);
  const bundle = JSON.stringify({
    resourceType: 'Bundle',
    type: 'batch',
    entry: Array.from({ length: 1000 }, () => ({ request: { method: 'GET', url: 'Observation?_count=1000' } })),
  });
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const res = await fetch(`${target.url}${FHIR_BASE_PATH}`, {
        method: 'POST',
        headers: { 'content-type': FHIR_JSON, accept: FHIR_JSON, authorization: `Bearer ${data.token}` },
        body: bundle,
      });
      const body = (await res.json()) as { entry?: Array<{ response: { status: string } }> };
      const statuses = (body.entry ?? []).map((e) => e.response.status.slice(0, 3));
      return { status: res.status, ok: statuses.filter((s) => s === '200').length, refused: statuses.filter((s) => s === '422').length, other: statuses.filter((s) => s !== '200' && s !== '422').length };
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const { max, failures, peakRss } = await probing.stop();
  const summary = answers.map((a) => `${a.status} (${a.ok} answered, ${a.refused} too-costly${a.other ? `, ${a.other} other` : ''})`).join('; ');
  const line = `batch-stress: 4 batches of 1,000 searches in ${seconds.toFixed(1)} s: ${summary}; /healthz max ${max.toFixed(1)} ms, ${failures} failed; peak RSS ${peakRss.toFixed(0)} MiB`;
  const problems: string[] = [];
  if (answers.some((a) => a.status !== 200 || a.other > 0)) problems.push('every batch must answer 200 with only 200/422 entries');
  if (max >= BATCH_MAX_GOAL_MS || failures > 0) problems.push(`/healthz must answer within ${BATCH_MAX_GOAL_MS} ms throughout`);
  if (peakRss >= RSS_CEILING_MIB) problems.push(`RSS must stay under ${RSS_CEILING_MIB} MiB`);
  return { name: 'batch-stress', line, missed: problems.length > 0 ? problems.join('; ') : undefined };
}

/**
 * Runs a stress run against the server.
 * @param name - which run
 * @param target - the server
 * @param data - the prepared data (its admin token; the search scenarios' Observations)
 * @param seconds - how long `search-stress` loads the server
 * @returns what was measured and any missed goal
 */
export function runStress(name: StressName, target: Target, data: PreparedData, seconds: number): Promise<StressResult> {
  return name === 'search-stress' ? searchStress(target, data, seconds) : batchStress(target, data);
}
