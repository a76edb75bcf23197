/**
 * `api create|read|vread|update|patch|delete|search|history r4 <type> [id]`: the FHIR REST interactions, printing
 * the server's JSON. Searches and histories print the Bundle, or with `--all` one Bundle of every page (following
 * `next` links), or with `--output ndjson` one resource per line.
 */
import type { Connection } from './connection';
import { usageError } from './errors';
import { readData } from './input';
import { printJson, println } from './output';

const TYPE = /^[A-Z][A-Za-z]{0,63}$/;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Checks the FHIR version argument (only r4). */
export function checkVersion(version: string): void {
  if (version !== 'r4') throw usageError(`unsupported FHIR version '${version}': this server speaks r4`);
}

function checkType(type: string | undefined): string {
  if (type === undefined || !TYPE.test(type)) throw usageError(`'${type ?? ''}' is not a resource type (Patient, Observation, …)`);
  return type;
}

function checkId(id: string | undefined, what = 'id'): string {
  if (id === undefined || !ID.test(id)) throw usageError(`'${id ?? ''}' is not a valid ${what}`);
  return id;
}

/** Options of the paging commands. */
export interface PagingOptions {
  all?: boolean;
  output?: string;
}

function checkOutput(output: string | undefined): 'json' | 'ndjson' {
  const value = output ?? 'json';
  if (value !== 'json' && value !== 'ndjson') throw usageError(`--output must be json or ndjson, got '${value}'`);
  return value;
}

interface Bundle {
  resourceType: 'Bundle';
  type?: string;
  total?: number;
  link?: Array<{ relation: string; url: string }>;
  entry?: Array<{ resource?: Record<string, unknown> } & Record<string, unknown>>;
}

/**
 * Fetches a Bundle and, when asked, every following page.
 * @param connection - the connection
 * @param url - the first page
 * @param options - `--all`, `--output`
 */
export async function printPages(connection: Connection, url: string, options: PagingOptions): Promise<void> {
  const output = checkOutput(options.output);
  let next: string | undefined = url;
  let merged: Bundle | undefined;
  while (next) {
    const page = (await connection.fhir('GET', next)).body as Bundle;
    if (output === 'ndjson') {
      for (const entry of page.entry ?? []) if (entry.resource) println(JSON.stringify(entry.resource));
    } else if (!options.all) {
      printJson(page);
    } else if (!merged) {
      merged = { ...page, entry: [...(page.entry ?? [])] };
    } else {
      merged.entry?.push(...(page.entry ?? []));
    }
    next = options.all ? page.link?.find((l) => l.relation === 'next')?.url : undefined;
  }
  if (merged) {
    // One Bundle of every page: the paging links no longer apply.
    merged.link = merged.link?.filter((l) => l.relation === 'self');
    printJson(merged);
  }
}

/** Turns `name=value` arguments (or one query string) into a query. */
export function queryOf(params: string[]): string {
  const query = new URLSearchParams();
  for (const param of params) {
    for (const part of param.replace(/^\?/, '').split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw usageError(`search parameters are name=value, got '${part}'`);
      query.append(decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1)));
    }
  }
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

/** The `api` subcommands. */
export const api = {
  async create(connection: Connection, type: string | undefined, data: string | undefined): Promise<void> {
    const body = await readData(data);
    // Without a type argument, the body's resourceType names it.
    const named = type ?? (body as { resourceType?: unknown } | null)?.resourceType;
    printJson((await connection.fhir('POST', checkType(typeof named === 'string' ? named : undefined), { body, headers: { Prefer: 'return=representation' } })).body);
  },
  async read(connection: Connection, type: string, id: string): Promise<void> {
    printJson((await connection.fhir('GET', `${checkType(type)}/${checkId(id)}`)).body);
  },
  async vread(connection: Connection, type: string, id: string, vid: string): Promise<void> {
    printJson((await connection.fhir('GET', `${checkType(type)}/${checkId(id)}/_history/${checkId(vid, 'version id')}`)).body);
  },
  async update(connection: Connection, type: string, id: string, data: string | undefined, ifMatch?: string): Promise<void> {
    const body = await readData(data);
    const headers: Record<string, string> = { Prefer: 'return=representation' };
    if (ifMatch !== undefined) headers['If-Match'] = /^W\//.test(ifMatch) ? ifMatch : `W/"${ifMatch}"`;
    printJson((await connection.fhir('PUT', `${checkType(type)}/${checkId(id)}`, { body, headers })).body);
  },
  async patch(connection: Connection, type: string, id: string, data: string | undefined): Promise<void> {
    const body = await readData(data);
    if (!Array.isArray(body)) throw usageError('--data of a patch must be a JSON Patch array ([{"op":"replace","path":"/active","value":false}])');
    const result = await connection.fhir('PATCH', `${checkType(type)}/${checkId(id)}`, { body, contentType: 'application/json-patch+json', headers: { Prefer: 'return=representation' } });
    printJson(result.body);
  },
  async delete(connection: Connection, type: string, id: string): Promise<void> {
    const result = await connection.fhir('DELETE', `${checkType(type)}/${checkId(id)}`);
    if (result.body !== undefined) printJson(result.body);
    else process.stderr.write(`Deleted ${type}/${id}\n`);
  },
  async search(connection: Connection, type: string | undefined, params: string[], options: PagingOptions): Promise<void> {
    // `search r4 name=x` (no type) searches every type.
    if (type !== undefined && type.includes('=')) {
      params = [type, ...params];
      type = undefined;
    }
    await printPages(connection, `${type === undefined ? '' : checkType(type)}${queryOf(params)}`, options);
  },
  async history(connection: Connection, type: string | undefined, id: string | undefined, options: PagingOptions & { since?: string; count?: string }): Promise<void> {
    const path = [type === undefined ? undefined : checkType(type), id === undefined ? undefined : checkId(id), '_history'].filter((s) => s !== undefined).join('/');
    const params: string[] = [];
    if (options.since) params.push(`_since=${encodeURIComponent(options.since)}`);
    if (options.count) params.push(`_count=${encodeURIComponent(options.count)}`);
    await printPages(connection, `${path}${params.length ? `?${params.join('&')}` : ''}`, options);
  },
};
