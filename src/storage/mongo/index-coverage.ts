/**
 * A static model of how MongoDB can answer a filter + sort with a set of declared indexes, for checking the
 * adapter's index declarations against every query shape the server emits (no server needed; docs/mongodb.md
 * "What is checked statically").
 *
 * A filter is read as its top-level conjunction (nested `$and`s flattened): path predicates (`eq`, `in`, `range`,
 * anchored `prefix` RegExp, unanchored `regex`, `exists`, `missing`, and `negation` for `$ne $nin $not $nor`),
 * `$elemMatch` conditions becoming predicates on `<path>.<field>`, and `$or` groups whose branches are conjunctions
 * themselves. An index is judged by the equality-sort-range rule:
 * - its leading keys must be the scope equalities the filter has (`project`, then `type`: one value or `$in`);
 * - `criterion`: the next key serves a predicate of the filter (a plain key on that path, or a wildcard term
 *   `x.$**` above it for the operators wildcard indexes support), so the scan reads only candidate documents;
 *   an `$or` is served when every branch is (with the scope equalities pushed into it);
 * - `sort`: the next keys (after any further single-value equalities) are the sort fields in order, all in the
 *   same or all in the opposite direction, so the scan walks the documents in page order and stops after a page;
 * - `scope`: only the scope prefix is served (the type's documents are read and sorted in memory, top-k).
 * No index whose leading keys are the scope equalities means a collection scan (`none`).
 */
import type { Filter, Sort } from '../ports';

/** How a path predicate constrains its field. */
export type PredicateOp = 'eq' | 'in' | 'range' | 'prefix' | 'regex' | 'exists' | 'missing' | 'negation';

/** A predicate on one field path. */
export interface PathPredicate {
  kind: 'path';
  path: string;
  op: PredicateOp;
}

/** An `$or`: one of the branches (each a conjunction) must hold. */
export interface OrPredicate {
  kind: 'or';
  branches: Predicate[][];
}

/** One conjunct of a filter. */
export type Predicate = PathPredicate | OrPredicate;

/** An index as declared: its keys in order (`x.$**` is a wildcard term). */
export interface DeclaredIndex {
  name: string;
  key: Readonly<Record<string, 1 | -1>>;
}

/** How well the best index serves a query. */
export type Verdict = 'criterion' | 'sort' | 'scope' | 'none';

/** The analysis of one query. */
export interface Coverage {
  verdict: Verdict;
  /** The index giving the verdict (for `criterion` on an `$or`: the indexes of the branches). */
  indexes: string[];
  /** The sort is produced by the index walk (no in-memory sort stage). */
  sortBacked: boolean;
}

const SCOPE_FIELDS = ['project', 'type'] as const;
/** Operators a wildcard index term can answer (it cannot find documents where the path is missing). */
const WILDCARD_OPS: ReadonlySet<PredicateOp> = new Set(['eq', 'in', 'range', 'prefix', 'regex', 'exists']);
/** Operators a plain index key can answer (missing values are indexed as null). */
const PLAIN_OPS: ReadonlySet<PredicateOp> = new Set(['eq', 'in', 'range', 'prefix', 'regex', 'exists', 'missing']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RegExp);
}

function regexOp(value: RegExp): PredicateOp {
  return value.source.startsWith('^') && !value.flags.includes('i') ? 'prefix' : 'regex';
}

function operatorPredicates(path: string, condition: Record<string, unknown>): Predicate[] {
  const result: Predicate[] = [];
  for (const [op, operand] of Object.entries(condition)) {
    switch (op) {
      case '$eq':
        result.push({ kind: 'path', path, op: 'eq' });
        break;
      case '$in':
      case '$all':
        result.push({ kind: 'path', path, op: 'in' });
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        result.push({ kind: 'path', path, op: 'range' });
        break;
      case '$exists':
        result.push({ kind: 'path', path, op: operand ? 'exists' : 'missing' });
        break;
      case '$ne':
      case '$nin':
      case '$not':
        result.push({ kind: 'path', path, op: 'negation' });
        break;
      case '$elemMatch':
        if (!isPlainObject(operand)) throw new TypeError(`$elemMatch on ${path} is not an object`);
        result.push(...predicatesOf(operand, `${path}.`));
        break;
      case '$size':
        result.push({ kind: 'path', path, op: 'negation' });
        break;
      default:
        throw new TypeError(`operator ${op} on ${path} is not modelled`);
    }
  }
  return result;
}

function fieldPredicates(path: string, value: unknown): Predicate[] {
  if (value instanceof RegExp) return [{ kind: 'path', path, op: regexOp(value) }];
  if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'))) return operatorPredicates(path, value);
  return [{ kind: 'path', path, op: 'eq' }];
}

/**
 * The conjuncts of a filter.
 * @param filter - a MongoDB filter document
 * @param prefix - a path prefix (inside `$elemMatch`)
 * @returns the predicates that must all hold
 * @throws TypeError for an operator the model does not know (so a new operator cannot slip past the check)
 */
