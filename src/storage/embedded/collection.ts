/**
 * The current-version documents of the embedded store and their in-memory indexes:
 * - a partition by (project, type), so a search never looks outside the project(s) it names;
 * - `_id` lookups;
 * - an inverted index from (path, scalar value) to ids for `id`, `uniqueKeys` and every scalar or array element
 *   under `index` (objects such as `{system, code}` are indexed by dotted path, `index.code.system`);
 * - the holders of unique keys among non-deleted documents, per project.
 * Candidate sets come from {@link analyzeFilter}; {@link compileFilterPredicate} (mingo's answer, computed natively
 * for the common shapes) makes the final decision on each candidate.
 */
import type { Filter, FindOptions, ResourceDocument } from '../ports';
import { compileFilterPredicate } from './filter-predicate';
import { analyzeFilter, isIndexScalar, scalarKey } from './query-plan';
import type { QueryPlan } from './query-plan';
import { selectSorted, sortDocuments } from './sort-order';

/** A set of candidate ids with a cheap size, used to pick the most selective source. */
interface Candidates {
  size: number;
  ids: Iterable<string>;
}

const SEP = '\u0000';

function invertedKey(path: string, value: unknown): string | undefined {
  return isIndexScalar(value) ? `${path}${SEP}${scalarKey(value)}` : undefined;
}

/** Adds the inverted-index keys of every scalar reachable under `value` (arrays expanded, objects by path). */
function collectIndexKeys(value: unknown, path: string, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const element of value) collectIndexKeys(element, path, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) collectIndexKeys(child, `${path}.${key}`, out);
  } else {
    const key = invertedKey(path, value);
    if (key !== undefined) out.add(key);
  }
}

function indexKeysOf(doc: ResourceDocument): string[] {
  const keys = new Set<string>();
  collectIndexKeys(doc.id, 'id', keys);
  if (doc.uniqueKeys) collectIndexKeys(doc.uniqueKeys, 'uniqueKeys', keys);
  if (doc.index && typeof doc.index === 'object') collectIndexKeys(doc.index, 'index', keys);
  return [...keys];
}

function addToSetMap<K>(map: Map<K, Set<string>>, key: K, id: string): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(id);
}

function removeFromSetMap<K>(map: Map<K, Set<string>>, key: K, id: string): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) map.delete(key);
}

function intersect(lists: string[][]): string[] | undefined {
  if (lists.length === 0) return undefined;
  return lists.reduce((acc, list) => acc.filter((v) => list.includes(v)));
}

function* concat(sets: Iterable<Iterable<string>>): Iterable<string> {
  for (const set of sets) yield* set;
}

/** The current document of every resource, with the indexes that narrow searches. */
export class ResourceCollection {
  private readonly docs = new Map<string, { doc: ResourceDocument; keys: string[] }>();
  /** project → type → ids */
  private readonly partitions = new Map<string, Map<string, Set<string>>>();
  private readonly inverted = new Map<string, Set<string>>();
  /** `${project}\0${uniqueKey}` → id of the non-deleted current document holding it */
  private readonly uniqueHolders = new Map<string, string>();
  /**
   * An upper bound of every `lastUpdated` ever stored (the largest string seen; it never decreases), or null
   * once a non-string value was stored. A search for documents written since a later instant (the "changed
   * since the snapshot" half of every search page) then needs no candidates at all.
   */
  private latestUpdate: string | null = '';

  /** Number of current documents (including deletion markers). */
  get size(): number {
    return this.docs.size;
  }

  /**
   * The stored current document (shared, never to be mutated), or undefined.
   *
   * @param id - the document `_id` (`project/type/id`)
   */
  get(id: string): ResourceDocument | undefined {
    return this.docs.get(id)?.doc;
  }

  /**
   * The id of the non-deleted current document holding a unique key in a project.
   *
   * @param project - the project
   * @param uniqueKey - the key, e.g. `User.email|a@b.c`
   */
  holderOf(project: string, uniqueKey: string): string | undefined {
    return this.uniqueHolders.get(`${project}${SEP}${uniqueKey}`);
  }

  /**
   * Stores a document as the current version of its `_id`, replacing the previous one and its index entries.
   *
   * @param doc - the new current document (owned by the collection from now on)
   */
  put(doc: ResourceDocument): void {
    const previous = this.docs.get(doc._id);
    if (previous) this.unindex(previous.doc, previous.keys);
    const keys = indexKeysOf(doc);
    this.docs.set(doc._id, { doc, keys });
    let types = this.partitions.get(doc.project);
    if (!types) {
      types = new Map();
      this.partitions.set(doc.project, types);
    }
    addToSetMap(types, doc.type, doc._id);
    this.noteUpdate(doc.lastUpdated);
    for (const key of keys) addToSetMap(this.inverted, key, doc._id);
    if (!doc.deleted) {
      for (const key of doc.uniqueKeys ?? []) this.uniqueHolders.set(`${doc.project}${SEP}${key}`, doc._id);
    }
  }

  private noteUpdate(lastUpdated: unknown): void {
    if (this.latestUpdate === null) return;
    if (typeof lastUpdated !== 'string') this.latestUpdate = null;
    else if (lastUpdated > this.latestUpdate) this.latestUpdate = lastUpdated;
  }

