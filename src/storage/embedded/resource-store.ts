/**
 * ResourceStore of the embedded adapter: current documents in a {@link ResourceCollection}, every version in a
 * {@link HistoryIndex}, changes journaled.
 *
 * `write()` is linearizable: all preconditions (expectedVersion, unique keys) are checked and the batch applied
 * in memory synchronously, in one turn of the event loop, so of two concurrent writes expecting the same
 * version exactly one wins. The batch is then one journal line, and the promise resolves after its fsync.
 */
import { TimeSlice } from '../../time-slice';
import {
  UniqueConflictError,
  VersionConflictError,
} from '../ports';
import type {
  Filter,
  FindOptions,
  HistoryQuery,
  ReadOptions,
  ResourceDocument,
  ResourceStore,
  ResourceWrite,
} from '../ports';
import { checkPaging, checkWrite, currentDocumentId, historyDocumentId, withDeletionDefault } from '../store-rules';
import { deepFreeze } from '../freeze';
import { cloneJson, toStoredJson } from './clone';
import type { ResourceCollection } from './collection';
import type { HistoryIndex } from './history-index';
import type { Journal } from './journal';

/** A stored version without `_id`, as journaled. */
export type StoredVersion = Omit<ResourceDocument, '_id'>;

/**
 * Applies versions to the in-memory state (live writes and journal replay). A version replaces the current
 * document only if it is newer than it.
 *
 * @param collection - current documents
 * @param history - all versions
 * @param versions - versions in write order
 */
export function applyVersions(collection: ResourceCollection, history: HistoryIndex, versions: StoredVersion[]): void {
  for (const version of versions) {
    const currentId = currentDocumentId(version);
    history.add({ _id: historyDocumentId(version), ...version });
    const existing = collection.get(currentId);
    if (!existing || existing.versionId < version.versionId) collection.put({ _id: currentId, ...version });
  }
}

/**
 * The whole resource state as journal entries for compaction: each resource's versions in order.
 *
 * @param history - all versions
 */
export function* snapshotResources(history: HistoryIndex): Iterable<{ t: 'resources'; docs: StoredVersion[] }> {
  for (const rows of history.rowsByResource()) {
    yield {
      t: 'resources',
      docs: rows.map(({ _id: _ignored, ...version }) => version),
    };
  }
}

/** The embedded ResourceStore. */
export class EmbeddedResourceStore implements ResourceStore {
  constructor(
    private readonly collection: ResourceCollection,
    private readonly versions: HistoryIndex,
    private readonly journal: Journal,
  ) {}

  /** {@inheritDoc ResourceStore.readCurrent} */
  async readCurrent(project: string, type: string, id: string, options: ReadOptions = {}): Promise<ResourceDocument | undefined> {
    const doc = this.collection.get(currentDocumentId({ project, type, id }));
    if (!doc) return undefined;
    if (options.withIndex) return cloneJson(doc);
    const { index: _index, sort: _sort, ...rest } = doc;
    if (!options.shared) return cloneJson(rest);
    // Stored documents are replaced on every write, never changed in place, so freezing one loses nothing.
    deepFreeze(rest.resource);
    return rest;
  }

  /** {@inheritDoc ResourceStore.readVersion} */
  async readVersion(
    project: string,
    type: string,
    id: string,
    versionId: number,
  ): Promise<ResourceDocument | undefined> {
    const doc = this.versions.get(historyDocumentId({ project, type, id, versionId }));
    return doc && cloneJson(doc);
  }

  /** {@inheritDoc ResourceStore.write} */
  write(writes: ResourceWrite[]): Promise<void> {
    // Synchronous up to the journal append: no other write can interleave between check and apply.
    try {
      this.journal.assertWritable();
      const prepared = this.prepare(writes);
      if (prepared.length === 0) return Promise.resolve();
      applyVersions(this.collection, this.versions, prepared.map((p) => p.copy));
      return this.journal.appendSerialized(`{"t":"resources","docs":[${prepared.map((p) => p.text).join(',')}]}`);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** {@inheritDoc ResourceStore.history} */
  async history(query: HistoryQuery): Promise<ResourceDocument[]> {
    checkPaging(query);
    return cloneAll(this.versions.query(query));
  }

  /** {@inheritDoc ResourceStore.countHistory} */
  async countHistory(query: HistoryQuery): Promise<number> {
    return this.versions.count(query);
  }

  /** {@inheritDoc ResourceStore.search} */
  async search(filter: Filter, options: FindOptions = {}): Promise<ResourceDocument[]> {
    checkPaging(options);
    return cloneAll(await this.collection.find(withDeletionDefault(filter), options));
  }

  /** {@inheritDoc ResourceStore.count} */
  async count(filter: Filter): Promise<number> {
    return this.collection.count(withDeletionDefault(filter));
  }

  /**
   * Checks every write of a batch in order against the current state plus the batch's earlier writes
   * (as a MongoDB transaction applying them one by one would) and serializes the new versions.
   */
  private prepare(writes: ResourceWrite[]): Array<{ text: string; copy: StoredVersion }> {
    const batchCurrent = new Map<string, StoredVersion>();
    /** `${project}\0${key}` → holder id within the batch, or null once released */
    const batchHolders = new Map<string, string | null>();
    const prepared: Array<{ text: string; copy: StoredVersion }> = [];
    for (const write of writes) {
      checkWrite(write);
      const { text, copy } = toStoredJson(write.doc);
      const id = currentDocumentId(copy);
      const current = batchCurrent.get(id) ?? this.collection.get(id);
      const actual = current?.versionId ?? 0;
      if (write.expectedVersion !== actual) throw new VersionConflictError(id, write.expectedVersion, actual);
      if (current && !current.deleted) {
        for (const key of current.uniqueKeys ?? []) batchHolders.set(`${copy.project}\u0000${key}`, null);
      }
      if (!copy.deleted) {
        for (const key of copy.uniqueKeys ?? []) {
          const holderKey = `${copy.project}\u0000${key}`;
          const holder = batchHolders.has(holderKey)
            ? batchHolders.get(holderKey)
            : this.collection.holderOf(copy.project, key);
          if (holder !== undefined && holder !== null && holder !== id) throw new UniqueConflictError(key);
          batchHolders.set(holderKey, id);
        }
      }
      batchCurrent.set(id, copy);
      prepared.push({ text, copy });
    }
    return prepared;
  }
}

/** Copies of stored documents, made a time slice at a time (a page of 1,000 large documents takes a while). */
async function cloneAll(docs: readonly ResourceDocument[]): Promise<ResourceDocument[]> {
  const slice = new TimeSlice();
  const copies: ResourceDocument[] = new Array<ResourceDocument>(docs.length);
  for (let i = 0; i < docs.length; i++) {
    if (i % 16 === 15) await slice.breathe();
    copies[i] = cloneJson(docs[i] as ResourceDocument);
  }
  return copies;
}
