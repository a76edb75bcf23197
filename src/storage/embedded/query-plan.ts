/**
 * Reads a MongoDB filter and finds the predicates an index can answer, so a search only looks at candidate
 * documents. The plan is a superset: mingo still evaluates the whole filter on every candidate.
 *
 * Narrowable predicates are top-level conjuncts (plain fields and `$and` members, plus `$or` when every branch
 * narrows) of the form `field: scalar`, `{ $eq: scalar }`, `{ $in: [scalars] }`, `{ $all: [scalars] }` and
 * `{ $elemMatch: { sub: scalar } }`, on `_id`, `project`, `type`, `id`, `uniqueKeys` and `index.*`; and lower bounds
 * on `lastUpdated` (`$gt`/`$gte` a string), which rule out every document when no stored value reaches them.
 */
import type { Filter } from '../ports';

/** A scalar that the inverted index stores. */
export type IndexScalar = string | number | boolean;

/** One narrowing predicate: the field holds (or its array contains) one of `values`. */
export interface FieldPredicate {
  path: string;
  values: IndexScalar[];
}

/** What a filter tells about which documents can match. Every list is a conjunction. */
export interface QueryPlan {
  /** Each entry: the document's project is one of these. */
  projects: string[][];
  /** Each entry: the document's type is one of these. */
  types: string[][];
  /** Each entry: the document's `_id` is one of these. */
  ids: string[][];
  /** Inverted-index predicates on `id`, `uniqueKeys` and `index.*`. */
  fields: FieldPredicate[];
  /** `$or` groups: a document matches one of the branches. */
  alternatives: QueryPlan[][];
  /** Each entry: the document's `lastUpdated` is a string after this one (`$gt`), or not before it (`$gte`). */
  updatedSince: Array<{ value: string; inclusive: boolean }>;
}

/**
 * Whether the inverted index holds the values of this path. Paths with a numeric component (`a.0.b`) address
 * array positions the index does not record, so they are never narrowed.
 *
 * @param path - a dotted field path
 * @returns true for `id`, `uniqueKeys` and `index.*` paths without numeric components
 */
export function isIndexedPath(path: string): boolean {
  if (path !== 'id' && path !== 'uniqueKeys' && !path.startsWith('index.')) return false;
  return path.split('.').every((part) => part.length > 0 && !/^\d+$/.test(part));
}

/**
 * The index key of a scalar: type tag plus value, so `1` and `'1'` stay apart as they do in MongoDB.
 *
 * @param value - a string, number or boolean
 * @returns the key used by the inverted index
 */
export function scalarKey(value: IndexScalar): string {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      return `n${String(value)}`;
    default:
      return value ? 'bt' : 'bf';
  }
}

/**
 * Whether a value is a scalar that the inverted index stores.
 *
 * @param value - any value
 * @returns true for strings, numbers and booleans
 */
export function isIndexScalar(value: unknown): value is IndexScalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof RegExp) &&
    !(value instanceof Date)
  );
}

function emptyPlan(): QueryPlan {
  return { projects: [], types: [], ids: [], fields: [], alternatives: [], updatedSince: [] };
}

function mergeInto(target: QueryPlan, source: QueryPlan): void {
  target.projects.push(...source.projects);
  target.types.push(...source.types);
  target.ids.push(...source.ids);
  target.fields.push(...source.fields);
  target.alternatives.push(...source.alternatives);
  target.updatedSince.push(...source.updatedSince);
}

/** Lower bounds a `lastUpdated` condition puts on the (string) value: `{ $gt: s }`, `{ $gte: s }`. */
function lowerBounds(condition: unknown): QueryPlan['updatedSince'] {
  if (!isPlainObject(condition)) return [];
  const bounds: QueryPlan['updatedSince'] = [];
  if (typeof condition.$gt === 'string') bounds.push({ value: condition.$gt, inclusive: false });
  if (typeof condition.$gte === 'string') bounds.push({ value: condition.$gte, inclusive: true });
  return bounds;
}

/** Values a field condition requires by equality (any of them), or undefined when it does not narrow. */
function equalityValues(condition: unknown): IndexScalar[] | undefined {
  if (isIndexScalar(condition)) return [condition];
  if (!isPlainObject(condition)) return undefined;
  const keys = Object.keys(condition);
  if (keys.length === 0 || !keys.every((k) => k.startsWith('$'))) return undefined;
  const eq = condition.$eq;
  if (isIndexScalar(eq)) return [eq];
  const list = condition.$in;
  if (Array.isArray(list) && list.every(isIndexScalar)) return list;
  return undefined;
}

function addFieldConditions(plan: QueryPlan, path: string, condition: unknown, nested: boolean): void {
  if (!nested && path === 'lastUpdated') plan.updatedSince.push(...lowerBounds(condition));
  const values = equalityValues(condition);
  if (values) {
    if (nested) plan.fields.push({ path, values });
    else if (path === '_id') plan.ids.push(values.filter((v): v is string => typeof v === 'string'));
    else if (path === 'project') plan.projects.push(values.filter((v): v is string => typeof v === 'string'));
    else if (path === 'type') plan.types.push(values.filter((v): v is string => typeof v === 'string'));
    else if (isIndexedPath(path)) plan.fields.push({ path, values });
    return;
  }
  if (!isPlainObject(condition) || !(nested || isIndexedPath(path))) return;
  const all = condition.$all;
  if (Array.isArray(all) && all.length > 0 && all.every(isIndexScalar)) {
    for (const v of all) plan.fields.push({ path, values: [v] });
  }
  const elemMatch = condition.$elemMatch;
  if (isPlainObject(elemMatch) && Object.keys(elemMatch).some((k) => !k.startsWith('$'))) {
    mergeInto(plan, analyzeFilter(elemMatch, `${path}.`));
  }
}

/**
 * Analyses a filter into the index predicates every matching document satisfies.
 *
 * @param filter - a MongoDB query document
 * @param prefix - path prefix when analysing the body of an `$elemMatch` on an indexed path (`index.code.`)
 * @returns the narrowing plan (possibly empty: then only a full scan is correct)
 */
export function analyzeFilter(filter: Filter, prefix = ''): QueryPlan {
  const plan = emptyPlan();
  const nested = prefix !== '';
  for (const [key, condition] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(condition)) {
      for (const part of condition) if (isPlainObject(part)) mergeInto(plan, analyzeFilter(part, prefix));
    } else if (key === '$or' && Array.isArray(condition) && condition.length > 0) {
      if (condition.every(isPlainObject)) {
        plan.alternatives.push(condition.map((branch) => analyzeFilter(branch, prefix)));
      }
    } else if (!key.startsWith('$') && (!nested || isIndexedPath(prefix + key))) {
      addFieldConditions(plan, prefix + key, condition, nested);
    }
  }
  return plan;
}
