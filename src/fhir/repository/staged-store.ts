/**
 * A {@link ResourceStore} view that stages writes instead of storing them: the store behind a transaction.
 *
 * Reads, searches, counts and history see the underlying store with the staged writes applied, so later
 * entries of a transaction (conditional matches, GETs) see what earlier entries wrote. `commit()` hands every
 * staged write to the underlying store in one `write()` call, which applies them atomically (on MongoDB in one
 * session transaction) and re-checks every version precondition; a concurrent change fails the whole commit.
 *
 * Writes of policy-relevant types invalidate the underlying store's policy cache at commit, not before.
 *
 * A resource may be written at most once per transaction (FHIR: overlapping identities fail the transaction).
 */
import { type MongoQuery, mongoQuery } from '../../storage/mongo-query';
import {
  type Filter,
  type FindOptions,
  type HistoryQuery,
  type ReadOptions,
  type ResourceDocument,
  type ResourceStore,
  type ResourceWrite,
  UniqueConflictError,
  VersionConflictError,
} from '../../storage/ports';
import { notifyResourceWritten } from '../../policy/cache';
import { sortDocuments } from '../../storage/embedded/sort-order';
import { currentDocumentId, historyDocumentId } from '../../storage/store-rules';
import { BadRequestError } from '../errors';

function matching(filter: Filter, docs: Iterable<ResourceDocument>): ResourceDocument[] {
  const query = mongoQuery(filter);
  return [...docs].filter((doc) => query.test(doc as unknown as Record<string, unknown>));
}

/** Staged writes over a real store; see the module comment. */
export class StagedResourceStore implements ResourceStore {
  private readonly current = new Map<string, ResourceDocument>();
  private readonly versions: ResourceDocument[] = [];
  private readonly writes: ResourceWrite[] = [];
  /** unique key → current key of the staged document holding it */
  private readonly uniqueHolders = new Map<string, string>();

  constructor(private readonly inner: ResourceStore) {}

  /** Number of staged writes. */
  get size(): number {
    return this.writes.length;
  }

  async readCurrent(project: string, type: string, id: string, options: ReadOptions = {}): Promise<ResourceDocument | undefined> {
    const staged = this.current.get(currentDocumentId({ project, type, id }));
    if (!staged) return this.inner.readCurrent(project, type, id, options);
    if (options.withIndex) return staged;
    const { index: _index, sort: _sort, ...rest } = staged;
    return rest;
  }

  async readVersion(project: string, type: string, id: string, versionId: number): Promise<ResourceDocument | undefined> {
    const staged = this.versions.find((v) => v.project === project && v.type === type && v.id === id && v.versionId === versionId);
    return staged ?? this.inner.readVersion(project, type, id, versionId);
  }

  /** {@inheritDoc ResourceStore.expunge}: never staged (a transaction does not expunge). */
  expunge(): Promise<void> {
    return Promise.reject(new Error('a staged transaction view cannot expunge resources'));
  }

  async write(writes: ResourceWrite[]): Promise<void> {
    for (const write of writes) {
      const { project, type, id } = write.doc;
      const key = currentDocumentId(write.doc);
      if (this.current.has(key)) {
        throw new BadRequestError(`The transaction writes ${type}/${id} more than once`, undefined, 'processing');
      }
      const existing = await this.inner.readCurrent(project, type, id);
      const actual = existing?.versionId ?? 0;
      if (actual !== write.expectedVersion) throw new VersionConflictError(key, write.expectedVersion, actual);
      for (const unique of write.doc.deleted ? [] : (write.doc.uniqueKeys ?? [])) {
        const holder = this.uniqueHolders.get(`${project}|${unique}`);
        if (holder !== undefined && holder !== key) throw new UniqueConflictError(unique);
      }
      const doc: ResourceDocument = { ...write.doc, _id: key };
      this.current.set(key, doc);
      this.versions.push({ ...doc, _id: historyDocumentId(doc) });
      for (const unique of doc.deleted ? [] : (doc.uniqueKeys ?? [])) this.uniqueHolders.set(`${project}|${unique}`, key);
      this.writes.push(write);
    }
  }

  async search(filter: Filter, options: FindOptions = {}): Promise<ResourceDocument[]> {
    if (this.current.size === 0) return this.inner.search(filter, options);
    const skip = options.skip ?? 0;
    const window = options.limit === undefined ? undefined : skip + options.limit;
    const fromStore = await this.inner.search(this.excludingStaged(filter), { sort: options.sort, limit: window });
    const merged = [...fromStore, ...matching(filter, this.current.values())];
    const ordered = options.sort && options.sort.length > 0 ? sortDocuments(merged, options.sort) : merged;
    return ordered.slice(skip, options.limit === undefined ? undefined : skip + options.limit);
  }

  async count(filter: Filter): Promise<number> {
    if (this.current.size === 0) return this.inner.count(filter);
    const fromStage = matching(filter, this.current.values()).length;
    return (await this.inner.count(this.excludingStaged(filter))) + fromStage;
  }

  async history(query: HistoryQuery): Promise<ResourceDocument[]> {
    const staged = this.stagedHistory(query);
    if (staged.length === 0) return this.inner.history(query);
    const skip = query.skip ?? 0;
    const window = query.limit === undefined ? undefined : skip + query.limit;
    const fromStore = await this.inner.history({ ...query, skip: 0, limit: window });
    const all = [...staged, ...fromStore].sort(
      (a, b) => (a.lastUpdated < b.lastUpdated ? 1 : a.lastUpdated > b.lastUpdated ? -1 : b.versionId - a.versionId),
    );
    return all.slice(skip, query.limit === undefined ? undefined : skip + query.limit);
  }

  async countHistory(query: HistoryQuery): Promise<number> {
    return (await this.inner.countHistory(query)) + this.stagedHistory(query).length;
  }

  /**
   * Stores every staged write at once. Throws what the underlying store throws (version or unique conflicts);
   * then nothing is stored.
   */
  async commit(): Promise<void> {
    if (this.writes.length === 0) return;
    await this.inner.write(this.writes);
    // The writes reach the underlying store only now: tell its policy cache (repository.ts told only this view's).
    for (const { doc } of this.writes) notifyResourceWritten(this.inner, doc.project, doc.type);
  }

  private excludingStaged(filter: Filter): Filter {
    const notStaged = { $nin: [...this.current.keys()] };
    // Keep the filter's top-level keys (project, type) visible to the store's index selection.
    return '_id' in filter ? { $and: [filter, { _id: notStaged }] } : { ...filter, _id: notStaged };
  }

  private stagedHistory(query: HistoryQuery): ResourceDocument[] {
    return this.versions.filter(
      (v) =>
        v.project === query.project &&
        (query.type === undefined || v.type === query.type) &&
        (query.id === undefined || v.id === query.id) &&
        (query.since === undefined || v.lastUpdated >= query.since) &&
        (query.before === undefined || v.lastUpdated < query.before),
    );
  }
}
