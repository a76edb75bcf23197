/**
 * Helpers of the federated sign-in tests: a listener for the app under test, the real upstream oidc-provider as a
 * child process (waiting for its "listening" line), headless Chromium, and an IdentityProvider written through the
 * FHIR API with the admin token.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { TestApp } from '../helpers/build-test-app';

export const CHROMIUM = '/usr/bin/chromium';
/** Whether the browser tests run (skipped with a printed reason only when Chromium is missing and CI is unset). */
export const BROWSER_AVAILABLE = existsSync(CHROMIUM) || Boolean(process.env.CI);
const START_DEADLINE_MS = 120_000;

/**
 * Listens on a loopback port.
 * @param server - the server
 * @returns the port
 */
export async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

/** A running oidc-provider. */
export interface Upstream {
  issuer: string;
  stop(): Promise<void>;
  output(): string;
}

/**
 * Starts test/federated/upstream/oidc-provider.mjs and waits until it listens.
 * @param env - CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
 * @returns the provider
 */
export function startOidcProvider(env: { CLIENT_ID: string; CLIENT_SECRET: string; REDIRECT_URI: string }): Promise<Upstream> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [path.join(__dirname, 'upstream', 'oidc-provider.mjs')], {
    env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' },
    stdio: 'pipe',
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`oidc-provider did not start: ${out}`));
    }, START_DEADLINE_MS);
    const onData = (): void => {
      const match = /listening on port (\d+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ issuer: `http://127.0.0.1:${match[1]}`, stop, output: () => out });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`oidc-provider exited with ${code}: ${out}`));
    });
  });
}

/**
 * Launches headless Chromium.
 * @returns the browser
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * Creates or replaces an IdentityProvider of the bootstrap project through the FHIR API.
 * @param t - the test app
 * @param id - the resource id
 * @param fields - the resource's fields
 * @returns the stored resource (as the API returns it)
 */
export async function putProvider(t: TestApp, id: string, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await t.api
    .put(`${t.base}/IdentityProvider/${id}`)
    .set('Content-Type', 'application/fhir+json')
    .send({ resourceType: 'IdentityProvider', id, status: 'active', ...fields });
  if (res.status !== 200 && res.status !== 201) throw new Error(`IdentityProvider write failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, unknown>;
}
