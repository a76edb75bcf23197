/**
 * The current-version documents of the embedded store and their in-memory indexes:
 * - a partition by (project, type), so a search never looks outside the project(s) it names;
 * - `_id` lookups;
 * - an inverted index from (path, scalar value) to ids for `id`, `uniqueKeys` and the scalars or array elements
 *   under `index` (objects such as `{system, code}` are indexed by dotted path, `index.code.system`); an `index.*`
 *   path is indexed from the first search that asks for it on (one pass over the documents), so values no search
 *   looks up by equality (folded strings, date bounds, numbers) cost neither memory nor write time;
 * - the holders of unique keys among non-deleted documents, per project.
 * Candidate sets come from {@link analyzeFilter}; {@link compileFilterPredicate} (mingo's answer, computed natively
 * for the common shapes) makes the final decision on each candidate.
 *
 * Memory: with a {@link DocumentSource} (the store's journal), a document is not kept in memory once indexed: the
 * collection holds its head (the top-level fields other than `resource`, `index` and `sort`) and the slot of its
 * journal position, and loads the document back when a search or read needs it (a `pread` and a `JSON.parse`),
 * with a small LRU of recently loaded documents. A filter on head fields only is tested on the head; exact
 * element-index answers are not tested at all. Without a source (unit tests), documents stay in memory.
 */
import { TimeSlice } from '../../time-slice';
import type { Filter, FindOptions, ResourceDocument } from '../ports';
import { elementCoverage, ElementIndexes, isCompleteElementEquality } from './element-index';
import type { ElementCoverage, ElementIndex } from './element-index';
import { compileFilterPredicate } from './filter-predicate';
import type { FilterPredicate } from './filter-predicate';
import { analyzeFilter, isIndexScalar, scalarKey } from './query-plan';
import type { QueryPlan } from './query-plan';
import { IdSet } from './id-order';
import { compareValues, selectSorted, sortDocuments } from './sort-order';

/** A set of candidate ids with a cheap size, used to pick the most selective source. */
interface Candidates {
  size: number;
  ids: Iterable<string>;
  /** Set when the candidates are exactly one index set (which can then be read in `_id` order). */
  set?: IdSet;
  /** True when the candidates are exactly the matches (element indexes, no residual condition). */
  exact?: boolean;
  /**
   * True when the candidates come from the element indexes: they hold exactly the live documents of the project
   * and type(s) meeting the filter's complete element equalities, which therefore need no test.
   */
  elementsCovered?: boolean;
}

/** How candidates are tested: conditions on head fields on the head, the rest on the document. */
interface Matcher {
  head?: FilterPredicate;
  doc?: FilterPredicate;
}

function addConjuncts(filter: Filter, out: Array<[string, unknown]>): void {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value) && value.length > 0 && value.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) {
      for (const member of value as Filter[]) addConjuncts(member, out);
    } else out.push([key, value]);
  }
}

/**
 * Splits a filter's top-level conjunction: conditions that only name head fields are tested on the head (no load),
 * complete element equalities answered by the candidates are not tested, the rest is tested on the document.
 */
function matcherOf(filter: Filter, candidates: Candidates): Matcher {
  if (candidates.exact) return {};
  const conjuncts: Array<[string, unknown]> = [];
  addConjuncts(filter, conjuncts);
  const head: Filter[] = [];
  const doc: Filter[] = [];
  for (const [key, value] of conjuncts) {
    const part = { [key]: value } as Filter;
    if (onlyHeadFields(part)) head.push(part);
    else if (!(candidates.elementsCovered && isCompleteElementEquality(key, value))) doc.push(part);
  }
  const compile = (parts: Filter[]): FilterPredicate | undefined =>
    parts.length === 0 ? undefined : compileFilterPredicate(parts.length === 1 ? (parts[0] as Filter) : { $and: parts });
  return { head: compile(head), doc: compile(doc) };
}

/** The top-level fields of a stored document other than `resource`, `index` and `sort`. */
export type DocumentHead = Omit<ResourceDocument, 'resource' | 'index' | 'sort'>;

/** Loads a document back from where it is stored durably (the journal), by the slot it was put with. */
export interface DocumentSource {
  /**
   * @param slot - the slot given to {@link ResourceCollection.put}
   * @param id - the document `_id`, checked against what was read
   * @returns a new object, owned by the caller
   */
  load(slot: number, id: string): ResourceDocument;
}

