/**
 * Head to head against reference implementations ("peers"), with the same load generator and alternating runs:
 * - `oidc-provider` (panva), minimal configuration issuing RS256 JWT access tokens: the token endpoint;
 * - Medplum's `FhirRouter` + `MemoryRepository` behind a minimal Express adapter (no auth): read, create, searches.
 *
 * A fresh server (its own empty data directory) and both peers are started for this phase, the server and Medplum
 * get the same data through their FHIR APIs, and each scenario alternates the two targets for BENCH_PEER_ROUNDS
 * rounds (server first in odd rounds, the peer first in even ones), so drift and the other load on the machine
 * weigh on both alike. The figures are pooled over the rounds: req/s = requests ÷ seconds, CPU ms per request from
 * /proc, p50/p99 of every 2xx response.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import { FHIR_BASE_PATH, makePatient, OBSERVATION_CODES } from './fixtures';
import { LatencyRecorder } from './latency';
import { assertAlive, cpuTimeMs, load, peakRssMiB, running } from './measure';
import { findFreePort, spawnServer, spawnTarget, stopTarget, waitHealthy } from './processes';
import type { Target } from './processes';
import { BASIC, BENCH_CLIENT, BEARER_TOKENS, fetchToken, HEADERS, inParallel, PATIENT_PATH, pick, POLICY_BASIC, prepareData, TOKEN_BODY, TOKEN_PATH } from './scenarios';
import type { PreparedData } from './scenarios';
import { fmtCpu, fmtRate, fmtRatio } from './peer-table';
import { checkIssuedTokens } from './token-check';
import type { TokenCheck } from './token-check';

/** Names of the head-to-head scenarios, in the order they run (writes last, so the searches see the seeded data). */
export const PEER_SCENARIOS = ['peer-read', 'peer-search-token', 'peer-search-include', 'peer-create', 'peer-token'] as const;
export type PeerScenarioName = (typeof PEER_SCENARIOS)[number];

type PeerName = 'medplum' | 'oidc-provider';

interface PeerScenario {
  peer: PeerName;
  /** What is compared, for the table and the report. */
  label: string;
  connections: number;
  /**
   * `time`: each round lasts the round's seconds. `count`: each round is a number of requests, sized per target from
   * a timed first request to last about as long, at one connection: Medplum's searches scan every resource of the
   * type and take seconds each, so a timed round would end with nothing completed.
   */
  mode: 'time' | 'count';
  /** Minimum server/peer ratio; null: reported only. */
  goal: number | null;
  note?: string;
}

const SCENARIO_INFO: Record<PeerScenarioName, PeerScenario> = {
  'peer-read': { peer: 'medplum', label: 'bearer read, 3-rule AccessPolicy (peer: no auth)', connections: 10, mode: 'time', goal: 1.0 },
  'peer-search-token': { peer: 'medplum', label: 'Observation?code=…&_count=20 over the seeded Observations', connections: 1, mode: 'count', goal: null },
  'peer-search-include': {
    peer: 'medplum',
    label: 'the same with _include=Observation:subject',
    connections: 1,
    mode: 'count',
    goal: null,
    note: "Medplum's MemoryRepository ignores _include: the peer returns the matches only",
  },
  'peer-create': { peer: 'medplum', label: 'POST Patient (peer: no auth, in memory, no journal)', connections: 10, mode: 'time', goal: 1.0 },
  'peer-token': { peer: 'oidc-provider', label: 'client_credentials, client_secret_basic, RS256 JWT', connections: 16, mode: 'time', goal: 1.0 },
};

/** Pooled figures of one target over the rounds. */
export interface PooledFigures {
  target: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerRequest: number | null;
  total: number;
  seconds: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
}

/** One head-to-head result. */
export interface PeerRow {
  scenario: PeerScenarioName;
  label: string;
  peer: PeerName;
  server: PooledFigures;
  peerFigures: PooledFigures;
  /** Server req/s ÷ peer req/s. */
  ratio: number | null;
  /** Peer CPU ms per request ÷ server CPU ms per request (> 1: the server spends less CPU per request). */
  cpuRatio: number | null;
  goal: number | null;
  met: boolean;
  note?: string;
  /** `peer-token` only: the issued tokens still introspect and revoke. */
  tokenCheck?: TokenCheck;
}

/** Settings of the phase. */
export interface HeadToHeadSettings {
  scenarios: readonly PeerScenarioName[];
  rounds: number;
  roundSeconds: number;
  warmupSeconds: number;
  patients: number;
  observations: number;
  serverEntry: string;
  startTimeoutMs: number;
  root: string;
}

