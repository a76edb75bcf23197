/**
 * Compiles a MongoDB filter into the predicate the embedded store tests candidates with.
 *
 * mingo stays the reference: every top-level conjunct is either evaluated by mingo, or by a small native
 * evaluator that reproduces mingo's answer for a narrow subset of filters, namely the shapes the search layer
 * emits on every page (equality, `$in`, ranges and RegExp on plain paths; `$elemMatch` over such conditions;
 * `$and`/`$or` of them). Wherever the native evaluator meets data it does not model exactly (arrays inside a
 * path, nested arrays, non-object array elements, NaN), it answers "unknown" and that conjunct is decided by
 * mingo for that document. The filter therefore means the same thing on either side; only the cost differs
 * (mingo resolves paths and wraps values generically, which dominated search time on pages of a few hundred
 * candidates).
 */
import { type MongoQuery, mongoQuery } from '../mongo-query';
import type { Filter } from '../ports';

/** true / false, or undefined when the native evaluator cannot decide and mingo must. */
type Verdict = boolean | undefined;
type Node = (doc: Record<string, unknown>) => Verdict;

/** A compiled filter. */
export interface FilterPredicate {
  /** Whether a document matches the filter (mingo's answer). */
  test(doc: Record<string, unknown>): boolean;
}

type Scalar = string | number | boolean;
type Comparison = '$gt' | '$gte' | '$lt' | '$lte';


function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RegExp) && !(value instanceof Date);
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && !Number.isNaN(value));
}

/** A path the native evaluator resolves: dotted names, none of them empty, numeric or `$`-prefixed. */
function isPlainPath(path: string): boolean {
  for (const part of path.split('.')) {
    if (part.length === 0 || part.startsWith('$') || /^\d+$/.test(part) || part === '__proto__') return false;
  }
  return true;
}

const UNRESOLVED = Symbol('unresolved');

/** The value at a path through plain objects; UNRESOLVED when an array sits inside the path. */
function resolver(path: string): (doc: Record<string, unknown>) => unknown {
  const parts = path.split('.');
  if (parts.length === 1) return (doc) => doc[path];
  return (doc) => {
    let value: unknown = doc;
    for (const part of parts) {
      if (Array.isArray(value)) return UNRESOLVED;
      if (!isPlainObject(value)) return undefined;
      value = value[part];
    }
    return value;
  };
}

/**
 * A test of one leaf value against a scalar operation, following mingo: a scalar is tested directly; an array
 * matches when one of its elements does; a nested array is left to mingo.
 */
function leafTest(test: (value: unknown) => boolean): (value: unknown) => Verdict {
  return (value) => {
    if (!Array.isArray(value)) return test(value);
    for (const element of value) if (Array.isArray(element) || Number.isNaN(element)) return undefined;
    for (const element of value) if (test(element)) return true;
    return false;
  };
}

function comparison(op: Comparison, operand: Scalar): (value: unknown) => boolean {
  // mingo compares only values of the same JS type, with < and > (strings by UTF-16 code units).
  const type = typeof operand;
  switch (op) {
    case '$gt':
      return (v) => typeof v === type && (v as Scalar) > operand;
    case '$gte':
      return (v) => typeof v === type && (v as Scalar) >= operand;
    case '$lt':
      return (v) => typeof v === type && (v as Scalar) < operand;
    default:
      return (v) => typeof v === type && (v as Scalar) <= operand;
  }
}