/** An element index definition as a snapshot holds it. */
export interface ElementDefinition {
  project: string;
  type: string;
  path: string;
  fields: string[];
  irregular: number;
}

/** A collection's state at one instant (see {@link ResourceCollection.captureState}). */
export interface CollectionCapture {
  paths: string[];
  definitions: Array<ElementDefinition & { postings: Array<[string, string[]]> }>;
  entries: readonly Entry[];
  inverted: Array<[string, string[]]>;
}

/** What {@link ResourceCollection.restore} rebuilds from. */
export interface CollectionRestore {
  documents: ReadonlyArray<{ head: DocumentHead; slot: number }>;
  paths: readonly string[];
  inverted: ReadonlyArray<[string, readonly string[]]>;
  definitions: readonly ElementDefinition[];
  /** Per definition: value key → ids. */
  elementPostings: ReadonlyArray<Array<[string, string[]]>>;
}

interface Entry {
  head: DocumentHead;
  /** The whole document when the collection has no source; undefined otherwise. */
  doc?: ResourceDocument;
  /** Where the source finds the document. */
  slot: number;
}

/** Default number of loaded documents kept (parsed) for repeated reads. */
export const DEFAULT_DOCUMENT_CACHE_SIZE = 1024;

/**
 * A search page of more documents than this is a scan (an export, a large `_count`): its documents are served from
 * the cache when there but not added to it, so a scan neither flushes the documents that reads repeat nor keeps
 * every document it passes alive long enough to reach the old generation of the heap.
 */
const SCAN_PAGE_SIZE = 100;

const HEAD_FIELDS: ReadonlySet<string> = new Set(['_id', 'project', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'method', 'uniqueKeys']);

/** Strings many documents repeat (projects, types, methods): one copy each. */
const interned = new Map<string, string>();
const MAX_INTERNED = 10_000;

function intern<T>(value: T): T {
  if (typeof value !== 'string') return value;
  const known = interned.get(value);
  if (known !== undefined) return known as T;
  if (interned.size < MAX_INTERNED) interned.set(value, value);
  return value;
}

function headOf(doc: DocumentHead): DocumentHead {
  const head: DocumentHead = {
    _id: doc._id,
    project: intern(doc.project),
    type: intern(doc.type),
    id: doc.id,
    versionId: doc.versionId,
    lastUpdated: doc.lastUpdated,
    deleted: doc.deleted,
    method: intern(doc.method),
  };
  if (doc.uniqueKeys !== undefined) head.uniqueKeys = doc.uniqueKeys;
  return head;
}

/** Whether a filter only names top-level head fields (so a head answers it as the whole document would). */
function onlyHeadFields(filter: unknown): boolean {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) return false;
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(value) || !value.every(onlyHeadFields)) return false;
    } else if (!HEAD_FIELDS.has(key)) return false;
  }
  return true;
}

/** The direction of a sort on `_id` alone, or undefined for any other sort. */
function idOnlyDirection(options: FindOptions): 1 | -1 | undefined {
  const sort = options.sort;
  return sort !== undefined && sort.length === 1 && sort[0]?.[0] === '_id' ? sort[0][1] : undefined;
}

/** An `_id` bound a filter's conjunction states: in the scan's direction, ids not beyond it cannot match. */
interface IdBound {
  value: string;
  inclusive: boolean;
}

/**
 * The bound on `_id` a filter states in a scan's direction (`$gt`/`$gte` forwards, `$lt`/`$lte` backwards), found in
 * its top-level conjunction (the keys of the filter object and of `$and` members, recursively).
 * @param filter - the filter
 * @param direction - the scan's direction
 * @returns the first bound found (any one is a necessary condition), or undefined
 */
function idBound(filter: Filter, direction: 1 | -1): IdBound | undefined {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const part of value) {
        const bound = part !== null && typeof part === 'object' && !Array.isArray(part) ? idBound(part as Filter, direction) : undefined;
        if (bound) return bound;
      }
    } else if (key === '_id' && value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RegExp)) {
      const condition = value as Record<string, unknown>;
      for (const op of direction === 1 ? ['$gt', '$gte'] : ['$lt', '$lte']) {
        const bound = condition[op];
        if (typeof bound === 'string') return { value: bound, inclusive: op.length === 4 };
      }
    }
  }
  return undefined;
}

