/**
 * ResourceStore of the embedded adapter: current documents in a {@link ResourceCollection}, every version in a
 * {@link HistoryIndex} (which holds their journal positions, not their content), changes journaled. Former
 * versions are read back from the journal when asked for (vread, history).
 *
 * A write is applied to memory only once its journal line is durable (after the fdatasync), so reads never see
 * a change that a failed write or a crash could take back. `write()` stays linearizable: the preconditions
 * (expectedVersion, unique keys) are checked and the batch registered as in flight synchronously, in one turn of
 * the event loop. A write touching a resource or unique key that an earlier write still has in flight waits
 * for that write to settle and then checks again, so of two concurrent writes expecting the same version
 * exactly one wins, and a refused write (disk full) lets the next one proceed. Writes of different resources
 * share the journal's group commit.
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
import { checkPaging, checkWrite, currentDocumentId, withDeletionDefault } from '../store-rules';
import { deepFreeze } from '../freeze';
import { cloneJson, toStoredJson } from './clone';
import type { ResourceCollection } from './collection';
import type { HistoryIndex, HistoryRow } from './history-index';
import type { Journal, JournalReader, PlacedLine } from './journal';
import { buildResourcesLine } from './resources-line';
import type { VersionSpan } from './resources-line';

/** A stored version without `_id`, as journaled. */
export type StoredVersion = Omit<ResourceDocument, '_id'>;

/** The history of the embedded store: rows with journal positions. */
export type VersionHistory = HistoryIndex;

/**
 * Applies versions to the in-memory state (live writes and journal replay). A version replaces the current
 * document only if it is newer than it.
 *
 * @param collection - current documents
 * @param history - all versions
 * @param versions - versions in write order
 * @param spans - where each version lies in the journal (the versions are durable)
 */
export function applyVersions(
  collection: ResourceCollection,
  history: VersionHistory,
  versions: StoredVersion[],
  spans: readonly VersionSpan[],
): void {
  for (let i = 0; i < versions.length; i++) {
    const version = versions[i] as StoredVersion;
    const currentId = currentDocumentId(version);
    const slot = history.add(version, spans[i] as VersionSpan);
    const existing = collection.get(currentId);
    if (!existing || existing.versionId < version.versionId) collection.put({ _id: currentId, ...version }, slot);
  }
}

/**
 * Removes resources from the in-memory state (live expunges and journal replay): their current documents and every
 * version's row. Their bytes stay in the journal until the next compaction, which copies only the rows left.
 *
 * @param collection - current documents
 * @param history - all versions
 * @param expunge - the project, type and ids
 */
export function expungeVersions(collection: ResourceCollection, history: VersionHistory, expunge: { project: string; type: string; ids: readonly string[] }): void {
  for (const id of expunge.ids) collection.remove(currentDocumentId({ project: expunge.project, type: expunge.type, id }));
  history.removeResources(expunge.project, expunge.type, expunge.ids);
}

/**
 * The whole resource state as journal lines for compaction: each resource's versions in order, copied byte for
 * byte from the journal being replaced, each version's new position recorded. The rows are taken when called;
 * the lines are produced as they are read.
 *
 * @param history - all versions
 * @param read - reads the journal being replaced
 */
export function snapshotResources(history: VersionHistory, read: JournalReader): Iterable<PlacedLine> {
  history.beginPlacements();
  // The rows as they are now (a compaction copies them while writes go on adding rows).
  const groups = [...history.rowsByResource()];
  return placedLines(history, groups, read);
}

function* placedLines(history: VersionHistory, groups: readonly HistoryRow[][], read: JournalReader): Iterable<PlacedLine> {
  for (const rows of groups) {
    const texts = rows.map((row) => {
      const { offset, length } = history.span(row);
      return read(offset, length).toString('utf8');
    });
    const { line, spans } = buildResourcesLine(texts);
    yield {
      line,
      written: (offset) => {
        rows.forEach((row, i) => history.place(row, offset + (spans[i] as VersionSpan).offset));
      },
    };
  }
}

/**
 * Reads a version back from the journal.
 *
 * @param history - all versions
 * @param journal - the journal
 * @param row - the version's row
 * @returns the stored version, `_id` included (a new object, owned by the caller)
 * @throws Error when the journal does not hold the version where the history says (the data directory changed
 *   under the running store)
 */
export function loadVersion(history: VersionHistory, journal: Journal, row: HistoryRow): ResourceDocument {
  const _id = `${row.key}/${row.versionId}`;
  const { offset, length } = history.span(row);
  const version = JSON.parse(journal.read(offset, length).toString('utf8')) as StoredVersion;
  if (currentDocumentId(version) !== row.key || version.versionId !== row.versionId) {
    throw new Error(`journal ${journal.file}: byte ${offset} does not hold ${_id}`);
  }
  return { _id, ...version };
}