/** What the phase reports. */
export interface HeadToHeadReport {
  settings: Omit<HeadToHeadSettings, 'serverEntry' | 'root' | 'scenarios'> & { peers: Record<PeerName, string> };
  rows: PeerRow[];
  peakRssMiB: Record<string, number | null>;
}

/**
 * Whether the peers are installed (devDependencies).
 *
 * @returns true when both `oidc-provider` and `@medplum/fhir-router` resolve
 */
export function peersInstalled(): boolean {
  try {
    require.resolve('oidc-provider');
    require.resolve('@medplum/fhir-router');
    return true;
  } catch {
    return false;
  }
}

function installedVersion(name: string): string {
  try {
    // Read from disk: oidc-provider's package.json is not exported.
    const dir = path.dirname(require.resolve(name));
    for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
      try {
        const pkg = require(path.join(d, 'package.json')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? '?';
      } catch {
        // keep walking up
      }
    }
  } catch {
    // not installed
  }
  return '?';
}

interface Targets {
  server: Target;
  medplum?: Target;
  oidc?: Target;
}

async function startTargets(settings: HeadToHeadSettings): Promise<Targets> {
  const wants = (peer: PeerName): boolean => settings.scenarios.some((s) => SCENARIO_INFO[s].peer === peer);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'fhir-bench-peers-'));
  running.dataDirs.push(dataDir);
  const server = spawnServer('server', settings.serverEntry, await findFreePort(), dataDir, settings.root);
  running.targets.push(server);
  const targets: Targets = { server };
  if (wants('medplum')) {
    // @medplum/core expects a global WebSocket, behind a flag on Node 20.
    const flags = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined' ? ['--experimental-websocket'] : [];
    const args = [...flags, '--import', 'tsx', path.join(settings.root, 'bench', 'peers', 'medplum.ts')];
    targets.medplum = spawnTarget('medplum', args, await findFreePort(), { NODE_ENV: 'production' }, settings.root);
    running.targets.push(targets.medplum);
  }
  if (wants('oidc-provider')) {
    const env = { NODE_ENV: 'production', BENCH_CLIENT_ID: BENCH_CLIENT.id, BENCH_CLIENT_SECRET: BENCH_CLIENT.secret, BENCH_TOKEN_PATH: TOKEN_PATH };
    targets.oidc = spawnTarget('oidc-provider', [path.join(settings.root, 'bench', 'peers', 'oidc-provider.mjs')], await findFreePort(), env, settings.root);
    running.targets.push(targets.oidc);
  }
  await Promise.all([targets.server, targets.medplum, targets.oidc].map((t) => (t ? waitHealthy(t, settings.startTimeoutMs) : undefined)));
  return targets;
}

const searchPath = (include: boolean): string =>
  `${FHIR_BASE_PATH}/Observation?code=${encodeURIComponent(`http://loinc.org|${pick(OBSERVATION_CODES)}`)}&_count=20${include ? '&_include=Observation:subject' : ''}`;

/** Where the token answers' access tokens go during `peer-token` (server side only). */
const ACCESS_TOKEN = /"access_token":"([^"]+)"/;

function requestFor(scenario: PeerScenarioName, data: PreparedData, policyHeaders: Array<Record<string, string>>, issued: string[] | null): autocannon.Request {
  switch (scenario) {
    case 'peer-read':
      return policyHeaders.length > 0
        ? { method: 'GET', setupRequest: (req) => ({ ...req, path: `${PATIENT_PATH}/${pick(data.ids)}`, headers: pick(policyHeaders) }) }
        : { method: 'GET', setupRequest: (req) => ({ ...req, path: `${PATIENT_PATH}/${pick(data.ids)}` }) };
    case 'peer-search-token':
      return { method: 'GET', setupRequest: (req) => ({ ...req, path: searchPath(false) }) };
    case 'peer-search-include':
      return { method: 'GET', setupRequest: (req) => ({ ...req, path: searchPath(true) }) };
    case 'peer-create':
      return { method: 'POST', path: PATIENT_PATH, body: JSON.stringify(makePatient(0)) };
    case 'peer-token':
      return {
        method: 'POST',
        path: TOKEN_PATH,
        headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: TOKEN_BODY,
        // Both targets' bodies are read (same load-generator work); the server's tokens are kept for the check.
        onResponse: (status: number, body: string) => {
          const token = status === 200 ? ACCESS_TOKEN.exec(body)?.[1] : undefined;
          if (issued && token) issued.push(token);
        },
      };
  }
}

class Pool {
  readonly latency = new LatencyRecorder();
  total = 0;
  seconds = 0;
  non2xx = 0;
  errors = 0;
  cpuMs: number | null = 0;
  readonly statusCodes: Record<string, number> = {};

