/**
 * Runs a search: parse the controls, compile the criteria, resolve the sort, read one page (paging.ts), count,
 * and resolve includes. Shaping and the Bundle are bundle.ts's job.
 * What the caller may see comes from the access-controlled repository (`ctx.repo.resultAccess`): when the
 * policies judge each resource, pages are filled after filtering (`fetchVisiblePage`), `_total` is given only
 * when asked for accurately (it then counts the visible matches), and included resources are filtered too.
 * https://hl7.org/fhir/R4/search.html
 */
import type { Filter, ResourceDocument, Sort } from '../../storage/ports';
import type { ResultAccess } from '../access/access-controlled-repository';
import { isResourceType } from '../definitions';
import { BadRequestError, type Issue } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { compileQuery } from './compile-query';
import { decodeCursor } from './cursor';
import { countDocuments, searchDocuments } from './documents';
import { checkIncludes, resolveIncludes } from './include';
import { sortFields, UnknownSearchParameterError } from './index';
import { fetchPage, firstPageCursor, type Page, type PositionedDocument } from './paging';
import { parseSearchRequest, type SearchControls, type SortKey } from './parse-request';

/** What is searched. */
export interface SearchScope {
  /** The resource types (one for a type search). */
  types: readonly string[];
  /** A system-level search: `_type` is a control. */
  system?: boolean;
  /** Restrict to this patient's compartment. */
  compartmentPatient?: string;
}

/** Options of {@link executeSearch}. */
export interface SearchOptions {
  /** `Prefer: handling=strict`: unknown parameters are 400s. */
  strict: boolean;
}

/** The outcome of a search, before it becomes a Bundle. */
export interface SearchResult {
  controls: SearchControls;
  /** The page (no entries for `_summary=count`). */
  page: Page;
  included: ResourceDocument[];
  /** Undefined for `_total=none`. */
  total?: number;
  warnings: Issue[];
  /** The `_sort` keys that were ignored (each reported in `warnings`). */
  ignoredSortKeys?: SortKey[];
}

function sortWarning(key: SortKey): Issue {
  return {
    severity: 'warning',
    code: 'not-supported',
    diagnostics: `Cannot sort by '${key.code}'; the sort key was ignored`,
    expression: ['_sort'],
  };
}

/**
 * The store sort for the `_sort` keys, `_id` always last.
 * @param types - the types searched (every type must sort a key the same way)
 * @param keys - the `_sort` keys
 * @param strict - unknown keys are errors
 * @param warnings - where ignored keys are reported
 * @param ignored - where ignored keys are collected
 * @returns the sort
 */
export function resolveSort(types: readonly string[], keys: readonly SortKey[], strict: boolean, warnings: Issue[], ignored: SortKey[] = []): Sort {
  const sort: Sort = [];
  for (const key of keys) {
    let fields: Sort | undefined;
    try {
      for (const type of types) {
        const own = sortFields(type, key.code, key.direction);
        if (fields && JSON.stringify(fields) !== JSON.stringify(own)) {
          throw new BadRequestError(`Search parameter _sort: '${key.code}' is not the same parameter on every type searched`, ['_sort']);
        }
        fields = own;
      }
    } catch (err) {
      if (!(err instanceof UnknownSearchParameterError) || strict) throw err;
      warnings.push(sortWarning(key));
      ignored.push(key);
      continue;
    }
    for (const field of fields ?? []) if (!sort.some(([f]) => f === field[0])) sort.push(field);
  }
  sort.push(['_id', 1]);
  return sort;
}

/**
 * Executes a search.
 * @param ctx - the project context
 * @param scope - the types (and compartment) searched
 * @param query - the request's name/value pairs
 * @param options - strict handling
 * @returns the page, includes, total and warnings
 */