  /** Whether a lower bound on `lastUpdated` excludes every stored document (mingo compares strings with `<`). */
  private beyondLatestUpdate(plan: QueryPlan): boolean {
    const latest = this.latestUpdate;
    if (latest === null) return false;
    return plan.updatedSince.some(({ value, inclusive }) => (inclusive ? value > latest : value >= latest));
  }

  private unindex(doc: ResourceDocument, keys: string[]): void {
    const types = this.partitions.get(doc.project);
    if (types) {
      removeFromSetMap(types, doc.type, doc._id);
      if (types.size === 0) this.partitions.delete(doc.project);
    }
    for (const key of keys) removeFromSetMap(this.inverted, key, doc._id);
    for (const key of doc.uniqueKeys ?? []) {
      const holderKey = `${doc.project}${SEP}${key}`;
      if (this.uniqueHolders.get(holderKey) === doc._id) this.uniqueHolders.delete(holderKey);
    }
  }

  /** Every current document, in no particular order (shared objects). */
  *values(): IterableIterator<ResourceDocument> {
    for (const entry of this.docs.values()) yield entry.doc;
  }

  /**
   * Current documents matching a filter, sorted and paged by MongoDB rules.
   *
   * @param filter - a MongoDB query document
   * @param options - sort, skip and limit
   * @returns the stored documents (shared: clone before handing them out)
   */
  find(filter: Filter, options: FindOptions = {}): ResourceDocument[] {
    const query = compileFilterPredicate(filter);
    const skip = options.skip ?? 0;
    const limit = options.limit;
    const sorted = options.sort !== undefined && options.sort.length > 0;
    const matched: ResourceDocument[] = [];
    for (const id of this.candidates(filter)) {
      const doc = this.docs.get(id)?.doc;
      if (doc === undefined || !query.test(doc as unknown as Record<string, unknown>)) continue;
      matched.push(doc);
      if (!sorted && limit !== undefined && matched.length >= skip + limit) break;
    }
    if (sorted && limit !== undefined) return selectSorted(matched, options.sort ?? [], skip + limit).slice(skip);
    const ordered = sorted ? sortDocuments(matched, options.sort ?? []) : matched;
    return ordered.slice(skip, limit === undefined ? undefined : skip + limit);
  }

  /**
   * Number of current documents matching a filter.
   *
   * @param filter - a MongoDB query document
   */
  count(filter: Filter): number {
    const query = compileFilterPredicate(filter);
    let n = 0;
    for (const id of this.candidates(filter)) {
      const doc = this.docs.get(id)?.doc;
      if (doc !== undefined && query.test(doc as unknown as Record<string, unknown>)) n++;
    }
    return n;
  }

  /**
   * The ids a search must test: the smallest candidate set the filter's index predicates allow, falling back to
   * the (project, type) partitions and, only when the filter names no project, to every document.
   *
   * @param filter - a MongoDB query document
   */
  candidates(filter: Filter): Iterable<string> {
    return (this.narrow(analyzeFilter(filter)) ?? { size: this.docs.size, ids: this.docs.keys() }).ids;
  }

  private narrow(plan: QueryPlan): Candidates | undefined {
    if (this.beyondLatestUpdate(plan)) return { size: 0, ids: [] };
    const sources: Candidates[] = [];
    const ids = intersect(plan.ids);
    if (ids) sources.push({ size: ids.length, ids });
    for (const field of plan.fields) sources.push(this.fieldCandidates(field.path, field.values));
    const partition = this.partitionCandidates(plan);
    if (partition) sources.push(partition);
    for (const branches of plan.alternatives) {
      const parts = branches.map((branch) => this.narrow(branch));
      if (parts.every((p): p is Candidates => p !== undefined)) sources.push(this.union(parts));
    }
    let best: Candidates | undefined;
    for (const source of sources) if (!best || source.size < best.size) best = source;
    return best;
  }

  private fieldCandidates(path: string, values: unknown[]): Candidates {
    const sets: Set<string>[] = [];
    for (const value of values) {
      const key = invertedKey(path, value);
      const set = key === undefined ? undefined : this.inverted.get(key);
      if (set) sets.push(set);
    }
    if (sets.length <= 1) return { size: sets[0]?.size ?? 0, ids: sets[0] ?? [] };
    return this.union(sets.map((set) => ({ size: set.size, ids: set })));
  }

  private partitionCandidates(plan: QueryPlan): Candidates | undefined {
    const projects = intersect(plan.projects);
    if (projects === undefined) return undefined;
    const types = intersect(plan.types);
    const sets: Set<string>[] = [];
    for (const project of new Set(projects)) {
      const byType = this.partitions.get(project);
      if (!byType) continue;
      if (types === undefined) sets.push(...byType.values());
      else {
        for (const type of new Set(types)) {
          const set = byType.get(type);
          if (set) sets.push(set);
        }
      }
    }
    return { size: sets.reduce((n, s) => n + s.size, 0), ids: concat(sets) };
  }

  /** A lazy union; its size is an upper bound (duplicates are dropped while iterating). */
  private union(parts: Candidates[]): Candidates {
    function* unique(): Iterable<string> {
      const seen = new Set<string>();
      for (const part of parts) {
        for (const id of part.ids) {
          if (seen.has(id)) continue;
          seen.add(id);
          yield id;
        }
      }
    }
    return { size: parts.reduce((n, p) => n + p.size, 0), ids: unique() };
  }
}
