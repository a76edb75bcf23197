/**
 * Every process a test starts goes through here, so none outlives the run:
 * - TypeScript entry points run as one process, `node --import tsx <file>` (the `tsx` command would start a
 *   second node under it, and killing the first would leave the second running);
 * - each live child is listed in this worker and as a file in the run's registry directory (created by
 *   test/global-setup.ts): `killTrackedChildren()` (after every test file, see test/setup-after-env.ts) kills a
 *   worker's leftovers, and test/global-teardown.ts kills whatever a crashed or timed-out worker left;
 * - synchronous runs (CLIs) carry a deadline after which the child is killed.
 */
import { type ChildProcess, type SpawnOptions, type SpawnSyncOptions, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths';

/** The environment variable naming the registry directory of the run. */
export const REGISTRY_ENV = 'FHIR_TEST_CHILDREN_DIR';

/** How long a synchronous CLI run may take before it is killed (generous: a loaded machine is slow, not stuck). */
export const CLI_DEADLINE_MS = 240_000;

const live = new Set<ChildProcess>();

/** The node arguments running a TypeScript file from the sources. */
export function tsArgs(file: string, args: readonly string[] = []): string[] {
  return ['--import', 'tsx', path.resolve(ROOT_DIR, file), ...args];
}

function registryFile(pid: number): string | undefined {
  const dir = process.env[REGISTRY_ENV];
  return dir ? path.join(dir, String(pid)) : undefined;
}

/**
 * Starts a TypeScript entry point as a tracked child.
 * @param file - the file, relative to the project root
 * @param args - its arguments
 * @param options - spawn options (cwd defaults to the project root)
 * @returns the child
 */
export function spawnTs(file: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawnNode(tsArgs(file, args), options);
}

/**
 * Starts `node <args>` (a built entry point such as dist/cli/main.js) as a tracked child.
 * @param args - node's arguments
 * @param options - spawn options (cwd defaults to the project root)
 * @returns the child
 */
export function spawnNode(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawnTracked(process.execPath, args, options);
}

/**
 * Starts any program as a tracked child.
 * @param command - the program
 * @param args - its arguments
 * @param options - spawn options (cwd defaults to the project root)
 * @returns the child
 */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT_DIR, ...options });
  const pid = child.pid;
  if (pid === undefined) return child;
  live.add(child);
  const entry = registryFile(pid);
  // The command line lets the teardown check the pid still names this child before it kills it.
  if (entry) fs.writeFileSync(entry, args.join('\0'));
  child.once('exit', () => {
    live.delete(child);
    if (entry) fs.rmSync(entry, { force: true });
  });
  return child;
}

/**
 * Runs a TypeScript entry point to completion, killed after {@link CLI_DEADLINE_MS}.
 * @param file - the file, relative to the project root
 * @param args - its arguments
 * @param options - spawnSync options
 * @returns the result (stdout and stderr as text)
 */
export function runTsSync(file: string, args: readonly string[], options: SpawnSyncOptions = {}): SpawnSyncReturns<string> {
  return runNodeSync(tsArgs(file, args), options);
}

/**
 * Runs `node <args>` (a built entry point such as dist/cli/seed.js) to completion, killed after
 * {@link CLI_DEADLINE_MS}.
 * @param args - node's arguments
 * @param options - spawnSync options
 * @returns the result (stdout and stderr as text)
 */
export function runNodeSync(args: readonly string[], options: SpawnSyncOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, args, {
    cwd: ROOT_DIR,
    timeout: CLI_DEADLINE_MS,
    killSignal: 'SIGKILL',
    ...options,
    encoding: 'utf8',
  });
}

/**
 * Resolves with a child's exit code once it has exited (null when a signal ended it).
 * @param child - the process
 */
export function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** Kills (SIGKILL) every child this worker started that is still running, and waits for each to exit. */
export async function killTrackedChildren(): Promise<void> {
  await Promise.all(
    [...live].map((child) => {
      const exited = exitCode(child);
      child.kill('SIGKILL');
      return exited;
    }),
  );
}
