/**
 * `audit-overhead`: what the audit trail costs a bearer-token read (docs/audit.md "Cost"). Two server processes on
 * the same entry, identical data in data directories of their own, one with AUDIT=on and one with AUDIT=off, take
 * the `bearer-read` load in alternating rounds (the AUDIT=off server first in even rounds, second in odd ones), so
 * that drift and the other load on the machine weigh on both alike. Pooled over the rounds: req/s (requests ÷
 * seconds) and server CPU ms per request (from /proc), and the ratios on ÷ off for req/s and off ÷ on for CPU per
 * request (both 1.0 when auditing is free, lower when it costs). Goal: on ≥ 0.90× off, judged on CPU per request,
 * which the load generator sharing the cores disturbs least; req/s is reported beside it.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import { assertAlive, cpuTimeMs, load, peakRssMiB, running } from './measure';
import { findFreePort, spawnServer, stopTarget, waitHealthy } from './processes';
import type { Target } from './processes';
import { prepareData, scenarioOptions } from './scenarios';
import type { LoadSettings, PreparedData } from './scenarios';

/** The scenario's name in BENCH_SCENARIOS. */
export const AUDIT_SCENARIOS = ['audit-overhead'] as const;
export type AuditScenarioName = (typeof AUDIT_SCENARIOS)[number];

/** Minimum ratio (AUDIT=on relative to AUDIT=off). */
export const AUDIT_GOAL = 0.9;

/** Figures of one server pooled over the rounds. */
export interface AuditSide {
  audit: 'on' | 'off';
  reqPerSec: number;
  cpuMsPerRequest: number | null;
  total: number;
  seconds: number;
  non2xx: number;
  errors: number;
  peakRssMiB: number | null;
}

/** The result of the scenario. */
export interface AuditOverheadReport {
  scenario: AuditScenarioName;
  label: string;
  rounds: number;
  roundSeconds: number;
  connections: number;
  on: AuditSide;
  off: AuditSide;
  /** req/s with AUDIT=on ÷ req/s with AUDIT=off. */
  reqRatio: number | null;
  /** CPU ms per request with AUDIT=off ÷ with AUDIT=on (the share of the unaudited cost an audited read keeps). */
  cpuRatio: number | null;
  goal: number;
  /** Judged on cpuRatio, and no errors on either side. */
  met: boolean;
}

/** Settings of the scenario. */
export interface AuditOverheadSettings {
  rounds: number;
  roundSeconds: number;
  warmupSeconds: number;
  patients: number;
  connections: number;
  serverEntry: string;
  startTimeoutMs: number;
  root: string;
}

class Side {
  total = 0;
  seconds = 0;
  non2xx = 0;
  errors = 0;
  cpuMs: number | null = 0;

  constructor(
    readonly audit: 'on' | 'off',
    readonly target: Target,
    readonly data: PreparedData,
  ) {}

  add(result: autocannon.Result, cpuMs: number | null): void {
    this.total += result.requests.total;
    this.seconds += result.duration;
    this.non2xx += result.non2xx;
    this.errors += result.errors;
    this.cpuMs = this.cpuMs === null || cpuMs === null ? null : this.cpuMs + cpuMs;
  }

  figures(): AuditSide {
    return {
      audit: this.audit,
      reqPerSec: this.seconds > 0 ? this.total / this.seconds : 0,
      cpuMsPerRequest: this.cpuMs === null || this.total === 0 ? null : this.cpuMs / this.total,
      total: this.total,
      seconds: this.seconds,
      non2xx: this.non2xx,
      errors: this.errors,
      peakRssMiB: peakRssMiB(this.target),
    };
  }
}

async function startSide(audit: 'on' | 'off', settings: AuditOverheadSettings): Promise<Side> {
  const port = await findFreePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `fhir-bench-audit-${audit}-`));
  running.dataDirs.push(dataDir);
  const target = spawnServer(`audit-${audit}`, settings.serverEntry, port, dataDir, settings.root, { AUDIT: audit });
  running.targets.push(target);
  await waitHealthy(target, settings.startTimeoutMs);
  const data = await prepareData(target.url, settings.patients, 0);
  return new Side(audit, target, data);
}

/**
 * Runs the scenario.
 * @param settings - rounds, their length, data size, the server entry
 * @returns the report
 */
export async function runAuditOverhead(settings: AuditOverheadSettings): Promise<AuditOverheadReport> {
  const sides = [await startSide('off', settings), await startSide('on', settings)] as const;
  const options = (side: Side, seconds: number): autocannon.Options => {
    const load: LoadSettings = { connections: settings.connections, pipelining: 1, durationSeconds: seconds };
    return scenarioOptions('bearer-read', side.target.url, side.data, load);
  };
  try {
    if (settings.warmupSeconds > 0) for (const side of sides) await load(options(side, settings.warmupSeconds));
    for (let round = 0; round < settings.rounds; round++) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const before = cpuTimeMs(side.target);
        const { result } = await load(options(side, settings.roundSeconds));
        const after = cpuTimeMs(side.target);
        side.add(result, before === null || after === null ? null : after - before);
        assertAlive(side.target);
      }
    }
    const [off, on] = sides.map((side) => side.figures()) as [AuditSide, AuditSide];
    const reqRatio = off.reqPerSec > 0 ? on.reqPerSec / off.reqPerSec : null;
    const cpuRatio = on.cpuMsPerRequest && off.cpuMsPerRequest ? off.cpuMsPerRequest / on.cpuMsPerRequest : null;
    const clean = on.non2xx + on.errors + off.non2xx + off.errors === 0;
    return {
      scenario: 'audit-overhead',
      label: 'bearer-token read of a Patient, AUDIT=on vs AUDIT=off (two processes, alternating rounds)',
      rounds: settings.rounds,
      roundSeconds: settings.roundSeconds,
      connections: settings.connections,
      on,
      off,
      reqRatio,
      cpuRatio,
      goal: AUDIT_GOAL,
      met: clean && cpuRatio !== null && cpuRatio >= AUDIT_GOAL,
    };
  } finally {
    for (const side of sides) await stopTarget(side.target);
  }
}

/**
 * The scenario's lines for the console.
 * @param report - the report
 * @returns the lines
 */
export function formatAuditOverhead(report: AuditOverheadReport): string[] {
  const side = (s: AuditSide): string =>
    `  AUDIT=${s.audit.padEnd(3)} ${s.reqPerSec.toFixed(0).padStart(7)} req/s  cpu ${s.cpuMsPerRequest === null ? '?' : s.cpuMsPerRequest.toFixed(3)} ms/req  non-2xx+errors ${s.non2xx + s.errors}`;
  const ratio = (r: number | null): string => (r === null ? '?' : r.toFixed(2));
  return [
    `audit-overhead (${report.rounds} alternating rounds of ${report.roundSeconds}s per server, ${report.connections} connections): ${report.label}`,
    side(report.off),
    side(report.on),
    `  on/off: req/s ${ratio(report.reqRatio)}, cpu per request ${ratio(report.cpuRatio)} (off ÷ on)  goal ≥ ${report.goal.toFixed(2)} on cpu: ${report.met ? 'MET' : 'MISSED'}`,
  ];
}
