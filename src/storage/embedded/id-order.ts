/**
 * Index sets that can be read in `_id` order (MongoDB's code point order): the order is built when a search
 * sorted by `_id` reads the set and dropped whenever the set changes. A page sorted by `_id` then tests
 * candidates in order and stops once full, instead of testing and ranking every candidate.
 */
import { compareValues } from './sort-order';

/** A set of document ids that caches its `_id` order until it changes. */
export class IdSet extends Set<string> {
  private ordered: string[] | undefined;

  /**
   * @param key - the index key the set is stored under, so a document can keep a reference to the set (one
   *   pointer) instead of its own copy of the key string, and still remove an emptied set from its index
   */
  constructor(readonly key = '') {
    super();
  }

  /** {@inheritDoc Set.add} */
  override add(id: string): this {
    this.ordered = undefined;
    return super.add(id);
  }

  /** {@inheritDoc Set.delete} */
  override delete(id: string): boolean {
    this.ordered = undefined;
    return super.delete(id);
  }

  /** {@inheritDoc Set.clear} */
  override clear(): void {
    this.ordered = undefined;
    super.clear();
  }

  /**
   * The ids in ascending `_id` order.
   *
   * @returns the ids (shared until the set changes: do not modify)
   */
  inIdOrder(): readonly string[] {
    this.ordered ??= [...this].sort(compareValues);
    return this.ordered;
  }
}
