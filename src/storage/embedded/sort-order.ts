/**
 * MongoDB sort semantics for the embedded adapter.
 *
 * mingo's cursor sort compares arrays by their smallest element in both directions; MongoDB uses the smallest
 * element for ascending and the largest for descending sorts, treats an empty array as lower than null/missing,
 * and a path that reaches no value as null. These functions follow MongoDB so both adapters return the same
 * order (https://www.mongodb.com/docs/manual/reference/method/cursor.sort/#sort-with-arrays and
 * https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/).
 */
import type { TimeSlice } from '../../time-slice';
import type { Sort } from '../ports';

/** Sort key of an empty array: below null and missing values. */
const EMPTY_ARRAY = Symbol('empty-array');

/** Rank of a value's type in BSON comparison order (MinKey < null < numbers < strings < objects < arrays ...). */
function typeRank(value: unknown): number {
  if (value === EMPTY_ARRAY) return 0;
  if (value === null || value === undefined) return 1;
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    case 'boolean':
      return 8;
    case 'object':
      if (Array.isArray(value)) return 5;
      if (value instanceof Date) return 9;
      if (value instanceof RegExp) return 11;
      return 4;
    default:
      return 12;
  }
}

/** Code point (= UTF-8 byte) order, which is how MongoDB compares strings without a collation. */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (code points above U+FFFF) sort after every BMP character in code point order.
    const ra = ca >= 0xd800 && ca <= 0xdfff ? ca + 0x10000 : ca;
    const rb = cb >= 0xd800 && cb <= 0xdfff ? cb + 0x10000 : cb;
    return ra < rb ? -1 : 1;
  }
  return a.length - b.length;
}

function compareNumbers(a: number | bigint, b: number | bigint): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isNaN(na) || Number.isNaN(nb)) return Number.isNaN(na) ? (Number.isNaN(nb) ? 0 : -1) : 1;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const fa = ka[i] as string;
    const fb = kb[i] as string;
    const va = a[fa];
    const vb = b[fb];
    const byType = typeRank(va) - typeRank(vb);
    if (byType !== 0) return byType < 0 ? -1 : 1;
    const byName = compareStrings(fa, fb);
    if (byName !== 0) return byName;
    const byValue = compareValues(va, vb);
    if (byValue !== 0) return byValue;
  }
  return ka.length - kb.length;
}

/**
 * Compares two values in BSON comparison order.
 *
 * @param a - first value (may be the empty-array sort key)
 * @param b - second value
 * @returns negative, zero or positive like `Array.prototype.sort` comparators
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
    case 1:
      return 0;
    case 2:
      return compareNumbers(a as number, b as number);
    case 3:
      return compareStrings(a as string, b as string);
    case 4:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    case 5: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      const n = Math.min(xa.length, xb.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(xa[i], xb[i]);
        if (c !== 0) return c;
      }
      return xa.length - xb.length;
    }
    case 8:
      return Number(a) - Number(b);
    case 9:
      return compareNumbers((a as Date).getTime(), (b as Date).getTime());
    case 11:
      return compareStrings(String(a), String(b));
    default:
      return 0;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
}

/** Collects the values a dotted path reaches, expanding arrays the way MongoDB builds sort (index) keys. */
function collectKeys(value: unknown, parts: readonly string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      if (value.length === 0) out.push(EMPTY_ARRAY);
      else for (const element of value) out.push(element === undefined ? null : element);
    } else {
      out.push(value === undefined ? null : value);
    }
    return;
  }
  const part = parts[i] as string;
  if (Array.isArray(value)) {
    if (/^\d+$/.test(part)) {
      collectKeys(value[Number(part)], parts, i + 1, out);
      return;
    }
    if (value.length === 0) {
      out.push(null);
      return;
    }
    for (const element of value) {
      if (isPlainObject(element)) collectKeys(element[part], parts, i + 1, out);
      else out.push(null);
    }
    return;
  }
  if (isPlainObject(value)) {
    collectKeys(value[part], parts, i + 1, out);
    return;
  }
  out.push(null);
}

/**
 * The value a document sorts by for one sort key: the smallest reachable value for ascending sorts,
 * the largest for descending ones, null when the path reaches nothing.
 *
 * @param doc - the document
 * @param path - a dotted field path
 * @param direction - 1 ascending, -1 descending
 * @returns the sort key
 */
export function sortKeyOf(doc: unknown, path: string, direction: 1 | -1): unknown {
  if (!path.includes('.') && isPlainObject(doc)) {
    // A top-level field holding one value (`_id`, `lastUpdated`): its own key, whatever the direction.
    const value = doc[path];
    if (!Array.isArray(value)) return value === undefined ? null : value;
  }
  const values: unknown[] = [];
  collectKeys(doc, path.split('.'), 0, values);
  let best: unknown = values[0];
  for (let i = 1; i < values.length; i++) {
    const c = compareValues(values[i], best);
    if (direction === 1 ? c < 0 : c > 0) best = values[i];
  }
  return best;
}

/**
 * Sorts documents by MongoDB rules. The sort is stable: documents with equal keys keep their input order.
 *
 * @param docs - documents to sort (not modified)
 * @param sort - sort keys in order
 * @returns a new, sorted array
 */
export function sortDocuments<T>(docs: readonly T[], sort: Sort): T[] {
  if (sort.length === 0) return docs.slice();
  const keyed = docs.map((doc) => ({ doc, keys: sort.map(([path, dir]) => sortKeyOf(doc, path, dir)) }));
  keyed.sort((x, y) => {
    for (let i = 0; i < sort.length; i++) {
      const c = compareValues(x.keys[i], y.keys[i]);
      if (c !== 0) return c * (sort[i] as [string, 1 | -1])[1];
    }
    return 0;
  });
  return keyed.map((k) => k.doc);
}

/**
 * The first `limit` documents by MongoDB sort rules, without sorting all of them: keeps a bounded, sorted window
 * (binary insertion), so selecting a page of 20 among n matches costs about n·log 20 comparisons. Stable like
 * {@link sortDocuments}.
 *
 * @param docs - documents in input order (not modified)
 * @param sort - sort keys in order
 * @param limit - how many to keep
 * @param slice - lets the event loop turn while many documents are placed (time-slice.ts)
 * @returns the first `limit` documents in sort order
 */
export async function selectSorted<T>(docs: readonly T[], sort: Sort, limit: number, slice?: TimeSlice): Promise<T[]> {
  if (sort.length === 0 || limit >= docs.length) return sortDocuments(docs, sort).slice(0, limit);
  if (limit <= 0) return [];
  const compare = (x: unknown[], y: unknown[]): number => {
    for (let i = 0; i < sort.length; i++) {
      const c = compareValues(x[i], y[i]);
      if (c !== 0) return c * (sort[i] as [string, 1 | -1])[1];
    }
    return 0;
  };
  const window: Array<{ doc: T; keys: unknown[] }> = [];
  let placed = 0;
  for (const doc of docs) {
    if (slice && ++placed % 64 === 0) await slice.breathe();
    const keys = sort.map(([path, dir]) => sortKeyOf(doc, path, dir));
    if (window.length === limit && compare(keys, (window[limit - 1] as { keys: unknown[] }).keys) >= 0) continue;
    // Insert after every entry that sorts before or equal to it (stability).
    let lo = 0;
    let hi = window.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare((window[mid] as { keys: unknown[] }).keys, keys) <= 0) lo = mid + 1;
      else hi = mid;
    }
    window.splice(lo, 0, { doc, keys });
    if (window.length > limit) window.pop();
  }
  return window.map((entry) => entry.doc);
}