export async function executeSearch(ctx: FhirContext, scope: SearchScope, query: Array<[string, string]>, options: SearchOptions): Promise<SearchResult> {
  const { controls, criteria } = parseSearchRequest(query, ctx.config, { system: scope.system });
  const types = controls.types ?? scope.types;
  for (const type of types) {
    if (!isResourceType(type)) throw new BadRequestError(`Search parameter _type: '${type}' is not a resource type`, ['_type']);
  }
  const compiled = await compileQuery(ctx, types, criteria, { strict: options.strict, compartmentPatient: scope.compartmentPatient });
  const warnings = [...compiled.warnings];
  const ignoredSortKeys: SortKey[] = [];
  const sort = resolveSort(types, controls.sort, options.strict, warnings, ignoredSortKeys);
  checkIncludes([...controls.include, ...controls.revinclude]);
  const cursor = controls.cursor ? decodeCursor(controls.cursor, sort) : firstPageCursor();
  const access = await ctx.repo.resultAccess(types);
  const filter = access.filter ? { $and: [compiled.filter, access.filter] } : compiled.filter;
  if (controls.summary === 'count') {
    return { controls, page: { entries: [], cursor, hasMore: false }, included: [], total: await countVisible(ctx, filter, access), warnings, ignoredSortKeys };
  }
  // Without `_total`, the total is given when it is one count; when each match must be judged, only on request.
  const wantsTotal = access.all ? controls.total !== 'none' : controls.total === 'accurate' && query.some(([name]) => name === '_total');
  const [page, total] = await Promise.all([
    fetchVisiblePage(ctx, filter, sort, cursor, controls.count, access),
    wantsTotal ? countVisible(ctx, filter, access) : Promise.resolve(undefined),
  ]);
  const accept = access.all ? undefined : (doc: ResourceDocument) => ctx.repo.visible(doc);
  const includes = await resolveIncludes(ctx, page.entries.map((e) => e.doc), controls.include, controls.revinclude, accept);
  return { controls, page, included: includes.included, total, warnings: [...warnings, ...includes.warnings], ignoredSortKeys };
}

/** Documents judged per batch when counting or filling a page under per-resource access. */
const SCAN_BATCH = 200;

/**
 * The number of matches the caller may see.
 * @param ctx - the project context
 * @param filter - the compiled search filter
 * @param access - what the caller may see
 * @returns the count
 */
async function countVisible(ctx: FhirContext, filter: Filter, access: ResultAccess): Promise<number> {
  if (access.all) return countDocuments(ctx, filter);
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const range = after === undefined ? [] : [{ _id: { $gt: after } }];
    const docs = await searchDocuments(ctx, { $and: [...range, filter] }, { sort: [['_id', 1]], limit: SCAN_BATCH });
    for (const doc of docs) if (await access.accept(doc)) count++;
    if (docs.length < SCAN_BATCH) return count;
    after = docs[docs.length - 1]?._id;
  }
}

/**
 * One page of the matches the caller may see: reads on from the cursor until `count` visible matches (and one
 * more, to know whether there is a next page) are found, so pages are full and the links stay consistent.
 * @param ctx - the project context
 * @param filter - the compiled search filter
 * @param sort - the sort
 * @param cursor - where the page starts
 * @param count - the page size
 * @param access - what the caller may see
 * @returns the page
 */
async function fetchVisiblePage(ctx: FhirContext, filter: Filter, sort: Sort, cursor: Page['cursor'], count: number, access: ResultAccess): Promise<Page> {
  if (access.all || count === 0) return fetchPage(ctx, filter, sort, cursor, count);
  const forward = cursor.direction === 'next';
  const visible: PositionedDocument[] = [];
  let at = cursor;
  for (;;) {
    const raw = await fetchPage(ctx, filter, sort, at, Math.max(count, SCAN_BATCH));
    // In the direction of travel.
    const batch = forward ? raw.entries : [...raw.entries].reverse();
    for (const entry of batch) {
      if (await access.accept(entry.doc)) visible.push(entry);
      if (visible.length > count) break;
    }
    const last = batch[batch.length - 1];
    if (visible.length > count || !raw.hasMore || !last) break;
    at = { ...at, key: last.key };
  }
  const entries = visible.slice(0, count);
  if (!forward) entries.reverse();
  return { entries, cursor, hasMore: visible.length > count };
}
