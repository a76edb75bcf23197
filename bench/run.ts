/**
 * `npm run bench`: loads the built server and a bare Express baseline with autocannon, one scenario and one target
 * at a time, and prints req/s, latency and the server/baseline ratio against the goals in DESIGN.md §7.
 *
 * Settings (environment): BENCH_DURATION seconds per run (default 10), BENCH_WARMUP seconds of discarded load
 * before each run (default 2, 0 = none), BENCH_PATIENTS (default 1000), BENCH_HISTORY_PATIENTS (default 100), BENCH_OBSERVATIONS (default 10000, for the search scenarios),
 * BENCH_SCENARIOS (comma list, default all; `audit-overhead` compares a bearer read with AUDIT=on and AUDIT=off,
 * BENCH_AUDIT_ROUNDS alternating rounds, default 6, of BENCH_DURATION/2 seconds), BENCH_SERVER_ENTRY (default dist/main.js), BENCH_START_TIMEOUT
 * seconds (default 60).
 * Exit code: 0 whether or not goals are met; 1 when the harness itself fails; 130/143 on SIGINT/SIGTERM.
 */
import { mkdtempSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertAlive, cleanUpNow, cpuTimeMs, load, peakRssMiB, running } from './measure';
import { envNumber, findFreePort, runBenchMain, spawnServer, spawnTarget, stopTarget, waitHealthy } from './processes';
import type { Target } from './processes';
import { PEER_SCENARIOS, peersInstalled, runHeadToHead } from './head-to-head';
import { formatPeerTable } from './peer-table';
import { AUDIT_SCENARIOS, formatAuditOverhead, runAuditOverhead } from './audit-overhead';
import type { AuditOverheadReport, AuditScenarioName } from './audit-overhead';
import type { HeadToHeadReport, PeerScenarioName } from './head-to-head';
import { buildReport, formatTable, judge, toRow, writeReport } from './report';
import type { ResultRow, Verdict } from './report';
import { prepareData, RELATIVE_GOALS, scenarioOptions, SCENARIOS } from './scenarios';
import type { LoadSettings, PreparedData, ScenarioName } from './scenarios';
import { runStress, STRESS_RUNS, type StressName, type StressResult } from './stress';

/** Alternating runs of a relative goal's two scenarios, and their length. */
const HEAD_TO_HEAD_ROUNDS = 6;
const HEAD_TO_HEAD_SECONDS = 4;

const ROOT = path.resolve(__dirname, '..');
const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'latest.json');
const SERVER = 'server';
const BASELINE = 'baseline';

