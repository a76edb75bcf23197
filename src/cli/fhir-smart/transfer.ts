/**
 * `import <file.ndjson|bundle.json|dir>` and `export <type…>`.
 *
 * Import streams resources (NDJSON line by line; a Bundle's entries; a directory's `*.ndjson` and `*.json` files in
 * name order) in transaction Bundles of `--batch-size` entries: a resource with an id is PUT (created or updated
 * with that id), one without is POSTed. A transaction the server refuses is sent again as a batch, so the good
 * resources of it are stored and each failure is reported with its OperationOutcome text. `--skip-existing` asks
 * the server which ids of a batch exist and leaves those out, so an interrupted import can be run again.
 * Progress goes to stderr: a bar (count, rate, ETA) on a terminal, a plain line per batch otherwise.
 *
 * Export writes each type's resources (`--since`: changed after that instant) as NDJSON, following `next` links.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Connection } from './connection';
import { CliError, EXIT_HTTP, usageError } from './errors';
import { errorText } from './connection';
import { note, println } from './output';

type Resource = Record<string, unknown> & { resourceType: string; id?: string };

/** One resource of the input and where it came from. */
interface Item {
  resource: Resource;
  source: string;
}

const TYPE = /^[A-Z][A-Za-z]{0,63}$/;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

function inputFiles(input: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(input);
  } catch (err) {
    throw usageError(`cannot read ${input}: ${(err as Error).message}`);
  }
  if (!stat.isDirectory()) return [input];
  return fs
    .readdirSync(input)
    .filter((name) => /\.(ndjson|json)$/.test(name))
    .sort()
    .map((name) => path.join(input, name));
}

function isNdjson(file: string): boolean {
  return file.endsWith('.ndjson') || file.endsWith('.jsonl');
}

async function countLines(file: string): Promise<number> {
  let count = 0;
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) if (line.trim() !== '') count++;
  return count;
}

function readBundle(file: string): Resource[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw usageError(`${file} is not JSON: ${(err as Error).message}`);
  }
  const value = parsed as { resourceType?: string; entry?: Array<{ resource?: Resource }> };
  if (value.resourceType === 'Bundle') return (value.entry ?? []).map((e) => e.resource).filter((r): r is Resource => r !== undefined);
  if (typeof value.resourceType === 'string') return [value as Resource];
  throw usageError(`${file} is neither a Bundle nor a resource`);
}

/** The input's resources, one at a time. */
async function* items(files: string[]): AsyncGenerator<Item> {
  for (const file of files) {
    if (isNdjson(file)) {
      const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
      let n = 0;
      for await (const line of lines) {
        n++;
        if (line.trim() === '') continue;
        let resource: Resource;
        try {
          resource = JSON.parse(line) as Resource;
        } catch (err) {
          throw usageError(`${file}:${n} is not JSON: ${(err as Error).message}`);
        }
        yield { resource, source: `${file}:${n}` };
      }
    } else {
      const resources = readBundle(file);
      for (const [i, resource] of resources.entries()) yield { resource, source: `${file} entry ${i}` };
    }
  }
}

function seconds(value: number): string {
  if (!Number.isFinite(value)) return '?';
  if (value < 60) return `${Math.ceil(value)}s`;
  return `${Math.floor(value / 60)}m${String(Math.ceil(value % 60)).padStart(2, '0')}s`;
}

