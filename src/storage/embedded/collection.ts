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
import { elementCoverage, ElementIndexes } from './element-index';
import type { ElementCoverage, ElementEntries, ElementIndex } from './element-index';
import { compileFilterPredicate } from './filter-predicate';
import type { FilterPredicate } from './filter-predicate';
import { analyzeFilter, isIndexScalar, scalarKey } from './query-plan';
import type { QueryPlan } from './query-plan';
import { IdSet } from './id-order';
import { selectSorted, sortDocuments } from './sort-order';

/** A set of candidate ids with a cheap size, used to pick the most selective source. */
interface Candidates {
  size: number;
  ids: Iterable<string>;
  /** Set when the candidates are exactly one index set (which can then be read in `_id` order). */
  set?: IdSet;
  /** True when the candidates are exactly the matches (element indexes, no residual condition). */
  exact?: boolean;
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

/** A collection's state at one instant (see {@link ResourceCollection.captureState}). */
export interface CollectionCapture {
  paths: string[];
  definitions: Array<{ project: string; type: string; path: string; fields: string[]; index: ElementIndex }>;
  entries: readonly Entry[];
}

interface Entry {
  head: DocumentHead;
  /** The whole document when the collection has no source; undefined otherwise. */
  doc?: ResourceDocument;
  /** Where the source finds the document. */
  slot: number;
  /** The inverted-index sets holding it (references, not copies of their keys). */
  postings: IdSet[];
  elements?: ElementEntries;
}

/** Default number of loaded documents kept (parsed) for repeated reads. */
export const DEFAULT_DOCUMENT_CACHE_SIZE = 1024;

const HEAD_FIELDS: ReadonlySet<string> = new Set(['_id', 'project', 'type', 'id', 'versionId', 'lastUpdated', 'deleted', 'method', 'uniqueKeys']);

function headOf(doc: ResourceDocument): DocumentHead {
  const head: DocumentHead = {
    _id: doc._id,
    project: doc.project,
    type: doc.type,
    id: doc.id,
    versionId: doc.versionId,
    lastUpdated: doc.lastUpdated,
    deleted: doc.deleted,
    method: doc.method,
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
  const keys = new Set<string>();
  collectIndexKeys(doc.id, 'id', indexed, keys);
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
  private readonly indexed: IndexedPaths = { paths: new Set(['id', 'uniqueKeys']), prefixes: new Set() };
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

  /** The whole document of an entry: kept, cached or loaded (and cached). */
  private load(entry: Entry): ResourceDocument {
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
    this.remember(doc);
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

  /** Tests a filter on an entry: on its head when the filter names head fields only, else on the document. */
  private matches(query: FilterPredicate, headOnly: boolean, entry: Entry): boolean {
    const target = headOnly || entry.doc ? (entry.doc ?? entry.head) : this.load(entry);
    return query.test(target as unknown as Record<string, unknown>);
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
    if (previous) {
      this.unindex(previous.head, previous.postings);
      this.elements.remove(previous.head._id, previous.elements);
    }
    const postings = indexKeysOf(doc, this.indexed).map((key) => addToSetMap(this.inverted, key, doc._id));
    const kept = this.source === undefined || slot < 0;
    const entry: Entry = { head: headOf(doc), slot, postings };
    if (kept) entry.doc = doc;
    const elements = this.elements.add(doc);
    if (elements !== undefined) entry.elements = elements;
    this.docs.set(doc._id, entry);
    if (!kept && this.cache.has(doc._id)) this.remember(doc);
    let types = this.partitions.get(doc.project);
    if (!types) {
      types = new Map();
      this.partitions.set(doc.project, types);
    }
    addToSetMap(types, doc.type, doc._id);
    this.noteUpdate(doc.lastUpdated);
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

  private unindex(doc: DocumentHead, postings: readonly IdSet[]): void {
    const types = this.partitions.get(doc.project);
    if (types) {
      removeFromSetMap(types, doc.type, doc._id);
      if (types.size === 0) this.partitions.delete(doc.project);
    }
    for (const set of postings) {
      set.delete(doc._id);
      if (set.size === 0 && this.inverted.get(set.key) === set) this.inverted.delete(set.key);
    }
    for (const key of doc.uniqueKeys ?? []) {
      const holderKey = `${doc.project}${SEP}${key}`;
      if (this.uniqueHolders.get(holderKey) === doc._id) this.uniqueHolders.delete(holderKey);
    }
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
    const query = compileFilterPredicate(filter);
    const headOnly = onlyHeadFields(filter);
    const skip = options.skip ?? 0;
    const limit = options.limit;
    const candidates = this.candidateSet(filter);
    const idDirection = idOnlyDirection(options);
    if (idDirection !== undefined && candidates.set) {
      return this.findInIdOrder(query, headOnly, candidates, idDirection, skip, limit);
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
      if (entry === undefined || (!candidates.exact && !this.matches(query, headOnly, entry))) continue;
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
    for (let i = 0; i < page.length; i++) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await slice.breathe();
      const head = page[i] as DocumentHead;
      const entry = this.docs.get(head._id);
      if (entry !== undefined && (entry.head === head || entry.doc === head)) out[i] = this.load(entry);
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
    query: FilterPredicate,
    headOnly: boolean,
    candidates: Candidates,
    direction: 1 | -1,
    skip: number,
    limit: number | undefined,
  ): Promise<ResourceDocument[]> {
    const ids = (candidates.set as IdSet).inIdOrder();
    const wanted = limit === undefined ? Infinity : skip + limit;
    const matched: DocumentHead[] = [];
    const slice = new TimeSlice();
    const n = ids.length;
    for (let i = 0; i < n && matched.length < wanted; i++) {
      if (i > 0 && i % YIELD_EVERY === 0) await slice.breathe();
      const entry = this.docs.get(ids[direction === 1 ? i : n - 1 - i] as string);
      if (entry !== undefined && (candidates.exact || this.matches(query, headOnly, entry))) matched.push(entry.doc ?? entry.head);
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
      const exact = this.elementCandidates(coverage);
      if (exact) return exact.size;
    }
    const query = compileFilterPredicate(filter);
    const headOnly = onlyHeadFields(filter);
    const candidates = this.candidateSet(filter);
    if (candidates.exact) return candidates.size;
    let n = 0;
    let tested = 0;
    const slice = new TimeSlice();
    for (const id of candidates.ids) {
      if (++tested % YIELD_EVERY === 0) await slice.breathe();
      const entry = this.docs.get(id);
      if (entry !== undefined && this.matches(query, headOnly, entry)) n++;
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
    return this.candidateSet(filter).ids;
  }

  private candidateSet(filter: Filter): Candidates {
    const narrowed = this.narrow(analyzeFilter(filter));
    if (narrowed?.size === 0) return narrowed;
    const coverage = elementCoverage(filter);
    const exact = this.elementCandidates(coverage);
    if (exact && (!narrowed || exact.size <= narrowed.size)) return coverage.residual ? exact : { ...exact, exact: true };
    return narrowed ?? { size: this.docs.size, ids: this.docs.keys() };
  }

  /**
   * The live documents of the filter's project and types holding every element equality of the filter, from the
   * element indexes (exact: `size` is their number). Undefined when the filter names no single project, no type,
   * no `deleted: false` or no element equality, or when an index cannot be used.
   */
  private elementCandidates(coverage: ElementCoverage): Candidates | undefined {
    const { project, types } = coverage;
    if (!coverage.live || project === undefined || types === undefined || coverage.elements.length === 0) return undefined;
    const perType: Array<IdSet | string[]> = [];
    for (const type of types) {
      const postings: IdSet[] = [];
      for (const element of coverage.elements) {
        const index = this.elements.indexFor(project, type, element, () => this.partitionEntries(project, type));
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

  private *partitionEntries(project: string, type: string): Iterable<{ doc: ResourceDocument; record(entries: ElementEntries[number]): void }> {
    for (const id of this.partitions.get(project)?.get(type) ?? []) {
      const entry = this.docs.get(id);
      if (!entry) continue;
      const doc = entry.doc ?? (this.source as DocumentSource).load(entry.slot, id);
      yield {
        doc,
        record(elements) {
          (entry.elements ??= []).push(elements);
        },
      };
    }
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

  /**
   * The state at this instant, for a snapshot: the indexed paths, the element index definitions and every
   * current entry. Entries are replaced on writes, never changed (except that a path or definition added later
   * appends to them: {@link snapshotLines} leaves those out), so the capture stays valid while writes continue.
   */
  captureState(): CollectionCapture {
    return {
      paths: [...this.indexed.paths],
      definitions: this.elements.definitions(),
      entries: [...this.docs.values()],
    };
  }

  /**
   * One snapshot line per captured entry: `[head, postingKeys, elementKeys]`, `elementKeys` being
   * `[definitionNumber, valueKeys | null]` pairs.
   */
  static *snapshotLines(capture: CollectionCapture): Iterable<string> {
    const paths = new Set(capture.paths);
    const definitionNumbers = new Map(capture.definitions.map((d, i) => [d.index, i]));
    for (const entry of capture.entries) {
      const keys: string[] = [];
      for (const set of entry.postings) if (paths.has(set.key.slice(0, set.key.indexOf(SEP)))) keys.push(set.key);
      const elements: Array<[number, string[] | null]> = [];
      for (const element of entry.elements ?? []) {
        const n = definitionNumbers.get(element.index);
        if (n !== undefined) elements.push([n, element.postings ? element.postings.map((p) => p.key) : null]);
      }
      yield JSON.stringify([entry.head, keys, elements]);
    }
  }

  /**
   * Restores the indexed paths and element definitions of a snapshot (before its entries).
   *
   * @returns the element indexes by definition number
   */
  restoreDefinitions(paths: readonly string[], definitions: ReadonlyArray<{ project: string; type: string; path: string; fields: string[] }>): Array<ElementIndex | undefined> {
    for (const path of paths) {
      this.indexed.paths.add(path);
      const parts = path.split('.');
      for (let i = 1; i < parts.length; i++) this.indexed.prefixes.add(parts.slice(0, i).join('.'));
    }
    return definitions.map((d) => this.elements.define(d.project, d.type, d.path, d.fields));
  }

  /**
   * Restores one entry of a snapshot (its index keys as they were computed before).
   *
   * @param head - the document's head
   * @param slot - where its source finds it
   * @param keys - its inverted-index keys
   * @param elements - its element-index entries
   * @param indexes - from {@link restoreDefinitions}
   */
  restore(head: DocumentHead, slot: number, keys: readonly string[], elements: ReadonlyArray<[number, string[] | null]>, indexes: ReadonlyArray<ElementIndex | undefined>): void {
    const id = head._id;
    const previous = this.docs.get(id);
    if (previous) {
      this.unindex(previous.head, previous.postings);
      this.elements.remove(id, previous.elements);
    }
    const entry: Entry = { head, slot, postings: keys.map((key) => addToSetMap(this.inverted, key, id)) };
    const restored: ElementEntries = [];
    for (const [n, valueKeys] of elements) {
      const index = indexes[n];
      if (index) restored.push(ElementIndexes.restoreEntry(index, id, valueKeys));
    }
    if (restored.length > 0) entry.elements = restored;
    this.docs.set(id, entry);
    let types = this.partitions.get(head.project);
    if (!types) {
      types = new Map();
      this.partitions.set(head.project, types);
    }
    addToSetMap(types, head.type, id);
    this.noteUpdate(head.lastUpdated);
    if (!head.deleted) {
      for (const key of head.uniqueKeys ?? []) this.uniqueHolders.set(`${head.project}${SEP}${key}`, id);
    }
  }

  /** Adds an `index.*` path to the inverted index, indexing the stored documents' values under it. */
  private indexPath(path: string): void {
    const single: IndexedPaths = { paths: new Set([path]), prefixes: new Set() };
    const parts = path.split('.');
    for (let i = 1; i < parts.length; i++) single.prefixes.add(parts.slice(0, i).join('.'));
    for (const entry of this.docs.values()) {
      const index = (entry.doc ?? (this.source as DocumentSource).load(entry.slot, entry.head._id)).index;
      if (!index || typeof index !== 'object') continue;
      const keys = new Set<string>();
      collectIndexKeys(index, 'index', single, keys);
      for (const key of keys) entry.postings.push(addToSetMap(this.inverted, key, entry.head._id));
    }
    this.indexed.paths.add(path);
    for (const prefix of single.prefixes) this.indexed.prefixes.add(prefix);
  }

  private fieldCandidates(path: string, values: unknown[]): Candidates {
    if (!this.indexed.paths.has(path)) this.indexPath(path);
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
