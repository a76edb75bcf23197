/**
 * Keyset arithmetic over a sort order (MongoDB semantics: null/missing lowest, then numbers, then strings in
 * code point order; `_id` is always the last field, so keys are unique): the filter selecting the documents
 * strictly after or before a key, reading a document's key, and comparing keys in memory exactly as the
 * store orders them.
 */
import type { Filter, ResourceDocument, Sort } from '../../storage/ports';
import type { KeyValue } from './cursor';

/** A filter no document matches. */
const NOTHING: Filter = { _id: { $in: [] } };

function equals(field: string, value: KeyValue): Filter {
  return value === null ? { [field]: { $exists: false } } : { [field]: { $eq: value } };
}

/** Documents whose field comes after `value` in the field's direction; undefined when none can. */
function after(field: string, value: KeyValue, direction: 1 | -1): Filter | undefined {
  if (direction === 1) return value === null ? { [field]: { $exists: true } } : { [field]: { $gt: value } };
  if (value === null) return undefined;
  return { $or: [{ [field]: { $lt: value } }, { [field]: { $exists: false } }] };
}

/**
 * The filter selecting documents strictly after (`next`) or before (`previous`) a key in a sort order.
 * @param sort - the sort fields, `_id` last
 * @param key - one value per field
 * @param direction - which side of the key
 * @returns the filter
 */
export function keysetFilter(sort: Sort, key: readonly KeyValue[], direction: 'next' | 'previous'): Filter {
  const branches: Filter[] = [];
  for (const [i, [field, dir]] of sort.entries()) {
    const value = key[i] ?? null;
    const condition = after(field, value, direction === 'next' ? dir : dir === 1 ? -1 : 1);
    if (condition) {
      const prefix = sort.slice(0, i).map(([f], j) => equals(f, key[j] ?? null));
      branches.push(prefix.length > 0 ? { $and: [...prefix, condition] } : condition);
    }
  }
  if (branches.length === 0) return NOTHING;
  return branches.length === 1 ? (branches[0] as Filter) : { $or: branches };
}

function valueAt(doc: unknown, path: string): KeyValue {
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return null;
    current = (current as Record<string, unknown>)[part];
  }
  if (typeof current === 'string') return current;
  if (typeof current === 'number' && Number.isFinite(current)) return current;
  return null;
}

/**
 * A document's key in a sort order.
 * @param sort - the sort fields
 * @param doc - the document whose field values are read (a current document or a history row)
 * @param currentId - the current document's `_id` (history rows have their own `_id`)
 * @returns the key
 */
export function documentKey(sort: Sort, doc: ResourceDocument, currentId: string = doc._id): KeyValue[] {
  return sort.map(([field]) => (field === '_id' ? currentId : valueAt(doc, field)));
}

function rank(value: KeyValue): number {
  if (value === null) return 0;
  return typeof value === 'number' ? 1 : 2;
}

function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates encode code points above U+FFFF, which sort after every BMP character.
    if (ca >= 0xd800 && ca <= 0xdfff) ca += 0x10000;
    if (cb >= 0xd800 && cb <= 0xdfff) cb += 0x10000;
    return ca < cb ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareValues(a: KeyValue, b: KeyValue): number {
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank < 0 ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return 0;
}

/**
 * Compares two keys in a sort order.
 * @param sort - the sort fields
 * @param a - a key
 * @param b - another key
 * @returns negative when a comes first, positive when b does, 0 when equal
 */
export function compareKeys(sort: Sort, a: readonly KeyValue[], b: readonly KeyValue[]): number {
  for (const [i, [, dir]] of sort.entries()) {
    const c = compareValues(a[i] ?? null, b[i] ?? null);
    if (c !== 0) return c * dir;
  }
  return 0;
}

/**
 * The sort reversed (for fetching the page before a key).
 * @param sort - the sort fields
 * @returns every direction flipped
 */
export function reverseSort(sort: Sort): Sort {
  return sort.map(([field, dir]) => [field, dir === 1 ? -1 : 1]);
}