/** A leaf condition (`value`, `{ $eq }`, `{ $in }`, ranges, RegExp) as a value test; undefined when unsupported. */
function compileCondition(condition: unknown): ((value: unknown) => Verdict) | undefined {
  if (isScalar(condition)) return leafTest((v) => v === condition);
  if (condition instanceof RegExp) {
    if (condition.global || condition.sticky) return undefined;
    return leafTest((v) => typeof v === 'string' && condition.test(v));
  }
  if (!isPlainObject(condition)) return undefined;
  const entries = Object.entries(condition);
  if (entries.length === 0) return undefined;
  const tests: Array<(value: unknown) => boolean> = [];
  for (const [op, operand] of entries) {
    if (op === '$eq' && isScalar(operand)) tests.push((v) => v === operand);
    else if (op === '$in' && Array.isArray(operand) && operand.every(isScalar)) {
      const values = new Set<unknown>(operand);
      tests.push((v) => values.has(v));
    } else if ((op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') && (typeof operand === 'string' || (typeof operand === 'number' && !Number.isNaN(operand)))) {
      tests.push(comparison(op, operand));
    } else return undefined;
  }
  // Each operator tests the array on its own (`{ $gt: 1, $lt: 5 }` may be met by two different elements).
  const leaves = tests.map(leafTest);
  return (value) => {
    let verdict: Verdict = true;
    for (const leaf of leaves) {
      const v = leaf(value);
      if (v === false) return false;
      if (v === undefined) verdict = undefined;
    }
    return verdict;
  };
}

/** `$elemMatch` whose body is a conjunction of leaf conditions on plain sub-fields. */
function compileElemMatch(body: unknown): ((value: unknown) => Verdict) | undefined {
  if (!isPlainObject(body)) return undefined;
  const fields: Array<[string, (value: unknown) => Verdict]> = [];
  for (const [key, condition] of Object.entries(body)) {
    if (key.includes('.') || !isPlainPath(key)) return undefined;
    const test = compileCondition(condition);
    if (!test) return undefined;
    fields.push([key, test]);
  }
  if (fields.length === 0) return undefined;
  const element = (item: unknown): Verdict => {
    if (!isPlainObject(item)) return undefined;
    let verdict: Verdict = true;
    for (const [key, test] of fields) {
      const v = test(item[key]);
      if (v === false) return false;
      if (v === undefined) verdict = undefined;
    }
    return verdict;
  };
  return (value) => {
    if (!Array.isArray(value)) return false;
    let verdict: Verdict = false;
    for (const item of value) {
      const v = element(item);
      if (v === true) return true;
      if (v === undefined) verdict = undefined;
    }
    return verdict;
  };
}

/** Arrays go to the generic leaf test; everything else is decided here. */
function topLevelField(path: string, scalar: (value: unknown) => boolean, generic: (value: unknown) => Verdict): Node {
  return (doc) => {
    const value = doc[path];
    return Array.isArray(value) ? generic(value) : scalar(value);
  };
}

/** The shapes every search page tests on top-level fields (`type: 'Observation'`, `lastUpdated: { $lt }`), inlined. */
function compileTopLevelScalar(path: string, condition: unknown): Node | undefined {
  const generic = compileCondition(condition);
  if (!generic) return undefined;
  if (isScalar(condition)) return topLevelField(path, (v) => v === condition, generic);
  if (!isPlainObject(condition)) return undefined;
  const entries = Object.entries(condition);
  if (entries.length !== 1) return undefined;
  const [[op, operand]] = entries as [[string, unknown]];
  if (op === '$eq' && isScalar(operand)) return topLevelField(path, (v) => v === operand, generic);
  if (op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') {
    return topLevelField(path, comparison(op, operand as Scalar), generic);
  }
  return undefined;
}

function compileField(path: string, condition: unknown): Node | undefined {
  if (!isPlainPath(path)) return undefined;
  if (!path.includes('.')) {
    const fast = compileTopLevelScalar(path, condition);
    if (fast) return fast;
  }
  const elemMatch = isPlainObject(condition) && Object.keys(condition).length === 1 ? condition.$elemMatch : undefined;
  const test = elemMatch !== undefined ? compileElemMatch(elemMatch) : compileCondition(condition);
  if (!test) return undefined;
  const resolve = resolver(path);
  return (doc) => {
    const value = resolve(doc);
    return value === UNRESOLVED ? undefined : test(value);
  };
}

function all(nodes: Node[]): Node {
  return (doc) => {
    let verdict: Verdict = true;
    for (const node of nodes) {
      const v = node(doc);
      if (v === false) return false;
      if (v === undefined) verdict = undefined;
    }
    return verdict;
  };
}

function any(nodes: Node[]): Node {
  return (doc) => {
    let verdict: Verdict = false;
    for (const node of nodes) {
      const v = node(doc);
      if (v === true) return true;
      if (v === undefined) verdict = undefined;
    }
    return verdict;
  };
}

/** A whole filter document (an implicit conjunction) natively, or undefined when any part is unsupported. */
function compileDocument(filter: unknown): Node | undefined {
  if (!isPlainObject(filter)) return undefined;
  const nodes: Node[] = [];
  for (const [key, value] of Object.entries(filter)) {
    const node = compileEntry(key, value);
    if (!node) return undefined;
    nodes.push(node);
  }
  return nodes.length === 1 ? nodes[0] : all(nodes);
}

function compileEntry(key: string, value: unknown): Node | undefined {
  if (key === '$and' || key === '$or') {
    if (!Array.isArray(value) || value.length === 0) return undefined;
    const nodes: Node[] = [];
    for (const branch of value) {
      const node = compileDocument(branch);
      if (!node) return undefined;
      nodes.push(node);
    }
    return key === '$and' ? all(nodes) : any(nodes);
  }
  if (key.startsWith('$')) return undefined;
  return compileField(key, value);
}

/** Splits a filter into its top-level conjuncts (`$and` members flattened), each as a filter document. */
function conjuncts(filter: Filter, out: Filter[] = []): Filter[] {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) {
      for (const member of value) conjuncts(member, out);
    } else {
      out.push({ [key]: value });
    }
  }
  return out;
}

/** One conjunct: its native node (if any) and its mingo query (built on first need). */
class Conjunct {
  private query: MongoQuery | undefined;

  constructor(
    private readonly filter: Filter,
    private readonly node: Node | undefined,
  ) {
    // Conjuncts mingo must evaluate are compiled now, so a filter mingo rejects fails at once as it did before.
    if (!node) this.query = mongoQuery(filter);
  }

  test(doc: Record<string, unknown>): boolean {
    const verdict = this.node?.(doc);
    if (verdict !== undefined) return verdict;
    this.query ??= mongoQuery(this.filter);
    return this.query.test(doc);
  }
}

/**
 * Compiles a filter for testing many documents.
 *
 * @param filter - a MongoDB query document
 * @returns the predicate; its answers are mingo's
 */
export function compileFilterPredicate(filter: Filter): FilterPredicate {
  const parts = conjuncts(filter).map((part) => {
    const [[key, value]] = Object.entries(part) as [[string, unknown]];
    return new Conjunct(part, compileEntry(key, value));
  });
  return {
    test(doc) {
      for (const part of parts) if (!part.test(doc)) return false;
      return true;
    },
  };
}
