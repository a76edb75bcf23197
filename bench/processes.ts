/**
 * Child-process plumbing for the benchmark: free ports, spawning a target with its output kept for diagnostics,
 * waiting for `/healthz`, and stopping it (SIGTERM, then SIGKILL).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { BENCH_CLIENT } from './scenarios';

/** How much of a child's stdout/stderr is kept to explain a failed start. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

/** A target process started by the harness. */
export interface Target {
  /** Short name shown in the results table (`baseline` or `server`). */
  name: string;
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  child: ChildProcess;
  /** The last bytes the child printed (stdout and stderr interleaved). */
  outputTail(): string;
}

/**
 * Asks the OS for a free TCP port on the loopback interface.
 *
 * @returns a port number that was free a moment ago
 */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/**
 * Spawns a target process listening on `port`.
 *
 * @param name - name shown in the results
 * @param args - arguments to the current Node binary (script path first, or flags then script)
 * @param port - the port the child is told to listen on
 * @param env - extra environment variables (an `undefined` value removes an inherited one)
 * @param cwd - working directory of the child
 * @returns the running target
 */
export function spawnTarget(name: string, args: string[], port: number, env: NodeJS.ProcessEnv, cwd: string): Target {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, url: `http://127.0.0.1:${port}`, child, outputTail: () => tail };
}

/**
 * Spawns the server under test: production mode, the embedded store in `dataDir`, no logging, no demo data, tenant
 * and project `default`, the harness's admin client secret and a random key-encryption key.
 *
 * @param name - name shown in the results
 * @param entry - the server script (`dist/main.js`)
 * @param port - the port it listens on
 * @param dataDir - a fresh, empty data directory
 * @param cwd - working directory (the repository root)
 * @param extraEnv - variables on top of those (AUDIT=on/off for the audit-overhead scenario, a fixed
 *   KEY_ENCRYPTION_KEY for a server restarted on the same data)
 * @param nodeArgs - Node flags before the entry (e.g. `--require bench/gc-on-signal.cjs`)
 * @returns the running target
 */
export function spawnServer(
  name: string,
  entry: string,
  port: number,
  dataDir: string,
  cwd: string,
  extraEnv: NodeJS.ProcessEnv = {},
  nodeArgs: readonly string[] = [],
): Target {
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: 'production',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    MONGODB_URI: undefined, // embedded store, whatever the caller's environment says
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    BOOTSTRAP_TENANT: 'default',
    BOOTSTRAP_PROJECT: 'default',
    ADMIN_CLIENT_SECRET: BENCH_CLIENT.secret,
    // Production mode requires one; the store is thrown away after the run.
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    ...extraEnv,
  };
  // BENCH_SERVER_NODE_ARGS: extra Node flags for the server alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const extraNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  return spawnTarget(name, [...extraNodeArgs, ...nodeArgs, entry], port, env, cwd);
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Polls `GET {url}/healthz` until it answers 200.
 *
 * @param target - the target to wait for
 * @param timeoutMs - how long to wait before giving up
 * @throws Error when the child exits first or the timeout passes; the message carries the child's last output
 */
export async function waitHealthy(target: Target, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited(target.child)) {
      throw new Error(
        `${target.name} exited (code ${target.child.exitCode}, signal ${target.child.signalCode}) before ` +
          `answering /healthz. Its last output:\n${target.outputTail()}`,
      );
    }
    try {
      const res = await fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${target.name} did not answer /healthz within ${timeoutMs} ms. Its last output:\n${target.outputTail()}`,
  );
}

/**
 * Stops a target: SIGTERM, then SIGKILL if it is still running after `graceMs`.
 *
 * @param target - the target to stop
 * @param graceMs - time allowed for a clean shutdown
 */
export async function stopTarget(target: Target, graceMs = 5000): Promise<void> {
  const { child } = target;
  if (exited(child)) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/**
 * Sends SIGKILL to every target still running; synchronous, for use in `process.on('exit')`.
 *
 * @param targets - the targets to kill
 */
export function killTargetsNow(targets: readonly Target[]): void {
  for (const target of targets) {
    if (!exited(target.child)) target.child.kill('SIGKILL');
  }
}

/**
 * Runs a bench script's `main`: cleans up on SIGINT/SIGTERM and at exit (the children it started, its temporary
 * directories), exits 0 when `main` settles and 1 with the error's message when it fails.
 * @param name - the script's name, for messages
 * @param main - the script
 * @param cleanUpNow - synchronous clean-up, safe to call more than once
 */
export function runBenchMain(name: string, main: () => Promise<void>, cleanUpNow: () => void): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      console.error(`\n${name}: ${signal}, stopping children`);
      cleanUpNow();
      process.exit(code);
    });
  }
  process.on('exit', cleanUpNow);
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      const cause = (err as { cause?: unknown }).cause;
      console.error(`${name} failed: ${err instanceof Error ? err.message : String(err)}`, ...(cause === undefined ? [] : [cause]));
      process.exit(1);
    },
  );
}

/**
 * A numeric setting of a bench run from the environment.
 * @param name - the variable
 * @param fallback - its value when unset or empty
 * @param min - the least value accepted
 * @returns the value
 * @throws Error naming the variable when it is not a number ≥ min
 */
export function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min}, got "${raw}"`);
  return value;
}