/** Progress on stderr: a redrawn bar on a terminal, a line per step otherwise. */
class Progress {
  private readonly started = Date.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly total: number) {}

  update(done: number): void {
    const elapsed = Math.max((Date.now() - this.started) / 1000, 0.001);
    const rate = done / elapsed;
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const percent = this.total > 0 ? Math.floor((done / this.total) * 100) : 100;
    if (this.tty) {
      const width = 30;
      const filled = this.total > 0 ? Math.round((done / this.total) * width) : width;
      process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total} ${percent}% ${Math.round(rate)}/s ETA ${seconds(eta)}   `);
    } else {
      process.stderr.write(`imported ${done}/${this.total} (${percent}%) ${Math.round(rate)}/s ETA ${seconds(eta)}\n`);
    }
  }

  end(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

/** Options of `import`. */
export interface ImportOptions {
  batchSize?: string;
  skipExisting?: boolean;
}

interface Summary {
  created: number;
  updated: number;
  skipped: number;
  failed: number;
  failures: string[];
}

async function existingIds(connection: Connection, batch: Item[]): Promise<Set<string>> {
  const byType = new Map<string, string[]>();
  for (const { resource } of batch) {
    if (resource.id === undefined) continue;
    byType.set(resource.resourceType, [...(byType.get(resource.resourceType) ?? []), resource.id]);
  }
  const existing = new Set<string>();
  for (const [type, ids] of byType) {
    // POST _search: a thousand ids would not fit in a URL.
    const form = new URLSearchParams({ _id: ids.join(','), _elements: 'id', _count: String(ids.length) });
    const bundle = (await connection.fhir('POST', `${type}/_search`, { body: form.toString(), contentType: 'application/x-www-form-urlencoded' })).body as {
      entry?: Array<{ resource?: Resource }>;
    };
    for (const entry of bundle.entry ?? []) if (entry.resource?.id) existing.add(`${type}/${entry.resource.id}`);
  }
  return existing;
}

function entryOf(resource: Resource): Record<string, unknown> {
  return resource.id === undefined
    ? { resource, request: { method: 'POST', url: resource.resourceType } }
    : { resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } };
}

type EntryResponse = { response?: { status?: string; outcome?: Record<string, unknown> } };

function tally(summary: Summary, batch: Item[], responses: EntryResponse[]): void {
  for (const [i, item] of batch.entries()) {
    const response = responses[i]?.response;
    const status = Number.parseInt(response?.status ?? '0', 10);
    if (status === 201) summary.created++;
    else if (status >= 200 && status < 300) summary.updated++;
    else {
      summary.failed++;
      const text = response?.outcome ? errorText({ status, statusText: '', headers: {}, body: response.outcome }) : `HTTP ${status || '?'}`;
      summary.failures.push(`${item.source} ${item.resource.resourceType}/${item.resource.id ?? '(new)'}: ${text}`);
    }
  }
}

async function sendBatch(connection: Connection, batch: Item[], summary: Summary): Promise<void> {
  const entry = batch.map((item) => entryOf(item.resource));
  const transaction = await connection.request('POST', '', { body: { resourceType: 'Bundle', type: 'transaction', entry } });
  if (transaction.status === 200) {
    tally(summary, batch, ((transaction.body as { entry?: EntryResponse[] }).entry ?? []));
    return;
  }
  if (transaction.status === 401 || transaction.status === 403) throw new CliError(`HTTP ${transaction.status}: ${errorText(transaction)}`, EXIT_HTTP);
  // One bad resource fails the whole transaction: the batch form stores the rest and names each failure.
  const batchResult = await connection.request('POST', '', { body: { resourceType: 'Bundle', type: 'batch', entry } });
  if (batchResult.status !== 200) {
    for (const item of batch) {
      summary.failed++;
      summary.failures.push(`${item.source} ${item.resource.resourceType}/${item.resource.id ?? '(new)'}: HTTP ${batchResult.status}: ${errorText(batchResult)}`);
    }
    return;
  }
  tally(summary, batch, ((batchResult.body as { entry?: EntryResponse[] }).entry ?? []));
}

/**
 * `import`.
 * @param connection - the connection
 * @param input - a file or directory
 * @param options - batch size, `--skip-existing`
 */
export async function importResources(connection: Connection, input: string, options: ImportOptions): Promise<void> {
  const batchSize = options.batchSize === undefined ? 500 : Number(options.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) throw usageError(`--batch-size must be 1 to 1000, got '${options.batchSize}'`);
  const files = inputFiles(input);
  if (files.length === 0) throw usageError(`${input} holds no .ndjson or .json file`);
  let total = 0;
  for (const file of files) total += isNdjson(file) ? await countLines(file) : readBundle(file).length;
  const summary: Summary = { created: 0, updated: 0, skipped: 0, failed: 0, failures: [] };
  const progress = new Progress(total);
  let done = 0;
  let batch: Item[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    let send = batch;
    if (options.skipExisting) {
      const existing = await existingIds(connection, batch);
      send = batch.filter(({ resource }) => resource.id === undefined || !existing.has(`${resource.resourceType}/${resource.id}`));
      summary.skipped += batch.length - send.length;
    }
    if (send.length > 0) await sendBatch(connection, send, summary);
    done += batch.length;
    batch = [];
    progress.update(done);
  };
  for await (const item of items(files)) {
    const { resource } = item;
    if (typeof resource !== 'object' || resource === null || typeof resource.resourceType !== 'string' || !TYPE.test(resource.resourceType) || (resource.id !== undefined && (typeof resource.id !== 'string' || !ID.test(resource.id)))) {
      summary.failed++;
      summary.failures.push(`${item.source}: not a resource with a valid resourceType and id`);
      done++;
      continue;
    }
    batch.push(item);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  progress.end();
  println(`created ${summary.created}, updated ${summary.updated}, skipped ${summary.skipped}, failed ${summary.failed}`);
  for (const failure of summary.failures.slice(0, 100)) note(`failed: ${failure}`);
  if (summary.failures.length > 100) note(`… and ${summary.failures.length - 100} more failures`);
  if (summary.failed > 0) throw new CliError(`${summary.failed} of ${total} resources failed`, EXIT_HTTP);
}

/**
 * `export <type…>`.
 * @param connection - the connection
 * @param types - resource types
 * @param options - `--since`, `--out`
 */
export async function exportResources(connection: Connection, types: string[], options: { since?: string; out?: string }): Promise<void> {
  for (const type of types) if (!TYPE.test(type)) throw usageError(`'${type}' is not a resource type`);
  if (options.since !== undefined && Number.isNaN(Date.parse(options.since))) throw usageError(`--since must be a date or instant (2026-01-31, 2026-01-31T12:00:00Z), got '${options.since}'`);
  const out = options.out ? fs.createWriteStream(options.out, { mode: 0o600 }) : process.stdout;
  const write = async (line: string): Promise<void> => {
    // Back-pressure: wait for the pipe or file to drain (events.once also rejects on 'error' and cleans up).
    if (!out.write(line)) await once(out, 'drain');
  };
  try {
    for (const type of types) {
      const query = new URLSearchParams({ _count: '1000' });
      if (options.since) query.set('_lastUpdated', `gt${options.since}`);
      let next: string | undefined = `${type}?${query.toString()}`;
      let count = 0;
      while (next) {
        const page = (await connection.fhir('GET', next)).body as { entry?: Array<{ resource?: Resource; search?: { mode?: string } }>; link?: Array<{ relation: string; url: string }> };
        for (const entry of page.entry ?? []) {
          if (!entry.resource || entry.search?.mode === 'include' || entry.search?.mode === 'outcome') continue;
          await write(`${JSON.stringify(entry.resource)}\n`);
          count++;
        }
        next = page.link?.find((l) => l.relation === 'next')?.url;
      }
      note(`${type}: ${count} exported`);
    }
  } finally {
    if (options.out) await new Promise((resolve) => (out as fs.WriteStream).end(resolve));
  }
}
