/**
 * Index sets in `_id` order (MongoDB's code point order), built when a search sorted by `_id` reads a set and
 * dropped whenever the set changes. A page sorted by `_id` then tests candidates in order and stops once full,
 * instead of testing and ranking every candidate.
 */
import { compareValues } from './sort-order';

const sortedIds = new WeakMap<Set<string>, string[]>();

/**
 * The ids of a set in `_id` order (cached until {@link orderChanged} is called for the set).
 *
 * @param set - an index set
 * @returns the ids, ascending (shared: do not modify)
 */
export function inIdOrder(set: Set<string>): readonly string[] {
  let sorted = sortedIds.get(set);
  if (!sorted) {
    sorted = [...set].sort(compareValues);
    sortedIds.set(set, sorted);
  }
  return sorted;
}

/**
 * Forgets the cached order of a set; every add or delete on an index set must call it.
 *
 * @param set - the set that changed
 */
export function orderChanged(set: Set<string>): void {
  sortedIds.delete(set);
}