/** The embedded ResourceStore. */
export class EmbeddedResourceStore implements ResourceStore {
  /** Resource ids (`r\0…`) and unique keys (`u\0project\0key`) of writes not yet durable → their settlement. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The earliest lastUpdated of each write not yet durable. */
  private readonly pendingInstants = new Map<Promise<void>, string>();

  constructor(
    private readonly collection: ResourceCollection,
    private readonly versions: VersionHistory,
    private readonly journal: Journal,
  ) {}

  /** {@inheritDoc ResourceStore.readCurrent} */
  async readCurrent(project: string, type: string, id: string, options: ReadOptions = {}): Promise<ResourceDocument | undefined> {
    const doc = this.collection.document(currentDocumentId({ project, type, id }));
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
    const key = currentDocumentId({ project, type, id });
    const row = this.versions.get(key, versionId);
    return row && this.load(row);
  }

  /** {@inheritDoc ResourceStore.write} */
  write(writes: ResourceWrite[]): Promise<void> {
    // Synchronous from the checks to the registration: no other write can interleave between them.
    try {
      this.journal.assertWritable();
      for (const write of writes) checkWrite(write);
      const touched = this.touchedKeys(writes);
      const blocking = touched.map((key) => this.inFlight.get(key)).filter((p): p is Promise<void> => p !== undefined);
      if (blocking.length > 0) return Promise.all(blocking).then(() => this.write(writes));
      const prepared = this.prepare(writes);
      if (prepared.length === 0) return Promise.resolve();
      const versions = prepared.map((p) => p.copy);
      const { line, spans } = buildResourcesLine(prepared.map((p) => p.text));
      const durable = this.journal.appendSerialized(line, (offset) =>
        applyVersions(
          this.collection,
          this.versions,
          versions,
          spans.map((span) => ({ offset: offset + span.offset, length: span.length })),
        ),
      );
      const settled: Promise<void> = durable.then(
        () => this.release(touched, settled),
        () => this.release(touched, settled),
      );
      for (const key of touched) this.inFlight.set(key, settled);
      this.pendingInstants.set(settled, versions.reduce((min, v) => (v.lastUpdated < min ? v.lastUpdated : min), versions[0]!.lastUpdated));
      return durable;
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** {@inheritDoc ResourceStore.expunge} */
  expunge(project: string, type: string, ids: readonly string[]): Promise<void> {
    try {
      this.journal.assertWritable();
      const present = [...new Set(ids)].filter((id) => this.collection.get(currentDocumentId({ project, type, id })) !== undefined);
      if (present.length === 0) return Promise.resolve();
      const touched = present.map((id) => `r\u0000${currentDocumentId({ project, type, id })}`);
      const blocking = touched.map((key) => this.inFlight.get(key)).filter((p): p is Promise<void> => p !== undefined);
      if (blocking.length > 0) return Promise.all(blocking).then(() => this.expunge(project, type, ids));
      const entry = { t: 'resources-expunge', project, type, ids: present } as const;
      const durable = this.journal.append(entry, () => expungeVersions(this.collection, this.versions, entry));
      const settled: Promise<void> = durable.then(
        () => this.release(touched, settled),
        () => this.release(touched, settled),
      );
      for (const key of touched) this.inFlight.set(key, settled);
      return durable;
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** The in-flight keys a batch depends on: its resources and every unique key they hold now or will hold. */
  private touchedKeys(writes: ResourceWrite[]): string[] {
    const keys = new Set<string>();
    for (const { doc } of writes) {
      const id = currentDocumentId(doc);
      keys.add(`r\u0000${id}`);
      for (const key of doc.uniqueKeys ?? []) keys.add(`u\u0000${doc.project}\u0000${key}`);
      for (const key of this.collection.get(id)?.uniqueKeys ?? []) keys.add(`u\u0000${doc.project}\u0000${key}`);
    }
    return [...keys];
  }

  private release(keys: string[], settled: Promise<void>): void {
    for (const key of keys) if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    this.pendingInstants.delete(settled);
  }

  /** {@inheritDoc ResourceStore.oldestPendingWrite} */
  oldestPendingWrite(): string | undefined {
    let oldest: string | undefined;
    for (const instant of this.pendingInstants.values()) if (oldest === undefined || instant < oldest) oldest = instant;
    return oldest;
  }

  /** {@inheritDoc ResourceStore.history} */
  async history(query: HistoryQuery): Promise<ResourceDocument[]> {
    checkPaging(query);
    const rows = this.versions.query(query);
    const slice = new TimeSlice();
    const docs: ResourceDocument[] = new Array<ResourceDocument>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      if (i % 16 === 15) await slice.breathe();
      docs[i] = this.load(rows[i] as HistoryRow);
    }
    return docs;
  }

  /** A version as a new object: the current document when it is the current version, else from the journal. */
  private load(row: HistoryRow): ResourceDocument {
    if (this.collection.get(row.key)?.versionId === row.versionId) {
      return cloneJson({ ...(this.collection.document(row.key) as ResourceDocument), _id: `${row.key}/${row.versionId}` });
    }
    return loadVersion(this.versions, this.journal, row);
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
