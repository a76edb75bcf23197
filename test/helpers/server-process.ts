/**
 * Starts the real server process (`dist/main.js`, as `npm start` does; test/helpers/built.ts rebuilds it when src/
 * changed) and waits for its banner; helpers to obtain an admin token over HTTP and to read what the process left in DATA_DIR. Every
 * process is tracked (child-processes.ts): one left running is killed after its test file, or after the run.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { builtArgs } from './built';
import { exitCode, killTrackedChildren, spawnNode } from './child-processes';

export { exitCode } from './child-processes';

/** A deadline for an event, not a pause: on a loaded machine a start takes seconds, never minutes. */
export const START_DEADLINE_MS = 180_000;

/** A running server process. */
export interface ServerProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  baseUrl: string;
  port: number;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
}

/** A process that exited. */
export interface ExitedProcess {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A started server process whose output is collected. */
interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

/**
 * Starts `dist/main.js` with `PORT=0` and `LOG_LEVEL=warn` unless the test's environment says otherwise.
 * @param env - environment on top of the test's (a variable set to undefined is removed)
 * @returns the child and its output so far
 */
export function spawnServer(env: Record<string, string | undefined>): Spawned {
  const merged: Record<string, string | undefined> = { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawnNode(builtArgs('main.js'), { env: merged as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { child, stdout: () => out, stderr: () => err };
}

/** Kills every server a test started and left running (a failed assertion before its stop). */
export const killLeftoverServers = killTrackedChildren;

/**
 * Resolves once `pattern` appears in a process's output; rejects if the process exits first, or after the
 * deadline (the process is then killed).
 * @param spawned - the process
 * @param pattern - what to wait for
 * @param stream - stdout or stderr
 * @returns the match
 */
export function waitForOutput(spawned: Spawned, pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
  const { child } = spawned;
  const read = stream === 'stdout' ? spawned.stdout : spawned.stderr;
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child[stream]?.off('data', onData);
      child.off('exit', onExit);
    };
    const onData = (): void => {
      const match = pattern.exec(read());
      if (!match) return;
      cleanup();
      resolve(match);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`process exited with ${code} before printing ${pattern}: ${spawned.stdout()} ${spawned.stderr()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`no ${pattern} within ${START_DEADLINE_MS} ms: ${spawned.stdout()} ${spawned.stderr()}`));
    }, START_DEADLINE_MS);
    child[stream]?.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
}

/**
 * Starts the server and resolves once it listens (its banner names the port).
 * @param env - environment on top of the test's (a variable set to undefined is removed)
 * @returns the running process
 */
export async function startServer(env: Record<string, string | undefined>): Promise<ServerProcess> {
  const spawned = spawnServer(env);
  const match = await waitForOutput(spawned, /listening on port (\d+)/);
  const port = Number(match[1]);
  return {
    ...spawned,
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    stop: () => {
      const exited = exitCode(spawned.child);
      spawned.child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * Starts the server expecting it to stop before listening; killed after the deadline if it does not.
 * @param env - environment on top of the test's
 * @returns its exit code and output
 */
export async function failedStart(env: Record<string, string | undefined>): Promise<ExitedProcess> {
  const spawned = spawnServer(env);
  // 'close', not 'exit': the output is complete once the pipes are closed.
  const closed = new Promise<number | null>((resolve) => spawned.child.once('close', (code) => resolve(code)));
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), START_DEADLINE_MS);
  const code = await closed;
  clearTimeout(timer);
  return { code, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

/**
 * A client_credentials token from a running server.
 * @param baseUrl - the server
 * @param clientId - client id
 * @param secret - client secret
 * @returns the access token
 */
export async function serverToken(baseUrl: string, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${baseUrl}/w/default/default/api/v1/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/**
 * Every file under a directory, recursively, with its mode and content.
 * @param dir - the directory
 * @returns path, permission bits and text of each file, and the permission bits of each directory
 */
export function filesUnder(dir: string): { files: Array<{ path: string; mode: number; text: string }>; dirs: Array<{ path: string; mode: number }> } {
  const files: Array<{ path: string; mode: number; text: string }> = [];
  const dirs: Array<{ path: string; mode: number }> = [];
  const visit = (target: string): void => {
    const stat = fs.lstatSync(target);
    if (stat.isDirectory()) {
      dirs.push({ path: target, mode: stat.mode & 0o777 });
      for (const entry of fs.readdirSync(target)) visit(path.join(target, entry));
    } else {
      files.push({ path: target, mode: stat.mode & 0o777, text: fs.readFileSync(target, 'utf8') });
    }
  };
  visit(dir);
  return { files, dirs };
}
