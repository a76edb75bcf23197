/**
 * Turns autocannon results into the benchmark table, the goal verdicts and `bench/results/latest.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import type { AuditOverheadReport } from './audit-overhead';
import type { HeadToHeadReport } from './head-to-head';
import type { LatencyRecorder } from './latency';
import { RATIO_GOALS, RELATIVE_GOALS, THROUGHPUT_GOALS } from './scenarios';
import type { LoadSettings, ScenarioName } from './scenarios';

/** One measured run: a scenario against a target. */
export interface ResultRow {
  scenario: ScenarioName;
  target: string;
  /** Mean requests per second over the run's one-second samples. */
  reqPerSec: number;
  /** Median latency of 2xx responses, milliseconds. */
  p50Ms: number;
  /** 99th percentile latency of 2xx responses, milliseconds. */
  p99Ms: number;
  /** Responses whose status was not 2xx. */
  non2xx: number;
  /** Connection errors, including timeouts. */
  errors: number;
  /** Completed requests. */
  total: number;
  /** Count per HTTP status code. */
  statusCodes: Record<string, number>;
  /** The target's CPU time (user + system) per completed request, milliseconds (Linux only). */
  cpuMsPerRequest?: number;
}

/** The server/baseline comparison for one scenario. */
export interface Verdict {
  scenario: ScenarioName;
  /** Server req/s divided by baseline req/s; null when either run is missing or the baseline did nothing. */
  ratio: number | null;
  /** Minimum ratio wanted, when the scenario has one. */
  ratioGoal: number | null;
  /** Server req/s divided by the server's req/s in the scenario of its relative goal (RELATIVE_GOALS). */
  relative: number | null;
  /** Non-2xx responses plus errors on the server. */
  serverFailures: number;
  /** True when the ratio goal (if any) is reached and the server had no failures. */
  met: boolean;
}

/**
 * Reduces an autocannon result to a table row.
 *
 * @param scenario - the scenario that ran
 * @param target - the target's name
 * @param result - autocannon's result
 * @param latency - the 2xx response times recorded during the run
 * @returns the row
 */
export function toRow(
  scenario: ScenarioName,
  target: string,
  result: autocannon.Result,
  latency: LatencyRecorder,
): ResultRow {
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0;
  return {
    scenario,
    target,
    reqPerSec: result.requests.average,
    p50Ms: latency.percentile(50),
    p99Ms: latency.percentile(99),
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
    statusCodes,
  };
}

/**
 * Compares the server with the baseline for every scenario present in `rows`.
 *
 * @param rows - measured rows, baseline and server
 * @param serverName - the server target's name
 * @param baselineName - the baseline target's name
 * @param relativeMeasured - relative ratios measured head to head (alternating runs), which take precedence
 * @returns one verdict per scenario that has a server row
 */
export function judge(
  rows: readonly ResultRow[],
  serverName: string,
  baselineName: string,
  relativeMeasured: ReadonlyMap<ScenarioName, number> = new Map(),
): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const server of rows.filter((r) => r.target === serverName)) {
    const baseline = rows.find((r) => r.target === baselineName && r.scenario === server.scenario);
    const ratio = baseline !== undefined && baseline.reqPerSec > 0 ? server.reqPerSec / baseline.reqPerSec : null;
    const ratioGoal = RATIO_GOALS[server.scenario] ?? null;
    const serverFailures = server.non2xx + server.errors;
    const ratioOk = ratioGoal === null || (ratio !== null && ratio >= ratioGoal);
    const throughput = THROUGHPUT_GOALS[server.scenario];
    const throughputOk = throughput === undefined || server.reqPerSec >= throughput.minReqPerSec;
    const relativeGoal = RELATIVE_GOALS[server.scenario];
    const versus = relativeGoal ? rows.find((r) => r.target === serverName && r.scenario === relativeGoal.versus) : undefined;
    const relative = relativeMeasured.get(server.scenario) ?? (versus !== undefined && versus.reqPerSec > 0 ? server.reqPerSec / versus.reqPerSec : null);
    const relativeOk = relativeGoal === undefined || (relative !== null && relative >= relativeGoal.min);
    verdicts.push({ scenario: server.scenario, ratio, ratioGoal, relative, serverFailures, met: ratioOk && throughputOk && relativeOk && serverFailures === 0 });
  }
  return verdicts;
}

