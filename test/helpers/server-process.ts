/**
 * Starts the real server process (`src/main.ts` through tsx, as `npm start` runs the build) and waits for its
 * banner; helpers to obtain an admin token over HTTP and to read what the process left in DATA_DIR.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths';

const TSX = path.join(ROOT_DIR, 'node_modules', '.bin', 'tsx');
const MAIN = path.join(ROOT_DIR, 'src', 'main.ts');
const START_DEADLINE_MS = 180_000;

/** A running server process. */
export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  baseUrl: string;
  /** SIGTERM, then the exit code. */
  stop: () => Promise<number | null>;
}

/** A process that exited. */
export interface ExitedProcess {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcessWithoutNullStreams>();

function spawnMain(env: Record<string, string | undefined>): ChildProcessWithoutNullStreams {
  const merged: Record<string, string | undefined> = { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawn(TSX, [MAIN], { env: merged as NodeJS.ProcessEnv, stdio: 'pipe' });
  running.add(child);
  child.on('exit', () => running.delete(child));
  return child;
}

/** Kills every server a test started and left running (a failed assertion before its stop). */
export async function killLeftoverServers(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      child.kill('SIGKILL');
      return exitCode(child);
    }),
  );
}

/**
 * The exit code of a child, once it has exited.
 * @param child - the process
 */
export function exitCode(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

/**
 * Starts the server and resolves once it listens.
 * @param env - environment on top of the test's (a variable set to undefined is removed)
 * @returns the running process
 */
export function startServer(env: Record<string, string | undefined>): Promise<ServerProcess> {
  const child = spawnMain(env);
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${out} ${err}`));
    }, START_DEADLINE_MS);
    const onData = (): void => {
      const match = /listening on port (\d+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({
        child,
        stdout: () => out,
        baseUrl: `http://127.0.0.1:${match[1]}`,
        stop: () => {
          child.kill('SIGTERM');
          return exitCode(child);
        },
      });
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${out} ${err}`));
    });
  });
}

/**
 * Starts the server expecting it to stop before listening.
 * @param env - environment on top of the test's
 * @returns its exit code and output
 */
export async function failedStart(env: Record<string, string | undefined>): Promise<ExitedProcess> {
  const child = spawnMain(env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), START_DEADLINE_MS);
  const code = await exitCode(child);
  clearTimeout(timer);
  return { code, stdout, stderr };
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
