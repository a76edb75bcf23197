/**
 * The MongoDB storage adapter (used when MONGODB_URI is set): the official driver, indexes created at start,
 * the same filter documents as the embedded adapter passed straight through, a change-stream write feed for cache
 * invalidation across instances and shared rate-limit counters. Needs MongoDB 7.0+ as a replica set or sharded
 * cluster (docs/mongodb.md).
 */
import type { Storage } from '../ports';
import type { StorageLogger } from '../logger';
import { connectMongo } from './connect';
import { COLLECTIONS, ensureIndexes } from './indexes';
import { MongoRecordStore } from './record-store';
import type { RecordDocument } from './record-store';
import { MongoResourceStore } from './resource-store';
import { type CounterDocument, MongoWindowCounters } from './window-counters';
import { MongoWriteFeed } from './write-feed';
import type { ResourceDocument } from '../ports';

export { MongoConnectTimeoutError, MongoTransactionsUnsupportedError, MongoVersionUnsupportedError } from './connect';

/** Options for {@link openMongoStorage}. */
export interface MongoStorageOptions {
  /** MongoDB connection string. */
  uri: string;
  /** Database name; defaults to the one in the URI. */
  dbName?: string;
  logger?: StorageLogger;
  /** How long to wait for MongoDB to answer at start (the driver's default, 30 s, when unset). */
  connectTimeoutMs?: number;
}

/**
 * Connects to MongoDB and creates the indexes.
 *
 * @param options - connection string and database name
 * @returns the open storage; `close()` closes the client
 * @throws MongoTransactionsUnsupportedError for a standalone server
 * @example
 * ```ts
 * const storage = await openMongoStorage({ uri: 'mongodb://localhost:27017/?replicaSet=rs0', dbName: 'fhir' });
 * ```
 */
export async function openMongoStorage(options: MongoStorageOptions): Promise<Storage> {
  const { client, db } = await connectMongo(options.uri, options.dbName, options.connectTimeoutMs);
  try {
    await ensureIndexes(db);
  } catch (err) {
    await client.close();
    throw err;
  }
  options.logger?.info({ db: db.databaseName }, 'mongo storage open');
  const resources = db.collection<ResourceDocument>(COLLECTIONS.resources);
  return {
    kind: 'mongo',
    resources: new MongoResourceStore(client, resources, db.collection<ResourceDocument>(COLLECTIONS.history)),
    resourceWrites: new MongoWriteFeed(resources),
    sharedCounters: new MongoWindowCounters(db.collection<CounterDocument>(COLLECTIONS.rateLimits)),
    records: new MongoRecordStore(db.collection<RecordDocument>(COLLECTIONS.records)),
    ping: async () => {
      try {
        await db.command({ ping: 1 });
        return true;
      } catch {
        return false;
      }
    },
    compact: async () => undefined,
    close: () => client.close(),
  };
}
