/**
 * ResourceStore of the Mongo adapter. Current documents live in `resources`, every version in
 * `resource_history`; search filters are passed to MongoDB unchanged (plus the deletion-marker default).
 *
 * `write()` runs the batch in one transaction (session.withTransaction), writing one document after another:
 * - expectedVersion 0: insertOne; a duplicate `_id` means the resource exists → VersionConflictError;
 * - expectedVersion n: replaceOne({_id, versionId: n}); no match → VersionConflictError with the actual version;
 * - a duplicate key on {project, uniqueKeys} → UniqueConflictError;
 * - then the history row. A concurrent transaction touching the same document makes the server report a
 *   transient write conflict; withTransaction retries the batch, which then fails the version check.
 */
import type { ClientSession, Collection, Filter as MongoFilter, MongoClient } from 'mongodb';
import { UniqueConflictError, VersionConflictError } from '../ports';
import type {
  Filter,
  FindOptions,
  HistoryQuery,
  ReadOptions,
  ResourceDocument,
  ResourceStore,
  ResourceWrite,
  Sort,
} from '../ports';
import { checkPaging, checkWrite, currentDocumentId, historyDocumentId, withDeletionDefault } from '../store-rules';
import { duplicateKeyInfo } from './errors';

/** The Mongo ResourceStore. */
export class MongoResourceStore implements ResourceStore {
  constructor(
    private readonly client: MongoClient,
    private readonly resources: Collection<ResourceDocument>,
    private readonly versions: Collection<ResourceDocument>,
  ) {}

  /** {@inheritDoc ResourceStore.readCurrent} */
  async readCurrent(project: string, type: string, id: string, options: ReadOptions = {}): Promise<ResourceDocument | undefined> {
    const projection = options.withIndex ? {} : { projection: { index: 0, sort: 0 } };
    return (await this.resources.findOne({ _id: currentDocumentId({ project, type, id }) }, projection)) ?? undefined;
  }

  /** {@inheritDoc ResourceStore.readVersion} */
  async readVersion(
    project: string,
    type: string,
    id: string,
    versionId: number,
  ): Promise<ResourceDocument | undefined> {
    return (await this.versions.findOne({ _id: historyDocumentId({ project, type, id, versionId }) })) ?? undefined;
  }

  /** {@inheritDoc ResourceStore.write} */
  async write(writes: ResourceWrite[]): Promise<void> {
    for (const write of writes) checkWrite(write);
    if (writes.length === 0) return;
    const session = this.client.startSession();
    try {
      await session.withTransaction(
        async () => {
          for (const write of writes) await this.writeOne(write, session);
        },
        { readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority', journal: true }, readPreference: 'primary' },
      );
    } finally {
      await session.endSession();
    }
  }

  private async writeOne(write: ResourceWrite, session: ClientSession): Promise<void> {
    const _id = currentDocumentId(write.doc);
    const current: ResourceDocument = { _id, ...write.doc };
    try {
      if (write.expectedVersion === 0) {
        await this.resources.insertOne(current, { session });
      } else {
        const result = await this.resources.replaceOne({ _id, versionId: write.expectedVersion }, current, { session });
        if (result.matchedCount === 0) {
          const actual = await this.resources.findOne({ _id }, { session, projection: { versionId: 1 } });
          throw new VersionConflictError(_id, write.expectedVersion, actual?.versionId ?? 0);
        }
      }
      await this.versions.insertOne({ _id: historyDocumentId(write.doc), ...write.doc }, { session });
    } catch (err) {
      const duplicate = duplicateKeyInfo(err);
      if (!duplicate) throw err;
      if ('uniqueKeys' in duplicate.keyPattern) {
        throw new UniqueConflictError(String(duplicate.keyValue.uniqueKeys));
      }
      // The transaction is aborted by the failed write: read the winner's version outside it.
      const actual = await this.resources.findOne({ _id }, { projection: { versionId: 1 } });
      throw new VersionConflictError(_id, write.expectedVersion, actual?.versionId ?? 0);
    }
  }

  /** {@inheritDoc ResourceStore.expunge} */
  async expunge(project: string, type: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const session = this.client.startSession();
    try {
      await session.withTransaction(
        async () => {
          await this.resources.deleteMany({ _id: { $in: ids.map((id) => currentDocumentId({ project, type, id })) } }, { session });
          await this.versions.deleteMany({ project, type, id: { $in: [...ids] } }, { session });
        },
        { writeConcern: { w: 'majority', journal: true }, readPreference: 'primary' },
      );
    } finally {
      await session.endSession();
    }
  }

  /** {@inheritDoc ResourceStore.history} */
  async history(query: HistoryQuery): Promise<ResourceDocument[]> {
    checkPaging(query);
    if (query.limit === 0) return [];
    const cursor = this.versions
      .find(historyFilter(query))
      .sort(HISTORY_SORT)
      .skip(query.skip ?? 0);
    if (query.limit !== undefined) cursor.limit(query.limit);
    return cursor.toArray();
  }

  /** {@inheritDoc ResourceStore.countHistory} */
  async countHistory(query: HistoryQuery): Promise<number> {
    return this.versions.countDocuments(historyFilter(query));
  }

  /** {@inheritDoc ResourceStore.search} */
  async search(filter: Filter, options: FindOptions = {}): Promise<ResourceDocument[]> {
    checkPaging(options);
    if (options.limit === 0) return [];
    const cursor = this.resources.find(toMongoFilter(withDeletionDefault(filter)));
    if (options.sort && options.sort.length > 0) cursor.sort(options.sort);
    if (options.skip) cursor.skip(options.skip);
    if (options.limit !== undefined) cursor.limit(options.limit);
    return cursor.toArray();
  }

  /** {@inheritDoc ResourceStore.count} */
  async count(filter: Filter): Promise<number> {
    return this.resources.countDocuments(toMongoFilter(withDeletionDefault(filter)));
  }
}

function toMongoFilter(filter: Filter): MongoFilter<ResourceDocument> {
  return filter as MongoFilter<ResourceDocument>;
}

/** History order: newest first. */
export const HISTORY_SORT: Sort = [
  ['lastUpdated', -1],
  ['versionId', -1],
  ['_id', -1],
];

/**
 * The history collection's filter for a history query.
 * @param query - project, optional type, id and time window
 * @returns the filter
 */
export function historyFilter(query: HistoryQuery): MongoFilter<ResourceDocument> {
  const filter: Filter = { project: query.project };
  if (query.type !== undefined) filter.type = query.type;
  if (query.id !== undefined) {
    if (query.type === undefined) throw new TypeError('history query with an id needs a type');
    filter.id = query.id;
  }
  if (query.since !== undefined || query.before !== undefined) {
    const range: Record<string, string> = {};
    if (query.since !== undefined) range.$gte = query.since;
    if (query.before !== undefined) range.$lt = query.before;
    filter.lastUpdated = range;
  }
  return toMongoFilter(filter);
}