export function predicatesOf(filter: Filter, prefix = ''): Predicate[] {
  const result: Predicate[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and') {
      for (const part of value as Filter[]) result.push(...predicatesOf(part, prefix));
    } else if (key === '$or') {
      const branches = (value as Filter[]).map((branch) => predicatesOf(branch, prefix));
      if (branches.length === 1) result.push(...(branches[0] as Predicate[]));
      else result.push({ kind: 'or', branches });
    } else if (key === '$nor') {
      result.push({ kind: 'path', path: `${prefix}$nor`, op: 'negation' });
    } else if (key.startsWith('$')) {
      throw new TypeError(`operator ${key} is not modelled`);
    } else {
      result.push(...fieldPredicates(`${prefix}${key}`, value));
    }
  }
  return result;
}

function keyServes(key: string, predicate: PathPredicate): boolean {
  if (key.endsWith('.$**')) return predicate.path.startsWith(key.slice(0, -3)) && WILDCARD_OPS.has(predicate.op);
  return key === predicate.path && PLAIN_OPS.has(predicate.op);
}

function scopeOf(predicates: readonly Predicate[]): string[] {
  return SCOPE_FIELDS.filter((field) => predicates.some((p) => p.kind === 'path' && p.path === field && (p.op === 'eq' || p.op === 'in')));
}

function pathPredicates(predicates: readonly Predicate[]): PathPredicate[] {
  return predicates.filter((p): p is PathPredicate => p.kind === 'path');
}

/** Whether the index's leading keys are exactly the scope equalities; returns where the rest begins, or -1. */
function afterScope(index: DeclaredIndex, scope: readonly string[]): number {
  const keys = Object.keys(index.key);
  if (scope.length === 0) return -1;
  for (const [i, field] of scope.entries()) if (keys[i] !== field) return -1;
  return scope.length;
}

function servesCriterion(index: DeclaredIndex, scope: readonly string[], predicates: readonly Predicate[]): boolean {
  const at = afterScope(index, scope);
  const next = Object.keys(index.key)[at];
  if (at < 0 || next === undefined) return false;
  return pathPredicates(predicates).some((p) => !scope.includes(p.path) && keyServes(next, p));
}

function servesSort(index: DeclaredIndex, scope: readonly string[], sort: Sort, predicates: readonly Predicate[]): boolean {
  let at = afterScope(index, scope);
  if (at < 0 || sort.length === 0) return at >= 0;
  const keys = Object.keys(index.key);
  // Further single-value equalities (`id` of an instance history) keep the order of the keys after them.
  const equal = (key: string): boolean => !key.endsWith('.$**') && pathPredicates(predicates).some((p) => p.path === key && p.op === 'eq');
  while (keys[at] !== undefined && keys[at] !== sort[0]?.[0] && equal(keys[at] as string)) at++;
  const entries = Object.entries(index.key).slice(at, at + sort.length);
  if (entries.length < sort.length) return false;
  // Multiplying each direction by the first ratio: an index serves a sort read forwards or backwards.
  const ratio = (entries[0]?.[1] ?? 1) * (sort[0]?.[1] ?? 1);
  return sort.every(([field, dir], i) => entries[i]?.[0] === field && entries[i]?.[1] === dir * ratio);
}

/** An `$or` is index-backed when each branch, with the scope equalities pushed in, is served by some index. */
function orIndexes(indexes: readonly DeclaredIndex[], scopePredicates: readonly Predicate[], or: OrPredicate): string[] | undefined {
  const used: string[] = [];
  for (const branch of or.branches) {
    const coverage = criterionIndexes(indexes, [...scopePredicates, ...branch]);
    if (!coverage) return undefined;
    used.push(...coverage);
  }
  return [...new Set(used)];
}

function criterionIndexes(indexes: readonly DeclaredIndex[], predicates: readonly Predicate[]): string[] | undefined {
  const scope = scopeOf(predicates);
  const direct = indexes.find((index) => servesCriterion(index, scope, predicates));
  if (direct) return [direct.name];
  const scopePredicates = pathPredicates(predicates).filter((p) => scope.includes(p.path));
  for (const predicate of predicates) {
    if (predicate.kind !== 'or') continue;
    const used = orIndexes(indexes, scopePredicates, predicate);
    if (used) return used;
  }
  return undefined;
}

/**
 * How the declared indexes serve a query.
 * @param indexes - the declared indexes of the collection
 * @param filter - the filter as the store receives it
 * @param sort - the sort (empty for counts)
 * @returns the verdict, the indexes behind it and whether the order comes from the index
 */
export function coverage(indexes: readonly DeclaredIndex[], filter: Filter, sort: Sort = []): Coverage {
  const predicates = predicatesOf(filter);
  const scope = scopeOf(predicates);
  const sorted = indexes.find((index) => servesSort(index, scope, sort, predicates));
  const both = indexes.find((index) => servesCriterion(index, scope, predicates) && servesSort(index, scope, sort, predicates));
  if (both) return { verdict: 'criterion', indexes: [both.name], sortBacked: sort.length > 0 };
  const byCriterion = criterionIndexes(indexes, predicates);
  if (byCriterion) return { verdict: 'criterion', indexes: byCriterion, sortBacked: false };
  if (sorted && sort.length > 0) return { verdict: 'sort', indexes: [sorted.name], sortBacked: true };
  const scoped = indexes.find((index) => afterScope(index, scope) >= 0);
  if (scoped) return { verdict: 'scope', indexes: [scoped.name], sortBacked: false };
  return { verdict: 'none', indexes: [], sortBacked: false };
}
