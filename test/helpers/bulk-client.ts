/**
 * A Bulk Data Access 2.0 client (https://hl7.org/fhir/uv/bulkdata/STU2/export.html) over real HTTP (`fetch`), as a
 * backend service uses one: kick-off with `Prefer: respond-async`, poll the `Content-Location` with exponential
 * backoff (100 ms doubling) never waiting longer than the server's `Retry-After`, then download every file of the manifest with the bearer token (`requiresAccessToken`) and check
 * that each file holds as many resources as the manifest says. Also serves an app listening on a real port
 * (the manifest's URLs are absolute, built from PUBLIC_URL).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperationOutcome } from 'fhir/r4';

/** The complete-status body. */
export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: Array<{ type: string; url: string; count?: number }>;
  error: Array<{ type: string; url: string; count?: number }>;
}

/** A finished export as the client received it. */
export interface ExportResult {
  manifest: Manifest;
  /** Resources per type, in file order. */
  resources: Map<string, Array<Record<string, unknown>>>;
  errors: OperationOutcome[];
  /** How many polls answered 202 (each with X-Progress and Retry-After). */
  polls: number;
}

/** How long a whole export may take in a test: a deadline, not a pause. */
export const EXPORT_DEADLINE_MS = 120_000;

/**
 * Sends the kick-off request.
 * @param url - `[base]/$export`, `[base]/Patient/$export` or `[base]/Group/[id]/$export`, with its query
 * @param token - the bearer token
 * @param options - method, Parameters body, extra Prefer
 * @returns the response
 */
export async function kickOff(url: string, token: string, options: { method?: 'GET' | 'POST'; body?: unknown; prefer?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: 'application/fhir+json',
    Prefer: options.prefer ?? 'respond-async',
    Authorization: `Bearer ${token}`,
  };
  if (options.body !== undefined) headers['Content-Type'] = 'application/fhir+json';
  return fetch(url, { method: options.method ?? 'GET', headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first wait between polls; each next one doubles, up to the server's `Retry-After`. */
const FIRST_POLL_WAIT_MS = 100;

/**
 * Polls a status URL until the manifest arrives, with exponential backoff bounded by each 202's `Retry-After` (the
 * spec asks clients for backoff informed by `Retry-After`; a test job is done in milliseconds).
 * @param statusUrl - the `Content-Location` of the kick-off
 * @param token - the bearer token
 * @returns the manifest and how many polls were answered 202
 */
export async function pollManifest(statusUrl: string, token: string): Promise<{ manifest: Manifest; polls: number }> {
  const deadline = Date.now() + EXPORT_DEADLINE_MS;
  let polls = 0;
  let wait = FIRST_POLL_WAIT_MS;
  for (;;) {
    const res = await fetch(statusUrl, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
    if (res.status === 200) return { manifest: (await res.json()) as Manifest, polls };
    if (res.status !== 202) throw new Error(`status answered ${res.status}: ${await res.text()}`);
    const progress = res.headers.get('x-progress');
    const retryAfter = Number(res.headers.get('retry-after'));
    if (!progress || !Number.isFinite(retryAfter) || retryAfter <= 0) throw new Error('a 202 status needs X-Progress and Retry-After');
    polls++;
    if (Date.now() > deadline) throw new Error(`export not complete by the deadline (last progress: ${progress})`);
    await sleep(Math.min(wait, retryAfter * 1000));
    wait *= 2;
  }
}

/**
 * Downloads one NDJSON file.
 * @param url - the file URL from the manifest
 * @param token - the bearer token
 * @returns the parsed lines
 */
export async function download(url: string, token: string): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/fhir+ndjson' } });
  if (res.status !== 200) throw new Error(`download answered ${res.status}: ${await res.text()}`);
  if (!res.headers.get('content-type')?.startsWith('application/fhir+ndjson')) throw new Error(`download content type ${res.headers.get('content-type')}`);
  const text = await res.text();
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Runs an export end to end: kick-off, poll, download, count check.
 * @param url - the kick-off URL
 * @param token - the bearer token
 * @param options - method and Parameters body
 * @returns the manifest, the resources and the error lines
 */
export async function bulkExport(url: string, token: string, options: { method?: 'GET' | 'POST'; body?: unknown; prefer?: string } = {}): Promise<ExportResult> {
  const res = await kickOff(url, token, options);
  if (res.status !== 202) throw new Error(`kick-off answered ${res.status}: ${await res.text()}`);
  const statusUrl = res.headers.get('content-location');
  if (!statusUrl) throw new Error('kick-off without Content-Location');
  const { manifest, polls } = await pollManifest(statusUrl, token);
  const resources = new Map<string, Array<Record<string, unknown>>>();
  for (const output of manifest.output) {
    const lines = await download(output.url, token);
    if (output.count !== undefined && output.count !== lines.length) throw new Error(`${output.type}: manifest count ${output.count}, file has ${lines.length}`);
    if (lines.some((line) => line.resourceType !== output.type)) throw new Error(`${output.type}: a line of another type`);
    resources.set(output.type, [...(resources.get(output.type) ?? []), ...lines]);
  }
  const errors: OperationOutcome[] = [];
  for (const error of manifest.error) errors.push(...((await download(error.url, token)) as unknown as OperationOutcome[]));
  return { manifest, resources, errors, polls };
}

/**
 * A server listening on a free loopback port before the app exists, so that PUBLIC_URL can name it.
 * @returns the server (attach the app with `server.on('request', app)`) and its origin
 */
export async function listeningServer(): Promise<{ server: Server; origin: string; close(): Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
