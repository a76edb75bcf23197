/**
 * Builds the search index stored with each resource version (docs/search-index.md): for every SearchParameter of
 * the resource's type, the compiled expression is evaluated and its results normalized into entries; composite
 * parameters combine their components per matched element; `sort` holds one scalar per parameter for `_sort`.
 */
import type { SearchParameter } from 'fhir/r4';
import { getSearchParameters } from '../../definitions';
import { compilePath } from './compile';
import { compileRelativeFastPath } from './fast-path';
import { ENTRY_BUILDERS, type Entry } from './entries';

/** What is stored with a resource version. */
export interface SearchIndex {
  index: Record<string, Entry[]>;
  sort: Record<string, unknown>;
}

/** Parameters whose values come from elsewhere (`_id`, `_lastUpdated` are top-level fields) or are not indexed. */
const NOT_INDEXED = new Set(['_id', '_lastUpdated', '_text', '_content', '_query', '_list', '_has', '_type']);

const componentParams = new Map<string, SearchParameter | undefined>();

function componentParam(type: string, definition: string): SearchParameter | undefined {
  const key = `${type} ${definition}`;
  if (!componentParams.has(key)) {
    componentParams.set(key, getSearchParameters(type).find((p) => p.url === definition));
  }
  return componentParams.get(key);
}

function basePath(expression: string): string | undefined {
  return /^[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)*$/.test(expression) ? expression : undefined;
}

/** How one parameter is indexed for one resource type, prepared once. */
interface ParamPlan {
  code: string;
  type: string;
  entries: (resource: Record<string, unknown>) => Entry[];
}

const plans = new Map<string, ParamPlan[]>();

function compositePlan(type: string, param: SearchParameter): ParamPlan['entries'] | undefined {
  const expression = param.expression ?? '';
  const base = basePath(expression);
  const elementsOf = base && compilePath(expression, undefined, type);
  if (!base || !elementsOf) return undefined;
  const components: Array<{ code: string; values: (element: unknown) => Entry[] }> = [];
  for (const component of param.component ?? []) {
    const def = componentParam(type, component.definition);
    const build = def && ENTRY_BUILDERS[def.type];
    const fn = build && (compileRelativeFastPath(component.expression, base) ?? compilePath(component.expression, base));
    if (!def || !build || !fn) return () => [];
    components.push({ code: def.code, values: (element) => fn(element as Record<string, unknown>).flatMap((v) => build(v)) });
  }
  return (resource) => {
    const entries: Entry[] = [];
    for (const element of elementsOf(resource)) {
      let combos: Entry[] = [{}];
      for (const component of components) {
        const values = component.values(element);
        if (values.length === 0) {
          combos = [];
          break;
        }
        combos = combos.flatMap((combo) => values.map((v) => ({ ...combo, [component.code]: v })));
      }
      entries.push(...combos);
    }
    return entries;
  };
}

function planFor(type: string): ParamPlan[] {
  let plan = plans.get(type);
  if (plan) return plan;
  plan = [];
  for (const param of getSearchParameters(type)) {
    if (NOT_INDEXED.has(param.code) || !param.expression) continue;
    if (param.type === 'composite') {
      const entries = compositePlan(type, param);
      if (entries) plan.push({ code: param.code, type: param.type, entries });
      continue;
    }
    const build = ENTRY_BUILDERS[param.type];
    const fn = build && compilePath(param.expression, undefined, type);
    if (!build || !fn) continue;
    plan.push({ code: param.code, type: param.type, entries: (resource) => fn(resource).flatMap((v) => build(v)) });
  }
  plans.set(type, plan);
  return plan;
}

function sortKey(type: string, entries: Entry[]): unknown {
  const first = entries[0];
  if (!first) return undefined;
  switch (type) {
    case 'string':
      return first.n;
    case 'token':
      return first.c ?? first.t;
    case 'reference':
      return first.r ?? first.u;
    case 'date':
      return entries.map((e) => e.lo as string).sort()[0];
    case 'number':
    case 'quantity':
      return Math.min(...entries.map((e) => (typeof e.v === 'number' ? e.v : Infinity)));
    case 'uri':
      return first.e;
    default:
      return undefined;
  }
}

/**
 * Extracts and normalizes the search values of a resource.
 * @param resource - the resource as stored
 * @returns the index and sort keys
 */
export function buildSearchIndex(resource: Record<string, unknown>): SearchIndex {
  const index: Record<string, Entry[]> = {};
  const sort: Record<string, unknown> = {};
  for (const param of planFor(resource.resourceType as string)) {
    const entries = entriesOf(param, resource);
    if (entries.length === 0) continue;
    index[param.code] = dedupe(entries);
    const key = sortKey(param.type, entries);
    if (key !== undefined && key !== Infinity) sort[param.code] = key;
  }
  return { index, sort };
}

/**
 * The search values of some of a resource's parameters, as {@link buildSearchIndex} indexes them, computing only
 * those parameters.
 * @param resource - the resource as stored
 * @param codes - the parameter codes
 * @returns the index entries of the codes that have values
 */
export function searchValues(resource: Record<string, unknown>, codes: readonly string[]): Record<string, Entry[]> {
  const index: Record<string, Entry[]> = {};
  for (const param of planFor(resource.resourceType as string)) {
    if (!codes.includes(param.code)) continue;
    const entries = entriesOf(param, resource);
    if (entries.length > 0) index[param.code] = dedupe(entries);
  }
  return index;
}

/** A parameter's entries for a resource; none when its expression fails on the resource. */
function entriesOf(param: ParamPlan, resource: Record<string, unknown>): Entry[] {
  try {
    return param.entries(resource);
  } catch {
    return [];
  }
}

function dedupe(entries: Entry[]): Entry[] {
  if (entries.length < 2) return entries;
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = JSON.stringify(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