function envScenarios(): { scenarios: ScenarioName[]; stress: StressName[]; peers: PeerScenarioName[]; audit: AuditScenarioName[] } {
  const raw = process.env.BENCH_SCENARIOS;
  if (raw === undefined || raw.trim() === '') return { scenarios: [...SCENARIOS], stress: [...STRESS_RUNS], peers: [...PEER_SCENARIOS], audit: [...AUDIT_SCENARIOS] };
  const wanted = raw.split(',').map((s) => s.trim());
  const known = [...SCENARIOS, ...STRESS_RUNS, ...PEER_SCENARIOS, ...AUDIT_SCENARIOS] as readonly string[];
  const unknown = wanted.filter((s) => !known.includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: unknown scenario(s) ${unknown.join(', ')}`);
  return {
    scenarios: SCENARIOS.filter((s) => wanted.includes(s)),
    stress: STRESS_RUNS.filter((s) => wanted.includes(s)),
    peers: PEER_SCENARIOS.filter((s) => wanted.includes(s)),
    audit: AUDIT_SCENARIOS.filter((s) => wanted.includes(s)),
  };
}

async function startTargets(serverEntry: string, startTimeoutMs: number): Promise<[Target, Target]> {
  const [basePort, serverPort] = [await findFreePort(), await findFreePort()];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fhir-bench-'));
  running.dataDirs.push(dataDir);
  // `--import tsx` resolves from the child's cwd, the repository root, where tsx is installed.
  const baselineArgs = ['--import', 'tsx', path.join(ROOT, 'bench', 'baseline.ts')];
  const baseline = spawnTarget(BASELINE, baselineArgs, basePort, { NODE_ENV: 'production' }, ROOT);
  running.targets.push(baseline);
  const server = spawnServer(SERVER, serverEntry, serverPort, dataDir, ROOT);
  running.targets.push(server);
  await Promise.all([waitHealthy(baseline, startTimeoutMs), waitHealthy(server, startTimeoutMs)]);
  return [baseline, server];
}

interface BaselinePhase {
  rows: ResultRow[];
  verdicts: Verdict[];
  stressResults: StressResult[];
  memory: Record<string, number | null>;
}

/** The server against the bare Express baseline (and the stress runs), in a store of their own. */
async function runBaselinePhase(
  settings: LoadSettings,
  warmupSeconds: number,
  scenarios: readonly ScenarioName[],
  stress: readonly StressName[],
  counts: { patients: number; historyPatients: number; observations: number },
  serverEntry: string,
  startTimeoutMs: number,
): Promise<BaselinePhase> {
  const { patients, historyPatients, observations } = counts;
  const targets = await startTargets(serverEntry, startTimeoutMs);
  const data = new Map<Target, PreparedData>();
  for (const target of targets) {
    const started = Date.now();
    const prepared = await prepareData(target.url, patients, historyPatients, observations, target.name === SERVER);
    data.set(target, prepared);
    console.log(
      `prepared ${patients}+${historyPatients} Patients, ${prepared.observations} Observations on ${target.name} in ${Date.now() - started} ms`,
    );
  }
  const rows: ResultRow[] = [];
  // Relative goals compare two server scenarios: measured head to head, alternating, so that drift (JIT warm-up,
  // the other processes on the machine) weighs on both alike; and right after the pair ran, before later
  // scenarios grow the store and the heap.
  const relativeMeasured = new Map<ScenarioName, number>();
  const server = targets.find((t) => t.name === SERVER);
  const headToHead = async (scenario: ScenarioName, versus: ScenarioName): Promise<void> => {
    const prepared = server && data.get(server);
    if (!server || !prepared) return;
    const totals = new Map<ScenarioName, number>([[scenario, 0], [versus, 0]]);
    for (let round = 0; round < HEAD_TO_HEAD_ROUNDS; round++) {
      for (const name of round % 2 === 0 ? [versus, scenario] : [scenario, versus]) {
        const { result } = await load(scenarioOptions(name, server.url, prepared, { ...settings, durationSeconds: HEAD_TO_HEAD_SECONDS }));
        totals.set(name, (totals.get(name) ?? 0) + result.requests.total);
      }
    }
    const ratio = (totals.get(scenario) ?? 0) / Math.max(1, totals.get(versus) ?? 0);
    relativeMeasured.set(scenario, ratio);
    console.log(`${scenario} vs ${versus}, head to head (${HEAD_TO_HEAD_ROUNDS} alternating rounds of ${HEAD_TO_HEAD_SECONDS}s each): ${ratio.toFixed(2)}`);
  };
  const done = new Set<ScenarioName>();
  for (const scenario of scenarios) {
    for (const target of targets) {
      const prepared = data.get(target);
      if (prepared === undefined) throw new Error(`no data prepared on ${target.name}`);
      if (warmupSeconds > 0) {
        await load(scenarioOptions(scenario, target.url, prepared, { ...settings, durationSeconds: warmupSeconds }));
      }
      const cpuBefore = cpuTimeMs(target);
      const { result, latency } = await load(scenarioOptions(scenario, target.url, prepared, settings));
      const cpuAfter = cpuTimeMs(target);
      const row = toRow(scenario, target.name, result, latency);
      if (cpuBefore !== null && cpuAfter !== null && row.total > 0) row.cpuMsPerRequest = (cpuAfter - cpuBefore) / row.total;
      assertAlive(target);
      rows.push(row);
      console.log(
        `${scenario.padEnd(14)} ${target.name.padEnd(9)} ${row.reqPerSec.toFixed(0).padStart(7)} req/s` +
          `  p99 ${row.p99Ms.toFixed(3)} ms  non-2xx+errors ${row.non2xx + row.errors}` +
          (row.cpuMsPerRequest === undefined ? '' : `  cpu ${row.cpuMsPerRequest.toFixed(3)} ms/req`),
      );
    }
    done.add(scenario);
    for (const [name, goal] of Object.entries(RELATIVE_GOALS) as Array<[ScenarioName, { versus: ScenarioName }]>) {
      if (done.has(name) && done.has(goal.versus) && (scenario === name || scenario === goal.versus)) await headToHead(name, goal.versus);
    }
  }

  // Last: the stress runs grow the heap, and they are judged on the server alone.
  const stressResults: StressResult[] = [];
  const serverData = server && data.get(server);
  for (const name of stress) {
    if (!server || !serverData) break;
    const result = await runStress(name, server, serverData, settings.durationSeconds);
    assertAlive(server);
    stressResults.push(result);
    console.log(`${result.line}${result.missed ? `  MISS: ${result.missed}` : '  OK'}`);
  }

  const memory = Object.fromEntries(targets.map((t) => [t.name, peakRssMiB(t)]));
  for (const target of targets) await stopTarget(target);
  return { rows, verdicts: judge(rows, SERVER, BASELINE, relativeMeasured), stressResults, memory };
}

/** `BENCH_PEERS`: unset = on when the peers are installed; 0/false/off = off; 1/true/on = on, required. */
function envPeers(): boolean {
  const raw = (process.env.BENCH_PEERS ?? '').trim().toLowerCase();
  if (raw === '') return peersInstalled();
  if (['0', 'false', 'off', 'no'].includes(raw)) return false;
  if (!['1', 'true', 'on', 'yes'].includes(raw)) throw new Error(`BENCH_PEERS must be 0 or 1 (or unset), got "${process.env.BENCH_PEERS}"`);
  if (!peersInstalled()) throw new Error('BENCH_PEERS=1 but oidc-provider and @medplum/fhir-router are not installed: run `npm install`');
  return true;
}

async function main(): Promise<void> {
  const settings: LoadSettings = {
    connections: 10,
    pipelining: 1,
    durationSeconds: envNumber('BENCH_DURATION', 10, 1),
  };
  const warmupSeconds = envNumber('BENCH_WARMUP', 2, 0);
  const { scenarios, stress, peers: peerScenarios, audit: auditScenarios } = envScenarios();
  const patients = envNumber('BENCH_PATIENTS', 1000, 1);
  const historyPatients = envNumber('BENCH_HISTORY_PATIENTS', 100, 1);
  const wantedObservations = envNumber('BENCH_OBSERVATIONS', 10000, 0);
  const observations = scenarios.some((s) => s.includes('search')) || stress.length > 0 ? wantedObservations : 0;
  const startTimeoutMs = envNumber('BENCH_START_TIMEOUT', 60, 1) * 1000;
  const peerRounds = envNumber('BENCH_PEER_ROUNDS', 4, 1);
  const withPeers = peerScenarios.length > 0 && envPeers();
  const serverEntry = path.resolve(ROOT, process.env.BENCH_SERVER_ENTRY ?? 'dist/main.js');
  if (!existsSync(serverEntry)) throw new Error(`${serverEntry} does not exist: run \`npm run build\` first`);

  console.log(
    `bench: ${os.cpus().length} cpus, node ${process.version}; ${settings.connections} connections, ` +
      `pipelining ${settings.pipelining}, ${settings.durationSeconds}s per run (+${warmupSeconds}s warm-up)`,
  );
  const phase: BaselinePhase =
    scenarios.length + stress.length > 0
      ? await runBaselinePhase(settings, warmupSeconds, scenarios, stress, { patients, historyPatients, observations }, serverEntry, startTimeoutMs)
      : { rows: [], verdicts: [], stressResults: [], memory: {} };
  const { rows, verdicts, stressResults, memory } = phase;

  let peers: HeadToHeadReport | { skipped: string } = { skipped: peerScenarios.length === 0 ? 'no peer scenario selected' : 'BENCH_PEERS off or peers not installed' };
  if (withPeers) {
    peers = await runHeadToHead({
      scenarios: peerScenarios,
      rounds: peerRounds,
      roundSeconds: Math.max(1, settings.durationSeconds / 2),
      warmupSeconds,
      patients,
      observations: wantedObservations,
      serverEntry,
      startTimeoutMs,
      root: ROOT,
    });
  } else if (peerScenarios.length > 0) {
    console.log('peers: skipped (install the devDependencies oidc-provider and @medplum/fhir-router, or unset BENCH_PEERS=0)');
  }

  let auditOverhead: AuditOverheadReport | { skipped: string } = { skipped: 'audit-overhead not selected' };
  if (auditScenarios.length > 0) {
    auditOverhead = await runAuditOverhead({
      rounds: envNumber('BENCH_AUDIT_ROUNDS', 6, 1),
      roundSeconds: Math.max(1, settings.durationSeconds / 2),
      warmupSeconds,
      patients,
      connections: settings.connections,
      serverEntry,
      startTimeoutMs,
      root: ROOT,
    });
    for (const line of formatAuditOverhead(auditOverhead)) console.log(line);
  }

  const report = buildReport(rows, verdicts, { ...settings, warmupSeconds, patients, historyPatients }, memory, peers, auditOverhead);
  writeReport(report, RESULTS_FILE);

  if (rows.length > 0) {
    console.log(`\n${formatTable(rows, verdicts, SERVER)}\n`);
    console.log(`peak RSS (MiB): ${Object.entries(memory).map(([name, mib]) => `${name} ${mib ?? '?'}`).join(', ')}`);
  }
  for (const result of stressResults) console.log(result.line);
  const peerRows = 'rows' in peers ? peers.rows : [];
  if (peerRows.length > 0 && 'rows' in peers) {
    console.log(`\nhead to head (${peerRounds} alternating rounds of ${Math.max(1, settings.durationSeconds / 2)}s per target; ratio = server req/s ÷ peer req/s; cpu ratio = peer cpu ÷ server cpu per request)`);
    console.log(`${formatPeerTable(peerRows)}\n`);
    console.log(`peak RSS (MiB): ${Object.entries(peers.peakRssMiB).map(([name, mib]) => `${name} ${mib ?? '?'}`).join(', ')}`);
  }
  const missed = [
    ...verdicts.filter((v) => !v.met).map((v) => v.scenario),
    ...stressResults.filter((r) => r.missed).map((r) => r.name),
    ...peerRows.filter((r) => !r.met).map((r) => r.scenario),
    ...('met' in auditOverhead && !auditOverhead.met ? [auditOverhead.scenario] : []),
  ];
  console.log(missed.length === 0 ? 'ALL GOALS MET' : `GOALS MISSED: ${missed.join(', ')} (see the goal column)`);
  console.log(`wrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
  console.log("note: the targets and autocannon share this machine's cores; compare ratios and cpu ms/req, not absolutes");
}

runBenchMain('bench', main, cleanUpNow);