  constructor(readonly target: string) {}

  add(result: autocannon.Result, cpuMs: number | null, seconds = result.duration): void {
    this.total += result.requests.total;
    this.seconds += seconds;
    this.non2xx += result.non2xx;
    this.errors += result.errors;
    this.cpuMs = this.cpuMs === null || cpuMs === null ? null : this.cpuMs + cpuMs;
    for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) this.statusCodes[code] = (this.statusCodes[code] ?? 0) + (stat.count ?? 0);
  }

  figures(): PooledFigures {
    return {
      target: this.target,
      reqPerSec: this.seconds > 0 ? this.total / this.seconds : 0,
      p50Ms: this.latency.percentile(50),
      p99Ms: this.latency.percentile(99),
      cpuMsPerRequest: this.cpuMs === null || this.total === 0 ? null : this.cpuMs / this.total,
      total: this.total,
      seconds: this.seconds,
      non2xx: this.non2xx,
      errors: this.errors,
      statusCodes: this.statusCodes,
    };
  }
}

/** Seconds a single request may take in `count` mode (a Medplum search over 10k Observations takes several). */
const COUNT_MODE_TIMEOUT_SECONDS = 300;

interface Side {
  target: Target;
  /** Options for a run of `seconds`, or of `amount` requests when given. */
  options: (seconds: number, amount?: number) => autocannon.Options;
  pool: Pool;
  /** `count` mode: requests per round, sized at warm-up. */
  amount?: number;
}

async function runRound(side: Side, seconds: number): Promise<void> {
  const before = cpuTimeMs(side.target);
  const busyBefore = side.pool.latency.totalMs;
  const { result } = await load(side.options(seconds, side.amount), side.pool.latency);
  const after = cpuTimeMs(side.target);
  assertAlive(side.target);
  // One connection in sequence: the time the target was asked for is the sum of the response times (autocannon's
  // own duration of an `amount` run waits for its next one-second tick).
  const busySeconds = side.amount === undefined ? undefined : (side.pool.latency.totalMs - busyBefore) / 1000;
  side.pool.add(result, before === null || after === null ? null : after - before, busySeconds);
}

async function warmUp(side: Side, mode: PeerScenario['mode'], warmupSeconds: number, roundSeconds: number): Promise<void> {
  if (mode === 'count') {
    const { result, latency: firstLatency } = await load(side.options(0, 1));
    const first = firstLatency.totalMs / 1000;
    if (result.requests.total !== 1 || result.non2xx > 0) throw new Error(`${side.target.name}: the first request of a count-mode run failed`);
    let perRequest = first;
    // The first request may pay for cold paths: a few more size the rounds when they are quick.
    if (first * 4 < roundSeconds) {
      const { latency } = await load(side.options(0, 4));
      if (latency.size > 0) perRequest = latency.totalMs / latency.size / 1000;
    }
    const rest = warmupSeconds - first;
    if (rest >= 1) {
      const { latency } = await load(side.options(rest));
      if (latency.size > 0) perRequest = latency.totalMs / latency.size / 1000;
    }
    side.amount = Math.max(1, Math.round(roundSeconds / Math.max(perRequest, 0.0005)));
  } else if (warmupSeconds > 0) {
    await load(side.options(warmupSeconds));
  }
  assertAlive(side.target);
}

function verdict(scenario: PeerScenarioName, server: PooledFigures, peer: PooledFigures, tokenCheck?: TokenCheck): PeerRow {
  const info = SCENARIO_INFO[scenario];
  const ratio = peer.reqPerSec > 0 ? server.reqPerSec / peer.reqPerSec : null;
  const cpuRatio = server.cpuMsPerRequest && peer.cpuMsPerRequest ? peer.cpuMsPerRequest / server.cpuMsPerRequest : null;
  const met =
    server.non2xx + server.errors === 0 &&
    (info.goal === null || (ratio !== null && ratio >= info.goal)) &&
    (tokenCheck === undefined || tokenCheck.ok);
  return { scenario, label: info.label, peer: info.peer, server, peerFigures: peer, ratio, cpuRatio, goal: info.goal, met, ...(info.note ? { note: info.note } : {}), ...(tokenCheck ? { tokenCheck } : {}) };
}

/**
 * Starts a fresh server and the peers, prepares the same data on the server and Medplum, runs the scenarios
 * alternating the two targets, checks the server's issued tokens, and stops everything it started.
 *
 * @param settings - the phase's settings
 * @returns the rows and the settings, for the table and latest.json
 */