/**
 * The number of ids a scan in `direction` skips: those not beyond the bound (binary search in the sorted ids).
 * @param ids - the ids in ascending order
 * @param bound - the bound
 * @param direction - 1: from the first id up; -1: from the last id down
 * @returns the scan's first step
 */
function boundaryIndex(ids: readonly string[], bound: IdBound, direction: 1 | -1): number {
  // beyond(id): the id may match. Forwards that is id > value (≥ when inclusive); backwards id < value (≤).
  const beyond = (id: string): boolean => {
    const c = compareValues(id, bound.value) * direction;
    return c > 0 || (bound.inclusive && c === 0);
  };
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const id = ids[direction === 1 ? mid : ids.length - 1 - mid] as string;
    if (beyond(id)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const SEP = '\u0000';

/**
 * Documents tested between two looks at the clock: a scan lets the event loop turn once per time slice
 * (time-slice.ts), so a search over a large collection never blocks other requests long.
 */
export const YIELD_EVERY = 64;

function invertedKey(path: string, value: unknown): string | undefined {
  return isIndexScalar(value) ? `${path}${SEP}${scalarKey(value)}` : undefined;
}

/** The paths the inverted index holds, and every proper prefix of them (where a walk must descend). */
interface IndexedPaths {
  paths: Set<string>;
  prefixes: Set<string>;
}

/**
 * Adds the inverted-index keys of the scalars reachable under `value` (arrays expanded, objects by path) whose
 * path is indexed.
 */
function collectIndexKeys(value: unknown, path: string, indexed: IndexedPaths, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const element of value) collectIndexKeys(element, path, indexed, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}.${key}`;
      if (indexed.paths.has(childPath) || indexed.prefixes.has(childPath)) collectIndexKeys(child, childPath, indexed, out);
    }
  } else if (indexed.paths.has(path)) {
    const key = invertedKey(path, value);
    if (key !== undefined) out.add(key);
  }
}

function indexKeysOf(doc: ResourceDocument, indexed: IndexedPaths): string[] {
  if (doc.uniqueKeys === undefined && !indexed.prefixes.has('index')) return [];
  const keys = new Set<string>();
  if (doc.uniqueKeys) collectIndexKeys(doc.uniqueKeys, 'uniqueKeys', indexed, keys);
  if (doc.index && typeof doc.index === 'object' && indexed.prefixes.has('index')) collectIndexKeys(doc.index, 'index', indexed, keys);
  return [...keys];
}

function addToSetMap(map: Map<string, IdSet>, key: string, id: string): IdSet {
  let set = map.get(key);
  if (!set) {
    set = new IdSet(key);
    map.set(key, set);
  }
  set.add(id);
  return set;
}

function removeFromSetMap(map: Map<string, IdSet>, key: string, id: string): void {
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
  /** `_id` → the document's head, its slot and the index entries holding it */
  private readonly docs = new Map<string, Entry>();
  /** Recently loaded documents, least recently used first. */
  private readonly cache = new Map<string, ResourceDocument>();
  private readonly elements = new ElementIndexes();
  /** project → type → ids */
  private readonly partitions = new Map<string, Map<string, IdSet>>();
  private readonly inverted = new Map<string, IdSet>();
  private readonly indexed: IndexedPaths = { paths: new Set(['uniqueKeys']), prefixes: new Set() };
  /** `index.*` paths being indexed from the stored documents (searches on them wait). */
  private readonly filling = new Map<string, Promise<void>>();
  /** Resource id → the `_id`(s) of the documents with that id (the `id` field's index). */
  private readonly byResourceId = new Map<string, string | string[]>();
  /** `${project}\0${uniqueKey}` → id of the non-deleted current document holding it */
  private readonly uniqueHolders = new Map<string, string>();
  /**
   * An upper bound of every `lastUpdated` ever stored (the largest string seen; it never decreases), or null
   * once a non-string value was stored. A search for documents written since a later instant (the "changed
   * since the snapshot" half of every search page) then needs no candidates at all.
   */
  private latestUpdate: string | null = '';

  /**
   * @param source - where documents are loaded back from; without it, they stay in memory
   * @param cacheSize - how many loaded documents to keep for repeated reads
   */
  constructor(
    private readonly source?: DocumentSource,
    private readonly cacheSize = DEFAULT_DOCUMENT_CACHE_SIZE,
  ) {}

  /** Number of current documents (including deletion markers). */
  get size(): number {
    return this.docs.size;
  }

  /**
   * The head of the current document (shared, never to be mutated), or undefined.
   *
   * @param id - the document `_id` (`project/type/id`)
   */
  get(id: string): DocumentHead | undefined {
    return this.docs.get(id)?.head;
  }

  /**
   * The whole current document (shared, never to be mutated: clone it or freeze it), or undefined.
   *
   * @param id - the document `_id` (`project/type/id`)
   */
  document(id: string): ResourceDocument | undefined {
    const entry = this.docs.get(id);
    return entry && this.load(entry);
  }

  /** The slot a current document was put with. */
  slotOf(id: string): number | undefined {
    return this.docs.get(id)?.slot;
  }

  /** The whole document of an entry: kept, cached or loaded (and cached unless the caller scans). */
  private load(entry: Entry, cache = true): ResourceDocument {
    if (entry.doc) return entry.doc;
    const id = entry.head._id;
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.versionId === entry.head.versionId) {
      this.cache.delete(id);
      this.cache.set(id, cached);
      return cached;
    }
    const doc = (this.source as DocumentSource).load(entry.slot, id);
    if (doc._id !== id || doc.versionId !== entry.head.versionId) {
      throw new Error(`stored document ${id} (version ${entry.head.versionId}) was not found where it was written`);
    }
    if (cache) this.remember(doc);
    return doc;
  }

  private remember(doc: ResourceDocument): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(doc._id);
    this.cache.set(doc._id, doc);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  /**
   * Tests an entry: the conditions on head fields on its head, the others (if any) on the loaded document.
   */
  private matches(matcher: Matcher, entry: Entry): boolean {
    if (matcher.head && !matcher.head.test((entry.doc ?? entry.head) as unknown as Record<string, unknown>)) return false;
    if (!matcher.doc) return true;
    return matcher.doc.test((entry.doc ?? this.load(entry)) as unknown as Record<string, unknown>);
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
  put(doc: ResourceDocument, slot = -1): void {
    const previous = this.docs.get(doc._id);
    if (previous) this.unindex(previous);
    for (const key of indexKeysOf(doc, this.indexed)) addToSetMap(this.inverted, key, doc._id);
    if (!previous) this.noteResourceId(doc.id, doc._id);
    const kept = this.source === undefined || slot < 0;
    const entry: Entry = { head: headOf(doc), slot };
    if (kept) entry.doc = doc;
    this.elements.add(doc);
    this.docs.set(doc._id, entry);
    if (!kept && this.cache.has(doc._id)) this.remember(doc);
    this.partitionAdd(entry.head);
  }

  /**
   * Removes a current document and its index entries (an expunge: no deletion marker is left).
   *
   * @param id - the document `_id` (`project/type/id`)
   */
  remove(id: string): void {
    const entry = this.docs.get(id);
    if (!entry) return;
    this.unindex(entry);
    this.docs.delete(id);
    this.cache.delete(id);
    const known = this.byResourceId.get(entry.head.id);
    if (known === id) this.byResourceId.delete(entry.head.id);
    else if (Array.isArray(known)) {
      const rest = known.filter((docId) => docId !== id);
      if (rest.length === 1) this.byResourceId.set(entry.head.id, rest[0] as string);
      else this.byResourceId.set(entry.head.id, rest);
    }
  }

  private partitionAdd(head: DocumentHead): void {
    let types = this.partitions.get(head.project);
    if (!types) {
      types = new Map();
      this.partitions.set(head.project, types);
    }
    addToSetMap(types, head.type, head._id);
    this.noteUpdate(head.lastUpdated);
    if (!head.deleted) {
      for (const key of head.uniqueKeys ?? []) this.uniqueHolders.set(`${head.project}${SEP}${key}`, head._id);
    }
  }

  private noteResourceId(id: string, docId: string): void {
    const known = this.byResourceId.get(id);
    if (known === undefined) this.byResourceId.set(id, docId);
    else if (typeof known === 'string') this.byResourceId.set(id, [known, docId]);
    else known.push(docId);
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

  /**
   * Removes a replaced document from the indexes. Its inverted-index and element-index entries are computed again
   * from it (loaded when the indexes need it), so entries keep no record of them.
   */
  private unindex(entry: Entry): void {
    const head = entry.head;
    const types = this.partitions.get(head.project);
    if (types) {
      removeFromSetMap(types, head.type, head._id);
      if (types.size === 0) this.partitions.delete(head.project);
    }
    for (const key of head.uniqueKeys ?? []) {
      const holderKey = `${head.project}${SEP}${key}`;
      if (this.uniqueHolders.get(holderKey) === head._id) this.uniqueHolders.delete(holderKey);
    }
    const indexed = this.indexed.prefixes.has('index');
    if (!indexed && !this.elements.has(head.project, head.type)) {
      for (const key of head.uniqueKeys ?? []) removeFromSetMap(this.inverted, invertedKey('uniqueKeys', key) as string, head._id);
      return;
    }
    const doc = this.load(entry);
    for (const key of indexKeysOf(doc, this.indexed)) removeFromSetMap(this.inverted, key, head._id);
    this.elements.remove(doc);
  }

  /** Every current document, in no particular order (shared objects; loaded one by one). */
  *values(): IterableIterator<ResourceDocument> {
    for (const entry of this.docs.values()) yield this.load(entry);
  }

  /** Every current document's head, in no particular order (shared objects). */
  *heads(): IterableIterator<DocumentHead> {
    for (const entry of this.docs.values()) yield entry.head;
  }

  /**
   * Current documents matching a filter, sorted and paged by MongoDB rules. A long scan lets the event loop turn
   * once per time slice; documents written meanwhile are seen as they are when reached.
   *
   * @param filter - a MongoDB query document
   * @param options - sort, skip and limit
   * @returns the stored documents (shared: clone before handing them out)
   */
  async find(filter: Filter, options: FindOptions = {}): Promise<ResourceDocument[]> {
    const skip = options.skip ?? 0;
    const limit = options.limit;
    const candidates = await this.candidateSet(filter);
    const matcher = matcherOf(filter, candidates);
    const idDirection = idOnlyDirection(options);
    if (idDirection !== undefined && candidates.set) {
      return this.findInIdOrder(matcher, candidates, idDirection, skip, limit, idBound(filter, idDirection));
    }
    const sort = options.sort ?? [];
    const sorted = sort.length > 0;
    const sortOnHead = sort.every(([path]) => HEAD_FIELDS.has(path));
    const matched: Array<ResourceDocument | DocumentHead> = [];
    const slice = new TimeSlice();
    let tested = 0;
    for (const id of candidates.ids) {
      if (++tested % YIELD_EVERY === 0) await slice.breathe();
      const entry = this.docs.get(id);
      if (entry === undefined || !this.matches(matcher, entry)) continue;
      matched.push(sortOnHead || !sorted ? (entry.doc ?? entry.head) : this.load(entry));
      if (!sorted && limit !== undefined && matched.length >= skip + limit) break;
    }
    let page: Array<ResourceDocument | DocumentHead>;
    if (sorted && limit !== undefined) page = (await selectSorted(matched, sort, skip + limit, slice)).slice(skip);
    else page = (sorted ? sortDocuments(matched, sort) : matched).slice(skip, limit === undefined ? undefined : skip + limit);
    return this.documents(page, this.source !== undefined && (!sorted || sortOnHead), slice);
  }

  /**
   * The whole documents of a page.
   *
   * @param page - heads (loaded now) or documents (returned as they are)
   * @param heads - whether the page holds heads
   */
  private async documents(page: ReadonlyArray<ResourceDocument | DocumentHead>, heads: boolean, slice: TimeSlice): Promise<ResourceDocument[]> {
    if (!heads) return page as ResourceDocument[];
    const out: ResourceDocument[] = new Array<ResourceDocument>(page.length);
    const cache = page.length <= SCAN_PAGE_SIZE;
    for (let i = 0; i < page.length; i++) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await slice.breathe();
      const head = page[i] as DocumentHead;
      const entry = this.docs.get(head._id);
      if (entry !== undefined && (entry.head === head || entry.doc === head)) out[i] = this.load(entry, cache);
      else {
        // Replaced while the search let the event loop turn: the version the search matched is still returned.
        const former = this.formerVersion?.(head._id, head.versionId);
        if (former === undefined) throw new Error(`stored document ${head._id} version ${head.versionId} is gone`);
        out[i] = former;
      }
    }
    return out;
  }

  /** Loads a former version by current `_id` and versionId (set by the store: the history knows where they lie). */
  formerVersion: ((id: string, versionId: number) => ResourceDocument | undefined) | undefined;

  private async findInIdOrder(
    matcher: Matcher,
    candidates: Candidates,
    direction: 1 | -1,
    skip: number,
    limit: number | undefined,
    bound: IdBound | undefined,
  ): Promise<ResourceDocument[]> {
    const ids = (candidates.set as IdSet).inIdOrder();
    const wanted = limit === undefined ? Infinity : skip + limit;
    const matched: DocumentHead[] = [];
    const slice = new TimeSlice();
    const n = ids.length;
    // A keyset page starts after the cursor's `_id`: the ids before it cannot match, so the scan starts there instead
    // of testing every one of them (which made reading a type page by page cost in proportion to its size per page).
    const first = bound === undefined ? 0 : boundaryIndex(ids, bound, direction);
    for (let i = first; i < n && matched.length < wanted; i++) {
      if (i > first && (i - first) % YIELD_EVERY === 0) await slice.breathe();
      const entry = this.docs.get(ids[direction === 1 ? i : n - 1 - i] as string);
      if (entry !== undefined && this.matches(matcher, entry)) matched.push(entry.doc ?? entry.head);
    }
    return this.documents(matched.slice(skip), this.source !== undefined, slice);
  }

  /**
   * Number of current documents matching a filter.
   *
   * @param filter - a MongoDB query document
   */
  async count(filter: Filter): Promise<number> {
    const coverage = elementCoverage(filter);
    if (!coverage.residual) {
      // Project, type, `deleted: false` and complete element equalities only: the postings are the answer.
      const exact = await this.elementCandidates(coverage);
      if (exact) return exact.size;
    }
    const candidates = await this.candidateSet(filter);
    if (candidates.exact) return candidates.size;
    const matcher = matcherOf(filter, candidates);
    let n = 0;
    let tested = 0;
    const slice = new TimeSlice();
    for (const id of candidates.ids) {
      if (++tested % YIELD_EVERY === 0) await slice.breathe();
      const entry = this.docs.get(id);
      if (entry !== undefined && this.matches(matcher, entry)) n++;
    }
    return n;
  }

  /**
   * The ids a search must test: the smallest candidate set the filter's index predicates allow, falling back to
   * the (project, type) partitions and, only when the filter names no project, to every document.
   *
   * @param filter - a MongoDB query document
   */
  async candidates(filter: Filter): Promise<string[]> {
    return [...(await this.candidateSet(filter)).ids];
  }

  private async candidateSet(filter: Filter): Promise<Candidates> {
    const plan = analyzeFilter(filter);
    if (this.beyondLatestUpdate(plan)) return { size: 0, ids: [] };
    const coverage = elementCoverage(filter);
    const exact = await this.elementCandidates(coverage);
    // An `index.*` path is indexed for equality lookups only when the element indexes cannot answer (filling it
    // reads every stored document).
    if (!exact) await this.indexPaths(plan);
    const narrowed = this.narrow(plan);
    if (narrowed?.size === 0) return narrowed;
    if (exact && (!narrowed || exact.size <= narrowed.size)) return coverage.residual ? { ...exact, elementsCovered: true } : { ...exact, exact: true };
    return narrowed ?? { size: this.docs.size, ids: this.docs.keys() };
  }

  /**
   * The live documents of the filter's project and types holding every element equality of the filter, from the
   * element indexes (exact: `size` is their number). Undefined when the filter names no single project, no type,
   * no `deleted: false` or no element equality, or when an index cannot be used.
   */
  private async elementCandidates(coverage: ElementCoverage): Promise<Candidates | undefined> {
    const { project, types } = coverage;
    if (!coverage.live || project === undefined || types === undefined || coverage.elements.length === 0) return undefined;
    const perType: Array<IdSet | string[]> = [];
    for (const type of types) {
      const postings: IdSet[] = [];
      for (const element of coverage.elements) {
        const index = await this.elements.indexFor(project, type, element, () => this.partitionMembers(project, type), (id, entry) =>
          this.loadIfCurrent(id, entry),
        );
        if (!index) return undefined;
        postings.push(ElementIndexes.posting(index, element) ?? new IdSet());
      }
      postings.sort((a, b) => a.size - b.size);
      const [smallest, ...others] = postings as [IdSet, ...IdSet[]];
      perType.push(others.length === 0 ? smallest : [...smallest].filter((id) => others.every((set) => set.has(id))));
    }
    const [only] = perType;
    if (perType.length === 1 && only instanceof IdSet) return { size: only.size, ids: only, set: only };
    const size = perType.reduce((n, ids) => n + (ids instanceof Set ? ids.size : ids.length), 0);
    return { size, ids: concat(perType) };
  }

  /** The partition's ids and entries at this instant (for filling a new element index). */
  private partitionMembers(project: string, type: string): Array<[string, unknown]> {
    const out: Array<[string, unknown]> = [];
    for (const id of this.partitions.get(project)?.get(type) ?? []) {
      const entry = this.docs.get(id);
      if (entry) out.push([id, entry]);
    }
    return out;
  }

  /** The document of an entry captured earlier, unless it was replaced since. */
  private loadIfCurrent(id: string, captured: unknown): ResourceDocument | undefined {
    const entry = this.docs.get(id);
    if (entry !== captured || entry === undefined) return undefined;
    return entry.doc ?? (this.source as DocumentSource).load(entry.slot, id);
  }

  private narrow(plan: QueryPlan): Candidates | undefined {
    if (this.beyondLatestUpdate(plan)) return { size: 0, ids: [] };
    const sources: Candidates[] = [];
    const ids = intersect(plan.ids);
    if (ids) sources.push({ size: ids.length, ids });
    for (const field of plan.fields) {
      // Only paths already indexed (and not being filled) narrow; the filter itself is tested on the candidates.
      if (field.path === 'id' || (this.indexed.paths.has(field.path) && !this.filling.has(field.path))) {
        sources.push(this.fieldCandidates(field.path, field.values));
      }
    }
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

  /**
   * The state at this instant, for a snapshot: the indexed paths, the element index definitions, every current
   * entry and the members of every index set (copied). Entries are replaced on writes, never changed, so the
   * capture stays valid while writes continue. Paths and definitions still being filled are left out.
   */
  captureState(): CollectionCapture {
    const paths = [...this.indexed.paths].filter((path) => !this.filling.has(path));
    const pathSet = new Set(paths);
    const inverted: Array<[string, string[]]> = [];
    for (const [key, set] of this.inverted) if (pathSet.has(key.slice(0, key.indexOf(SEP)))) inverted.push([key, [...set]]);
    return {
      paths,
      definitions: this.elements.definitions().map((d) => ({
        project: d.project,
        type: d.type,
        path: d.path,
        fields: d.fields,
        irregular: d.index.irregular,
        postings: [...d.index.postings].map(([key, set]): [string, string[]] => [key, [...set]]),
      })),
      entries: [...this.docs.values()],
      inverted,
    };
  }

  /**
   * One snapshot line per captured entry: `[project, type, id, versionId, lastUpdated, deleted, method,
   * uniqueKeys?]`.
   */
  static *documentLines(capture: CollectionCapture): Iterable<string> {
    for (const { head: h } of capture.entries) {
      const head: unknown[] = [h.project, h.type, h.id, h.versionId, h.lastUpdated, h.deleted, h.method];
      if (h.uniqueKeys !== undefined) head.push(h.uniqueKeys);
      yield JSON.stringify(head);
    }
  }

  /**
   * Snapshot lines of the index sets, ids given as document numbers (positions in `capture.entries`):
   * `["i", key, numbers]` for the inverted index, `["e", definitionNumber, valueKey, numbers]` for element indexes.
   */
  static *postingLines(capture: CollectionCapture, numbers: ReadonlyMap<string, number>): Iterable<string> {
    const numbered = (ids: readonly string[]): number[] => ids.map((id) => numbers.get(id) as number);
    for (const [key, ids] of capture.inverted) yield JSON.stringify(['i', key, numbered(ids)]);
    for (const [n, d] of capture.definitions.entries()) {
      for (const [key, ids] of d.postings) yield JSON.stringify(['e', n, key, numbered(ids)]);
    }
  }

  /**
   * Restores a snapshot: its documents' heads (with their slots), indexed paths, element definitions and index
   * sets. Called on an empty collection.
   */
  restore(snapshot: CollectionRestore): void {
    for (const { head, slot } of snapshot.documents) {
      const entry: Entry = { head: headOf(head), slot };
      this.docs.set(head._id, entry);
      this.noteResourceId(head.id, head._id);
      this.partitionAdd(entry.head);
    }
    for (const path of snapshot.paths) {
      this.indexed.paths.add(path);
      const parts = path.split('.');
      for (let i = 1; i < parts.length; i++) this.indexed.prefixes.add(parts.slice(0, i).join('.'));
    }
    for (const [key, ids] of snapshot.inverted) for (const id of ids) addToSetMap(this.inverted, key, id);
    snapshot.definitions.forEach((d, n) => {
      const index = this.elements.define(d.project, d.type, d.path, d.fields);
      if (index) ElementIndexes.restore(index, d.irregular, snapshot.elementPostings[n] ?? []);
    });
  }

  /** Makes sure every `index.*` path the plan looks up by equality is indexed (waiting for one being filled). */
  private async indexPaths(plan: QueryPlan): Promise<void> {
    const paths = new Set<string>();
    const collect = (p: QueryPlan): void => {
      for (const field of p.fields) if (field.path !== 'id') paths.add(field.path);
      for (const branches of p.alternatives) branches.forEach(collect);
    };
    collect(plan);
    for (const path of paths) {
      if (!this.indexed.paths.has(path)) {
        const fill = this.indexPath(path);
        this.filling.set(path, fill);
        const done = (): void => {
          if (this.filling.get(path) === fill) this.filling.delete(path);
        };
        fill.then(done, () => {
          // A document could not be read: the path's entries are incomplete, so it is indexed again on next use.
          this.indexed.paths.delete(path);
          for (const key of [...this.inverted.keys()]) if (key.startsWith(`${path}${SEP}`)) this.inverted.delete(key);
          done();
        });
      }
      const filling = this.filling.get(path);
      if (filling) await filling;
    }
  }

  /**
   * Adds an `index.*` path to the inverted index, indexing the stored documents' values under it a time slice at
   * a time. Documents written meanwhile are indexed by {@link put} (the path counts as indexed from the start).
   */
  private async indexPath(path: string): Promise<void> {
    const single: IndexedPaths = { paths: new Set([path]), prefixes: new Set() };
    const parts = path.split('.');
    for (let i = 1; i < parts.length; i++) single.prefixes.add(parts.slice(0, i).join('.'));
    this.indexed.paths.add(path);
    for (const prefix of single.prefixes) this.indexed.prefixes.add(prefix);
    const slice = new TimeSlice();
    let n = 0;
    for (const [id, entry] of [...this.docs]) {
      if (++n % YIELD_EVERY === 0) await slice.breathe();
      // Replaced meanwhile: put() indexed the new version (the path counts as indexed).
      const doc = this.loadIfCurrent(id, entry);
      const index = doc?.index;
      if (!index || typeof index !== 'object') continue;
      const keys = new Set<string>();
      collectIndexKeys(index, 'index', single, keys);
      for (const key of keys) addToSetMap(this.inverted, key, id);
    }
  }

  private fieldCandidates(path: string, values: unknown[]): Candidates {
    if (path === 'id') {
      const ids: string[] = [];
      for (const value of values) {
        const known = typeof value === 'string' ? this.byResourceId.get(value) : undefined;
        if (typeof known === 'string') ids.push(known);
        else if (known) ids.push(...known);
      }
      return { size: ids.length, ids: [...new Set(ids)] };
    }
    const sets: IdSet[] = [];
    for (const value of values) {
      const key = invertedKey(path, value);
      const set = key === undefined ? undefined : this.inverted.get(key);
      if (set) sets.push(set);
    }
    const [first] = sets;
    if (sets.length === 0 || first === undefined) return { size: 0, ids: [] };
    if (sets.length === 1) return { size: first.size, ids: first, set: first };
    return this.union(sets.map((set) => ({ size: set.size, ids: set })));
  }

  private partitionCandidates(plan: QueryPlan): Candidates | undefined {
    const projects = intersect(plan.projects);
    if (projects === undefined) return undefined;
    const types = intersect(plan.types);
    const sets: IdSet[] = [];
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
    const [first] = sets;
    if (sets.length === 1 && first !== undefined) return { size: first.size, ids: first, set: first };
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
