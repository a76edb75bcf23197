/**
 * Runs a search: parse the controls, compile the criteria, resolve the sort, read one page (paging.ts), count,
 * and resolve includes. Shaping and the Bundle are bundle.ts's job.
 * What the caller may see is the access-controlled repository's to decide (`ctx.repo.matches`): pages hold only
 * visible matches and are filled after judging; when matches are judged one by one, `_total` is given only when
 * asked for accurately (it then counts the visible matches). Includes, chains and `_has` go through it too.
 * https://hl7.org/fhir/R4/search.html
 */
import type { ResourceDocument, Sort } from '../../storage/ports';
import type { Page } from '../access/paging';
import { isResourceType } from '../definitions';
import { BadRequestError, type Issue } from '../errors';
import type { FhirContext } from '../rest/fhir-request';
import { compileQuery } from './compile-query';
import { decodeCursor } from './cursor';
import { checkIncludes, resolveIncludes } from './include';
import { sortFields, UnknownSearchParameterError } from './index';
import { firstPageCursor } from './cursor';
import { parseSearchRequest, type SearchControls, type SortKey } from './parse-request';

/** What is searched. */
export interface SearchScope {
  /** The resource types (one for a type search). */
  types: readonly string[];
  /** A system-level search: `_type` is a control. */
  system?: boolean;
  /** Restrict to this patient's compartment. */
  compartmentPatient?: string;
  /** Restrict to the compartments of these patients, or of any patient (bulk export). */
  compartmentPatients?: readonly string[] | 'any';
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
 * The store sort for the `_sort` keys, `_id` always last (in the direction of the key before it).
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
  // `_id` breaks ties in the direction of the last key, so one index per sort field, read forwards or backwards,
  // serves both directions (MongoDB's `{project, type, <field>, _id}` indexes; docs/mongodb.md).
  sort.push(['_id', sort[sort.length - 1]?.[1] ?? 1]);
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
  const compiled = await compileQuery(ctx, types, criteria, {
    strict: options.strict,
    compartmentPatient: scope.compartmentPatient,
    compartmentPatients: scope.compartmentPatients,
  });
  const warnings = [...compiled.warnings];
  const ignoredSortKeys: SortKey[] = [];
  const sort = resolveSort(types, controls.sort, options.strict, warnings, ignoredSortKeys);
  checkIncludes([...controls.include, ...controls.revinclude]);
  const cursor = controls.cursor ? decodeCursor(controls.cursor, sort) : firstPageCursor(ctx.repo.snapshotInstant());
  const access = await ctx.repo.matches(types);
  const filter = compiled.filter;
  if (controls.summary === 'count') {
    return { controls, page: { entries: [], cursor, hasMore: false }, included: [], total: await access.count(filter), warnings, ignoredSortKeys };
  }
  // Without `_total`, the total is given when it is one count; when each match must be judged, only on request.
  const wantsTotal = access.judged ? controls.total === 'accurate' && query.some(([name]) => name === '_total') : controls.total !== 'none';
  const [page, total] = await Promise.all([
    access.page(filter, sort, cursor, controls.count),
    wantsTotal ? access.count(filter) : Promise.resolve(undefined),
  ]);
  const includes = await resolveIncludes(ctx, page.entries.map((e) => e.doc), controls.include, controls.revinclude);
  return { controls, page, included: includes.included, total, warnings: [...warnings, ...includes.warnings], ignoredSortKeys };
}
