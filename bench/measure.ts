/**
 * What one measured run needs, shared by the baseline comparison (run.ts) and the head-to-head runs against the
 * peers (head-to-head.ts): the autocannon call with its 2xx latency recorder, the target's CPU time and memory from
 * /proc (Linux), and the state the signal handlers clean up.
 */
import { readFileSync, rmSync } from 'node:fs';
import autocannon from 'autocannon';
import { LatencyRecorder } from './latency';
import { killTargetsNow } from './processes';
import type { Target } from './processes';

/** State the signal handlers and the final cleanup need. */
export const running: { targets: Target[]; load: autocannon.Instance | null; dataDirs: string[] } = {
  targets: [],
  load: null,
  dataDirs: [],
};

/** Stops the load, kills every child and deletes the temporary data directories (synchronous). */
export function cleanUpNow(): void {
  running.load?.stop();
  killTargetsNow(running.targets);
  for (const dir of running.dataDirs) rmSync(dir, { recursive: true, force: true });
  running.dataDirs = [];
}

/** An autocannon result with the 2xx response times of the run. */
export interface LoadOutcome {
  result: autocannon.Result;
  latency: LatencyRecorder;
}

/**
 * Runs autocannon once.
 *
 * @param options - autocannon options
 * @param latency - where 2xx response times go (a fresh recorder when omitted; pass one to pool several runs)
 * @returns the result and the recorder
 */
export function load(options: autocannon.Options, latency = new LatencyRecorder()): Promise<LoadOutcome> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err: unknown, result: autocannon.Result) => {
      running.load = null;
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ result, latency });
    });
    // Same rule as autocannon's own histogram: only 2xx responses count towards latency.
    instance.on('response', (_client, status: number, _bytes, ms: number) => {
      if (status >= 200 && status < 300) latency.record(ms);
    });
    running.load = instance;
  });
}

/** Linux reports process times in USER_HZ ticks, 100 per second on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Peak resident memory of a target (Linux only).
 *
 * @param target - the target
 * @returns MiB, or null when unknown
 */
export function peakRssMiB(target: Target): number | null {
  try {
    const status = readFileSync(`/proc/${target.child.pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? null : Math.round(Number(kb) / 1024);
  } catch {
    return null; // Not Linux, or the process is gone.
  }
}

/**
 * CPU time (user + system) a target has used so far, in milliseconds (Linux only; null elsewhere). Per request it
 * is a steadier figure than req/s when other processes compete for the cores.
 *
 * @param target - the target
 * @returns milliseconds, or null when unknown
 */
export function cpuTimeMs(target: Target): number | null {
  try {
    const stat = readFileSync(`/proc/${target.child.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15 (in clock ticks).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/**
 * Throws when a target's process has exited.
 *
 * @param target - the target
 * @throws Error with the target's last output
 */
export function assertAlive(target: Target): void {
  const { child } = target;
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`${target.name} died during the run. Its last output:\n${target.outputTail()}`);
  }
}
