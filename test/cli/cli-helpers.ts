/**
 * Helpers of the `fhir-smart` tests: the real app listening on a loopback port (built by buildTestApp, so tests can
 * also prepare resources through the repository), and the built CLI (`node dist/cli/main.js`, what the package's
 * `bin` runs) started as a tracked child process with its own XDG_CONFIG_HOME (dist/ is rebuilt when src/ changed:
 * test/helpers/built.ts).
 */
import * as fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FhirRepository } from '../../src/fhir/repository/repository';
import { readSeedBundle } from '../../src/seed/bootstrap';
import { loadSeedBundle } from '../../src/seed/load-bundle';
import { buildTestApp, type TestApp } from '../helpers/build-test-app';
import { built, ensureBuilt } from '../helpers/built';
import { CLI_DEADLINE_MS, spawnNode, spawnTracked } from '../helpers/child-processes';
import { Browser, submitConsent, submitLogin } from '../oauth/authorize-helpers';

/** The built entry point. */
export const CLI = built('cli/main.js');

export { ensureBuilt };

/**
 * How long a test file's beforeAll may take: a build of dist/ (when src/ changed) plus the app's start. A build takes
 * seconds on a quiet machine and minutes on a loaded one; this only ends a hung start.
 */
export const BUILD_AND_START_MS = 900_000;
/** The test app's admin client (buildTestApp's configuration). */
export const ADMIN = { clientId: 'admin-cli', secret: 'admin-client-secret-for-tests' };

/** The app listening on 127.0.0.1. */
export interface CliServer {
  t: TestApp;
  base: string;
  fhir: string;
  oauth: string;
  close(): Promise<void>;
}

/**
 * Starts the app on a loopback port (PUBLIC_URL = that origin) with the demo seed loaded.
 * @param env - extra configuration
 * @returns the server
 */
export async function startCliServer(env: Record<string, string> = {}): Promise<CliServer> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const t = await buildTestApp({ PUBLIC_URL: base, ...env });
  // The demo seed, as `npm start` loads it (SEED_DEMO=true): the docs' ids (patient-ada, …) exist.
  await loadSeedBundle(new FhirRepository(t.storage.resources, t.boot.project.key), await readSeedBundle('demo'));
  server.on('request', t.app);
  return {
    t,
    base,
    fhir: `${base}/w/default/default/api/v1/fhir/r4`,
    oauth: `${base}/w/default/default/api/v1/oauth`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    },
  };
}

/** A finished CLI run. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI with its own configuration directory. */
export interface CliUser {
  configDir: string;
  profilesFile: string;
  run(args: string[], options?: { env?: Record<string, string | undefined>; input?: string }): Promise<CliRun>;
  /** Starts a run and returns it while it is going (login waits for the browser). */
  start(args: string[], options?: { env?: Record<string, string | undefined> }): RunningCli;
  profiles(): Record<string, unknown> & { current?: string; profiles: Record<string, { server: string; tenant: string; project: string; sessions: Record<string, Record<string, unknown>> }> };
  remove(): void;
}

/** A CLI run in progress. */
export interface RunningCli {
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr. */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray>;
  done: Promise<CliRun>;
}

function environment(configDir: string, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('FHIR_SMART_')) delete env[name];
  Object.assign(env, { XDG_CONFIG_HOME: configDir, NO_COLOR: '1' }, extra);
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return env as NodeJS.ProcessEnv;
}

function startRun(configDir: string, args: string[], env: Record<string, string | undefined>, input?: string): RunningCli {
  const child = spawnNode([CLI, ...args], { env: environment(configDir, env), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stdin?.end(input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_DEADLINE_MS);
  const done = new Promise<CliRun>((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    });
  });
  return {
    stdout: () => out,
    stderr: () => err,
    done,
    waitForStderr: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(err);
          if (match) {
            listeners.delete(check);
            resolve(match);
          }
        };
        listeners.add(check);
        check();
        void done.then((run) => {
          if (!pattern.exec(run.stderr)) reject(new Error(`the CLI exited (${run.code}) before writing ${pattern}: ${run.stdout} ${run.stderr}`));
        });
      }),
  };
}

