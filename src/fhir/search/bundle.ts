/**
 * The `searchset` Bundle (https://hl7.org/fhir/R4/bundle.html, search.html#paging): `total` (unless
 * `_total=none`), `self`/`first`/`next`/`previous` links carrying the paging cursor, entries with `fullUrl`,
 * `resource` and `search.mode` (`match`, `include`, and one `outcome` entry first when parameters were ignored).
 * Resources are the public view (no write-only fields); matches are shaped by `_summary`/`_elements`.
 * The links name the parameters as applied (search.html#errors: a client learns which parameters the server
 * used from the `self` link): a criterion reported as ignored in the outcome entry (a `not-supported` warning
 * naming it in `expression`) is left out, `_sort` keeps only the keys it sorted by, and every result control
 * applied (`_count`, `_include`, `_summary`, ...) stays, so the next and previous pages run the same search.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, BundleLink } from 'fhir/r4';
import type { ResourceDocument } from '../../storage/ports';
import type { RequestBudget } from '../budget';
import { operationOutcome } from '../outcomes';
import type { FhirContext } from '../rest/fhir-request';
import { type Cursor, encodeCursor } from './cursor';
import type { SearchResult } from './execute';
import { isControlParameter, type SortKey } from './parse-request';
import { shapeResource, type ShapeOptions } from './summary';

function entry(budget: RequestBudget, base: string, doc: ResourceDocument, mode: 'match' | 'include', shape: ShapeOptions): BundleEntry {
  // The access-controlled repository hands out public views (no write-only fields).
  const resource = doc.resource ?? {};
  return {
    fullUrl: `${base}/${doc.type}/${doc.id}`,
    // Serialized as it is added, within the request's budget (budget.ts).
    resource: budget.serialize(mode === 'match' ? shapeResource(resource, shape) : resource) as unknown as BundleEntry['resource'],
    search: { mode },
  };
}

function sortValue(keys: readonly SortKey[]): string {
  return keys.map((key) => (key.direction === 'desc' ? `-${key.code}` : key.code)).join(',');
}

/**
 * The request's parameters as the search applied them, without `_cursor` (each link carries its own).
 * @param query - the request's name/value pairs
 * @param result - the executed search (its warnings name the criteria it ignored)
 * @returns the pairs to echo in the links
 */
export function appliedParameters(query: Array<[string, string]>, result: SearchResult): Array<[string, string]> {
  const ignored = new Set(
    result.warnings.filter((w) => w.code === 'not-supported').flatMap((w) => w.expression ?? []).filter((name) => !isControlParameter(name)),
  );
  const skippedKeys = result.ignoredSortKeys ?? [];
  const applied: Array<[string, string]> = [];
  for (const [name, value] of query) {
    if (name === '_cursor' || ignored.has(name)) continue;
    if (name === '_sort' && skippedKeys.length > 0) {
      const sort = sortValue(result.controls.sort.filter((key) => !skippedKeys.includes(key)));
      if (sort !== '') applied.push([name, sort]);
      continue;
    }
    applied.push([name, value]);
  }
  return applied;
}

function links(base: string, path: string, query: Array<[string, string]>, result: SearchResult): BundleLink[] {
  const { page, controls } = result;
  const applied = appliedParameters(query, result);
  const url = (cursor: Cursor): string => {
    const params = new URLSearchParams(applied);
    params.append('_cursor', encodeCursor(cursor));
    return `${base}${path}?${params.toString()}`;
  };
  const { snapshot, direction, key } = page.cursor;
  const list: BundleLink[] = [{ relation: 'self', url: url(page.cursor) }];
  if (controls.count === 0 || controls.summary === 'count') return list;
  list.push({ relation: 'first', url: url({ snapshot, direction: 'next', key: null }) });
  const first = page.entries[0];
  const last = page.entries[page.entries.length - 1];
  const forward = direction === 'next';
  if (last && (forward ? page.hasMore : true)) list.push({ relation: 'next', url: url({ snapshot, direction: 'next', key: last.key }) });
  if (first && (forward ? key !== null : page.hasMore)) {
    list.push({ relation: 'previous', url: url({ snapshot, direction: 'previous', key: first.key }) });
  }
  return list;
}

/**
 * Builds the searchset Bundle.
 * @param ctx - the project context
 * @param path - the search path relative to the FHIR base (`/Patient`, `''`, `/Patient/1/Observation`)
 * @param query - the request's name/value pairs (URL and form body), echoed in the links as applied
 * @param result - the executed search
 * @returns the Bundle
 */
export async function searchBundle(ctx: FhirContext, path: string, query: Array<[string, string]>, result: SearchResult): Promise<Bundle> {
  const base = ctx.baseUrl;
  const shape: ShapeOptions = { summary: result.controls.summary, elements: result.controls.elements };
  const entries: BundleEntry[] = [];
  if (result.warnings.length > 0) {
    entries.push({
      fullUrl: `urn:uuid:${randomUUID()}`,
      resource: operationOutcome(result.warnings),
      search: { mode: 'outcome' },
    });
  }
  for (const e of result.page.entries) {
    await ctx.budget.breathe();
    entries.push(entry(ctx.budget, base, e.doc, 'match', shape));
  }
  for (const doc of result.included) {
    await ctx.budget.breathe();
    entries.push(entry(ctx.budget, base, doc, 'include', shape));
  }
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'searchset',
    ...(result.total !== undefined ? { total: result.total } : {}),
    link: links(base, path, query, result),
    ...(entries.length > 0 ? { entry: entries } : {}),
  };
}