function describeVerdict(v: Verdict): string {
  const goals: string[] = [];
  if (v.ratioGoal !== null) goals.push(`ratio ≥ ${v.ratioGoal}`);
  const throughput = THROUGHPUT_GOALS[v.scenario];
  if (throughput) goals.push(throughput.label);
  const relativeGoal = RELATIVE_GOALS[v.scenario];
  if (relativeGoal) goals.push(`≥ ${relativeGoal.min} × server ${relativeGoal.versus} (now ${v.relative === null ? '?' : v.relative.toFixed(2)})`);
  goals.push('errors 0');
  const misses: string[] = [];
  if (v.ratioGoal !== null && (v.ratio === null || v.ratio < v.ratioGoal)) misses.push('ratio too low');
  if (throughput && !v.met && v.serverFailures === 0 && (v.ratioGoal === null || (v.ratio ?? 0) >= v.ratioGoal)) misses.push('throughput too low');
  if (relativeGoal && (v.relative === null || v.relative < relativeGoal.min)) misses.push(`below ${relativeGoal.min} × ${relativeGoal.versus}`);
  if (v.serverFailures > 0) misses.push(`${v.serverFailures} non-2xx/errors`);
  return v.met ? `OK (${goals.join(', ')})` : `MISS: ${misses.join(', ')} (goal ${goals.join(', ')})`;
}

/**
 * Formats the results as a fixed-width text table, the ratio and verdict printed on each server row.
 *
 * @param rows - measured rows in run order
 * @param verdicts - verdicts from {@link judge}
 * @param serverName - the server target's name
 * @returns the table, one line per row plus a header
 */
export function formatTable(rows: readonly ResultRow[], verdicts: readonly Verdict[], serverName: string): string {
  const header = ['scenario', 'target', 'req/s', 'p50 ms', 'p99 ms', 'cpu ms/req', 'non-2xx+err', 'ratio', 'goal'];
  const lines: string[][] = [header];
  for (const row of rows) {
    const verdict = row.target === serverName ? verdicts.find((v) => v.scenario === row.scenario) : undefined;
    lines.push([
      row.scenario,
      row.target,
      row.reqPerSec.toFixed(0),
      row.p50Ms.toFixed(3),
      row.p99Ms.toFixed(3),
      row.cpuMsPerRequest === undefined ? '' : row.cpuMsPerRequest.toFixed(3),
      String(row.non2xx + row.errors),
      verdict !== undefined && verdict.ratio !== null ? verdict.ratio.toFixed(2) : '',
      verdict !== undefined ? describeVerdict(verdict) : '',
    ]);
  }
  const widths = header.map((_, col) => Math.max(...lines.map((line) => (line[col] ?? '').length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  return lines
    .map((line) =>
      line
        .map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** What `latest.json` holds. */
export interface BenchReport {
  date: string;
  machine: { cpus: number; cpuModel: string; platform: string; arch: string; totalMemMiB: number; node: string };
  settings: LoadSettings & { warmupSeconds: number; patients: number; historyPatients: number };
  note: string;
  /** Peak resident memory per target (Linux only; null elsewhere). */
  peakRssMiB: Record<string, number | null>;
  rows: ResultRow[];
  verdicts: Verdict[];
  /** The head-to-head runs against the peers (oidc-provider, Medplum), or why they did not run. */
  peers: HeadToHeadReport | { skipped: string };
  /** A bearer read with AUDIT=on against AUDIT=off (bench/audit-overhead.ts), or why it did not run. */
  auditOverhead: AuditOverheadReport | { skipped: string };
  allGoalsMet: boolean;
}

/**
 * Assembles the report with machine information.
 *
 * @param rows - measured rows
 * @param verdicts - verdicts from {@link judge}
 * @param settings - the settings the runs used
 * @param peakRssMiB - peak resident memory per target
 * @param peers - the head-to-head results, or why they were skipped
 * @param auditOverhead - the AUDIT=on/off comparison, or why it was skipped
 * @returns the report object
 */
export function buildReport(
  rows: ResultRow[],
  verdicts: Verdict[],
  settings: BenchReport['settings'],
  peakRssMiB: Record<string, number | null>,
  peers: BenchReport['peers'] = { skipped: 'not run' },
  auditOverhead: BenchReport['auditOverhead'] = { skipped: 'not run' },
): BenchReport {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      platform: os.platform(),
      arch: os.arch(),
      totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
      node: process.version,
    },
    settings,
    note: 'the targets and the load generator share the machine; see bench/README.md',
    peakRssMiB,
    rows,
    verdicts,
    peers,
    auditOverhead,
    allGoalsMet:
      verdicts.every((v) => v.met) &&
      ('rows' in peers ? peers.rows.every((r) => r.met) : true) &&
      ('met' in auditOverhead ? auditOverhead.met : true) &&
      verdicts.length + ('rows' in peers ? peers.rows.length : 0) + ('met' in auditOverhead ? 1 : 0) > 0,
  };
}

/**
 * Writes the report as pretty JSON, creating the directory when needed.
 *
 * @param report - the report
 * @param file - destination path
 */
export function writeReport(report: BenchReport, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