export async function runHeadToHead(settings: HeadToHeadSettings): Promise<HeadToHeadReport> {
  const targets = await startTargets(settings);
  const { server, medplum, oidc } = targets;
  const needsData = settings.scenarios.some((s) => s !== 'peer-token');
  const observations = settings.scenarios.some((s) => s.includes('search')) ? settings.observations : 0;
  const patients = needsData ? settings.patients : 1;
  let started = Date.now();
  const serverData = await prepareData(server.url, patients, 0, observations, true);
  const policyTokens: string[] = new Array<string>(BEARER_TOKENS);
  await inParallel(BEARER_TOKENS, 10, async (i) => {
    policyTokens[i] = await fetchToken(server.url, POLICY_BASIC);
  });
  console.log(`peers: prepared ${patients} Patients, ${serverData.observations} Observations on the server in ${Date.now() - started} ms`);
  let medplumData: PreparedData | undefined;
  if (medplum) {
    started = Date.now();
    medplumData = await prepareData(medplum.url, patients, 0, observations, false, false);
    console.log(`peers: prepared ${patients} Patients, ${medplumData.observations} Observations on medplum in ${Date.now() - started} ms`);
  }
  const policyHeaders = policyTokens.map((t) => ({ ...HEADERS, authorization: `Bearer ${t}` }));

  const rows: PeerRow[] = [];
  for (const scenario of settings.scenarios) {
    const info = SCENARIO_INFO[scenario];
    const peer = info.peer === 'medplum' ? medplum : oidc;
    if (!peer) throw new Error(`${scenario}: ${info.peer} is not running`);
    const peerData = medplumData ?? serverData;
    const issued: string[] = [];
    const options = (target: Target, data: PreparedData, policy: Array<Record<string, string>>, keep: string[] | null) =>
      (seconds: number, amount?: number): autocannon.Options => ({
        url: target.url,
        title: `${scenario} ${target.name}`,
        connections: info.connections,
        pipelining: 1,
        ...(amount === undefined ? { duration: seconds } : { amount, timeout: COUNT_MODE_TIMEOUT_SECONDS }),
        headers: target === server ? { ...HEADERS, authorization: `Bearer ${data.token}` } : HEADERS,
        requests: [requestFor(scenario, data, policy, keep)],
      });
    const sides: [Side, Side] = [
      { target: server, options: options(server, serverData, policyHeaders, null), pool: new Pool(server.name) },
      { target: peer, options: options(peer, peerData, [], null), pool: new Pool(peer.name) },
    ];
    for (const side of sides) await warmUp(side, info.mode, settings.warmupSeconds, settings.roundSeconds);
    // Measured runs of the server keep the tokens they issued.
    sides[0].options = options(server, serverData, policyHeaders, issued);
    for (let round = 0; round < settings.rounds; round++) {
      for (const side of round % 2 === 0 ? sides : [sides[1], sides[0]]) await runRound(side, settings.roundSeconds);
    }
    const tokenCheck = scenario === 'peer-token' ? await checkIssuedTokens(server.url, issued, serverData.ids) : undefined;
    const row = verdict(scenario, sides[0].pool.figures(), sides[1].pool.figures(), tokenCheck);
    rows.push(row);
    console.log(
      `${scenario.padEnd(19)} server ${fmtRate(row.server.reqPerSec).padStart(6)} req/s ${fmtCpu(row.server.cpuMsPerRequest)} cpu ms/req` +
        `  ${row.peer} ${fmtRate(row.peerFigures.reqPerSec).padStart(6)} req/s ${fmtCpu(row.peerFigures.cpuMsPerRequest)} cpu ms/req  ratio ${fmtRatio(row.ratio)}` +
        (tokenCheck ? `  tokens: ${tokenCheck.issued} issued, ${tokenCheck.active}/${tokenCheck.introspected} active, ${tokenCheck.inactiveAfterRevocation}/${tokenCheck.revoked} inactive and ${tokenCheck.refusedAfterRevocation} refused after revocation` : ''),
    );
  }
  const peakRss = Object.fromEntries([server, medplum, oidc].filter((t): t is Target => t !== undefined).map((t) => [t.name, peakRssMiB(t)]));
  for (const target of [server, medplum, oidc]) if (target) await stopTarget(target);
  const { rounds, roundSeconds, warmupSeconds, patients: p, observations: o, startTimeoutMs } = settings;
  return {
    settings: {
      rounds,
      roundSeconds,
      warmupSeconds,
      patients: p,
      observations: o,
      startTimeoutMs,
      peers: { 'oidc-provider': installedVersion('oidc-provider'), medplum: `@medplum/fhir-router ${installedVersion('@medplum/fhir-router')}` },
    },
    rows,
    peakRssMiB: peakRss,
  };
}