/**
 * A CLI user with a fresh configuration directory.
 * @param env - environment of every run (e.g. FHIR_SMART_SERVER)
 * @returns the user
 */
export function cliUser(env: Record<string, string | undefined> = {}): CliUser {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-smart-config-'));
  const profilesFile = path.join(configDir, 'fhir-smart', 'profiles.json');
  return {
    configDir,
    profilesFile,
    run: (args, options = {}) => startRun(configDir, args, { ...env, ...options.env }, options.input).done,
    start: (args, options = {}) => startRun(configDir, args, { ...env, ...options.env }),
    profiles: () => JSON.parse(fs.readFileSync(profilesFile, 'utf8')),
    remove: () => fs.rmSync(configDir, { recursive: true, force: true }),
  };
}

/** The OperationOutcome-free JSON lines of a run's stdout. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Asserts that a run succeeded, showing its output when it did not.
 * @param run - the run
 * @returns the run
 */
export function succeeded(run: CliRun): CliRun {
  if (run.code !== 0) throw new Error(`fhir-smart exited with ${run.code}:\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
}

/**
 * Runs the CLI with a pseudo-terminal as stdin, stdout and stderr (util-linux `script`), as a user at a terminal.
 * @param user - the CLI user (its configuration directory)
 * @param args - the CLI's arguments
 * @param env - extra environment
 * @returns the exit code and everything the terminal showed (CRLF turned into LF)
 */
export async function runInTerminal(user: CliUser, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawnTracked(SCRIPT, ['-qec', quoted, '/dev/null'], { env: environment(user.configDir, env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, output: output.replace(/\r\n/g, '\n') };
}

/** util-linux `script`, which gives a child a pseudo-terminal. */
export const SCRIPT = '/usr/bin/script';

/**
 * Completes a `login --no-browser` the way a browser would, by posting the sign-in and consent forms (the
 * authorize-helpers form driver over the app), then following the redirect to the CLI's loopback listener.
 * @param server - the server
 * @param run - the running `login --no-browser`
 * @param credentials - email and password
 * @returns the finished run
 */
export async function formLogin(server: CliServer, run: RunningCli, credentials: { email: string; password: string }): Promise<CliRun> {
  const [url] = await run.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/w\/\S+\/api\/v1\/oauth\/authorize\?\S+/);
  const target = new URL(url);
  const browser = new Browser(server.t.app);
  const first = await browser.get(`${target.pathname}${target.search}`);
  const login = await submitLogin(browser, first, credentials);
  const redirectUri = target.searchParams.get('redirect_uri') as string;
  const done = String(login.headers.location ?? '').startsWith(redirectUri) ? login : await submitConsent(browser, login, 'allow');
  const location = String(done.headers.location ?? '');
  if (!location.startsWith(`${redirectUri}?`)) throw new Error(`expected a redirect to ${redirectUri}, got ${done.status} ${location} ${done.text}`);
  const landing = await fetch(location);
  if (landing.status !== 200) throw new Error(`the CLI's listener answered ${landing.status}`);
  return run.done;
}

/** A test file's server and its admin, logged in with client_credentials (the bootstrap admin client). */
export interface AdminSession {
  readonly server: CliServer;
  readonly admin: CliUser;
}

/**
 * Starts the server before the file's tests and logs the admin in; stops both after them.
 * @returns the session (its fields are set once beforeAll has run)
 */
export function adminSession(): AdminSession {
  const session: { server?: CliServer; admin?: CliUser } = {};
  beforeAll(async () => {
    ensureBuilt();
    session.server = await startCliServer();
    session.admin = cliUser({ FHIR_SMART_SERVER: session.server.base });
    succeeded(await session.admin.run(['login', '--client-credentials', '--client-id', ADMIN.clientId, '--client-secret', ADMIN.secret]));
  }, BUILD_AND_START_MS);
  afterAll(async () => {
    session.admin?.remove();
    await session.server?.close();
  });
  return {
    get server(): CliServer {
      if (!session.server) throw new Error('the server starts in beforeAll');
      return session.server;
    },
    get admin(): CliUser {
      if (!session.admin) throw new Error('the admin logs in in beforeAll');
      return session.admin;
    },
  };
}
